"""Daily intake: allocate new cases as they arrive, one day's batch at a time, against current loads.

Each day is an ordinary run in which every case allocated so far is held (`assigned_to`) and may
not move for balance (`moves: {max: 0}`; cases whose holder may no longer keep them still move),
and the day's new cases are balanced and drawn with the same leximin profile and lottery. So each
day's promise is the run's: every case once, to an eligible prosecutor, with exactly the published
π, and loads within the proven bound of that day's leximin profile. One difference: a day's
expected load also stays within `tolerance` × its own leximin share (`lottery.design(within_share=
True)`), so whoever is above the day's water level gets nothing that day; otherwise the band would
let them drift up by the tolerance every day (a simulated year in the tests ends within the
tolerance plus one case of the balance of the whole year's cases allocated at once).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from balancer.pipeline import Result, Status, fresh_seed, inputs_digest, package_version, SeedSource, solve
from balancer.scenario import Moves, Policy, Scenario
from balancer.scenario.canonical import batch_digest

if TYPE_CHECKING:
    from balancer.register import Recorded


DRAWN_COLUMNS = ["case_id", "staff_id", "weight_hours", "probability", "previous_staff_id", "date"]
"""intake's assignments.csv: every case drawn, the day it was drawn, and who held it before."""
DAY_COLUMNS = ["date", "status", "cases", "drawn", "hours", "seed", "max_utilisation", "target_max_utilisation",
               "record", "record_hash"]
"""intake's days.csv: one row a day."""


@dataclass
class Day:
    date: date | None
    """The day the batch arrived (None: rows without a date)."""
    cases: pd.DataFrame
    """The day's new cases."""
    result: Result
    """The day's run: every case so far, the day's drawn."""
    record: Recorded | None = None
    """Where the day's draw was recorded (None: not recorded)."""

    @property
    def assignments(self) -> pd.DataFrame:
        """The day's new cases: case_id, staff_id, weight_hours, probability, date."""
        a = self.result.plan.assignments
        new = a[a["case_id"].isin(self.cases["id"])]
        return new[["case_id", "staff_id", "weight_hours", "probability"]].assign(date=self.date)

    @property
    def drawn(self) -> pd.DataFrame:
        """Every case the day's lottery drew, with `DRAWN_COLUMNS`: its new cases, and any case held
        before that it had to move (a holder who may no longer keep it) or that nobody held yet (the
        scenario's own unallocated backlog, on the first day). Held cases that stay are not drawn."""
        a = self.result.plan.assignments
        if "previous_staff_id" not in a:  # nothing was held: every case was drawn
            a = a.assign(previous_staff_id=None)
        moved = self.moves["case_id"] if self.moves is not None else []
        drawn = a["previous_staff_id"].isna() | a["case_id"].isin(moved)
        return a.loc[drawn].assign(date=self.date)[DRAWN_COLUMNS].reset_index(drop=True)

    @property
    def moves(self) -> pd.DataFrame | None:
        """The day's moves of held cases (`moves.csv` of a run), with the date; None: none held."""
        m = self.result.moves
        return m.assign(date=self.date) if m is not None else None


@dataclass
class Intake:
    scenario: Scenario
    file: str
    """The new-cases file's name."""
    sha256: str
    days: list[Day]

    @property
    def status(self) -> Status:
        return self.days[-1].result.status if self.days else Status.DONE

    @property
    def done(self) -> list[Day]:
        """The days drawn (the last day may be infeasible: it drew nothing)."""
        return [d for d in self.days if d.result.status is Status.DONE]

    def assignments(self) -> pd.DataFrame:
        """Every case drawn, day by day (`Day.drawn`)."""
        return pd.concat([d.drawn for d in self.done] or [pd.DataFrame(columns=DRAWN_COLUMNS)], ignore_index=True)

    def moves(self) -> pd.DataFrame | None:
        """Every held case moved, day by day; None when no day held a case."""
        moves = [d.moves for d in self.done if d.moves is not None]
        return pd.concat(moves, ignore_index=True) if moves else None

    def tables(self) -> dict[str, pd.DataFrame]:
        """What intake writes beside summary.json, by file name (without .csv)."""
        tables = {"assignments": self.assignments(), "days": self.days_table()}
        for name, table in (("moves", self.moves()), ("staff", self.staff())):
            if table is not None:
                tables[name] = table
        return tables

    def staff(self) -> pd.DataFrame | None:
        return self.done[-1].result.plan.staff if self.done else None

    def days_table(self) -> pd.DataFrame:
        rows = []
        for d in self.days:
            m = d.result.metrics
            rows.append({"date": d.date, "status": d.result.status.value, "cases": len(d.cases),
                         "drawn": len(d.drawn) if d.result.plan else 0,
                         "hours": float(d.assignments["weight_hours"].sum()) if d.result.plan else np.nan,
                         "seed": str(d.result.seed), "max_utilisation": m.get("max_utilisation"),
                         "target_max_utilisation": m.get("target_max_utilisation"),
                         "record": d.record.id if d.record is not None else None,
                         "record_hash": d.record.hash if d.record is not None else None})
        return pd.DataFrame(rows, columns=DAY_COLUMNS)

    def summary(self) -> dict:
        sc = self.scenario
        return {
            "scenario": sc.name, "new_cases": self.file, "new_cases_sha256": self.sha256,
            "inputs": sc.inputs, "inputs_sha256": inputs_digest(sc.inputs), "canonical_sha256": sc.canonical_sha256,
            "version": package_version(),
            "status": self.status.value, "policy": intake_policy(sc).model_dump(mode="json"),  # what every day used
            "applied": sc.applied(), "drawn_cases": int(sum(len(d.drawn) for d in self.done)),
            "days": [{**row, "date": str(row["date"]) if row["date"] else None}
                     for row in self.days_table().to_dict("records")],
            "metrics": self.days[-1].result.metrics if self.days else {},
            "findings": [f.to_dict() for f in self.days[-1].result.findings] if self.days else [],
        }


def batches(new_cases: pd.DataFrame) -> list[tuple[date | None, pd.DataFrame]]:
    """The cases by arrival day, in date order; rows without a date first, as one batch."""
    undated = new_cases["date"].isna()
    out = [(None, new_cases[undated])] if undated.any() else []
    dated = new_cases[~undated]
    for day in sorted(set(dated["date"])):
        out.append((day, dated[dated["date"] == day]))
    return [(day, cases.drop(columns="date").reset_index(drop=True)) for day, cases in out]


def day_inputs(scenario: Scenario, file: str, day: date | None, cases: pd.DataFrame) -> dict[str, str]:
    """The scenario's input hashes plus one for the day's batch: what a day's record lists for
    people (re-draws are recognised by `day_digests`)."""
    text = cases.astype(str).to_csv(index=False).encode()
    return {**scenario.inputs, f"{file}#{day or 'undated'}": hashlib.sha256(text).hexdigest()}


def day_digests(scenario: Scenario, days: list[tuple[date | None, pd.DataFrame]]) -> list[str]:
    """The key each day's draw is recorded under, by which the register recognises a re-draw: the
    day's new cases (canonical rows: not the file's name, bytes or row order, nor the date) drawn
    against the scenario as loaded, with intake's policy (`batch_digest`). Cases held at the start
    are in it; the draws of earlier days are not, so a day drawn again is caught however the
    earlier days went (or whether they are in the file at all)."""
    base = replace(scenario, policy=intake_policy(scenario))
    return [batch_digest(base, cases) for _, cases in days]


def intake_policy(scenario: Scenario) -> Policy:
    """Every day's policy: the scenario's, with no held case moved for balance."""
    return scenario.policy.model_copy(update={"moves": Moves(max=0)})


def day_seeds(seed: int | None, n: int) -> list[int]:
    """One seed a day: derived from `seed` (reproducible), or fresh from the OS."""
    if seed is None:
        return [fresh_seed() for _ in range(n)]
    children = np.random.SeedSequence(seed).spawn(n)
    return [int(c.generate_state(1, np.uint64)[0]) for c in children]


def run_intake(scenario: Scenario, new_cases: pd.DataFrame, *, file: str, sha256: str,
               seed: int | None = None, on_day=None, seeds: list[int] | None = None) -> Intake:
    """Allocate the batches day by day; stops at the first day the checks find impossible.
    `on_day(result, key, about)` is called after each day's draw, before the next, with the key the
    day is recorded under (`day_digests`) and what it was drawn against (`day_record`): the CLI
    records the draw there and returns where (`Recorded`), which the day keeps. `seeds`: the
    recorded seeds of the first days, to replay them (and only them)."""
    held = scenario.cases.copy()
    policy = intake_policy(scenario)
    days = batches(new_cases)[:len(seeds)] if seeds is not None else batches(new_cases)
    keys = day_digests(scenario, days) if on_day is not None else [None] * len(days)
    intake = Intake(scenario, file, sha256, [])
    # the days' seeds are the OS's, or derived from one a person gave (then every day's is theirs)
    source = SeedSource.OPERATOR if seed is not None else SeedSource.OS
    previous = None
    for n, ((day, cases), s, key) in enumerate(zip(days, seeds or day_seeds(seed, len(days)), keys), start=1):
        all_cases = pd.concat([held, cases.assign(assigned_to=None)], ignore_index=True)
        sc = replace(scenario, cases=all_cases, policy=policy, inputs=day_inputs(scenario, file, day, cases))
        result = solve(sc, seed=s, incremental=True, source=source)
        if result.status is not Status.DONE:
            intake.days.append(Day(day, cases, result))
            break
        about = day_record(intake, n, day, sc, previous) if on_day is not None else None
        intake.days.append(Day(day, cases, result, on_day(result, key, about) if on_day is not None else None))
        previous = intake.days[-1].record
        drawn = result.plan.assignments.set_index("case_id")["staff_id"]
        held = all_cases.assign(assigned_to=drawn.reindex(all_cases["id"]).to_numpy(dtype=object))
    return intake


def day_record(intake: Intake, n: int, day: date | None, drawn_against: Scenario, previous: Recorded | None) -> dict:
    """What a day's record says about the day, so that `verify` can replay it: the new-cases file
    and the day's place in it, the record of the day before (whose draw the day's held cases come
    from), and the canonical digest of everything the day was drawn against — the cases held after
    the days before it, with their holders, and the day's new cases (`Scenario.canonical_sha256`)."""
    return {"new_cases": intake.file, "new_cases_sha256": intake.sha256, "day": n,
            "date": str(day) if day is not None else None,
            "previous": previous.id if previous is not None else None,
            "drawn_against": drawn_against.canonical_sha256}
