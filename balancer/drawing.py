"""A recorded draw: a loaded scenario balanced, drawn, recorded in the register and written as a
run folder (`draw`); a day's new cases allocated and each day recorded (`intake`). One sequence
each, which the CLI (`balancer run`, `balancer intake`) and the web page (`balancer serve`) both
call, so that a draw made from either is the same draw, refused for the same reasons and recorded alike.

    with Register(location) as reg: ...   # never opened here before the draw is solved
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from balancer.checks import Finding, check
from balancer.errors import InputError
from balancer.io import check_outputs, write_folder, write_intake, write_outputs
from balancer.pipeline import Result, SeedSource, Status, fresh_seed, seed_source, solve, tell_progress
from balancer.problem import compile_problem
from balancer.register import (SALT_BYTES, MissingRegister, OpenCommitments, Record, Recorded, Register,
                               applied_settings, record_draw, seed_commitment, software_versions)
from balancer.register.ceremony import (ceremony_seed, named_public, open_ceremony, plain_text, read_sealed,
                                        sealed_text)
from balancer.scenario import Scenario

if TYPE_CHECKING:
    import pandas as pd

    from balancer.intake import Intake


@dataclass(frozen=True)
class Drawn:
    result: Result
    record: Recorded | None
    """Where the draw was recorded; None when the scenario is infeasible (nothing was drawn)."""
    written: list[Path]


class ChosenSeedWithoutReason(InputError):
    """A seed a person chose could have been picked for the result it gives."""

    def __init__(self) -> None:
        super().__init__("the seed is chosen by a person (a given seed or the scenario's policy.seed), so whoever "
                         "chose it could have picked it for the result it gives; a recorded draw with a chosen "
                         "seed needs a reason, and the register flags it")


def refuse_chosen_seed(source: SeedSource, reason: str | None) -> None:
    """The rule every recorded draw obeys: a person's seed only with a reason."""
    if source is SeedSource.OPERATOR and not reason:
        raise ChosenSeedWithoutReason()


def pre_solve_findings(sc: Scenario) -> list[Finding]:
    """The checks a draw makes before any solver (what `validate` reports after the files): an
    office with no cases yet has nothing to check."""
    return [] if sc.cases.empty else check(compile_problem(sc), hard_capacity=sc.policy.capacity == "hard")


def open_commitments(location: str | Path, sc: Scenario) -> list:
    """The open commitments to the scenario's inputs; none where there is no register yet (which
    is created only when the draw is recorded)."""
    try:
        with Register(location, create=False) as reg:
            return reg.open_commitments(sc.canonical_sha256)
    except MissingRegister:
        return []


def abandoning(opened: list, reason: str | None) -> dict | None:
    """The ceremony of a draw that reveals no secret: the open commitments it abandons, which needs
    a reason (OpenCommitments without one). None: no commitment is involved."""
    if opened and not reason:
        raise OpenCommitments(opened)
    return {"abandoned": [c.id for c in opened]} if opened else None


def revealing(sc: Scenario, opened: list, sealed: dict[str, str], public_value: str | None,
              reason: str | None) -> dict | None:
    """The ceremony a draw of `sc` takes part in, given the open commitments to its inputs
    (`open_commitments`): the sealed secrets revealed (each file's text, by the name it is known
    by) and the public value entered, checked (`ceremony.open_ceremony`, CeremonyError for what
    is missing or does not fit); or, for a draw that reveals nothing, the commitments it abandons
    (`abandoning`). None: no commitment is involved."""
    if not sealed and public_value is None:
        return abandoning(opened, reason)
    secrets_ = {name: read_sealed(text, name) for name, text in sealed.items()}
    return open_ceremony(sc.canonical_sha256, opened, secrets_, public_value)


@dataclass(frozen=True)
class Committed:
    record: Record
    opened: list[Record]
    """The commitments to these inputs open before this one."""
    register: str
    """Where it was recorded (a database URL without its password)."""


def commit(sc: Scenario, register: str | Path, *, operator: str, party: str, public: str | None = None,
           seal: Callable[[str], Callable[[], None] | None] | None = None) -> Committed:
    """Fix the seed of `sc`'s next draw before anyone can see its result: record a commitment of
    `party` to a fresh secret of theirs (`seal`) and/or to a `public` value to be published later;
    the draw derives its seed from every open commitment (`revealing`). `seal(text)` keeps the
    party's sealed secret (`ceremony.sealed_text`) before the commitment is recorded, so that a
    recorded secret is never lost, and returns what undoes it if recording fails."""
    who = plain_text(party, "the party")
    named = plain_text(public, "the public value") if public is not None else None
    if seal is None and named is None:
        raise InputError("a commitment holds a secret of the party's, names a public value to come, or both")
    secret, salt = fresh_seed(), secrets.token_bytes(SALT_BYTES)
    with Register(register) as reg:
        opened = reg.open_commitments(sc.canonical_sha256)
        earlier = named_public(opened)
        if named and earlier and earlier != named:  # one public value per draw
            raise InputError(f"an open commitment to these inputs names another public value: {earlier}")
        undo = seal(sealed_text(who, secret, salt, sc.canonical_sha256)) if seal is not None else None
        try:
            rec = reg.append_commitment(
                scenario=sc.name, inputs=sc.inputs, inputs_sha256=sc.canonical_sha256,
                policy=sc.policy.recorded(),
                seed_commitment=seed_commitment(secret, salt) if seal is not None else None,
                versions=software_versions(), operator=operator, applied=applied_settings(sc), party=who,
                public=named)
        except BaseException:
            if undo is not None:  # a secret no commitment holds is of no use
                undo()
            raise
    return Committed(rec, opened, reg.location)


def draw(sc: Scenario, out: Path, *, register: str | Path, operator: str, reason: str | None = None,
         seed: int | None = None, ceremony: dict | None = None, formats=("csv",), probabilities: Path | None = None,
         vet_seed: Callable[[SeedSource, str | None], None] = refuse_chosen_seed) -> Drawn:
    """Balance and draw `sc`, record the draw, then write the run folder `out` (whole).

    The seed: `ceremony`'s commitments derive it when it has any, else `seed`, else the policy's,
    else a fresh one. `vet_seed(source, reason)` runs before anything is recorded (default: a
    chosen seed needs a reason). An infeasible scenario writes its diagnosis and records nothing.
    Raises RedrawWithoutReason / OpenCommitments (from the register) when the inputs were drawn
    before, or have open commitments, and no reason is given."""
    check_outputs(out, probabilities)  # every output location, before anything is drawn or recorded
    source = seed_source(sc, seed)
    if ceremony is not None and ceremony.get("commitments"):
        seed = ceremony_seed(sc.canonical_sha256, ceremony)
        source = SeedSource.PUBLIC if ceremony["public"] else SeedSource.COMMITMENT
    result = solve(sc, seed=seed, source=source)
    if result.status is Status.INFEASIBLE:
        return Drawn(result, None, write_outputs(result, out, formats))
    vet_seed(source, reason)
    # Recorded first, written after: a crash in between leaves a recorded draw without files,
    # never files that claim a draw the register does not hold.
    tell_progress("register")
    with Register(register) as reg:
        record = record_draw(reg, result, operator=operator, reason=reason, ceremony=ceremony)
    tell_progress("write")
    return Drawn(result, record, write_outputs(result, out, formats, record=record, probabilities=probabilities))


class DaysDrawnBefore(InputError):
    """Days of new cases drawn before are drawn again only with a reason (as a re-draw is)."""

    def __init__(self, days: list[str]) -> None:
        super().__init__(f"these days were drawn before: {', '.join(days)}.")


@dataclass(frozen=True)
class Taken:
    intake: Intake
    register: str
    """Where each day was recorded."""


def intake(sc: Scenario, cases: pd.DataFrame, out: Path, *, file: str, sha256: str, register: str | Path,
           operator: str, reason: str | None = None, seed: int | None = None,
           vet_seed: Callable[[SeedSource, str | None], None] = refuse_chosen_seed) -> Taken:
    """Allocate the new `cases` (`balancer.scenario.load_new_cases`: the table `file`, of digest
    `sha256`) day by day against `sc`'s loads (`balancer.intake.run_intake`), record each day as it
    is drawn, then write the intake folder `out` (whole). Days drawn before raise DaysDrawnBefore
    without a reason, before anything is recorded; an infeasible day ends the intake, its diagnosis
    written and the days before it recorded."""
    from balancer.intake import batches, day_digests, run_intake

    check_outputs(out)  # before anything is drawn or recorded
    vet_seed(SeedSource.OPERATOR if seed is not None else SeedSource.OS, reason)
    with Register(register) as reg:
        drawn = reg.redraw_counts()  # a day drawn before needs a reason: refuse before anything is recorded
        days = batches(cases)
        keys = day_digests(sc, days)  # hashes the whole scenario: once, for the check and the records
        again = [str(day) for (day, _), key in zip(days, keys) if key in drawn]
        if again and not reason:
            raise DaysDrawnBefore(again)
        result = run_intake(sc, cases, file=file, sha256=sha256, seed=seed, keys=keys,
                            on_day=lambda day, key, about: record_draw(
                                reg, day, operator=operator, reason=reason, inputs_sha256=key, intake=about))
    write_folder(out, lambda tmp: write_intake(result, tmp))  # whole, after recording
    return Taken(result, reg.location)
