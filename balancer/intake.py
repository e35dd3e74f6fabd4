"""Daily intake: allocate new cases as they arrive, one day's batch at a time, against current loads.

Each day is an ordinary run in which every case allocated so far is held (`assigned_to`) and may
not move for balance (`moves: {max: 0}`; cases whose holder may no longer keep them still move),
and the day's new cases are balanced and drawn with the same leximin profile and lottery. So each
day's promise is the run's: every case once, to an eligible prosecutor, with exactly the published
π, and loads within the proven bound of that day's leximin profile. One difference: a day's
expected loads are its leximin shares themselves (`lottery.design(at_share=True)`), so whoever is
above the day's water level gets nothing that day; a band around them would let some drift up by
the tolerance of what each day adds (a simulated year in the tests ends within the tolerance plus
one case of the balance of the whole year's cases allocated at once).

Three things keep a long series of days fair and small:
- **Look-ahead** (`policy.forecast`): the work expected later in the period enters each day's
  balance (`balance.Ahead`), so prosecutors who alone can take some of it (a corruption wave in
  spring) are kept for it instead of filling up with general work while it is quiet; it is
  expected over the days left, each day's to those present that day. With seasons
  (`forecast.seasons`) it is expected by month, and each day is balanced at the coming months'
  ends as well as the period's, so the specialists are kept for a wave before it comes.
- **Absence by date**: a prosecutor away on a day gets none of that day's cases (unless nobody
  else may take them; a warning then says so), where a run only prorates the time away.
- **Folding**: a case held by someone who may keep it cannot move (moves: {max: 0}), so it adds
  only hours to its holder's load; each day it is folded into that load (`_fold`) instead of being
  compiled again, so a day costs the same against 1,000 held cases as against 1,000,000. Only held
  cases in a group, or whose holder may no longer keep them, stay cases of the day.
"""

from __future__ import annotations

import hashlib
from functools import cached_property
from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from balancer.balance import Ahead, leximin
from balancer.checks import Finding, Severity
from balancer.pipeline import Result, Status, fresh_seed, inputs_digest, package_version, SeedSource, solve
from balancer.problem import compile_problem, staff_capacity, type_eligibility
from balancer.scenario import Forecast, Moves, Policy, Scenario
from balancer.scenario.canonical import batch_digest

if TYPE_CHECKING:
    from balancer.register import Recorded


DRAWN_COLUMNS = ["case_id", "staff_id", "weight_hours", "probability", "previous_staff_id", "date"]
"""intake's assignments.csv: every case drawn, the day it was drawn, and who held it before."""
DAY_COLUMNS = ["date", "status", "cases", "drawn", "hours", "seed", "max_utilisation", "target_max_utilisation",
               "leximin_so_far", "gap_to_leximin", "record", "record_hash"]
"""intake's days.csv: one row a day."""


@dataclass
class Day:
    date: date | None
    """The day the batch arrived (None: rows without a date)."""
    cases: pd.DataFrame
    """The day's new cases."""
    status: Status
    seed: int
    metrics: dict
    findings: list[Finding]
    drawn: pd.DataFrame
    """Every case the day's lottery drew, with `DRAWN_COLUMNS`: its new cases, and any case held
    before that it had to move (a holder who may no longer keep it) or that nobody held yet (the
    scenario's own unallocated backlog, on the first day). Held cases that stay are not drawn."""
    moves: pd.DataFrame | None
    """The day's moves of held cases (`moves.csv` of a run), with the date; None: none held."""
    leximin_so_far: float | None = None
    """The highest utilisation of the fluid leximin of every case allocated so far (held at the
    start and drawn up to this day) as if all were allocated at once — each to someone who could
    have taken it the day it arrived (absence by date), as the days' draws had to."""
    record: Recorded | None = None
    """Where the day's draw was recorded (None: not recorded)."""
    result: Result | None = None
    """The day's whole run: kept for the last day, or every day with `run_intake(keep=True)`."""

    @classmethod
    def of(cls, day: date | None, cases: pd.DataFrame, result: Result) -> Day:
        plan = result.plan
        drawn = moves = None
        if plan is not None:
            a = plan.assignments
            if "previous_staff_id" not in a:  # nothing was held: every case was drawn
                a = a.assign(previous_staff_id=None)
            moved = result.moves["case_id"] if result.moves is not None else []
            keep = a["previous_staff_id"].isna() | a["case_id"].isin(moved)
            drawn = a.loc[keep].assign(date=day)[DRAWN_COLUMNS].reset_index(drop=True)
            moves = result.moves.assign(date=day) if result.moves is not None else None
        return cls(day, cases, result.status, result.seed, result.metrics, result.findings,
                   drawn if drawn is not None else pd.DataFrame(columns=DRAWN_COLUMNS), moves, result=result)

    @property
    def assignments(self) -> pd.DataFrame:
        """The day's new cases: case_id, staff_id, weight_hours, probability, date."""
        new = self.drawn[self.drawn["case_id"].isin(self.cases["id"])]
        return new[["case_id", "staff_id", "weight_hours", "probability", "date"]].reset_index(drop=True)

    @property
    def gap(self) -> float | None:
        """How far the day's highest utilisation is above `leximin_so_far`."""
        high = self.metrics.get("max_utilisation")
        return None if high is None or self.leximin_so_far is None else high - self.leximin_so_far


@dataclass
class Intake:
    scenario: Scenario
    file: str
    """The new-cases file's name."""
    sha256: str
    days: list[Day]

    final_staff: pd.DataFrame | None = None
    """staff.csv after the last day drawn (`_final_staff`)."""

    @property
    def status(self) -> Status:
        return self.days[-1].status if self.days else Status.DONE

    @property
    def done(self) -> list[Day]:
        """The days drawn (the last day may be infeasible: it drew nothing)."""
        return [d for d in self.days if d.status is Status.DONE]

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
        return self.final_staff

    def days_table(self) -> pd.DataFrame:
        rows = []
        for d in self.days:
            m, done = d.metrics, d.status is Status.DONE
            rows.append({"date": d.date, "status": d.status.value, "cases": len(d.cases),
                         "drawn": len(d.drawn), "hours": float(d.assignments["weight_hours"].sum()) if done else np.nan,
                         "seed": str(d.seed), "max_utilisation": m.get("max_utilisation"),
                         "target_max_utilisation": m.get("target_max_utilisation"),
                         "leximin_so_far": d.leximin_so_far, "gap_to_leximin": d.gap,
                         "record": d.record.id if d.record is not None else None,
                         "record_hash": d.record.hash if d.record is not None else None})
        return pd.DataFrame(rows, columns=DAY_COLUMNS)

    def summary(self) -> dict:
        sc = self.scenario
        return {
            "scenario": sc.name, "new_cases": self.file, "new_cases_sha256": self.sha256,
            "inputs": sc.inputs, "inputs_sha256": inputs_digest(sc.inputs), "canonical_sha256": sc.canonical_sha256,
            "version": package_version(),
            "status": self.status.value, "policy": intake_policy(sc).recorded(),  # what every day used
            "applied": sc.applied(), "drawn_cases": int(sum(len(d.drawn) for d in self.done)),
            "days": [{**row, "date": str(row["date"]) if row["date"] else None}
                     for row in self.days_table().to_dict("records")],
            "metrics": self.days[-1].metrics if self.days else {},
            "findings": [f.to_dict() for d in self.days for f in d.findings if f.code == ABSENT_ALL]
                        + [f.to_dict() for f in self.days[-1].findings if f.code != ABSENT_ALL] if self.days else [],
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
               seed: int | None = None, on_day=None, seeds: list[int] | None = None, keep: bool = False,
               keys: list[str] | None = None) -> Intake:
    """Allocate the batches day by day; stops at the first day the checks find impossible.
    `on_day(result, key, about)` is called after each day's draw, before the next, with the key the
    day is recorded under (`day_digests`) and what it was drawn against (`day_record`): the CLI
    records the draw there and returns where (`Recorded`), which the day keeps. `seeds`: the
    recorded seeds of the first days, to replay them (and only them). `keep`: keep every day's
    whole `Result` (else only the last day's, so that a year of days stays small). `keys`: the days'
    `day_digests` when the caller has them already (they hash the whole scenario once)."""
    policy = intake_policy(scenario)
    days = batches(new_cases)[:len(seeds)] if seeds is not None else batches(new_cases)
    if keys is None:
        keys = day_digests(scenario, days) if on_day is not None else [None] * len(days)
    intake = Intake(scenario, file, sha256, [])
    office = _Office(scenario)
    held = office.fold(scenario.cases)
    # the days' seeds are the OS's, or derived from one a person gave (then every day's is theirs)
    source = SeedSource.OPERATOR if seed is not None else SeedSource.OS
    previous = None
    for n, ((day, cases), s, key) in enumerate(zip(days, seeds or day_seeds(seed, len(days)), keys), start=1):
        gone = office.gone(day)
        new, absent = office.away(day, gone, cases)
        sc = replace(scenario, staff=office.staff(), cases=pd.concat([held, new], ignore_index=True),
                     policy=policy, inputs=day_inputs(scenario, file, day, cases))
        office.arrive(gone, cases)
        result = solve(sc, seed=s, incremental=True, source=source, ahead=office.ahead(policy, day))
        result.findings[:0] = absent
        if intake.days and not keep:
            intake.days[-1].result = None  # only the last day's whole run is kept
        intake.days.append(Day.of(day, cases, result))
        if result.status is not Status.DONE:
            break
        if on_day is not None:
            intake.days[-1].record = on_day(result, key, day_record(intake, n, day, sc, previous))
        previous = intake.days[-1].record
        held = office.fold(_held_after(sc.cases, result))
        intake.days[-1].leximin_so_far = office.leximin_so_far()
        intake.final_staff = office.final_staff(result.plan.staff, held)
    return intake


def as_drawn(scenario: Scenario, new_cases: pd.DataFrame) -> pd.DataFrame:
    """The new cases as intake's days draw them, all at once: without their date, nobody holding
    them, each excluding whoever is away the day it arrives (`_Office.away`). The same cases
    drawn at once this way are what a day-by-day intake is judged against."""
    office = _Office(scenario)
    drawn = [office.away(day, office.gone(day), cases)[0] for day, cases in batches(new_cases)]
    return pd.concat(drawn, ignore_index=True)


def _held_after(cases: pd.DataFrame, result: Result) -> pd.DataFrame:
    """The day's cases with the holders the day's draw gave them."""
    drawn = result.plan.assignments.set_index("case_id")["staff_id"]
    return cases.assign(assigned_to=drawn.reindex(cases["id"]).to_numpy(dtype=object))


ABSENT_ALL = "intake-everyone-eligible-away"

FORECAST_MARGIN = 2.0
"""Standard deviations of Poisson arrivals added to each type's expected remaining cases, times
the share of the office that may not take it: what the look-ahead reserves, so that a type
arriving a little above its forecast still finds room with those who alone may take it."""


CHECKPOINTS = 12
"""With seasons, the look-ahead balances each of the next this many months' ends as well as the
period's (`balance.Ahead.until`); the work of later months counts at the period's end."""


@dataclass(frozen=True)
class _Calendar:
    """Stretches of working days (`_Office._calendar`): each within one month and one pattern of
    who is away."""

    days: np.ndarray
    """(S,) working days in each."""
    pattern: np.ndarray
    """(S,) who is away in it (a row of `_Office._absences`' patterns; 0: nobody)."""
    month: np.ndarray
    """(S,) its month of the year, 0 for January."""
    checkpoint: np.ndarray
    """(S,) its month counted from the first stretch's month (1: that month)."""
    last: np.ndarray
    """(S,) bool: in the last month of the stretches."""

    @classmethod
    def none(cls) -> _Calendar:
        empty = np.zeros(0, dtype=np.int64)
        return cls(np.zeros(0), empty, empty, empty, np.zeros(0, dtype=bool))


ABSENCE_PATTERNS = 16
"""The look-ahead splits the work to come by who is away when, in at most this many patterns."""

ABSENT_SHARE = 0.05
"""A pattern of absence changes the look-ahead's expected work of a type only where it takes away
at least this share of those who may take it (one of four corruption specialists, not one of 2,000
prosecutors): so a large office's many short absences do not multiply the look-ahead's size."""


class _Office:
    """What intake keeps from day to day: the hours and cases folded into each prosecutor's load,
    the work that has arrived by type, and the scenario's rules to judge new cases by."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.capacity = staff_capacity(scenario)
        self.eligible = type_eligibility(scenario, self.capacity)  # (T, P)
        self.type_ids = pd.Index([t.id for t in scenario.model.case_types])
        self.type_weight = np.array([t.weight_hours for t in scenario.model.case_types])
        self.staff_pos = pd.Index(scenario.staff["id"])
        self.folded = np.zeros(len(self.staff_pos))
        self.count = np.zeros(len(self.staff_pos), dtype=np.int64)
        self.arrived: list[np.ndarray] = []  # hours by type of each day's new cases
        self.allocated: dict[bytes, np.ndarray] = {}
        """Hours by type held at the start and drawn since, by who was away when they arrived
        (`gone(day).tobytes()`): what `leximin_so_far` balances."""
        self._allocate(np.zeros(len(self.staff_pos), dtype=bool),
                       self._hours_by_type(scenario.cases[scenario.cases["assigned_to"].notna()]))
        self._empty = compile_problem(replace(scenario, cases=scenario.cases.iloc[:0]), allow_empty=True)

    def fold(self, cases: pd.DataFrame) -> pd.DataFrame:
        """Fold the held cases their holders may keep into their loads; returns the cases that stay
        cases of the next day: in a group, or not to be kept by their holder (they must move)."""
        holder = self.staff_pos.get_indexer(cases["assigned_to"].to_numpy(dtype=object))
        holder[cases["assigned_to"].isna().to_numpy()] = -1
        t = self.type_ids.get_indexer(cases["type"])
        weight = self._weights(cases, t)
        keeps = (holder >= 0) & self.eligible[t, np.maximum(holder, 0)] & cases["group"].isna().to_numpy()
        check = np.flatnonzero(keeps & (cases["excluded"].map(len).to_numpy() > 0))
        if len(check):  # a holder the case now excludes (a conflict of interest) may not keep it
            pairs = zip(cases["assigned_to"].to_numpy(dtype=object)[check], cases["excluded"].to_numpy(dtype=object)[check])
            keeps[check] = [holder_id not in excluded for holder_id, excluded in pairs]
        np.add.at(self.folded, holder[keeps], weight[keeps])
        np.add.at(self.count, holder[keeps], 1)
        return cases[~keeps].reset_index(drop=True)

    def staff(self) -> pd.DataFrame:
        """The staff table with the folded hours in their current load."""
        staff = self.scenario.staff
        return staff.assign(current_load_hours=staff["current_load_hours"].to_numpy(np.float64) + self.folded)

    def away(self, day: date | None, gone: np.ndarray, cases: pd.DataFrame) -> tuple[pd.DataFrame, list[Finding]]:
        """The day's new cases, each excluding the prosecutors away that day (`gone`) — unless nobody else
        may take a case of its type, then nobody is excluded for that type and a warning says so."""
        cases = cases.assign(assigned_to=None)
        if not gone.any():
            return cases, []
        t = self.type_ids.get_indexer(cases["type"])
        present = (self.eligible & ~gone).any(axis=1)
        ids = self.staff_pos.to_numpy(dtype=object)
        away_of_type = [tuple(ids[self.eligible[k] & gone]) if present[k] else () for k in range(len(self.type_ids))]
        excluded = [tuple(sorted(set(e) | set(away_of_type[k]))) for e, k in zip(cases["excluded"], t)]
        stranded = sorted({self.type_ids[k] for k in t if not present[k]})
        found = [Finding(code=ABSENT_ALL, severity=Severity.WARNING, message=(
            f"On {day} everyone who may take {', '.join(stranded)} is away: those cases were drawn among "
            "them as if they were present."), numbers={"date": str(day), "types": stranded})] if stranded else []
        return cases.assign(excluded=excluded), found

    def gone(self, day: date | None) -> np.ndarray:
        """(P,) bool: away on `day` (nobody for rows without a date)."""
        if day is None:
            return np.zeros(len(self.staff_pos), dtype=bool)
        return self._away_on(np.array([day], dtype="datetime64[D]"))[0]

    def _away_on(self, days: np.ndarray) -> np.ndarray:
        """(D, P) bool: who is away (`unavailable`) on each of `days` (datetime64[D])."""
        spans = self.scenario.staff["unavailable"]
        away = np.zeros((len(days), len(self.staff_pos)), dtype=bool)
        for p in np.flatnonzero(spans.map(len).to_numpy() > 0):
            for a, b in spans.iat[p]:
                away[(days >= np.datetime64(a)) & (days <= np.datetime64(b)), p] = True
        return away

    def arrive(self, gone: np.ndarray, cases: pd.DataFrame) -> None:
        """The day's new cases have arrived: they count for the forecast and, once drawn, as allocated."""
        hours = self._hours_by_type(cases)
        self.arrived.append(hours)
        self._allocate(gone, hours)

    def _allocate(self, gone: np.ndarray, hours: np.ndarray) -> None:
        key = gone.tobytes()
        self.allocated[key] = self.allocated.get(key, 0.0) + hours

    def _weights(self, cases: pd.DataFrame, t: np.ndarray) -> np.ndarray:
        return cases["weight_hours"].fillna(pd.Series(self.type_weight[t], index=cases.index)).to_numpy(np.float64)

    def _hours_by_type(self, cases: pd.DataFrame) -> np.ndarray:
        t = self.type_ids.get_indexer(cases["type"])
        return np.bincount(t, weights=self._weights(cases, t), minlength=len(self.type_ids))

    def ahead(self, policy: Policy, day: date | None) -> Ahead | None:
        """The work `policy.forecast` expects after `day` (None: no forecast, or none left): of each
        type, what the scenario's `caseload` expects in the period less what has arrived — or, if
        more, the pace so far (hours a working day, or a season's working day) over the working
        days left, plus a margin for chance (`FORECAST_MARGIN`); spread over the working days left
        (as the seasons say), each day's part to those present that day, and with seasons counted
        by the month it comes in (`CHECKPOINTS`). Expecting too much of a type costs everyone a
        little; expecting too little costs its few specialists a lot."""
        if policy.forecast is None:
            return None
        season = self._season(policy.forecast)
        period = self.scenario.period
        if period is None or day is None:
            left = _Calendar.none()
            pace = None
        else:
            after, stop = np.datetime64(day) + 1, np.datetime64(period.end) + 1
            left = self._calendar(after, max(after, stop))
            done = self._calendar(min(np.datetime64(period.start), np.datetime64(day)), after)
            pace = (done.days @ season[done.month], left.days @ season[left.month])  # (T,) season-days each
        arrived = np.sum(self.arrived, axis=0)
        remaining = np.maximum(self._expected_hours() - arrived, 0.0)
        if pace is not None:
            remaining = np.maximum(remaining, arrived / np.maximum(pace[0], 1.0) * pace[1])
        # Arrivals are random: a type expecting n more cases may bring about √n more. What the few
        # who alone may take a type must keep back for that is the part of it the rest of the
        # office does not share: a type everyone may take raises everyone alike, and reserving
        # for it too would only lift the level the few are kept below (FORECAST_MARGIN).
        weight = np.where(self.type_weight > 0, self.type_weight, 1.0)
        apart = 1.0 - self.eligible.mean(axis=1)
        remaining = remaining + FORECAST_MARGIN * apart * np.sqrt(remaining / weight) * weight
        if remaining.sum() <= 0:
            return None
        return self._spread(remaining, left, season, seasonal=policy.forecast.seasons is not None)

    def _season(self, forecast: Forecast) -> np.ndarray:
        """(12, T) each type's filings in each month (January first) relative to its usual month."""
        factor = np.ones((12, len(self.type_ids)))
        for name, months in (forecast.seasons or {}).items():
            for month, f in months.items():
                factor[month - 1, self.type_ids.get_loc(name)] = f
        return factor

    def _calendar(self, start: np.datetime64, stop: np.datetime64) -> _Calendar:
        """The days from `start` up to `stop` (excluded) in stretches cut at each month's start and
        each change in who is away (`_absences`): a row per stretch, not per day. Needs a period;
        days outside it count as nobody away."""
        first, end, pattern, _ = self._absences
        months = np.arange(start.astype("datetime64[M]") + 1, stop.astype("datetime64[M]") + 1).astype("datetime64[D]")
        cuts = np.unique(np.clip(np.concatenate([[start, stop], first, months]), start, stop))
        lo, hi = cuts[:-1], cuts[1:]
        within = np.searchsorted(first, lo, side="right") - 1
        inside = (within >= 0) & (lo < end[-1])
        month = lo.astype("datetime64[M]").astype(np.int64)
        return _Calendar(days=np.busday_count(lo, hi).astype(np.float64),
                         pattern=np.where(inside, pattern[np.maximum(within, 0)], 0),
                         month=month % 12, checkpoint=month - start.astype("datetime64[M]").astype(np.int64) + 1,
                         last=month == month.max(initial=0))

    def _spread(self, remaining: np.ndarray, left: _Calendar, season: np.ndarray, seasonal: bool) -> Ahead:
        """The expected work `remaining` (T,) as the look-ahead's kinds: by the stretches of `left`,
        in proportion to their working days (× the season), each stretch's to those present in it;
        with `seasonal`, counted by the month it comes in (up to `CHECKPOINTS` months; later ones,
        and the period's last, count at its end). Kinds expected by the same checkpoint of the same
        people are one."""
        _, _, _, patterns = self._absences
        share = left.days[:, None] * season[left.month]  # (S, T)
        total = share.sum(axis=0)
        share = np.divide(share, total, out=np.zeros_like(share), where=total > 0)
        until = np.where(seasonal & ~left.last & (left.checkpoint <= CHECKPOINTS), left.checkpoint, 0)
        # who takes each type in each pattern: those present, where the pattern takes away enough of
        # them to matter (ABSENT_SHARE) and somebody is left; else all who may take it
        eligible = np.maximum(self.eligible.sum(axis=1), 1)
        parts = [(0, self.eligible[t], remaining[t]) for t in np.flatnonzero(total <= 0)]  # no day left: by the end
        for (c, q), rows in pd.DataFrame({"c": until, "q": left.pattern}).groupby(["c", "q"]).indices.items():
            hours = remaining * share[rows].sum(axis=0)
            present = self.eligible & ~patterns[q]
            matters = (1.0 - present.sum(axis=1) / eligible >= ABSENT_SHARE) & present.any(axis=1)
            parts += [(int(c), present[t] if matters[t] else self.eligible[t], hours[t]) for t in np.flatnonzero(hours > 0)]
        kinds: dict[tuple[int, bytes], list] = {}
        for c, row, h in parts:  # the same checkpoint, the same people: one kind
            kinds.setdefault((c, row.tobytes()), [0.0, row, c])[0] += h
        hours, rows, until = zip(*kinds.values())
        return Ahead(np.array(hours), np.vstack(rows), self.staff_pos.to_numpy(), np.array(until, dtype=np.int64))

    @cached_property
    def _absences(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Who is away when in the period, for the look-ahead: the period cut into stretches in
        which nobody's absence begins or ends (first day and day after the end of each, (S,)
        datetime64[D]), the pattern of each (S,) and the patterns (Q, P) bool, the first nobody
        away. At most `ABSENCE_PATTERNS`, those covering the fewest working days counted as nobody
        away. A stretch per change, not a row per day: a period of centuries costs no more than
        the absences in it. Empty without a period."""
        period, P = self.scenario.period, len(self.staff_pos)
        nobody = np.zeros((1, P), dtype=bool)
        if period is None:
            return np.zeros(0, "datetime64[D]"), np.zeros(0, "datetime64[D]"), np.zeros(0, np.int64), nobody
        start, stop = np.datetime64(period.start), np.datetime64(period.end) + 1
        changes = [np.datetime64(d) + k for spans in self.scenario.staff["unavailable"] for a, b in spans
                   for d, k in ((a, 0), (b, 1))]
        cuts = np.unique(np.clip(np.array([start, stop, *changes], dtype="datetime64[D]"), start, stop))
        first, end = cuts[:-1], cuts[1:]
        keys: dict[bytes, int] = {np.packbits(nobody[0]).tobytes(): 0}
        pattern = np.array([keys.setdefault(row.tobytes(), len(keys))  # a few stretches at a time: S × P stays small
                            for i in range(0, len(first), 1024)
                            for row in np.packbits(self._away_on(first[i:i + 1024]), axis=1)], dtype=np.int64)
        days = np.bincount(pattern, weights=np.busday_count(first, end), minlength=len(keys))
        kept = np.r_[0, np.argsort(-days[1:], kind="stable")[:ABSENCE_PATTERNS - 1] + 1]
        rank = np.zeros(len(keys), dtype=np.int64)  # a pattern past the cap: nobody away
        rank[kept] = np.arange(len(kept))
        rows = np.unpackbits(np.frombuffer(b"".join(list(keys)), dtype=np.uint8).reshape(len(keys), -1),
                             axis=1, count=P).astype(bool)
        return first, end, rank[pattern], rows[kept]

    def _expected_hours(self) -> np.ndarray:
        load = self.scenario.caseload
        expected = np.zeros(len(self.type_ids))
        if load is not None and len(load):
            t = self.type_ids.get_indexer(load["type"])
            np.add.at(expected, t, load["filings"].to_numpy(np.float64) * self.type_weight[t])
        return expected

    def leximin_so_far(self) -> float:
        """Highest utilisation of the fluid leximin of everything allocated so far, at once: each
        day's hours of a type to those eligible and present that day (as `away` excludes; a type
        whose eligible were all away goes to them all)."""
        rows, hours = [], []
        for key, by_type in self.allocated.items():
            gone = np.frombuffer(key, dtype=bool)
            present = self.eligible & ~gone
            rows.append(np.where(present.any(axis=1, keepdims=True), present, self.eligible))
            hours.append(by_type)
        ahead = Ahead(np.concatenate(hours), np.vstack(rows), self.staff_pos.to_numpy())
        profile = leximin(self._empty, ahead).with_ahead
        base = self._empty.base_load
        with np.errstate(divide="ignore", invalid="ignore"):
            u = (base + profile) / self._empty.capacity
        return float(np.nanmax(np.where(self._empty.capacity > 0, u, np.nan)))

    def final_staff(self, plan_staff: pd.DataFrame, held: pd.DataFrame) -> pd.DataFrame:
        """The last day's staff table, with the loads and cases of the whole intake: the folded
        hours are taken out of `base_load_hours` again and counted as assigned, and `cases`
        counts every case each holds (folded, and `held`: those still cases of their own)."""
        base = pd.Series(self.scenario.staff["current_load_hours"].to_numpy(np.float64), index=self.staff_pos)
        holders = self.staff_pos.get_indexer(held["assigned_to"].dropna().to_numpy(dtype=object))
        count = pd.Series(self.count + np.bincount(holders, minlength=len(self.staff_pos)), index=self.staff_pos)
        ids = plan_staff["staff_id"]
        staff = plan_staff.assign(base_load_hours=base.reindex(ids).to_numpy())
        return staff.assign(assigned_hours=staff["load_hours"] - staff["base_load_hours"],
                            cases=count.reindex(ids).to_numpy())


def day_record(intake: Intake, n: int, day: date | None, drawn_against: Scenario, previous: Recorded | None) -> dict:
    """What a day's record says about the day, so that `verify` can replay it: the new-cases file
    and the day's place in it, the record of the day before (whose draw the day's held cases come
    from), and the canonical digest of everything the day was drawn against — the cases held after
    the days before it, with their holders, and the day's new cases (`Scenario.canonical_sha256`)."""
    return {"new_cases": intake.file, "new_cases_sha256": intake.sha256, "day": n,
            "date": str(day) if day is not None else None,
            "previous": previous.id if previous is not None else None,
            "drawn_against": drawn_against.canonical_sha256}
