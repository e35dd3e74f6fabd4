"""Rebalancing and daily intake at 100,000 held cases × 2,000 staff, against fresh runs.

    python benchmarks/rebalance_bench.py [--repeat 3] [--size 100000x2000] [--new-cases 1000]
                                         [--budget 1000] [--frontier-step 100] [--no-frontier]

Scenarios (``benchmarks/_work/``, reused until ``generate.py`` changes or ``--regen``):

- ``100000x2000/``: the synthetic scenario of ``run.py`` (nobody holds anything): the baseline;
- ``100000x2000-held/``: the same staff and cases from ``generate.py --held --new-cases 1000``:
  every case held by an eligible prosecutor, allocated unevenly (log-normal "favour", σ 0.3), and
  prosecutors holding ~0.5 % of the cases gone (``fte: 0``: forced moves); ``intake.yaml`` is
  that backlog plus 1,000 new cases with ``moves: {max: 0}`` (one intake day as one scenario),
  ``new-alone.yaml`` the 1,000 new cases alone against the same staff.

Every row runs in a fresh process (``--one``), ``--repeat`` times; the table shows medians. A row
is timed from ``load_scenario`` until the plan exists (``balancer.solve`` returned: load → plan,
no files written), with ``result.timings`` per step (``select``: the class QP, the keep LP,
rounding and compiling the pool) and the child's peak RSS. The parent then re-checks the first
repeat's assignment from the input files without balancer's code: every case once, to a
prosecutor eligible for its type, not excluded and still there; no more balance moves than the
budget; the maximum utilisation recomputed equals the reported one. ``--moves-frontier``'s
``rebalance.frontier`` is timed over budgets 0, step … budget in its own processes.

The table is printed and written into ``benchmarks/results.md`` (``--results``) between the
markers below, replacing the previous one (``run.py`` keeps that section when it rewrites the file);
raw measurements go to ``benchmarks/_work/rebalance.json``. The machine is noisy: compare ratios
within one table.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as _dt
import json
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

from balancer.registry import STEP_NAMES

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = HERE / "_work"
STEPS = [s for s in STEP_NAMES if s != "write"]  # the rows time the library call, not its files
START, END = "<!-- rebalance_bench: start -->", "<!-- rebalance_bench: end -->"
SEED = 1  # the draw's seed, the same in every repeat


# --------------------------------------------------------------------------- child

def one(kind: str, path: str, moves: dict | None, out: str | None, extra: dict) -> dict:
    """Run once in this process: load → plan, times per step and peak memory."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import balancer
    from balancer.scenario import Moves

    t0 = time.perf_counter()
    sc = balancer.load_scenario(path)
    if moves is not None:
        sc = dataclasses.replace(sc, policy=sc.policy.model_copy(update={"moves": Moves(**moves)}))
    if kind == "fresh":  # the same cases as if nobody held anything
        sc = dataclasses.replace(sc, cases=sc.cases.assign(assigned_to=None))
    if kind == "intake-cmd":  # what `balancer intake SCENARIO NEW_CASES` runs
        from balancer.intake import run_intake
        from balancer.scenario import load_new_cases
        new, name, sha = load_new_cases(extra["new_cases"], sc)
        t_load = time.perf_counter() - t0
        intake = run_intake(sc, new, file=name, sha256=sha, seed=SEED)
        result = intake.days[-1].result
    else:
        t_load = time.perf_counter() - t0
        result = balancer.solve(sc, seed=SEED, incremental=(kind == "intake"))
    total = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        result.plan.assignments[["case_id", "staff_id"]].to_csv(Path(out) / "assignments.csv", index=False)
    m, rb = result.metrics, result.rebalance or {}
    return {
        "status": getattr(result.status, "name", str(result.status)),
        "timings": {"load": t_load, **{k: float(v) for k, v in result.timings.items()}},
        "total_s": total,
        "peak_rss_mib": peak,
        "n_cases": m.get("n_cases"),
        "drawn": m.get("n_drawn_cases", m.get("n_cases")),
        "n_classes": m.get("n_classes"),
        "groups": rb.get("groups"),
        "balance_moves": rb.get("balance_moves"),
        "forced_moves": rb.get("forced_moves"),
        "selection": rb.get("selection"),
        "before": m.get("max_utilisation_before"),
        "target": m.get("target_max_utilisation"),
        "after": m.get("max_utilisation"),
        "out": out,
    }


def frontier_one(path: str, budgets: list[int]) -> dict:
    """`rebalance.frontier` over `budgets`, after loading and compiling (not timed)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import balancer
    from balancer import rebalance
    from balancer.problem import compile_problem

    sc = balancer.load_scenario(path)
    problem = compile_problem(sc)
    hold = rebalance.holding(problem)
    t0 = time.perf_counter()
    table = rebalance.frontier(problem, hold, sc.policy.moves, budgets)
    dt = time.perf_counter() - t0
    return {"total_s": dt, "per_point_s": dt / len(budgets), "points": len(budgets),
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "table": table.to_dict("records")}


# --------------------------------------------------------------------------- scenarios

def ensure_held(n_cases: int, n_staff: int, n_new: int, regen: bool) -> Path:
    from generate import generate
    d = WORK / f"{n_cases}x{n_staff}-held"
    stamp = d / ".generated"
    key = json.dumps({"cases": n_cases, "staff": n_staff, "new": n_new,
                      "generator_mtime": (HERE / "generate.py").stat().st_mtime})
    if regen or not (d / "intake.yaml").exists() or not stamp.exists() or stamp.read_text() != key:
        t0 = time.perf_counter()
        generate(d, n_cases, n_staff, held=True, new_cases=n_new)
        stamp.write_text(key)
        print(f"generated {d.relative_to(ROOT)} in {time.perf_counter() - t0:.2f} s", flush=True)
    return d


def check(scenario: Path, assignments: Path, *, holders: bool, budget: int | None,
          reported_max: float | None) -> str:
    """Re-check an assignment against the input files, without balancer's code."""
    import numpy as np
    import pandas as pd
    import yaml

    try:
        sc = yaml.safe_load(scenario.read_text())
        staff = pd.read_csv(scenario.parent / sc["staff"], dtype={"id": str, "specialisations": str})
        cases = pd.read_csv(scenario.parent / sc["cases"], dtype=str, keep_default_na=False)
        a = pd.read_csv(assignments, dtype=str)
        cap = staff["capacity_hours"].astype(float).fillna(staff["fte"].astype(float) * sc["hours_per_fte"])
        cap = cap.to_numpy()
        specs = staff["specialisations"].fillna("").str.split(";")
        grade = staff["grade"].map({g: i for i, g in enumerate(sc["grades"])}).to_numpy()
        types = {t["id"]: t for t in sc["case_types"]}
        problems = []
        s_of = pd.Series(np.arange(len(staff)), index=staff["id"])
        a = a.set_index("case_id")
        if len(a) != len(cases) or not a.index.is_unique or set(a.index) != set(cases["id"]):
            return "not every case exactly once"
        to = s_of.reindex(a.loc[cases["id"], "staff_id"]).to_numpy()
        if np.isnan(to.astype(float)).any():
            return "unknown staff"
        to = to.astype(np.int64)

        def may(staff_idx: np.ndarray) -> np.ndarray:
            ok = cap[staff_idx] > 0
            for tid, t in types.items():
                sel = (cases["type"] == tid).to_numpy()
                if t.get("specialisation"):
                    ok[sel] &= np.array([t["specialisation"] in specs.iloc[p] for p in staff_idx[sel]],
                                        dtype=bool)
                if t.get("min_grade"):
                    ok[sel] &= grade[staff_idx[sel]] >= sc["grades"].index(t["min_grade"])
            excl = cases["excluded"].str.split(";")
            ok &= np.array([staff["id"].iloc[p] not in e for p, e in zip(staff_idx, excl)], dtype=bool)
            return ok

        if not may(to).all():
            problems.append("ineligible, excluded or departed staff")
        if holders and "assigned_to" in cases:
            held = (cases["assigned_to"] != "").to_numpy()
            was = s_of.reindex(cases["assigned_to"].where(held, staff["id"].iloc[0])).to_numpy(np.int64)
            kept_ok = held & may(was)
            balance_moves = int((kept_ok & (to != was)).sum())
            if budget is not None and balance_moves > budget:
                problems.append(f"{balance_moves} balance moves > budget {budget}")
        w = cases["type"].map({k: float(t["weight_hours"]) for k, t in types.items()}).to_numpy()
        load = staff["current_load_hours"].fillna(0).to_numpy(float) + np.bincount(to, w, len(staff))
        on = cap > 0
        umax = float((load[on] / cap[on]).max())
        if reported_max is not None and abs(umax - reported_max) > 1e-6:
            problems.append(f"max util {umax:.4%} ≠ reported {reported_max:.4%}")
        return "ok" if not problems else "; ".join(problems)
    except Exception as e:  # noqa: BLE001 — the table says so, the benchmark goes on
        return f"check failed: {type(e).__name__}: {e}"


# --------------------------------------------------------------------------- parent

def rows_for(base: Path, held: Path, n_cases: int, n_new: int, budget: int) -> list[dict]:
    k = lambda n: f"{n // 1000:,}k" if n >= 10_000 and n % 1000 == 0 else f"{n:,}"  # noqa: E731
    nh, nn, nt = k(n_cases), f"{n_new:,}", k(n_cases + n_new)
    return [
        {"key": "fresh", "label": f"fresh run, {nh} cases, nothing held (run.py's)",
         "kind": "run", "path": base / "scenario.yaml", "moves": None, "vs": []},
        {"key": "fresh-held", "label": f"fresh run, {nh} held cases, holders ignored",
         "kind": "fresh", "path": held / "scenario.yaml", "moves": None, "vs": ["fresh"]},
        {"key": "budget", "label": f"rebalance {nh} held, budget {budget:,} ({budget / n_cases:.0%})",
         "kind": "run", "path": held / "scenario.yaml", "moves": {"max": budget}, "vs": ["fresh"],
         "fresh": "fresh-held", "budget": budget},
        {"key": "unlimited", "label": f"rebalance {nh} held, no budget",
         "kind": "run", "path": held / "scenario.yaml", "moves": {}, "vs": ["fresh"],
         "fresh": "fresh-held", "budget": None},
        {"key": "intake", "label": f"intake {nn} new + {nh} held (solve)",
         "kind": "intake", "path": held / "intake.yaml", "moves": None, "vs": ["alone", "fresh-all"],
         "fresh": "fresh-all", "budget": 0},
        {"key": "intake-cmd", "label": f"intake {nn} new + {nh} held (run_intake)",
         "kind": "intake-cmd", "path": held / "scenario.yaml", "moves": None,
         "vs": ["alone", "fresh-all"], "fresh": "fresh-all", "budget": 0,
         "extra": {"new_cases": str(held / "new.csv")}, "check_path": held / "intake.yaml"},
        {"key": "alone", "label": f"fresh run, {nn} new cases alone",
         "kind": "run", "path": held / "new-alone.yaml", "moves": None, "vs": []},
        {"key": "fresh-all", "label": f"fresh run, all {nt}, holders ignored",
         "kind": "fresh", "path": held / "intake.yaml", "moves": None, "vs": []},
    ]


def tables(rows: list[dict], res: dict) -> tuple[list[str], list[list[str]], list[str], list[list[str]]]:
    """Two tables: times and memory; what the run did."""
    from run import _fmt_s, _median

    def ok(key):
        return [r for r in res.get(key, []) if "error" not in r]

    def med(key, field):
        if field in STEPS:
            return _median([r["timings"].get(field) for r in ok(key)])
        return _median([r[field] for r in ok(key)])

    short = {"fresh": "fresh run", "alone": "new alone", "fresh-all": "fresh all"}
    pct = lambda v: "—" if v is None else f"{100 * v:.1f} %"  # noqa: E731
    head_t = (["row", "drawn cases"] + [f"{s} s" for s in STEPS]
              + ["load → plan s", "ratio", "peak RSS MiB"])
    head_o = ["row", "held groups", "moves: balance + forced", "max util before", "target",
              "drawn", "fresh leximin max", "check"]
    times, outcome = [], []
    for row in rows:
        good = ok(row["key"])
        if not good:
            err = res[row["key"]][0].get("error", "failed")
            times.append([row["label"], err] + [""] * (len(head_t) - 2))
            outcome.append([row["label"], err] + [""] * (len(head_o) - 2))
            continue
        r = good[0]
        total = med(row["key"], "total_s")
        ratio = "; ".join(f"{total / med(v, 'total_s'):.2f}× {short.get(v, v)}" for v in row["vs"] if ok(v))
        times.append([row["label"], f"{r['drawn']:,}"]
                     + [_fmt_s(med(row["key"], s)) if any(s in x["timings"] for x in good) else "—"
                        for s in STEPS]
                     + [_fmt_s(total), ratio or "—", f"{med(row['key'], 'peak_rss_mib'):.0f}"])
        fresh = pct(ok(row["fresh"])[0]["target"]) if row.get("fresh") and ok(row["fresh"]) else "—"
        outcome.append([row["label"], "—" if r["groups"] is None else f"{r['groups']:,}",
                        "—" if r["balance_moves"] is None else f"{r['balance_moves']:,} + {r['forced_moves']:,}",
                        pct(r["before"]), pct(r["target"]), pct(r["after"]), fresh, row.get("checked", "—")])
    return head_t, times, head_o, outcome


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=3, help="fresh-process runs per row")
    ap.add_argument("--size", default="100000x2000", help="CASESxSTAFF (default %(default)s)")
    ap.add_argument("--new-cases", type=int, default=1000, help="new cases of the intake day")
    ap.add_argument("--budget", type=int, default=1000, help="move budget of the limited row (cases)")
    ap.add_argument("--frontier-step", type=int, default=100, help="frontier budgets 0, step … budget")
    ap.add_argument("--no-frontier", action="store_true", help="skip timing rebalance.frontier")
    ap.add_argument("--regen", action="store_true", help="regenerate the scenarios")
    ap.add_argument("--timeout", type=float, default=1800.0, help="per-child timeout, s")
    ap.add_argument("--results", default=str(HERE / "results.md"), help="markdown file to update")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--frontier-one", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.one:
        spec = json.loads(args.one)
        print(json.dumps(one(spec["kind"], spec["path"], spec["moves"], spec.get("out"),
                             spec.get("extra", {}))))
        return 0
    if args.frontier_one:
        spec = json.loads(args.frontier_one)
        print(json.dumps(frontier_one(spec["path"], spec["budgets"])))
        return 0

    sys.path.insert(0, str(HERE))
    from run import _subprocess_json, ensure_scenario, markdown_table, parse_sizes, print_table, _versions, write_section

    (n_cases, n_staff), = parse_sizes(args.size)
    base, gen_s = ensure_scenario(n_cases, n_staff, 0, args.regen)
    held = ensure_held(n_cases, n_staff, args.new_cases, args.regen)
    rows = rows_for(base.parent, held, n_cases, args.new_cases, args.budget)
    me = str(Path(__file__).resolve())
    res: dict[str, list[dict]] = {}
    for row in rows:
        res[row["key"]] = []
        for i in range(args.repeat):
            out = WORK / "rebalance-out" / f"{row['key']}-{i}"
            spec = {"kind": row["kind"], "path": str(row["path"]), "moves": row["moves"],
                    "out": str(out) if i == 0 else None, "extra": row.get("extra", {})}
            r = _subprocess_json([sys.executable, me, "--one", json.dumps(spec)], args.timeout)
            res[row["key"]].append(r)
            if "error" in r:
                print(f"[{row['key']}] run {i + 1}: {r['error']}", flush=True)
            else:
                extra = (f", select {r['timings']['select']:.2f} s" if "select" in r["timings"] else "")
                print(f"[{row['key']}] run {i + 1}: {r['status']} load → plan {r['total_s']:.2f} s{extra}, "
                      f"peak RSS {r['peak_rss_mib']:.0f} MiB", flush=True)
        first = res[row["key"]][0]
        if "error" not in first:
            row["checked"] = check(Path(row.get("check_path", row["path"])),
                                   Path(first["out"]) / "assignments.csv",
                                   holders="budget" in row,
                                   budget=row.get("budget"), reported_max=first["after"])
            print(f"[{row['key']}] check: {row['checked']}", flush=True)

    front = []
    budgets = list(range(0, args.budget + 1, args.frontier_step))
    if not args.no_frontier:
        for i in range(args.repeat):
            r = _subprocess_json([sys.executable, me, "--frontier-one",
                                  json.dumps({"path": str(held / "scenario.yaml"), "budgets": budgets})],
                                 args.timeout)
            front.append(r)
            print(f"[frontier] run {i + 1}: " + (r["error"] if "error" in r else
                  f"{r['total_s']:.1f} s for {r['points']} points ({r['per_point_s']:.2f} s each)"), flush=True)

    head_t, times, head_o, outcome = tables(rows, res)
    title = f"rebalancing and intake, {n_cases:,} × {n_staff:,} — median of {args.repeat} fresh processes"
    print_table(title, head_t, times)
    print_table("what each run did (first repeat; the draw's seed is fixed)", head_o, outcome)
    cmd = "python benchmarks/rebalance_bench.py" + ("" if argv is None and len(sys.argv) == 1 else
                                                    " " + " ".join(argv if argv is not None else sys.argv[1:]))
    md = [
        f"## Rebalancing and daily intake at {n_cases:,} cases × {n_staff:,} staff",
        "",
        f"Generated {_dt.datetime.now().isoformat(timespec='seconds')} by `{cmd}` on "
        f"{platform.machine()} with {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"{_versions()}. Medians of {args.repeat} fresh processes; times are load → plan "
        "(`load_scenario` until `solve` returns, no files written), so the fresh row is a little "
        "below run.py's end-to-end. See `benchmarks/rebalance_bench.py` for the scenarios and "
        "the check.",
        "",
        markdown_table(head_t, times),
        "",
        "*select*: the class QP, the keep-as-many-as-possible LP, rounding and compiling the pool; "
        "*ratio*: load → plan of the row ÷ that of the named fresh run, measured in the same run.",
        "",
        markdown_table(head_o, outcome),
        "",
        "*held groups*: (class, holder) groups of held cases that may stay, the selection's "
        "variables; *max util before*: held cases and current load as they stand (fresh rows: "
        "current load only); *target*: the top of the leximin profile the draw aims at, after the "
        "moves; *drawn*: the realised maximum; *fresh leximin max*: the target of a fresh run of "
        "the same cases with nobody holding anything (what an unlimited budget reaches).",
        "",
    ]
    ok_front = [r for r in front if "error" not in r]
    if ok_front:
        per = statistics.median(r["per_point_s"] for r in ok_front)
        tot = statistics.median(r["total_s"] for r in ok_front)
        t = ok_front[0]["table"]
        md += [
            f"`rebalance.frontier` (what `--moves-frontier` computes) over {len(budgets)} budgets "
            f"{budgets[0]}…{budgets[-1]}: {tot:.1f} s, **{per:.2f} s per budget point** (median of "
            f"{len(ok_front)}; after load and compile; "
            f"{statistics.median(r['peak_rss_mib'] for r in ok_front):.0f} MiB peak); the fluid "
            "profile per budget:",
            "",
            "| budget (cases) | " + " | ".join(f"{p['budget']:,}" for p in t) + " |",
            "|---|" + "---:|" * len(t),
            "| target max util | " + " | ".join(f"{100 * p['max_utilisation']:.1f} %" for p in t) + " |",
            "| lowest max any such moves reach | "
            + " | ".join(f"{100 * p['lowest_max_utilisation']:.1f} %" for p in t) + " |",
        ]
        print(f"frontier: {tot:.1f} s for {len(budgets)} points, {per:.2f} s per point")
    write_section(Path(args.results), START, END, "\n".join(md) + "\n")
    WORK.mkdir(exist_ok=True)
    (WORK / "rebalance.json").write_text(json.dumps(
        {"rows": [{k: str(v) if isinstance(v, Path) else v for k, v in r.items()} for r in rows],
         "runs": res, "frontier": front}, indent=1, default=str), encoding="utf-8")
    print(f"updated {args.results}")
    failed = any("error" in r for rs in res.values() for r in rs) or \
        any(r.get("checked", "ok") != "ok" for r in rows) or any("error" in r for r in front)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
