"""The one place a QP solver is called, so it can be swapped (README, "What is guaranteed").

Clarabel (interior point) measured fastest on the class-level QPs here; HiGHS' QP solver stalls on
them at 100k cases. Both balance and lottery design are *separable* QPs: a diagonal quadratic over
edge and load variables, equalities, and bounds.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import clarabel
import numpy as np
import scipy.sparse as sp

from balancer.errors import BalancerError


QP_TOLERANCE = 1e-10
"""Clarabel's gap and feasibility tolerances: 10⁻⁵ utilisation on degenerate leximin optima."""


class SolverError(BalancerError):
    """The solver failed on a problem the pre-solve checks passed: a bug or numerical trouble."""


class SolverStatus(str, Enum):
    """How a solver's answer may be relied on, best first (`worst` orders them). A result that
    rests on several solves carries the worst of them."""

    SOLVED = "solved"
    """Optimal to the tolerances asked for (QP_TOLERANCE; for a MIP: proven optimal, gap 0)."""
    ALMOST_SOLVED = "almost_solved"
    """Clarabel stopped at its *reduced* tolerances (`reduced_tol_*`, 5·10⁻⁵ on the gap by
    default) short of QP_TOLERANCE, or did not converge at QP_TOLERANCE and was solved again at
    its default tolerances (10⁻⁸): optimal, feasible and leximin only to those."""
    TIME_LIMIT = "time_limit"
    """A MIP stopped at its time limit with a solution it had not proven optimal (staffing: hires
    that fit, perhaps more than the fewest; the proven lower bound is reported beside them)."""
    INFEASIBLE = "infeasible"
    """The solver proved the model has no solution (staffing: no number of hires fits). The QPs
    here never report it: the pre-solve checks rule it out, so there it raises SolverError."""


_ORDER = list(SolverStatus)


def worst(*statuses: SolverStatus) -> SolverStatus:
    """The least reliable of `statuses` (SOLVED for none: nothing was left inexact)."""
    return max(statuses, key=_ORDER.index, default=SolverStatus.SOLVED)


_CLARABEL = {"Solved": SolverStatus.SOLVED, "AlmostSolved": SolverStatus.ALMOST_SOLVED}
"""Clarabel's statuses that come with a usable solution."""
_ATTEMPTS = (
    (QP_TOLERANCE, {}),
    (QP_TOLERANCE, {"equilibrate_enable": False}),
    (QP_TOLERANCE, {"max_step_fraction": 0.9}),
    (None, {}),
)
"""Clarabel runs out of iterations at 1e-10 on some small, degenerate problems (a prosecutor whose
base load already tops the profile, flows resting on their bounds): without its row scaling, or
with shorter steps, it converges in a dozen. Failing those, its own tolerances (marked as the
looser answer). Each attempt is tried only when the one before gave no answer."""
RESIDUAL = 1e-6
"""Largest constraint violation accepted in a reported solution, relative to max(1, ‖b‖∞).
Clarabel measures its own residuals relative to ‖x‖ too, so on an infeasible problem whose
iterates run off to 10¹⁷ it can report "Solved" with equalities missed by 10⁴."""
_NO_SOLUTION = {"PrimalInfeasible", "DualInfeasible", "AlmostPrimalInfeasible", "AlmostDualInfeasible"}
"""Statuses that say no solution exists: solving again at looser tolerances cannot help."""


def reduced_tolerances() -> dict[str, float]:
    """What an ALMOST_SOLVED optimum is good to: Clarabel's reduced tolerances."""
    settings = clarabel.DefaultSettings()
    return {"gap_abs": settings.reduced_tol_gap_abs, "gap_rel": settings.reduced_tol_gap_rel,
            "feasibility": settings.reduced_tol_feas}


@dataclass(frozen=True)
class QPSolution:
    x: np.ndarray
    status: SolverStatus
    iterations: int
    """Interior-point iterations Clarabel took."""


@dataclass(frozen=True)
class QP:
    """minimise ½ Σ diag_i x_i² + q·x  s.t.  A_eq x = b_eq,  A_le x ≤ b_le."""

    diag: np.ndarray
    q: np.ndarray
    A_eq: sp.csr_matrix
    b_eq: np.ndarray
    A_le: sp.csr_matrix
    b_le: np.ndarray


def solve_qp(qp: QP) -> QPSolution:
    """Solve with Clarabel; raise SolverError unless it reports a solution. The status says
    whether that solution is optimal to QP_TOLERANCE or only to Clarabel's reduced tolerances."""
    n = len(qp.q)
    P = sp.diags(qp.diag, format="csc", shape=(n, n))
    A = sp.vstack([qp.A_eq, qp.A_le], format="csc")
    b = np.concatenate([qp.b_eq, qp.b_le])
    cones = [clarabel.ZeroConeT(qp.A_eq.shape[0]), clarabel.NonnegativeConeT(qp.A_le.shape[0])]
    # Tighter than the defaults (1e-8): where flows without curvature sit on their bounds at a
    # degenerate optimum, the loads converge only like the square root of the gap tolerance.
    for tolerance, changes in _ATTEMPTS:
        solution = _clarabel(P, qp.q, A, b, cones, tolerance, changes)
        if str(solution.status) in _NO_SOLUTION:
            break
        if str(solution.status) in _CLARABEL and violation(qp, np.asarray(solution.x)) <= RESIDUAL:
            break
    status = _CLARABEL.get(str(solution.status))
    if status is None:
        raise SolverError(f"the QP solver stopped with status {solution.status}")
    if violation(qp, np.asarray(solution.x)) > RESIDUAL:
        raise SolverError(f"the QP solver reported {solution.status} for a point that misses its constraints "
                          f"by {violation(qp, np.asarray(solution.x)):.3g} (relative)")
    if tolerance is None:  # only Clarabel's own, looser tolerances were met
        status = SolverStatus.ALMOST_SOLVED
    return QPSolution(x=np.asarray(solution.x), status=status, iterations=int(solution.iterations))


def violation(qp: QP, x: np.ndarray) -> float:
    """The largest violation of `qp`'s constraints at x, relative to max(1, ‖b‖∞)."""
    eq = np.abs(qp.A_eq @ x - qp.b_eq)
    le = qp.A_le @ x - qp.b_le
    worst_ = max(float(eq.max(initial=0.0)), float(le.max(initial=0.0)))
    scale = max(1.0, float(np.abs(qp.b_eq).max(initial=0.0)), float(np.abs(qp.b_le).max(initial=0.0)))
    return worst_ / scale


def _clarabel(P, q, A, b, cones, tolerance: float | None, changes: dict):
    settings = clarabel.DefaultSettings()
    settings.verbose = False
    for name, value in changes.items():
        setattr(settings, name, value)
    if tolerance is not None:
        settings.tol_gap_abs = settings.tol_gap_rel = settings.tol_feas = tolerance
    return clarabel.DefaultSolver(P, q, A, b, cones, settings).solve()
