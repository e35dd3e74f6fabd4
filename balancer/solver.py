"""The one place a QP solver is called, so it can be swapped (README, "What is guaranteed").

Clarabel (interior point) measured fastest on the class-level QPs here; HiGHS' QP solver stalls on
them at 100k cases. Both balance and lottery design are *separable* QPs: a diagonal quadratic over
edge and load variables, equalities, and bounds.
"""

from __future__ import annotations

from dataclasses import dataclass

import clarabel
import numpy as np
import scipy.sparse as sp

from balancer.errors import BalancerError


QP_TOLERANCE = 1e-10
"""Clarabel's gap and feasibility tolerances: 10⁻⁵ utilisation on degenerate leximin optima."""


class SolverError(BalancerError):
    """The solver failed on a problem the pre-solve checks passed: a bug or numerical trouble."""


@dataclass(frozen=True)
class QP:
    """minimise ½ Σ diag_i x_i² + q·x  s.t.  A_eq x = b_eq,  A_le x ≤ b_le."""

    diag: np.ndarray
    q: np.ndarray
    A_eq: sp.csr_matrix
    b_eq: np.ndarray
    A_le: sp.csr_matrix
    b_le: np.ndarray


def solve_qp(qp: QP) -> np.ndarray:
    """Solve with Clarabel; raise SolverError unless it reports a solution."""
    n = len(qp.q)
    P = sp.diags(qp.diag, format="csc", shape=(n, n))
    A = sp.vstack([qp.A_eq, qp.A_le], format="csc")
    b = np.concatenate([qp.b_eq, qp.b_le])
    cones = [clarabel.ZeroConeT(qp.A_eq.shape[0]), clarabel.NonnegativeConeT(qp.A_le.shape[0])]
    settings = clarabel.DefaultSettings()
    settings.verbose = False
    # Tighter than the defaults (1e-8): where flows without curvature sit on their bounds at a
    # degenerate optimum, the loads converge only like the square root of the gap tolerance.
    settings.tol_gap_abs = settings.tol_gap_rel = settings.tol_feas = QP_TOLERANCE
    solution = clarabel.DefaultSolver(P, qp.q, A, b, cones, settings).solve()
    status = str(solution.status)
    if status not in ("Solved", "AlmostSolved"):
        raise SolverError(f"the QP solver stopped with status {status}")
    return np.asarray(solution.x)
