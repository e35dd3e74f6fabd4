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
    commitment_id: int | None

    @classmethod
    def of(cls, record: Record, location: str) -> Recorded:
        return cls(register=location, id=record.id, hash=record.hash, prev_hash=record.prev_hash,
                   operator=record.operator, reason=record.reason, redraw_of=list(record.redraw_of),
                   commitment_id=record.commitment_id)

    def to_dict(self) -> dict:
        return asdict(self)


def applied_settings(scenario: Scenario) -> dict | None:
    """The variant and settings the scenario was loaded with; None for the file as written."""
    applied = scenario.applied()
    return applied if applied.get("variant") or applied.get("settings") else None


def record_draw(register: Register, result: Result, *, operator: str, reason: str | None = None,
                commitment_id: int | None = None, seed_salt: bytes | None = None,
                inputs_sha256: str | None = None) -> Recorded:
    """Append the draw of a solved run to the register; returns where it was recorded (for
    `summary.json`: `write_outputs(..., record=...)`).

    The record's `inputs_sha256`, by which the register recognises a re-draw (and a commitment its
    draw), is the scenario's canonical digest (`Scenario.canonical_sha256`: what the draw depends
    on, not the files' names or bytes), unless `inputs_sha256` gives another key (daily intake:
    `balancer.intake.day_digests`). `inputs` still lists every file's own SHA-256, for people."""
    sc = result.scenario
    rec = register.append_draw(
        scenario=sc.name, inputs=sc.inputs, inputs_sha256=inputs_sha256 or sc.canonical_sha256,
        policy=sc.policy.model_dump(mode="json"), seed=result.seed, versions=software_versions(),
        result_sha256=result_digest(result.plan.assignments), metrics=headline(result.metrics),
        operator=operator, reason=reason, commitment_id=commitment_id, seed_salt=seed_salt,
        applied=applied_settings(sc), seed_source=result.seed_source.value,
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
    if sc.policy.model_dump(mode="json") != rec.policy:
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


def load_recorded(rec: Record, path) -> Scenario:
    """The scenario file loaded as the record says it was drawn: with its variant and settings."""
    from balancer.scenario import load_scenario

    applied = rec.applied or {}
    return load_scenario(path, variant=applied.get("variant"), settings=applied.get("settings") or None)
