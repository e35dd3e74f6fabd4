"""Every draw balanced: the previous lottery against compensated rounding, draw by draw.

    python benchmarks/balance_bench.py [--seeds 30] [--sizes 10000x200,100000x2000,1000000x10000]
                                       [--size-seeds 1000000x10000=10] [--no-preflib]
                                       [--results benchmarks/results.md]
    python benchmarks/balance_bench.py --sizes 10000x200 --seeds 5 --no-preflib   # quick check

Scenarios: the synthetic sizes of ``run.py`` (``generate.py`` into ``benchmarks/_work/<size>/``,
reused when present), ``scenarios/regional/regional.yaml`` and the real PrefLib scenario at
``<repo>/../shared/data/preflib-csconf-176x146/scenario.yaml`` (skipped with a note if absent).

Each scenario runs in a fresh process (``--one``), so its peak RSS is its own. The child compiles
the problem, computes the leximin balance and the integral limit once
(``balancer.limits.integral_limit``, as ``balancer.solve`` does, with its node budget)
and the best whole-case assignment greedy rounding finds, then for each method designs the
lottery once and draws it with seeds 0 … N−1:

- *previous*: ``benchmarks/previous_lottery.py`` (``design`` + slot-graph dependent rounding, the
  method before compensated rounding), frozen;
- *new*: ``balancer.lottery.design(…, integral_gap=limit.above_target, integral_max=limit.upper)``
  + ``balancer.lottery.draw``, exactly as ``balancer.pipeline.solve`` calls them.

Per draw it measures the realised maximum utilisation, the share of prosecutors (capacity > 0)
more than 5 points above their leximin target, and whether draws s and s+1 give a case to the
same prosecutor; the design's randomness comes from ``balancer.plan.randomness_metrics``. The
first draw of each method is written to ``benchmarks/_work/balance-out/`` and re-checked by the
parent from the input files without balancer's code: every case exactly once, only to a
prosecutor eligible for its type (specialisation, grade) and not excluded, and the maximum
utilisation recomputed from the files (capacity prorated by the scenario's period) equals the
child's.

The table is printed and written into ``benchmarks/results.md`` (``--results``) between the
markers below (replacing that section, or appended; ``run.py`` keeps it when it rewrites the
file); raw measurements go to ``benchmarks/_work/balance.json``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = HERE / "_work"
START, END = "<!-- balance_bench: start -->", "<!-- balance_bench: end -->"
SIZES = "10000x200,100000x2000,1000000x10000"
REGIONAL = ROOT / "scenarios" / "regional" / "regional.yaml"
PREFLIB = ROOT.parent / "shared" / "data" / "preflib-csconf-176x146" / "scenario.yaml"
ABOVE = 0.05
"""A prosecutor counts as *above target* when their utilisation exceeds their leximin target by
more than this (5 points)."""
METHODS = ("previous", "new")


# --------------------------------------------------------------------------- child

def _rss_mib() -> float:
    """Peak RSS of this process, MiB: VmHWM where /proc has it. Not ru_maxrss: on Linux a child
    started by `subprocess` keeps the parent's peak in ru_maxrss across exec (measured: a 611 MiB
    parent gives a bare `python -c` child ru_maxrss 611 MiB, VmHWM 11 MiB)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def one(path: str, seeds: int, out: str) -> dict:
    """Both methods on one scenario, in this process; see the module docstring."""
    for p in (str(ROOT), str(HERE)):
        if p not in sys.path:
            sys.path.insert(0, p)
    import numpy as np
    import pandas as pd

    import balancer
    import previous_lottery
    from balancer import lottery
    from balancer.balance import leximin
    from balancer.limits import greedy_rounding, integral_limit
    from balancer.plan import randomness_metrics
    from balancer.problem import compile_problem

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    scenario = balancer.load_scenario(path)
    timings["load"] = time.perf_counter() - t0
    policy = scenario.policy
    hard = policy.capacity == "hard"

    t0 = time.perf_counter()
    problem = compile_problem(scenario)
    timings["compile"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    balance = leximin(problem)
    timings["balance"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    limit = integral_limit(problem, balance)
    timings["limit"] = time.perf_counter() - t0
    known = bool(np.isfinite(limit.upper))

    on = problem.capacity > 0
    cap, base = problem.capacity[on], problem.base_load[on]
    target = balance.target_utilisation[on]

    def scores(hours: np.ndarray) -> tuple[float, float, float]:
        """(max utilisation, share more than ABOVE over target, max u − t) of (P,) assigned hours."""
        u = (base + hours[on]) / cap
        over = u - target
        return float(u.max()), float(np.mean(over > ABOVE + 1e-9)), float(over.max())

    t0 = time.perf_counter()
    y = greedy_rounding(problem, balance)
    timings["greedy"] = time.perf_counter() - t0
    greedy = None
    if y is not None:
        hours = np.bincount(problem.edge_staff, weights=problem.class_weight[problem.edge_class] * y,
                            minlength=problem.n_staff)
        g_max, g_share, g_over = scores(hours)
        greedy = {"max_utilisation": g_max, "share_above": g_share, "max_above_target": g_over}
    rss = {"setup": _rss_mib()}

    # Every item's (class, prosecutor) pair must be an edge; a pooled item never goes to staff it
    # excludes (balancer's own structure: a cheap guard on every draw, the parent checks the first
    # one independently).
    edge_key = problem.edge_class.astype(np.int64) * problem.n_staff + problem.edge_staff
    m_of = np.repeat(np.arange(len(problem.pooled_item)), np.diff(problem.pooled_excl_start))
    excl_item = problem.pooled_item[m_of]

    def valid(item_staff: np.ndarray) -> bool:
        key = problem.item_class.astype(np.int64) * problem.n_staff + item_staff
        pos = np.minimum(np.searchsorted(edge_key, key), len(edge_key) - 1)
        if not np.array_equal(edge_key[pos], key):
            return False
        return not np.any(item_staff[excl_item] == problem.pooled_excl_staff)

    methods = {}
    for name in METHODS:
        t0 = time.perf_counter()
        if name == "previous":
            mod = previous_lottery
            design = previous_lottery.design(problem, balance, tolerance=policy.tolerance,
                                             max_probability=policy.max_probability, hard_capacity=hard)
        else:
            mod = lottery
            design = lottery.design(problem, balance, tolerance=policy.tolerance,
                                    max_probability=policy.max_probability, hard_capacity=hard,
                                    integral_gap=limit.above_target if known else 0.0,
                                    integral_max=limit.upper if known else None)
        design_s = time.perf_counter() - t0
        rss[f"{name} design"] = _rss_mib()
        rm = randomness_metrics(problem, design)
        draws, agree, all_valid = [], [], True
        previous_case_staff = None
        for seed in range(seeds):
            t0 = time.perf_counter()
            item_staff = mod.draw(problem, design, np.random.default_rng(seed))
            draw_s = time.perf_counter() - t0
            all_valid &= valid(item_staff)
            case_staff = item_staff[problem.case_item]
            hours = np.bincount(case_staff, weights=problem.case_weight, minlength=problem.n_staff)
            u_max, share, over = scores(hours)
            draws.append({"seed": seed, "draw_s": draw_s, "max_utilisation": u_max,
                          "share_above": share, "max_above_target": over, "peak_rss_mib": _rss_mib()})
            if previous_case_staff is not None:
                agree.append(float(np.mean(case_staff == previous_case_staff)))
            previous_case_staff = case_staff
            if seed == 0:
                d = Path(out) / name
                d.mkdir(parents=True, exist_ok=True)
                pd.DataFrame({"case_id": problem.case_ids, "staff_id": problem.staff_ids[case_staff]}
                             ).to_csv(d / "assignments.csv", index=False)
        methods[name] = {
            "design_s": design_s,
            "draws": draws,
            "agree": agree,
            "valid": bool(all_valid),
            "randomness": {k: (float(v) if isinstance(v, (int, float, np.generic)) else v)
                           for k, v in rm.items()},
            "rss_after_mib": _rss_mib(),
            "out": str(Path(out) / name),
        }
    return {
        "scenario": path,
        "n_cases": int(len(problem.case_ids)),
        "n_staff": int(problem.n_staff),
        "n_staff_with_capacity": int(on.sum()),
        "n_classes": int(problem.n_classes),
        "n_edges": int(problem.n_edges),
        "tolerance": float(policy.tolerance),
        "max_probability": float(policy.max_probability),
        "limit": limit.to_dict(),
        "target_max_utilisation": float(np.nanmax(target)),
        "greedy": greedy,
        "timings": timings,
        "methods": methods,
        "peak_rss_mib": _rss_mib(),
        "rss_mib": rss,
        "seeds": seeds,
    }


# --------------------------------------------------------------------------- independent check

def check(scenario: Path, assignments: Path, reported_max: float | None) -> str:
    """Re-check one assignment against the input files without balancer's code (see above)."""
    import numpy as np
    import pandas as pd
    import yaml
    from baseline import load_instance
    from run import assignment_problems

    try:
        inst = load_instance(scenario)
        sc = yaml.safe_load(scenario.read_text(encoding="utf-8"))
        capacity = inst.capacity.copy()
        if sc.get("period"):  # fte is prorated by the period's days (capacity_hours are as given)
            model = sc
            if "model" in sc:
                model = yaml.safe_load((scenario.parent / sc["model"]).read_text(encoding="utf-8"))
            hpf = float(sc.get("hours_per_fte", model.get("hours_per_fte", 0)) or 0)
            days = (_date(sc["period"]["end"]) - _date(sc["period"]["start"])).days + 1
            staff = pd.read_csv(scenario.parent / sc["staff"], dtype={"id": str})
            if "unavailable" in staff:
                return "check skipped: unavailable spans"
            fte = pd.to_numeric(staff.get("fte"), errors="coerce").to_numpy(float)
            given = (pd.to_numeric(staff["capacity_hours"], errors="coerce").to_numpy(float)
                     if "capacity_hours" in staff else np.full(len(staff), np.nan))
            capacity = np.where(np.isnan(given), fte * hpf * days / 365, given)
        a = pd.read_csv(assignments, dtype={"case_id": str, "staff_id": str})
        cases = pd.read_csv(scenario.parent / sc["cases"], usecols=["id"], dtype={"id": str})
        cidx = pd.Index(cases["id"]).get_indexer(a["case_id"])
        sidx = pd.Index(inst.staff_ids).get_indexer(a["staff_id"])
        if (cidx < 0).any() or (sidx < 0).any():
            return "unknown ids"
        problems, load = assignment_problems(inst, cidx, sidx)
        on = capacity > 0
        umax = float((load[on] / capacity[on]).max())
        if reported_max is not None and abs(umax - reported_max) > 1e-6:
            problems.append(f"max util {100 * umax:.2f} % ≠ {100 * reported_max:.2f} %")
        return "ok" if not problems else "; ".join(problems)
    except Exception as e:  # noqa: BLE001 — the table says so, the benchmark goes on
        return f"check failed: {type(e).__name__}: {e}"


def _version(pkg: str) -> str:
    from importlib import metadata
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return "?"


def code_state() -> tuple[str, dict[str, str]]:
    """(what balancer's code is: commit and uncommitted files, a digest of every file the
    children import from the work tree) — to tell the table which code it measured, and whether
    that code changed while the benchmark ran."""
    import hashlib
    import subprocess

    files = sorted((ROOT / "balancer").glob("*.py")) + [HERE / "previous_lottery.py"]
    digest = {str(f.relative_to(ROOT)): hashlib.sha256(f.read_bytes()).hexdigest() for f in files}
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "balancer"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.split("\n")
        dirty = [line[3:] for line in dirty if line.strip()]
        text = f"commit {head}" + (f" + uncommitted changes to {', '.join(dirty)}" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        text = "not a git checkout"
    return text, digest


def _date(v):
    return v if isinstance(v, _dt.date) else _dt.date.fromisoformat(str(v))


# --------------------------------------------------------------------------- table

def _pct(v, digits=2) -> str:
    return "—" if v is None else f"{100 * v:.{digits}f} %"


def _pp(v) -> str:
    return "—" if v is None else f"{100 * v:+.2f}"


def _s(v) -> str:
    if v is None:
        return "—"
    return f"{v:.3f}" if v < 10 else f"{v:.1f}"


HEAD = ["scenario", "method", "seeds", "LP bound", "integral limit", "max util median", "max util worst",
        "above limit median pp", "above limit worst pp", ">5 pts above target", "same, best whole",
        "eff. candidates", "max π", "two draws agree", "limit s", "design s", "draw s", "peak RSS MiB",
        "check"]


def rows_for(label: str, r: dict) -> list[list[str]]:
    if "error" in r:
        return [[label, m, "—", r["error"]] + [""] * (len(HEAD) - 4) for m in METHODS]
    lim = r["limit"]
    upper = lim["upper"] if math.isfinite(lim["upper"]) else None
    lim_text = _pct(upper) + f" ({lim['method']}" + ("" if lim["exact"] else f"; ≥ {_pct(lim['lower'])}") + ")"
    greedy = r["greedy"]["share_above"] if r.get("greedy") else None
    out = []
    for name in METHODS:
        m = r["methods"][name]
        umax = [d["max_utilisation"] for d in m["draws"]]
        share = [d["share_above"] for d in m["draws"]]
        rnd = m["randomness"]
        out.append([
            label, name, str(len(m["draws"])), _pct(lim["lp_bound"]), lim_text,
            _pct(statistics.median(umax)), _pct(max(umax)),
            _pp(statistics.median(umax) - upper if upper is not None else None),
            _pp(max(umax) - upper if upper is not None else None),
            _pct(statistics.fmean(share), 1), _pct(greedy, 1),
            f"{rnd.get('mean_effective_candidates', float('nan')):.1f}",
            f"{rnd.get('max_probability', float('nan')):.3f}",
            (_pct(statistics.fmean(m["agree"])) if m["agree"] else "—")
            + f" ({_pct(rnd.get('expected_overlap'))})",
            _s(r["timings"]["limit"]) if name == "new" else "—",
            _s(m["design_s"]), _s(statistics.median(d["draw_s"] for d in m["draws"])),
            f"{r['peak_rss_mib']:.0f}", m.get("checked", "—"),
        ])
    return out


def markdown_table(head: list[str], rows: list[list[str]]) -> str:
    left = {"scenario", "method", "integral limit", "check"}
    out = ["| " + " | ".join(head) + " |",
           "|" + "|".join("---" if h in left else "---:" for h in head) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


# --------------------------------------------------------------------------- main

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=30, help="draws per method: seeds 0 … N−1")
    ap.add_argument("--sizes", default=SIZES, help="synthetic CASESxSTAFF, comma-separated (default %(default)s)")
    ap.add_argument("--size-seeds", default="",
                    help="per-size override of --seeds, e.g. 1000000x10000=10 (comma-separated)")
    ap.add_argument("--no-preflib", action="store_true", help="skip the PrefLib scenario")
    ap.add_argument("--no-regional", action="store_true", help="skip scenarios/regional/regional.yaml")
    ap.add_argument("--timeout", type=float, default=3600.0, help="per-scenario child timeout, s")
    ap.add_argument("--results", default=str(HERE / "results.md"), help="markdown file to update")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.one:
        spec = json.loads(args.one)
        print(json.dumps(one(spec["path"], spec["seeds"], spec["out"])))
        return 0

    sys.path.insert(0, str(HERE))
    from run import _subprocess_json, _versions, ensure_scenario, parse_sizes, print_table, write_section

    t_start = time.perf_counter()
    code, digest = code_state()
    size_seeds = {}
    for part in filter(None, (p.strip() for p in args.size_seeds.split(","))):
        size, _, n = part.partition("=")
        size_seeds[parse_sizes(size)[0]] = int(n)
    scenarios, notes = [], []
    for n_cases, n_staff in parse_sizes(args.sizes) if args.sizes.strip() else []:
        path, gen_s = ensure_scenario(n_cases, n_staff, 0, False)
        print(f"[{n_cases}x{n_staff}] scenario {path.relative_to(ROOT)}"
              + (f" generated in {gen_s:.1f} s" if gen_s is not None else " (reused)"), flush=True)
        scenarios.append((f"{n_cases:,} × {n_staff:,}", f"{n_cases}x{n_staff}", path,
                          size_seeds.get((n_cases, n_staff), args.seeds)))
    if not args.no_regional:
        scenarios.append(("regional", "regional", REGIONAL, args.seeds))
    if args.no_preflib:
        notes.append("PrefLib scenario skipped (`--no-preflib`).")
    elif PREFLIB.exists():
        scenarios.append(("PrefLib 176 × 146", "preflib", PREFLIB, args.seeds))
    else:
        notes.append(f"PrefLib scenario skipped: `{PREFLIB}` is absent.")
        print(notes[-1], flush=True)

    me = str(Path(__file__).resolve())
    results, rows = {}, []
    for label, key, path, seeds in scenarios:
        out = WORK / "balance-out" / key
        t0 = time.perf_counter()
        r = _subprocess_json([sys.executable, me, "--one",
                              json.dumps({"path": str(path), "seeds": seeds, "out": str(out)})], args.timeout)
        wall = time.perf_counter() - t0
        r["wall_s"] = wall
        if "error" in r:
            print(f"[{key}] {r['error']}", flush=True)
        else:
            lim = r["limit"]
            print(f"[{key}] {r['n_cases']:,} cases, {r['n_staff']:,} staff, {r['n_edges']:,} edges; "
                  f"LP bound {_pct(lim['lp_bound'])}, integral limit {_pct(lim['upper'])} ({lim['method']}), "
                  f"limit {r['timings']['limit']:.2f} s; {wall:.1f} s in all, "
                  f"peak RSS {r['peak_rss_mib']:.0f} MiB",
                  flush=True)
            for name in METHODS:
                m = r["methods"][name]
                first = m["draws"][0]["max_utilisation"]
                m["checked"] = check(Path(path), Path(m["out"]) / "assignments.csv", first)
                if not m["valid"]:
                    m["checked"] += "; a draw left its class's edges"
                umax = [d["max_utilisation"] for d in m["draws"]]
                draw_s = statistics.median(d["draw_s"] for d in m["draws"])
                print(f"  {name:8s} design {m['design_s']:.2f} s, draw {draw_s:.3f} s; max util median "
                      f"{_pct(statistics.median(umax))}, worst {_pct(max(umax))}; check: {m['checked']}",
                      flush=True)
        results[key] = {"label": label, "path": str(path), **r}
        rows += rows_for(label, r)
    total = time.perf_counter() - t_start
    changed = [f for f, h in code_state()[1].items() if digest.get(f) != h]
    if changed:
        notes.append(f"**Warning:** {', '.join(changed)} changed while the benchmark ran: the rows may "
                     "measure different code.")
        print(notes[-1], flush=True)

    seeds_text = f"seeds 0…{args.seeds - 1}" + "".join(
        f"; {c}x{s}: seeds 0…{n - 1}" for (c, s), n in size_seeds.items())
    print_table(f"every draw balanced: previous lottery vs compensated rounding ({seeds_text})", HEAD, rows)
    cmd = "python benchmarks/balance_bench.py" + ("" if argv is None and len(sys.argv) == 1 else
                                                  " " + " ".join(argv if argv is not None else sys.argv[1:]))
    md = [
        "## Every draw balanced: the previous lottery vs compensated rounding",
        "",
        f"Generated {_dt.datetime.now().isoformat(timespec='seconds')} by `{cmd}` ({total / 60:.1f} min) on "
        f"{platform.machine()} with {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"{_versions()}, scipy {_version('scipy')}; balancer's code: {code}. Draws with {seeds_text} "
        "for both methods; one fresh process per scenario. "
        "*previous*: `benchmarks/previous_lottery.py` (the lottery of commit 6bcef82: design + "
        "slot-graph dependent rounding); *new*: `balancer.lottery` with the integral limit, as "
        "`balancer.solve` runs it. Both draw from the same problem and leximin balance.",
        "",
        markdown_table(HEAD, rows),
        "",
        "*LP bound*: the best fractional maximum utilisation; *integral limit*: the best maximum "
        "of whole cases found (`integral_limit(…).upper`, how it was found, and its proven lower "
        "bound when the bracket is open); *max util median / worst*: the realised maximum "
        "utilisation over the draws; *above limit*: the same minus the integral limit, in "
        "percentage points; *>5 pts above target*: share of prosecutors with capacity whose "
        "utilisation is more than 5 points above their leximin target (mean over draws); *same, "
        "best whole*: that share for the whole-case assignment `greedy_rounding` finds (what "
        "integrality alone forces); *eff. candidates*: mean 1/Σπ² per case, *max π*: the largest "
        "probability (both `randomness_metrics` of the design); *two draws agree*: share of cases "
        "that draws s and s+1 give to the same prosecutor, mean over consecutive pairs (in brackets the "
        "design's exact value for two independent draws, Σπ² per case: `expected_overlap`); *limit s*: "
        "`integral_limit` (only the new method needs it); *design s*: once; *draw s*: median over "
        "the seeds; *peak RSS*: the scenario's process (VmHWM: both methods, with load, compile, "
        "leximin and the limit); *check*: the first draw re-checked from the files without balancer.",
        "",
    ] + [f"{n}" for n in notes] + ([""] if notes else [])
    write_section(Path(args.results), START, END, "\n".join(md) + "\n")
    WORK.mkdir(exist_ok=True)
    (WORK / "balance.json").write_text(json.dumps({"argv": argv if argv is not None else sys.argv[1:],
                                                   "total_s": total, "code": code, "digest": digest,
                                                   "changed_during_run": changed, "scenarios": results},
                                                  indent=1, default=str), encoding="utf-8")
    print(f"{total:.1f} s in all; updated {args.results}")
    failed = any("error" in r for r in results.values()) or any(
        m.get("checked") != "ok" for r in results.values() if "error" not in r for m in r["methods"].values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
