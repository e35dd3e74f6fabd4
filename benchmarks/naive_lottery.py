"""balancer's lottery against "the naive way to randomise", at the same balance.

The naive way: one CP-SAT Boolean per eligible case–prosecutor pair, every case exactly once,
every prosecutor's utilisation ``(current_load + Σ w x) / capacity`` at most a bound U, no
objective, and randomness from the solver: ``random_seed``, ``permute_variable_randomly``,
``permute_presolve_constraint_order``, variables and constraints added in an order shuffled with
the same seed, and the first solution found is the draw. U is the balance balancer reaches on the
same instance: the median over its draws of its realised maximum utilisation.

Both methods are drawn R times (seeds 0 … R−1) and judged by the same estimators of the
distribution over prosecutors of every case (f_cp = share of the R draws giving case c to p):

* mean over cases of max_p f_cp (estimated "max π"; biased upwards for small R),
* mean over cases of 1 / Σ_p f_cp² (estimated effective candidates; biased downwards for small R,
  never above R),
* the share of cases two draws give to the same prosecutor, averaged over all pairs of draws — an
  unbiased estimate of the expected overlap Σ_p π_cp² averaged over cases (± its jackknife
  standard error),
* distinct prosecutors seen per case in R draws, median realised max / min utilisation, time per
  draw (median) and how many draws found a solution within the time limit.

balancer's exact values (``result.metrics``) are printed next to them, so the small-R bias of the
estimators can be read off balancer's own column.

    python benchmarks/naive_lottery.py [--scenario PATH ...] [--draws R] [--time-limit S]

prints one markdown table per scenario and writes them to ``benchmarks/naive_lottery.md``.
By default the scenario is ``benchmarks/_work/10000x200/scenario.yaml`` (generated if missing),
R = 20 and S = 60 s per CP-SAT draw; if the first ``--give-up-after`` (3) CP-SAT draws all end
without a solution the remaining ones are skipped, and no new CP-SAT draw starts after
``--budget`` (480) seconds per scenario, which keeps the default run under ~10 minutes (about
3½ minutes on the 2-core benchmark machine, where no draw finds a solution in 60 s).

``--floor`` also requires every prosecutor's utilisation to be at least L, the median realised
*minimum* utilisation of balancer's draws. That is not the naive method (which only caps the top
and is free to leave prosecutors nearly idle) but a two-sided "same balance". ``--append`` adds
the tables to ``--out`` instead of replacing it.

Everything runs in one process: balancer imports ortools (max-flow) and Clarabel, never highspy,
and this script does not import highspy either (see ``baseline.py`` on ortools vs highspy).
"""

from __future__ import annotations

import argparse
import gc
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from baseline import Instance, eligible_pairs, load_instance, utilisation  # noqa: E402

import balancer  # noqa: E402

DEFAULT_SCENARIO = HERE / "_work" / "10000x200" / "scenario.yaml"
HOUR_SCALE = 100  # CP-SAT needs integers: hours in units of 0.01 h


# --------------------------------------------------------------------------- draws

@dataclass
class Draws:
    """R draws of one method: ``assign[r, c]`` = staff index of case c in draw r."""

    assign: list[np.ndarray] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)        # wall time of every attempt
    solver_seconds: list[float] = field(default_factory=list)  # solver / draw step only
    statuses: list[str] = field(default_factory=list)
    max_util: list[float] = field(default_factory=list)
    min_util: list[float] = field(default_factory=list)


def case_ids(scenario_path: Path) -> np.ndarray:
    """Case ids in file order — the order ``baseline.load_instance`` indexes cases in."""
    with open(scenario_path, encoding="utf-8") as f:
        ref = yaml.safe_load(f)["cases"]
    if isinstance(ref, list):
        return np.array([str(c["id"]) for c in ref])
    p = scenario_path.parent / ref
    if p.suffix == ".parquet":
        table = pd.read_parquet(p)
    elif p.suffix in (".xlsx", ".xls"):
        table = pd.read_excel(p, dtype={"id": str})
    else:
        table = pd.read_csv(p, dtype={"id": str}, usecols=["id"])
    return table["id"].astype(str).to_numpy()


def balancer_draws(scenario_path: Path, inst: Instance, draws: int) -> tuple[Draws, dict]:
    scenario = balancer.load_scenario(scenario_path)
    cindex = pd.Index(case_ids(scenario_path))
    sindex = pd.Index(inst.staff_ids)
    out = Draws()
    metrics = {}
    for seed in range(draws):
        t0 = time.perf_counter()
        result = balancer.solve(scenario, seed=seed)
        out.seconds.append(time.perf_counter() - t0)
        out.solver_seconds.append(result.timings.get("draw", float("nan")))
        out.statuses.append(str(result.status.value))
        a = result.plan.assignments
        c = cindex.get_indexer(a["case_id"].astype(str))
        s = sindex.get_indexer(a["staff_id"].astype(str))
        if (c < 0).any() or (s < 0).any() or not np.array_equal(np.sort(c), np.arange(inst.n_cases)):
            raise AssertionError("balancer's assignment does not cover every case exactly once")
        row = np.empty(inst.n_cases, np.int64)
        row[c] = s
        u = utilisation(inst, np.arange(inst.n_cases), row)
        if abs(u.max() - result.metrics["max_utilisation"]) > 1e-9:
            raise AssertionError("recomputed max utilisation differs from balancer's metric")
        out.assign.append(row)
        out.max_util.append(float(u.max()))
        out.min_util.append(float(u.min()))
        if seed == 0:
            metrics = dict(result.metrics)  # π does not depend on the seed
    return out, metrics


def staff_room(inst: Instance, U: float) -> np.ndarray:
    """Hours (×HOUR_SCALE, integer) each prosecutor may receive at utilisation ≤ U."""
    return np.floor((U * inst.capacity - inst.base_load) * HOUR_SCALE + 1e-6).astype(np.int64)


def staff_floor(inst: Instance, L: float) -> np.ndarray:
    """Hours (×HOUR_SCALE, integer) each prosecutor must receive to reach utilisation ≥ L."""
    return np.maximum(np.ceil((L * inst.capacity - inst.base_load) * HOUR_SCALE - 1e-6), 0).astype(np.int64)


def naive_draw(inst: Instance, pc: np.ndarray, ps: np.ndarray, room: np.ndarray, seed: int,
               time_limit: float, workers: int, floor: np.ndarray | None = None
               ) -> tuple[np.ndarray | None, str, float, str]:
    """One CP-SAT draw: first feasible assignment, everything shuffled with ``seed``.
    With ``floor``, also every prosecutor's load ≥ floor (``--floor``; not the naive method).

    Returns (staff index per case or None, status name, solver seconds, subsolver that found it).
    """
    from ortools.sat.python import cp_model

    rng = np.random.default_rng(seed)
    n = pc.size
    W = np.round(inst.case_weight * HOUR_SCALE).astype(np.int64)
    perm = rng.permutation(n)  # variable k (in creation order) is pair perm[k]
    inv = np.empty(n, np.int64)
    inv[perm] = np.arange(n)

    m = cp_model.CpModel()
    x = [m.new_bool_var("") for _ in range(n)]
    # each case exactly once: cases in random order, terms in random order
    by_case = perm[np.argsort(pc[perm], kind="stable")]
    cb = np.searchsorted(pc[by_case], np.arange(inst.n_cases + 1))
    for c in rng.permutation(inst.n_cases):
        m.add_exactly_one([x[k] for k in inv[by_case[cb[c]:cb[c + 1]]].tolist()])
    # every prosecutor's utilisation ≤ U: prosecutors in random order, terms in random order
    by_staff = perm[np.argsort(ps[perm], kind="stable")]
    sb = np.searchsorted(ps[by_staff], np.arange(inst.n_staff + 1))
    for p in rng.permutation(inst.n_staff):
        idx = by_staff[sb[p]:sb[p + 1]]
        if idx.size:
            expr = cp_model.LinearExpr.weighted_sum([x[k] for k in inv[idx].tolist()],
                                                    W[pc[idx]].tolist())
            if floor is None:
                m.add(expr <= int(room[p]))
            else:
                m.add_linear_constraint(expr, int(floor[p]), int(room[p]))

    solver = cp_model.CpSolver()
    prm = solver.parameters
    prm.max_time_in_seconds = float(time_limit)
    prm.num_workers = int(workers)
    prm.random_seed = int(seed)
    prm.permute_variable_randomly = True
    prm.permute_presolve_constraint_order = True
    prm.stop_after_first_solution = True
    t1 = time.perf_counter()
    status = solver.solve(m)
    t_solve = time.perf_counter() - t1
    name = solver.status_name(status)
    row = None
    info = ""
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        info = solver.solution_info()
        sol = np.asarray(solver.response_proto.solution, dtype=np.int64)[:n]
        chosen = perm[np.flatnonzero(sol > 0)]
        c, s = pc[chosen], ps[chosen]
        if not np.array_equal(np.sort(c), np.arange(inst.n_cases)):
            raise AssertionError("CP-SAT solution does not assign every case exactly once")
        row = np.empty(inst.n_cases, np.int64)
        row[c] = s
        load = np.bincount(row, weights=W, minlength=inst.n_staff)
        if (load > room).any() or (floor is not None and (load < floor).any()):
            raise AssertionError("CP-SAT solution violates the utilisation bounds")
    del m, x, solver
    gc.collect()
    return row, name, t_solve, info


def naive_draws(inst: Instance, U: float, draws: int, time_limit: float, workers: int,
                give_up_after: int, log, L: float | None = None, budget: float = 0.0
                ) -> tuple[Draws, int, list[str]]:
    pc, ps = eligible_pairs(inst)
    room = staff_room(inst, U)
    floor = None if L is None else staff_floor(inst, L)
    out = Draws()
    infos = []
    start = time.perf_counter()
    for seed in range(draws):
        if budget > 0 and seed > 0 and time.perf_counter() - start > budget:
            log(f"  CP-SAT budget of {budget:g} s used up after {seed} draws: stopping")
            break
        t0 = time.perf_counter()
        row, status, t_solve, info = naive_draw(inst, pc, ps, room, seed, time_limit, workers, floor)
        out.seconds.append(time.perf_counter() - t0)
        out.solver_seconds.append(t_solve)
        out.statuses.append(status)
        infos.append(info)
        log(f"  CP-SAT draw seed {seed}: {status} after {out.seconds[-1]:.1f} s "
            f"(solver {t_solve:.1f} s){' — ' + info if info else ''}")
        if row is not None:
            u = utilisation(inst, np.arange(inst.n_cases), row)
            out.assign.append(row)
            out.max_util.append(float(u.max()))
            out.min_util.append(float(u.min()))
        if seed + 1 >= give_up_after > 0 and not out.assign:
            log(f"  no solution in the first {seed + 1} draws: giving up")
            break
    return out, int(pc.size), infos


# --------------------------------------------------------------------------- estimators

def estimates(d: Draws, n_staff: int) -> dict:
    """Per-case empirical distributions from the successful draws, summarised."""
    R = len(d.assign)
    out = {"R": R}
    if R == 0:
        return out
    A = np.vstack(d.assign)  # (R, C)
    C = A.shape[1]
    keys = (np.arange(C, dtype=np.int64)[None, :] * n_staff + A).ravel()
    uniq, cnt = np.unique(keys, return_counts=True)
    case = uniq // n_staff
    top = np.zeros(C)
    np.maximum.at(top, case, cnt)
    sumsq = np.bincount(case, weights=cnt.astype(float) ** 2, minlength=C)
    out["mean_max_freq"] = float(np.mean(top / R))
    out["max_max_freq"] = float(top.max() / R)
    out["mean_eff_candidates"] = float(np.mean(R * R / sumsq))
    out["mean_distinct"] = float(np.mean(np.bincount(case, minlength=C)))
    if R >= 2:
        agree = np.array([[np.mean(A[i] == A[j]) for j in range(R)] for i in range(R)])
        iu = np.triu_indices(R, 1)
        overlap = float(agree[iu].mean())
        # the same number from the counts: mean_c (Σ_p n² − R) / (R (R − 1))
        assert abs(overlap - float(np.mean((sumsq - R) / (R * (R - 1))))) < 1e-9
        out["overlap"] = overlap
        if R >= 3:
            np.fill_diagonal(agree, 0.0)
            total = agree[iu].sum()
            loo = (total - agree.sum(axis=1)) / ((R - 1) * (R - 2) / 2)
            out["overlap_se"] = float(np.sqrt((R - 1) / R * np.sum((loo - loo.mean()) ** 2)))
    out["max_util"] = float(np.median(d.max_util))
    out["min_util"] = float(np.median(d.min_util))
    return out


# --------------------------------------------------------------------------- report

def _f(v, fmt):
    return "—" if v is None or (isinstance(v, float) and np.isnan(v)) else format(v, fmt)


def table(name: str, inst: Instance, n_pairs: int, U: float, metrics: dict, bal: Draws,
          naive: Draws, draws: int, time_limit: float, workers: int, infos: list[str],
          L: float | None = None) -> str:
    eb, en = estimates(bal, inst.n_staff), estimates(naive, inst.n_staff)

    def ov(e):
        if "overlap" not in e:
            return "—"
        se = e.get("overlap_se")
        return f"{e['overlap']:.2%}" + (f" ± {se:.2%}" if se is not None else "")

    med = lambda v: float(np.median(v)) if v else float("nan")  # noqa: E731
    rows = [
        ("draws with a solution", "—", f"{eb['R']} / {len(bal.seconds)}",
         f"{en['R']} / {len(naive.seconds)} attempted of {draws}"),
        ("mean max π (estimated: mean over cases of the largest frequency)",
         _f(metrics["mean_max_probability"], ".3f"), _f(eb.get("mean_max_freq"), ".3f"),
         _f(en.get("mean_max_freq"), ".3f")),
        ("max π (exact) / largest frequency of any case (noisy, max of many)",
         _f(metrics["max_probability"], ".3f"), _f(eb.get("max_max_freq"), ".2f"),
         _f(en.get("max_max_freq"), ".2f")),
        ("effective candidates 1/Σf² (small-R estimate, ≤ R)",
         _f(metrics["mean_effective_candidates"], ".1f"), _f(eb.get("mean_eff_candidates"), ".1f"),
         _f(en.get("mean_eff_candidates"), ".1f")),
        ("two draws agree on a case (unbiased; ± jackknife s.e.)",
         f"{metrics['expected_overlap']:.2%}", ov(eb), ov(en)),
        ("distinct prosecutors seen per case", "—", _f(eb.get("mean_distinct"), ".1f"),
         _f(en.get("mean_distinct"), ".1f")),
        ("max utilisation (median of draws)", _f(metrics["target_max_utilisation"], ".1%") +
         " (leximin)", _f(eb.get("max_util"), ".1%"), _f(en.get("max_util"), ".1%")),
        ("min utilisation (median of draws)", _f(metrics["target_min_utilisation"], ".1%") +
         " (leximin)", _f(eb.get("min_util"), ".1%"), _f(en.get("min_util"), ".1%")),
        ("time per draw, median s (whole solve / model build + solve)", "",
         _f(med(bal.seconds), ".3f"), _f(med(naive.seconds), ".1f")),
        ("… of which the draw step / the CP-SAT solve, median s", "",
         _f(med(bal.solver_seconds), ".3f"), _f(med(naive.solver_seconds), ".1f")),
    ]
    statuses = ", ".join(f"{s}×{naive.statuses.count(s)}" for s in dict.fromkeys(naive.statuses))
    names = [i.split("(")[0].strip() for i in infos if i]
    found_by = [f"{k} ×{names.count(k)}" for k in sorted(set(names))]
    floor_note = ("" if L is None else
                  f"; with `--floor`, also every utilisation ≥ L = {L:.2%} (median realised "
                  "minimum of balancer's draws)")
    lines = [
        f"### {name}" + ("" if L is None else " (`--floor`)"),
        "",
        f"{inst.n_cases:,} cases, {inst.n_staff} staff, {n_pairs:,} eligible pairs (CP-SAT "
        f"Booleans). U = {U:.2%} (median realised max utilisation of balancer's {len(bal.seconds)} "
        f"draws){floor_note}. CP-SAT: {workers} workers, {time_limit:g} s solver limit per draw (model "
        f"building not included), first solution; "
        f"statuses: {statuses or '—'}.",
        "",
        "| | balancer (exact) | balancer (R draws) | naive CP-SAT (R draws) |",
        "|---|---:|---:|---:|",
    ]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    if found_by:
        lines += ["", "CP-SAT subsolver that found the first solution: " + ", ".join(found_by) + "."]
    return "\n".join(lines)


def run(scenario_path: Path, draws: int, time_limit: float, workers: int, give_up_after: int,
        log, use_floor: bool = False, budget: float = 0.0) -> str:
    inst = load_instance(scenario_path)
    log(f"{scenario_path}: {inst.n_cases} cases, {inst.n_staff} staff")
    bal, metrics = balancer_draws(scenario_path, inst, draws)
    U = float(np.median(bal.max_util))
    log(f"  balancer: {draws} draws, median {np.median(bal.seconds):.3f} s; U = {U:.4%}")
    # balancer's own draws at or below U must satisfy the naive model's constraints
    room = staff_room(inst, U)
    W = np.round(inst.case_weight * HOUR_SCALE).astype(np.int64)
    for row, mu in zip(bal.assign, bal.max_util):
        if mu <= U and (np.bincount(row, weights=W, minlength=inst.n_staff) > room).any():
            raise AssertionError("the naive model's bound cuts off a balancer draw at U")
    L = None
    if use_floor:
        L = float(np.median(bal.min_util))
        ok = sum(lo >= L and hi <= U for lo, hi in zip(bal.min_util, bal.max_util))
        log(f"  floor L = {L:.4%}; {ok} of balancer's draws lie within [L, U]")
    naive, n_pairs, infos = naive_draws(inst, U, draws, time_limit, workers, give_up_after, log, L, budget)
    name = f"{scenario_path.parent.name}/{scenario_path.name}"
    return table(name, inst, n_pairs, U, metrics, bal, naive, draws, time_limit, workers, infos, L)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", type=Path, action="append",
                    help=f"scenario.yaml (repeatable; default {DEFAULT_SCENARIO.relative_to(HERE.parent)})")
    ap.add_argument("--draws", type=int, default=20, help="R, draws of each method (default 20)")
    ap.add_argument("--time-limit", type=float, default=60.0, help="CP-SAT seconds per draw (60)")
    ap.add_argument("--workers", type=int, default=2, help="CP-SAT workers (2)")
    ap.add_argument("--give-up-after", type=int, default=3,
                    help="stop CP-SAT after this many draws if none found a solution (0: never)")
    ap.add_argument("--budget", type=float, default=480.0,
                    help="start no new CP-SAT draw after this many seconds per scenario (480; 0: none)")
    ap.add_argument("--floor", action="store_true",
                    help="also require every utilisation ≥ the median realised minimum of "
                         "balancer's draws (not the naive method: a two-sided 'same balance')")
    ap.add_argument("--out", type=Path, default=HERE / "naive_lottery.md")
    ap.add_argument("--append", action="store_true", help="append to --out instead of replacing it")
    args = ap.parse_args(argv)

    scenarios = args.scenario or [DEFAULT_SCENARIO]
    if not args.scenario and not DEFAULT_SCENARIO.exists():
        from generate import generate
        generate(DEFAULT_SCENARIO.parent, 10_000, 200)
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    t0 = time.perf_counter()
    parts = [run(p, args.draws, args.time_limit, args.workers, args.give_up_after, log, args.floor, args.budget)
             for p in scenarios]
    cmd = "python benchmarks/naive_lottery.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    text = (f"`{cmd.strip()}` ({time.perf_counter() - t0:.0f} s)\n\n" + "\n\n".join(parts) + "\n")
    print(text)
    if args.append and args.out.exists():
        with open(args.out, "a", encoding="utf-8") as f:
            f.write("\n" + text)
    else:
        args.out.write_text("## balancer's lottery vs. the naive CP-SAT lottery\n\n" + text,
                            encoding="utf-8")


if __name__ == "__main__":
    main()
