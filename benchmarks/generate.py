"""Synthetic scenario generator for balancer benchmarks.

Writes ``DIR/scenario.yaml``, ``DIR/staff.csv`` and ``DIR/cases.csv`` in balancer's scenario
format (see the README, "Scenario files"): an inline catalogue of 12 case types over 5
specialisations, a staff table and a case backlog sized so that the total work (new cases plus
current load) is about 90 % of the total capacity, so that *how* the work is balanced matters.

Usable as a library::

    from benchmarks.generate import generate
    path = generate("benchmarks/_work/10000x200", 10_000, 200, seed=0)

or from the shell::

    python benchmarks/generate.py --cases 10000 --staff 200 --out benchmarks/_work/10000x200

With ``held=True`` (``--held``) the backlog is already allocated, as a rebalancing or intake
benchmark needs: every case gets an ``assigned_to`` holder eligible for it (and not excluded),
drawn unevenly (everyone is filled towards f × 90 % of their capacity, f a log-normal "favour"
factor with mean 1 and σ ``holder_skew``), and prosecutors chosen at random are marked as gone
(``fte: 0``, kept in the table) until they hold ``leaver_share`` of the cases, which must then
move. ``new_cases=N`` (``--new-cases``)
adds N unallocated cases of the same mix: ``new.csv`` (``balancer intake scenario.yaml new.csv``),
``intake.yaml`` (the held backlog plus the new cases: one day of intake as one scenario) and
``new-alone.yaml`` (the new cases alone against the same staff). Staff, cases and
``hours_per_fte`` are the same as without these options (a separate random stream).

Everything is vectorised with numpy/pandas (1,000,000 cases take a few seconds) and the output
is a deterministic function of the arguments.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

GRADES = ["junior", "senior", "head"]
SPECIALISATIONS = ["general", "corruption", "economic", "violent", "juvenile"]
OTHER_SPECIALISATIONS = SPECIALISATIONS[1:]

# id, weight (hours), specialisation, min_grade, relative frequency in the backlog.
# Six types need only `general` (which everybody holds); six need one specialisation; one of
# those also needs a senior prosecutor. Many cheap cases, few heavy ones: the 6 general types
# are ~83 % of the cases but ~50 % of the hours; homicide is 0.5 % of cases, 80 h each.
# (The senior-only type's case count is computed from the staff drawn, see SCARCITY.)
CASE_TYPES: list[tuple[str, float, str, str | None, float]] = [
    ("traffic", 2.0, "general", None, 0.280),
    ("drugs_possession", 3.0, "general", None, 0.150),
    ("petty_theft", 4.0, "general", None, 0.160),
    ("minor_assault", 6.0, "general", None, 0.100),
    ("burglary", 10.0, "general", None, 0.070),
    ("simple_fraud", 18.0, "general", None, 0.030),
    ("juvenile_offence", 8.0, "juvenile", None, 0.070),
    ("domestic_violence", 12.0, "violent", None, 0.055),
    ("homicide", 80.0, "violent", None, 0.005),
    ("tax_evasion", 30.0, "economic", None, 0.010),
    ("money_laundering", 60.0, "economic", None, 0.006),
    ("corruption", 70.0, "corruption", "senior", 0.012),
]

TARGET_UTILISATION = 0.90  # (current load + all new work) / total capacity
SCARCITY = 1.05  # senior-only work share / capacity share of the staff eligible for it


def _ids(prefix: str, n: int) -> np.ndarray:
    width = max(len(str(n)), 1)
    return np.char.add(prefix, np.char.zfill(np.arange(1, n + 1).astype(str), width))


def _join_specialisations(mask: np.ndarray) -> np.ndarray:
    """Boolean (n_staff, 4) mask of the non-general specialisations → 'general;x;y' strings."""
    out = np.full(mask.shape[0], "general", dtype=object)
    for j, name in enumerate(OTHER_SPECIALISATIONS):
        out[mask[:, j]] = out[mask[:, j]] + (";" + name)
    return out


def generate(
    out_dir: str | Path,
    n_cases: int,
    n_staff: int,
    seed: int = 0,
    conflict_rate: float = 0.01,
    held: bool = False,
    holder_skew: float = 0.3,
    leaver_share: float = 0.005,
    new_cases: int = 0,
) -> Path:
    """Generate one synthetic scenario into ``out_dir``; return the path of ``scenario.yaml``.

    ``held``: every case has an uneven ``assigned_to`` holder, and prosecutors holding about
    ``leaver_share`` of the cases have left (see the module docstring); ``new_cases``: that many
    unallocated cases for an intake day (needs ``held``)."""
    if n_cases < 1 or n_staff < 1:
        raise ValueError("n_cases and n_staff must be positive")
    if not 0.0 <= conflict_rate <= 1.0:
        raise ValueError("conflict_rate must be in [0, 1]")
    if new_cases and not held:
        raise ValueError("new_cases needs held=True")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([seed, n_cases, n_staff])

    # ---------------------------------------------------------------- staff
    grade_idx = rng.choice(3, size=n_staff, p=[0.5, 0.4, 0.1])
    n_other = rng.choice(3, size=n_staff, p=[0.3, 0.4, 0.3])  # 0–2 extra specialisations
    # a random subset of size n_other out of 4: rank random keys, keep the n_other smallest
    keys = rng.random((n_staff, len(OTHER_SPECIALISATIONS)))
    ranks = keys.argsort(axis=1).argsort(axis=1)
    spec_mask = ranks < n_other[:, None]

    uses_fte = rng.random(n_staff) < 0.8
    fte = rng.choice([0.5, 0.6, 0.75, 0.8, 0.9, 1.0], size=n_staff,
                     p=[0.08, 0.05, 0.1, 0.1, 0.07, 0.6])
    cap_share = np.round(rng.uniform(0.3, 1.0, size=n_staff), 2)  # capacity_hours / hours_per_fte
    share = np.where(uses_fte, fte, cap_share)
    has_load = rng.random(n_staff) < 0.3
    load_share = np.where(has_load, rng.uniform(0.02, 0.25, size=n_staff), 0.0)

    # eligibility per type (before exclusions)
    holds = np.concatenate([np.ones((n_staff, 1), bool), spec_mask], axis=1)  # (staff, 5)
    eligible_by_type = []
    for _, _, spec, min_grade, _ in CASE_TYPES:
        ok = holds[:, SPECIALISATIONS.index(spec)].copy()
        if min_grade is not None:
            ok &= grade_idx >= GRADES.index(min_grade)
        eligible_by_type.append(np.flatnonzero(ok))

    # ---------------------------------------------------------------- cases
    names = [t[0] for t in CASE_TYPES]
    weights = np.array([t[1] for t in CASE_TYPES])
    freq = np.array([t[4] for t in CASE_TYPES])
    # Scarce specialists: the senior-only type gets exactly the number of cases that loads the
    # staff allowed to take it to SCARCITY × the office's average utilisation, so they are a
    # (mild) bottleneck and the leximin profile has two levels at every size and seed.
    t_scarce = next(i for i, t in enumerate(CASE_TYPES) if t[3] is not None)
    _, w_s, spec, min_grade, _ = CASE_TYPES[t_scarce]
    may = spec_mask[:, OTHER_SPECIALISATIONS.index(spec)] & (grade_idx >= GRADES.index(min_grade))
    # in units of hours_per_fte: capacity and base load, all staff (d) and those who may (a)
    a = SCARCITY * TARGET_UTILISATION * share[may].sum() - (load_share * share)[may].sum()
    d = TARGET_UTILISATION * share.sum() - (load_share * share).sum()
    rest_p = np.delete(freq, t_scarce) / np.delete(freq, t_scarce).sum()
    m = rest_p @ np.delete(weights, t_scarce)  # mean weight of the other cases
    n_s = 0
    if a > 0 and d > a:
        k = a / (d - a)  # scarce hours = k × other hours
        n_s = min(n_cases, int(round(k * n_cases * m / (1 + k * m / w_s) / w_s)))
    others = np.delete(np.arange(len(CASE_TYPES)), t_scarce)
    type_idx = np.concatenate([
        np.full(n_s, t_scarce),
        others[rng.choice(others.size, size=n_cases - n_s, p=rest_p)],
    ])
    type_idx = type_idx[rng.permutation(n_cases)]
    # tiny offices may have nobody for a type: such cases become general ones (always placeable)
    for t, elig in enumerate(eligible_by_type):
        if elig.size == 0:
            type_idx[type_idx == t] = 0
    total_work = float(np.bincount(type_idx, minlength=len(CASE_TYPES)) @ weights)

    # hours_per_fte so that (base load + work) / capacity == TARGET_UTILISATION
    hours_per_fte = total_work / (TARGET_UTILISATION * share.sum() - (load_share * share).sum())
    hours_per_fte = float(max(1, round(hours_per_fte)))
    capacity = share * hours_per_fte
    current_load = np.round(load_share * capacity * 2) / 2  # half-hours

    staff = pd.DataFrame({
        "id": _ids("P", n_staff),
        "fte": np.where(uses_fte, fte, np.nan),
        "capacity_hours": np.where(uses_fte, np.nan, np.round(capacity, 1)),
        "specialisations": _join_specialisations(spec_mask),
        "grade": np.array(GRADES, dtype=object)[grade_idx],
        "current_load_hours": current_load,
    })

    # conflicts: 1–2 distinct random eligible staff per conflicted case (never all eligible staff)
    excluded = np.full(n_cases, "", dtype=object)
    excl_idx = np.full((n_cases, 2), -1, dtype=np.int64)  # the same, as staff indices
    conflicted = np.flatnonzero(rng.random(n_cases) < conflict_rate)
    two = rng.random(conflicted.size) < 0.4
    u1 = rng.random(conflicted.size)
    u2 = rng.random(conflicted.size)
    staff_ids = staff["id"].to_numpy()
    for t, elig in enumerate(eligible_by_type):
        n_el = elig.size
        sel = type_idx[conflicted] == t
        if n_el < 2 or not sel.any():
            continue
        cases_t = conflicted[sel]
        first = (u1[sel] * n_el).astype(np.int64)
        ex = staff_ids[elig[first]].astype(object)
        excl_idx[cases_t, 0] = elig[first]
        pair = two[sel] & (n_el >= 3)
        if pair.any():
            second = (u2[sel][pair] * (n_el - 1)).astype(np.int64)
            second += second >= first[pair]  # skip the first pick: distinct
            ex[pair] = ex[pair] + ";" + staff_ids[elig[second]].astype(object)
            excl_idx[cases_t[pair], 1] = elig[second]
        excluded[cases_t] = ex

    cases = pd.DataFrame({
        "id": _ids("C", n_cases),
        "type": np.array(names, dtype=object)[type_idx],
        "excluded": excluded,
    })

    new = None
    if held:
        hrng = np.random.default_rng([seed, n_cases, n_staff, 1])  # the base scenario stays the same
        holder, leavers = _held_backlog(hrng, type_idx, excl_idx, eligible_by_type, weights,
                                        capacity, current_load, holder_skew, leaver_share)
        cases["assigned_to"] = staff_ids[holder]
        staff.loc[leavers, ["fte", "capacity_hours", "current_load_hours"]] = [0.0, np.nan, 0.0]
        if new_cases:
            new = _new_cases(hrng, new_cases, type_idx, conflict_rate, eligible_by_type, leavers,
                             staff_ids, names)

    staff.to_csv(out / "staff.csv", index=False)
    cases.to_csv(out / "cases.csv", index=False)

    case_types = []
    for name, w, spec, min_grade, _ in CASE_TYPES:
        entry: dict = {"id": name, "weight_hours": w, "specialisation": spec}
        if min_grade is not None:
            entry["min_grade"] = min_grade
        case_types.append(entry)
    scenario = {
        "name": f"synthetic-{n_cases}x{n_staff}-s{seed}",
        "description": (
            f"Synthetic benchmark: {n_cases} cases, {n_staff} staff, seed {seed}, "
            f"conflict rate {conflict_rate}; current load + work = "
            f"{TARGET_UTILISATION:.0%} of capacity"
        ),
        "hours_per_fte": hours_per_fte,
        "grades": GRADES,
        "case_types": case_types,
        "staff": "staff.csv",
        "cases": "cases.csv",
        "policy": {"tolerance": 0.05, "max_probability": 0.5, "seed": seed, "capacity": "soft"},
    }
    path = out / "scenario.yaml"
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump(scenario, f, sort_keys=False, default_flow_style=None, width=100)
    if new is not None:
        new.assign(date="2025-01-02").to_csv(out / "new.csv", index=False)
        new.to_csv(out / "new-alone.csv", index=False)
        pd.concat([cases, new.assign(assigned_to="")], ignore_index=True).to_csv(
            out / "intake.csv", index=False)
        for name, table, desc, moves in (
                ("intake", "intake.csv", f"one intake day: {new_cases} new cases against the held "
                 "backlog (held cases stay)", {"max": 0}),
                ("new-alone", "new-alone.csv", f"the {new_cases} new cases alone, nothing held",
                 None)):
            policy = dict(scenario["policy"], **({"moves": moves} if moves else {}))
            variant = dict(scenario, name=f"{scenario['name']}-{name}",
                           description=f"{scenario['description']}; {desc}", cases=table,
                           policy=policy)
            with open(out / f"{name}.yaml", "w", encoding="utf-8") as f:
                yaml.safe_dump(variant, f, sort_keys=False, default_flow_style=None, width=100)
    return path


def _held_backlog(rng, type_idx, excl_idx, eligible_by_type, weights, capacity, base_load,
                  skew, leaver_share):
    """An uneven allocation of every case to an eligible, non-excluded holder, and the leavers.

    Each prosecutor gets a "favour" factor f ~ lognormal with mean 1 and σ = ``skew``. Type by
    type, those with the fewest eligible prosecutors first, a case goes to an eligible p with
    probability ∝ what is left of f × 90 % of p's capacity (at least 5 % of the capacity), so
    that p's utilisation before is about 0.9 × f, specialists included. Then prosecutors in random
    order are marked as gone until they hold ``leaver_share`` of the cases (never the last one
    eligible for a type)."""
    n_staff, n_cases = len(capacity), len(type_idx)
    favour = rng.lognormal(-skew * skew / 2, skew, size=n_staff) if skew > 0 else np.ones(n_staff)
    holder = np.empty(n_cases, dtype=np.int64)

    def allocate(t, pref):
        elig = eligible_by_type[t]
        at = np.flatnonzero(type_idx == t)
        if at.size == 0:
            return
        cdf = np.cumsum(pref[elig] / pref[elig].sum())
        draw = lambda k: elig[np.minimum(np.searchsorted(cdf, rng.random(k), side="right"),  # noqa: E731
                                         elig.size - 1)]
        holder[at] = draw(at.size)
        for _ in range(100):  # a conflicted case never goes to someone it excludes
            bad = at[(holder[at] == excl_idx[at, 0]) | (holder[at] == excl_idx[at, 1])]
            if bad.size == 0:
                break
            holder[bad] = draw(bad.size)

    # Fill everyone towards f × 90 % of their capacity, the types with the fewest eligible first.
    room = 0.9 * favour * capacity - base_load
    for t in sorted(range(len(eligible_by_type)), key=lambda t: eligible_by_type[t].size):
        allocate(t, np.maximum(room, 0.05 * capacity))
        at = np.flatnonzero(type_idx == t)
        room -= np.bincount(holder[at], minlength=n_staff) * weights[t]
    held_count = np.bincount(holder, minlength=n_staff)
    leavers, gone = [], 0
    left = np.array([e.size for e in eligible_by_type])
    is_elig = np.zeros((len(eligible_by_type), n_staff), dtype=bool)
    for t, elig in enumerate(eligible_by_type):
        is_elig[t, elig] = True
    for p in rng.permutation(n_staff):
        if gone >= leaver_share * n_cases:
            break
        if held_count[p] == 0 or (left[is_elig[:, p]] <= 1).any():
            continue
        leavers.append(p)
        left -= is_elig[:, p]
        gone += held_count[p]
    return holder, np.array(sorted(leavers), dtype=np.int64)


def _new_cases(rng, n, type_idx, conflict_rate, eligible_by_type, leavers, staff_ids, names):
    """``n`` unallocated cases with the backlog's mix of types (ids N…); a ``conflict_rate`` share
    excludes one prosecutor eligible for it who is still there."""
    types = type_idx[rng.integers(len(type_idx), size=n)]
    excluded = np.full(n, "", dtype=object)
    for i in np.flatnonzero(rng.random(n) < conflict_rate):
        elig = np.setdiff1d(eligible_by_type[types[i]], leavers)
        if elig.size >= 2:
            excluded[i] = staff_ids[rng.choice(elig)]
    return pd.DataFrame({"id": _ids("N", n), "type": np.array(names, dtype=object)[types],
                         "excluded": excluded})


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, required=True)
    ap.add_argument("--staff", type=int, required=True)
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--conflict-rate", type=float, default=0.01)
    ap.add_argument("--held", action="store_true",
                    help="every case already has an (uneven) holder; some holders have left")
    ap.add_argument("--holder-skew", type=float, default=0.3,
                    help="σ of the log-normal favour factor behind the holders (default %(default)s)")
    ap.add_argument("--leaver-share", type=float, default=0.005,
                    help="share of the cases whose holder has left (default %(default)s)")
    ap.add_argument("--new-cases", type=int, default=0,
                    help="with --held: that many new cases (new.csv, intake.yaml, new-alone.yaml)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    path = generate(args.out, args.cases, args.staff, seed=args.seed,
                    conflict_rate=args.conflict_rate, held=args.held,
                    holder_skew=args.holder_skew, leaver_share=args.leaver_share,
                    new_cases=args.new_cases)
    print(f"{path}  ({time.perf_counter() - t0:.2f} s)")


if __name__ == "__main__":
    main()
