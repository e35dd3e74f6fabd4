"""Draws on top of the register's store: what a solved run appends, and the replay that checks it.

The store (`balancer.register.store`) knows records and their chain, nothing of the pipeline;
this module turns a `balancer.pipeline.Result` into a record and a record back into a replay.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import sys
from dataclasses import asdict, dataclass
from importlib.metadata import PackageNotFoundError, version

import pandas as pd

from balancer.pipeline import Result, inputs_digest, solve
from balancer.register.ceremony import SALT_BYTES, opening_problems, seed_commitment
from balancer.register.store import Record, Register, RegisterError
from balancer.registry import headline
from balancer.scenario import Scenario


@dataclass(frozen=True)
class Recorded:
    """Where a draw was recorded: what `summary.json` names under `register`."""

    register: str
    """The register's location (a file, or a URL without its password)."""
    id: int
    hash: str
    prev_hash: str
    operator: str
    reason: str | None
    redraw_of: list[int]
    """Earlier draws of the same inputs (empty for a first draw)."""
    commitments: list[int]
    """The commitments whose secrets and public value the seed was derived from."""
    abandoned: list[int]
    """Open commitments to these inputs the draw did not use (it gave a reason)."""

    @classmethod
    def of(cls, record: Record, location: str) -> Recorded:
        ceremony = record.ceremony or {}
        used = ceremony.get("commitments") or ([record.commitment_id] if record.commitment_id else [])
        return cls(register=location, id=record.id, hash=record.hash, prev_hash=record.prev_hash,
                   operator=record.operator, reason=record.reason, redraw_of=list(record.redraw_of),
                   commitments=list(used), abandoned=list(ceremony.get("abandoned", [])))

    def to_dict(self) -> dict:
        return asdict(self)


def applied_settings(scenario: Scenario) -> dict | None:
    """The variant and settings the scenario was loaded with; None for the file as written."""
    applied = scenario.applied()
    return applied if applied.get("variant") or applied.get("settings") else None


def record_draw(register: Register, result: Result, *, operator: str, reason: str | None = None,
                ceremony: dict | None = None, inputs_sha256: str | None = None,
                intake: dict | None = None) -> Recorded:
    """Append the draw of a solved run to the register; returns where it was recorded (for
    `summary.json`: `write_outputs(..., record=...)`).

    The record's `inputs_sha256`, by which the register recognises a re-draw (and a commitment its
    draw), is the scenario's canonical digest (`Scenario.canonical_sha256`: what the draw depends
    on, not the files' names or bytes), unless `inputs_sha256` gives another key (daily intake:
    `balancer.intake.day_digests`). `inputs` still lists every file's own SHA-256, for people.
    `ceremony`: the commitments the seed was derived from (`balancer.register.ceremony`);
    `intake`: what a day of daily intake was drawn against (`balancer.intake.day_record`)."""
    sc = result.scenario
    rec = register.append_draw(
        scenario=sc.name, inputs=sc.inputs, inputs_sha256=inputs_sha256 or sc.canonical_sha256,
        policy=sc.policy.recorded(), seed=result.seed, versions=software_versions(),
        result_sha256=result_digest(result.plan.assignments), metrics=headline(result.metrics),
        operator=operator, reason=reason, applied=applied_settings(sc), seed_source=result.seed_source.value,
        ceremony=ceremony, intake=intake,
    )
    return Recorded.of(rec, register.location)


def replay(rec: Record, sc: Scenario) -> list[str]:
    """What differs between a recorded draw and a replay of it on `sc`; empty when it holds."""
    if rec.kind != "draw":
        return [f"record {rec.id} is a {rec.kind}, not a draw"]
    changed = sorted(k for k in set(rec.inputs) | set(sc.inputs) if rec.inputs.get(k) != sc.inputs.get(k))
    if rec.inputs_sha256 == inputs_digest(rec.inputs):  # recorded before canonical digests: by the files
        if changed:
            return [f"input files differ from the recorded ones: {', '.join(changed)}"]
    elif rec.inputs_sha256 != sc.canonical_sha256:  # renamed or reformatted files are the same inputs
        files = f" (files that differ: {', '.join(changed)})" if changed else ""
        return [f"the inputs differ from the recorded ones: canonical digest {sc.canonical_sha256}, the record "
                f"says {rec.inputs_sha256}{files}"]
    if sc.policy.recorded() != rec.policy:
        return ["the policy differs from the recorded one"]
    result = solve(sc, seed=rec.seed)
    if result.plan is None:
        return ["the replay is infeasible"]
    digest = result_digest(result.plan.assignments)
    if digest != rec.result_sha256:
        versions = {k: v for k, v in software_versions().items() if rec.versions.get(k) != v}
        hint = f" (software differs: {versions} now, {rec.versions} then)" if versions else ""
        return [f"the replay gives result {digest}, the record says {rec.result_sha256}{hint}"]
    return []


def replay_intake(register: Register, rec: Record, scenario_path, new_cases_path) -> list[str]:
    """What differs between a recorded day of daily intake and a replay of it: the days before it
    (following each day's `previous` record) and then the day itself, each drawn from its recorded
    seed against the cases held after the days before, as `balancer intake` drew them."""
    from balancer.intake import run_intake
    from balancer.scenario import load_new_cases

    days = [rec]
    while (previous := days[0].intake.get("previous")) is not None:
        earlier = register.get(previous)
        if earlier.intake is None or earlier.id >= days[0].id:
            return [f"record {days[0].id} names record {previous} as the day before, which is no earlier intake day"]
        days.insert(0, earlier)
    sc = load_recorded(rec, scenario_path)
    cases, name, sha = load_new_cases(new_cases_path, sc)
    replayed = run_intake(sc, cases, file=name, sha256=sha, seeds=[d.seed for d in days], keep=True).days
    if len(replayed) < len(days):
        return [f"the new cases hold {len(replayed)} day(s); record {rec.id} is day {len(days)} of its intake"]
    problems = []
    for r, day in zip(days, replayed):
        said = f"day {r.intake['day']} ({r.intake['date'] or 'undated'}, record {r.id})"
        if day.result.plan is None:
            problems.append(f"{said}: the replay is infeasible")
        elif day.result.scenario.canonical_sha256 != r.intake["drawn_against"]:
            problems.append(f"{said}: the replay draws against other inputs (canonical digest "
                            f"{day.result.scenario.canonical_sha256}, the record says {r.intake['drawn_against']})")
        elif (digest := result_digest(day.result.plan.assignments)) != r.result_sha256:
            problems.append(f"{said}: the replay gives result {digest}, the record says {r.result_sha256}")
        if problems:
            break  # every later day rests on this one
    return problems


def claimed_records(summary: dict) -> list[tuple]:
    """The (record id, hash) pairs a `summary.json` claims, as written: a run's `register` block,
    or each day of an intake."""
    if isinstance(summary.get("register"), dict):
        return [(summary["register"].get("id"), summary["register"].get("hash"))]
    return [(d.get("record"), d.get("record_hash")) for d in summary.get("days") or []
            if isinstance(d, dict) and d.get("record")]


def summary_problems(register: Register, summary: dict) -> tuple[int, list[str]]:
    """Cross-check a published `summary.json` against the register: each draw it claims (a run's
    `register` block, or each day of an intake) must be a record of this register with the same
    hash, and a run's seed and canonical digest must be the record's. Returns how many records the
    summary claims, and what does not hold."""
    claimed = claimed_records(summary)
    problems = []
    for rid, digest in claimed:
        try:
            rec = register.get(int(rid))
        except (RegisterError, TypeError, ValueError):
            problems.append(f"it claims record {rid}, which this register does not hold")
            continue
        if rec.hash != digest:
            problems.append(f"it claims record {rid} with hash {digest}; the register's record {rid} has {rec.hash}")
        elif "register" in summary and (summary.get("seed"), summary.get("canonical_sha256")) != (rec.seed, rec.inputs_sha256):
            problems.append(f"its seed or canonical digest differ from record {rid}'s")
    return len(claimed), problems


def seed_problems(register: Register, rec: Record) -> list[str]:
    """What does not hold in how a recorded draw's seed was fixed in advance: its revealed secrets
    against the commitments recorded before it, and the seed they give. Empty: it holds (or the
    seed was not committed)."""
    ceremony = rec.ceremony or {}
    if rec.commitment_id is not None:  # recorded before ceremonies: the committed seed itself
        c = register.get(rec.commitment_id)
        salt = bytes.fromhex(rec.seed_salt or "")
        ok = c.kind == "commitment" and len(salt) >= SALT_BYTES and seed_commitment(rec.seed, salt) == c.seed_commitment
        return [] if ok else [f"the seed and salt do not open commitment {rec.commitment_id}"]
    if not ceremony.get("commitments"):
        return []
    commitments = {}
    for cid in ceremony["commitments"]:
        try:
            commitments[int(cid)] = register.get(int(cid))
        except RegisterError:
            pass  # reported as missing
    problems = opening_problems(ceremony, rec.seed, rec.inputs_sha256, commitments)
    late = [cid for cid in commitments if cid > rec.id]
    return problems + [f"commitment {cid} was recorded after the draw" for cid in late]


def result_digest(assignments: pd.DataFrame) -> str:
    """SHA-256 of a drawn assignment, whatever the order of its rows.

    The canonical form is the compact JSON array (no spaces, UTF-8) of one `[case_id, staff_id,
    probability]` triple of strings per row — the probability as Python's `repr` of the float, the
    shortest text that reads back to it exactly — sorted by those strings (code-point order)."""
    missing = [c for c in ("case_id", "staff_id", "probability") if c not in assignments.columns]
    if missing:
        raise RegisterError(f"result_digest: the assignment table has no column {', '.join(missing)}")
    rows = sorted(zip(
        assignments["case_id"].astype(str).tolist(),
        assignments["staff_id"].astype(str).tolist(),
        [repr(float(p)) for p in assignments["probability"].tolist()],
    ))
    text = json.dumps(rows, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def current_operator() -> str:
    """The operating-system user running the draw, or "unknown"."""
    try:
        return getpass.getuser() or "unknown"
    except Exception:  # no USER/LOGNAME and no passwd entry (containers)
        return "unknown"


def software_versions() -> dict[str, str]:
    """Versions that decide a draw: balancer, Python, and the numerical libraries it uses."""
    out = {"python": sys.version.split()[0]}
    for dist in ("balancer", "numpy", "scipy", "pandas", "clarabel", "ortools"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "unknown"
    return out


def load_recorded(rec: Record, path, within=None) -> Scenario:
    """The scenario file loaded as the record says it was drawn: with its variant and settings
    (reading only files inside `within`, if given: `load_scenario`)."""
    from balancer.scenario import load_scenario

    applied = rec.applied or {}
    return load_scenario(path, variant=applied.get("variant"), settings=applied.get("settings") or None,
                         within=within)
