"""Baselines: "the first model a user would write", and an LP lower bound.

Everything here reads the generated scenario files directly (YAML + CSV with pandas) and computes
eligibility itself; nothing depends on balancer's internals, so the numbers are an independent
check on balancer's results.

* :func:`solve_cpsat` / :func:`solve_cbc` — one binary per eligible case–prosecutor pair, every
  case exactly once, minimise the maximum utilisation ``(current_load + Σ w x) / capacity``,
  on 2 workers with a time limit (120 s by default).
* :func:`lp_lower_bound` — the fractional min-max LP, solved with HiGHS (highspy). Its optimum is
  a lower bound that no integral assignment can beat.

Command line (prints one JSON line, including the process's peak RSS)::

    python benchmarks/baseline.py SCENARIO.yaml --solver cpsat|cbc|lp|lp-classes [--time-limit 120]

Note: ortools 9.15 and highspy 1.15 ship two different builds of ``libhighs.so.1``; whichever is
loaded first wins and the other import fails (google/or-tools#5246). The solver modules are
therefore imported lazily, and the CP-SAT baseline must run in a process that has not imported
highspy (the benchmark runs every baseline in its own subprocess).
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml


# --------------------------------------------------------------------------- instance

@dataclass
class Instance:
    """The numbers every baseline needs, computed straight from the scenario files."""

    staff_ids: np.ndarray          # (S,) str
    capacity: np.ndarray           # (S,) hours
    base_load: np.ndarray          # (S,) hours
    type_ids: list[str]            # (T,)
    type_weight: np.ndarray        # (T,) hours
    type_eligible: np.ndarray      # (T, S) bool: specialisation held and grade ≥ min_grade
    case_type: np.ndarray          # (C,) int index into type_ids
    case_weight: np.ndarray        # (C,) hours
    excl_case: np.ndarray          # (X,) case index of each (case, excluded staff) pair
    excl_staff: np.ndarray         # (X,) staff index of each pair

    @property
    def n_cases(self) -> int:
        return int(self.case_type.size)

    @property
    def n_staff(self) -> int:
        return int(self.staff_ids.size)


def _split(cell) -> list[str]:
    if cell is None or (isinstance(cell, float) and np.isnan(cell)):
        return []
    return [s.strip() for s in str(cell).split(";") if s.strip()]


def load_instance(scenario_path: str | Path) -> Instance:
    """Read ``scenario.yaml`` and the staff/case tables it names (CSV, or inline lists)."""
    path = Path(scenario_path)
    root = path.parent
    with open(path, encoding="utf-8") as f:
        sc = yaml.safe_load(f)
    model = sc
    if "model" in sc:
        with open(root / sc["model"], encoding="utf-8") as f:
            model = yaml.safe_load(f)
    hours_per_fte = float(sc.get("hours_per_fte", model.get("hours_per_fte", 0)) or 0)
    grades = list(sc.get("grades") or model.get("grades") or [])
    case_types = sc.get("case_types") or model["case_types"]

    def table(ref) -> pd.DataFrame:
        if isinstance(ref, list):
            return pd.DataFrame(ref)
        p = root / ref
        if p.suffix == ".parquet":
            return pd.read_parquet(p)
        if p.suffix in (".xlsx", ".xls"):
            return pd.read_excel(p)
        return pd.read_csv(p, dtype={"id": str, "excluded": str, "specialisations": str},
                           keep_default_na=True)

    staff = table(sc["staff"])
    cases = table(sc["cases"])

    staff_ids = staff["id"].astype(str).to_numpy()
    fte = pd.to_numeric(staff.get("fte"), errors="coerce") if "fte" in staff else None
    cap_h = (pd.to_numeric(staff["capacity_hours"], errors="coerce")
             if "capacity_hours" in staff else None)
    capacity = np.full(len(staff), np.nan)
    if cap_h is not None:
        capacity = np.where(cap_h.notna(), cap_h.to_numpy(float), capacity)
    if fte is not None:
        capacity = np.where(np.isnan(capacity), fte.to_numpy(float) * hours_per_fte, capacity)
    if np.isnan(capacity).any() or (capacity <= 0).any():
        raise ValueError("every staff row needs a positive fte or capacity_hours")
    base = (pd.to_numeric(staff["current_load_hours"], errors="coerce").fillna(0.0).to_numpy(float)
            if "current_load_hours" in staff else np.zeros(len(staff)))

    spec_col = staff["specialisations"] if "specialisations" in staff else [None] * len(staff)
    held = [set(v) if isinstance(v, list) else set(_split(v)) for v in spec_col]
    rank = {g: i for i, g in enumerate(grades)}
    staff_grade = np.array(
        [rank.get(str(g), 0) if g is not None and g == g else 0
         for g in (staff["grade"] if "grade" in staff else [None] * len(staff))])

    type_ids = [str(t["id"]) for t in case_types]
    type_weight = np.array([float(t["weight_hours"]) for t in case_types])
    elig = np.ones((len(type_ids), len(staff)), dtype=bool)
    for i, t in enumerate(case_types):
        spec = t.get("specialisation")
        if spec:
            elig[i] &= np.array([spec in h for h in held], dtype=bool)
        if t.get("min_grade"):
            elig[i] &= staff_grade >= rank[t["min_grade"]]

    tindex = {t: i for i, t in enumerate(type_ids)}
    case_type = cases["type"].astype(str).map(tindex)
    if case_type.isna().any():
        raise ValueError(f"unknown case types: {set(cases['type'][case_type.isna()])}")
    case_type = case_type.to_numpy(np.int64)
    case_weight = type_weight[case_type]
    if "weight_hours" in cases:
        override = pd.to_numeric(cases["weight_hours"], errors="coerce").to_numpy(float)
        case_weight = np.where(np.isnan(override), case_weight, override)

    xc: list[int] = []
    xs: list[int] = []
    if "excluded" in cases:
        sindex = {s: i for i, s in enumerate(staff_ids)}
        col = cases["excluded"]
        nonempty = col.notna() & (col.astype(str).str.len() > 0)
        for ci, cell in zip(np.flatnonzero(nonempty.to_numpy()), col[nonempty]):
            for sid in (cell if isinstance(cell, list) else _split(cell)):
                if sid in sindex:
                    xc.append(int(ci))
                    xs.append(sindex[sid])
    return Instance(staff_ids, capacity, base, type_ids, type_weight, elig, case_type,
                    case_weight, np.array(xc, np.int64), np.array(xs, np.int64))


def eligible_pairs(inst: Instance) -> tuple[np.ndarray, np.ndarray]:
    """All eligible (case, staff) pairs, case-major: type eligibility minus exclusions."""
    S = inst.n_staff
    order = np.argsort(inst.case_type, kind="stable")
    cs, ss = [], []
    counts = np.bincount(inst.case_type, minlength=len(inst.type_ids))
    start = 0
    for t, n in enumerate(counts):
        cases_t = order[start:start + n]
        start += n
        staff_t = np.flatnonzero(inst.type_eligible[t])
        cs.append(np.repeat(cases_t, staff_t.size))
        ss.append(np.tile(staff_t, cases_t.size))
    c = np.concatenate(cs)
    s = np.concatenate(ss)
    if inst.excl_case.size:
        bad = np.isin(c * S + s, inst.excl_case * S + inst.excl_staff)
        c, s = c[~bad], s[~bad]
    o = np.lexsort((s, c))
    return c[o], s[o]


def utilisation(inst: Instance, case_idx: np.ndarray, staff_idx: np.ndarray) -> np.ndarray:
    """Per-staff utilisation of an assignment given as (case, staff) pairs."""
    load = inst.base_load + np.bincount(staff_idx, weights=inst.case_weight[case_idx],
                                        minlength=inst.n_staff)
    return load / inst.capacity


def _check(inst: Instance, c: np.ndarray, s: np.ndarray) -> None:
    if not np.array_equal(np.sort(c), np.arange(inst.n_cases)):
        raise AssertionError("solution does not assign every case exactly once")


# --------------------------------------------------------------------------- CP-SAT

def solve_cpsat(scenario_path: str | Path, time_limit: float = 120.0, workers: int = 2,
                hour_scale: int = 100, util_scale: int = 10_000) -> dict:
    """One Boolean per eligible pair; minimise max utilisation with CP-SAT.

    CP-SAT needs integer coefficients: hours are scaled by ``hour_scale`` (×100: 0.01 h) and the
    utilisation variable ``U`` is in 1/``util_scale`` units (basis points), so the constraint per
    prosecutor is ``util_scale·(B_p + Σ W_c x_cp) ≤ A_p·U``. The reported ``max_utilisation`` is
    recomputed exactly from the assignment found.
    """
    from ortools.sat.python import cp_model

    t0 = time.perf_counter()
    inst = load_instance(scenario_path)
    pc, ps = eligible_pairs(inst)
    W = np.round(inst.case_weight * hour_scale).astype(np.int64)
    A = np.round(inst.capacity * hour_scale).astype(np.int64)
    B = np.round(inst.base_load * hour_scale).astype(np.int64)

    m = cp_model.CpModel()
    x = [m.new_bool_var(f"x_{c}_{s}") for c, s in zip(pc.tolist(), ps.tolist())]
    u_hi = int(np.ceil(util_scale * (B + W.sum()).max() / A.min())) + 1
    U = m.new_int_var(0, u_hi, "max_util")
    # each case exactly once (pairs are sorted by case)
    bounds = np.flatnonzero(np.diff(pc, prepend=-1, append=inst.n_cases + 1))
    for a, b in zip(bounds[:-1], bounds[1:]):
        m.add_exactly_one(x[a:b])
    # utilisation of every prosecutor ≤ U
    by_staff = np.argsort(ps, kind="stable")
    sb = np.searchsorted(ps[by_staff], np.arange(inst.n_staff + 1))
    for p in range(inst.n_staff):
        idx = by_staff[sb[p]:sb[p + 1]]
        expr = cp_model.LinearExpr.weighted_sum([x[i] for i in idx],
                                                (util_scale * W[pc[idx]]).tolist())
        m.add(expr + int(util_scale * B[p]) <= int(A[p]) * U)
    m.minimize(U)
    t_build = time.perf_counter() - t0

    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = float(time_limit)
    solver.parameters.num_workers = int(workers)
    t1 = time.perf_counter()
    status = solver.solve(m)
    t_solve = time.perf_counter() - t1
    best = None
    bound = None
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        sol = np.asarray(solver.response_proto.solution, dtype=np.int64)[: len(x)]
        chosen = sol > 0
        _check(inst, pc[chosen], ps[chosen])
        best = float(utilisation(inst, pc[chosen], ps[chosen]).max())
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE, cp_model.UNKNOWN):
        bound = solver.best_objective_bound / util_scale  # CP-SAT's own lower bound on U
    return {
        "solver": "CP-SAT (pairs)",
        "time_s": time.perf_counter() - t0,
        "status": solver.status_name(status),
        "max_utilisation": best,
        "n_vars": len(x) + 1,
        "build_s": t_build,
        "solve_s": t_solve,
        "solver_bound": bound,
    }


# --------------------------------------------------------------------------- PuLP + CBC

def solve_cbc(scenario_path: str | Path, time_limit: float = 120.0, workers: int = 2) -> dict:
    """The same pair model in PuLP, solved by the CBC binary `pulp[cbc]` installs (COIN_CMD)."""
    import pulp

    t0 = time.perf_counter()
    inst = load_instance(scenario_path)
    pc, ps = eligible_pairs(inst)
    w = inst.case_weight

    prob = pulp.LpProblem("min_max_utilisation", pulp.LpMinimize)
    x = [pulp.LpVariable(f"x_{c}_{s}", cat=pulp.LpBinary) for c, s in zip(pc.tolist(), ps.tolist())]
    U = pulp.LpVariable("max_util", lowBound=0)
    prob += U
    bounds = np.flatnonzero(np.diff(pc, prepend=-1, append=inst.n_cases + 1))
    for k, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
        prob += pulp.lpSum(x[a:b]) == 1, f"case_{k}"
    by_staff = np.argsort(ps, kind="stable")
    sb = np.searchsorted(ps[by_staff], np.arange(inst.n_staff + 1))
    for p in range(inst.n_staff):
        idx = by_staff[sb[p]:sb[p + 1]]
        load = pulp.LpAffineExpression([(x[i], float(w[pc[i]])) for i in idx])
        prob += (load + float(inst.base_load[p]) <= float(inst.capacity[p]) * U,
                 f"util_{p}")
    t_build = time.perf_counter() - t0

    import cbcbox

    cmd = pulp.COIN_CMD(msg=False, timeLimit=float(time_limit), threads=int(workers), path=cbcbox.cbc_bin_path())
    t1 = time.perf_counter()
    prob.solve(cmd)
    t_solve = time.perf_counter() - t1
    sol_status = {1: "OPTIMAL", 2: "FEASIBLE", 0: "NO_SOLUTION_FOUND", -1: "INFEASIBLE",
                  -2: "UNBOUNDED"}.get(prob.sol_status, f"status {prob.sol_status}")
    best = None
    if prob.sol_status in (1, 2):
        vals = np.array([v.varValue or 0.0 for v in x])
        chosen = vals > 0.5
        _check(inst, pc[chosen], ps[chosen])
        best = float(utilisation(inst, pc[chosen], ps[chosen]).max())
    return {
        "solver": "PuLP + CBC (pairs)",
        "time_s": time.perf_counter() - t0,
        "status": sol_status,
        "max_utilisation": best,
        "n_vars": len(x) + 1,
        "build_s": t_build,
        "solve_s": t_solve,
    }


# --------------------------------------------------------------------------- LP lower bound

def _highs_minmax(n_groups: int, n_z: int, col_of_edge_staff: np.ndarray, edge_weight: np.ndarray,
                  eq_rows: np.ndarray, eq_rhs: np.ndarray, z_upper: np.ndarray,
                  extra_rows: list[tuple[list[int], float]], inst: Instance) -> float:
    """min U  s.t.  Σ_{edges of group g} z = rhs_g;  b_p + Σ_{edges at p} w z ≤ a_p U;
    extra rows Σ_{e∈E} z_e ≤ r;  0 ≤ z ≤ z_upper.  Columns: z_0 … z_{n−1}, U."""
    import highspy
    from scipy import sparse

    S = inst.n_staff
    G = n_groups
    nrow_x = len(extra_rows)
    # rows: [0, G) demand equalities, [G, G+S) utilisation, then extra caps
    r_dem = eq_rows
    r_util = G + col_of_edge_staff
    rows = [r_dem, r_util]
    cols = [np.arange(n_z), np.arange(n_z)]
    vals = [np.ones(n_z), edge_weight]
    # U column: −a_p in the utilisation rows
    rows.append(G + np.arange(S))
    cols.append(np.full(S, n_z))
    vals.append(-inst.capacity)
    if nrow_x:
        er = np.concatenate([np.full(len(e), G + S + i) for i, (e, _) in enumerate(extra_rows)])
        ec = np.concatenate([np.asarray(e, np.int64) for e, _ in extra_rows])
        rows.append(er)
        cols.append(ec)
        vals.append(np.ones(ec.size))
    nrow = G + S + nrow_x
    A = sparse.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                          shape=(nrow, n_z + 1))
    A.sort_indices()
    inf = highspy.kHighsInf
    lp = highspy.HighsLp()
    lp.num_col_ = n_z + 1
    lp.num_row_ = nrow
    lp.col_cost_ = np.r_[np.zeros(n_z), 1.0]
    lp.col_lower_ = np.zeros(n_z + 1)
    lp.col_upper_ = np.r_[z_upper, inf]
    lp.row_lower_ = np.r_[eq_rhs, np.full(S, -inf), np.full(nrow_x, -inf)]
    lp.row_upper_ = np.r_[eq_rhs, -inst.base_load, np.array([r for _, r in extra_rows], float)]
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = A.indptr.astype(np.int32)
    lp.a_matrix_.index_ = A.indices.astype(np.int32)
    lp.a_matrix_.value_ = A.data
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", 2)
    h.setOptionValue("solver", "ipm")  # + crossover: exact, and 5× faster than simplex at 1M
    h.passModel(lp)
    h.run()
    status = h.getModelStatus()
    if status != highspy.HighsModelStatus.kOptimal:
        raise RuntimeError(f"LP bound: HiGHS returned {h.modelStatusToString(status)}")
    return float(h.getInfo().objective_function_value)


def lp_lower_bound(scenario_path: str | Path | Instance, method: str = "compact") -> float:
    """Optimal fractional max utilisation — a bound no integral assignment can beat.

    ``method="classes"``: the LP on classes, i.e. cases with the same type and the same
    exclusions aggregated; one variable per (class, eligible prosecutor). Exact, but every
    distinct exclusion set is its own class (≈ 10,000 classes × thousands of staff at 1M cases).

    ``method="compact"`` (default): the same optimum with one variable per (type, eligible
    prosecutor). A fractional split of type t's n_t cases into counts z_tp exists, respecting
    every case's exclusions, iff Gale's condition holds for every staff set S:
    ``Σ_{p∈S} z_tp ≤ n_t − #{cases of t whose exclusions contain S}`` — only sets S contained in
    some exclusion list give a non-redundant row (single-edge upper bounds, pair rows, …).
    Requires one weight per type (no per-case ``weight_hours``); falls back to classes otherwise.
    """
    inst = scenario_path if isinstance(scenario_path, Instance) else load_instance(scenario_path)
    T = len(inst.type_ids)
    per_case_weights = not np.array_equal(inst.case_weight, inst.type_weight[inst.case_type])
    if method == "compact" and not per_case_weights:
        n_t = np.bincount(inst.case_type, minlength=T).astype(float)
        tt, ss = np.nonzero(inst.type_eligible & (n_t > 0)[:, None])
        edge_id = {(int(t), int(s)): i for i, (t, s) in enumerate(zip(tt, ss))}
        upper = n_t[tt].copy()
        # subsets of each case's exclusions (restricted to its type's eligible staff)
        subset_count: Counter = Counter()
        if inst.excl_case.size:
            o = np.argsort(inst.excl_case, kind="stable")
            xc, xs = inst.excl_case[o], inst.excl_staff[o]
            cuts = np.flatnonzero(np.diff(xc)) + 1
            for c_arr, s_arr in zip(np.split(xc, cuts), np.split(xs, cuts)):
                t = int(inst.case_type[c_arr[0]])
                members = sorted({int(s) for s in s_arr if inst.type_eligible[t, s]})
                for k in range(1, len(members) + 1):
                    for sub in itertools.combinations(members, k):
                        subset_count[(t, sub)] += 1
        extra = []
        for (t, sub), cnt in subset_count.items():
            cap = n_t[t] - cnt
            if len(sub) == 1:
                e = edge_id[(t, sub[0])]
                upper[e] = min(upper[e], cap)
            else:
                extra.append(([edge_id[(t, s)] for s in sub], cap))
        return _highs_minmax(T, tt.size, ss, inst.type_weight[tt], tt, n_t, upper, extra, inst)

    # classes: (type, weight, frozenset(exclusions)) → count
    excl_sets: dict[int, tuple[int, ...]] = {}
    if inst.excl_case.size:
        o = np.argsort(inst.excl_case, kind="stable")
        xc, xs = inst.excl_case[o], inst.excl_staff[o]
        cuts = np.flatnonzero(np.diff(xc)) + 1
        for c_arr, s_arr in zip(np.split(xc, cuts), np.split(xs, cuts)):
            excl_sets[int(c_arr[0])] = tuple(sorted(set(s_arr.tolist())))
    keys = pd.DataFrame({"t": inst.case_type, "w": inst.case_weight,
                         "x": [excl_sets.get(i, ()) for i in range(inst.n_cases)]
                         if excl_sets else [()] * inst.n_cases})
    grouped = keys.groupby(["t", "w", "x"], sort=True).size()
    e_staff, e_class, e_w, rhs = [], [], [], []
    for k, ((t, w, x), n) in enumerate(grouped.items()):
        el = inst.type_eligible[t].copy()
        el[list(x)] = False
        s = np.flatnonzero(el)
        e_staff.append(s)
        e_class.append(np.full(s.size, k))
        e_w.append(np.full(s.size, w))
        rhs.append(n)
    ss = np.concatenate(e_staff)
    cls = np.concatenate(e_class)
    rhs = np.array(rhs, float)
    return _highs_minmax(rhs.size, ss.size, ss, np.concatenate(e_w), cls, rhs, rhs[cls], [], inst)


# --------------------------------------------------------------------------- CLI

def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Run one baseline; print one JSON line.")
    ap.add_argument("scenario")
    ap.add_argument("--solver", choices=["cpsat", "cbc", "lp", "lp-classes"], required=True)
    ap.add_argument("--time-limit", type=float, default=120.0)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)
    if args.solver == "cpsat":
        out = solve_cpsat(args.scenario, args.time_limit, args.workers)
    elif args.solver == "cbc":
        out = solve_cbc(args.scenario, args.time_limit, args.workers)
    else:
        t0 = time.perf_counter()
        method = "classes" if args.solver == "lp-classes" else "compact"
        v = lp_lower_bound(args.scenario, method=method)
        out = {"solver": f"HiGHS LP ({method})", "time_s": time.perf_counter() - t0,
               "status": "OPTIMAL", "max_utilisation": v, "n_vars": None}
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
