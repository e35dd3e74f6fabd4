"""`commit`, `history`, `verify`, `keygen` and `checkpoint`: the draw register from the command line."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from balancer.cli.app import (OperatorOption, RegisterOption, ScenarioArg, SetOption, VariantOption, command,
                              console, echo, load, say)
from balancer.errors import InputError, Outcome
from balancer.io import write_secret
from balancer.pipeline import SeedSource, fresh_seed
from balancer.register import (SALT_BYTES, Register, RegisterError, applied_settings, current_operator,
                               load_recorded, register_location, replay, seed_commitment, software_versions)
from balancer.register.checkpoint import make_key, read_checkpoint, sign_checkpoint, verify_checkpoint

KeyOption = Annotated[Path, typer.Option("--key", help="The Ed25519 signing key (PEM; `balancer keygen`).")]


@command()
def commit(
    scenario: ScenarioArg,
    seed_file: Annotated[Path, typer.Option(help="Where to write the secret seed (keep it sealed).")],
    variant: VariantOption = None,
    set_: SetOption = None,
    register: RegisterOption = None,
    operator: OperatorOption = None,
) -> None:
    """Fix the draw's seed before anyone can see its result: record a commitment to a fresh secret
    seed and the inputs' hashes; `run --commitment ID --seed-file FILE` later uses and reveals it."""
    sc = load(scenario, variant, set_)
    if seed_file.exists():
        raise InputError(f"{seed_file} exists already: a seed file is written once")
    seed, salt = fresh_seed(), secrets.token_bytes(SALT_BYTES)
    with Register(register_location(register)) as reg:
        rec = reg.append_commitment(
            scenario=sc.name, inputs=sc.inputs, inputs_sha256=sc.canonical_sha256,
            policy=sc.policy.model_dump(mode="json"), seed_commitment=seed_commitment(seed, salt),
            versions=software_versions(), operator=operator or current_operator(), applied=applied_settings(sc))
    secret = json.dumps({"commitment": rec.id, "seed": seed, "salt": salt.hex()}) + "\n"
    try:
        write_secret(seed_file, secret)
    except FileExistsError:
        raise InputError(f"{seed_file} appeared while the commitment was recorded: a seed file is written "
                         f"once. Commitment {rec.id} is recorded but its seed is lost; commit again") from None
    console.print(f"commitment {rec.id} recorded in {reg.location}: seed commitment "
                  f"{rec.seed_commitment}. Keep {seed_file} sealed until the draw: "
                  f"balancer run {scenario} --commitment {rec.id} --seed-file {seed_file} --out DIR")


@command()
def history(
    register: RegisterOption = None,
    scenario: Annotated[Optional[str], typer.Option(help="Only this scenario's records.")] = None,
) -> None:
    """List the recorded draws and commitments, with how often each set of inputs was drawn."""
    with Register(register_location(register), create=False) as reg:
        records, counts = reg.history(scenario), reg.redraw_counts()
    table = Table(title=f"register {reg.location}")
    for col in ("id", "time (UTC)", "kind", "scenario", "operator", "seed from", "draws of these inputs",
                "re-draw of", "reason"):
        table.add_column(col)
    for r in records:
        draws = str(counts.get(r.inputs_sha256, 0))
        table.add_row(str(r.id), r.created_at[:19], r.kind, r.scenario, r.operator, _seed_from(r), draws,
                      ", ".join(map(str, r.redraw_of)), r.reason or "")
    console.print(table)


@command()
def verify(
    record_id: Annotated[Optional[int], typer.Argument(help="The draw to replay.")] = None,
    inputs: Annotated[Optional[Path], typer.Option(help="The scenario the draw was made from.")] = None,
    chain: Annotated[bool, typer.Option("--chain", help="Check the whole hash chain instead.")] = False,
    checkpoint: Annotated[Optional[list[Path]], typer.Option(
        help="With --chain: a signed checkpoint the register must still extend (repeatable).")] = None,
    public_key: Annotated[Optional[Path], typer.Option(
        help="The public key (KEY.pub) the checkpoints were signed with.")] = None,
    register: RegisterOption = None,
) -> Outcome:
    """Replay a recorded draw from its seed and inputs (with the variant and settings it records)
    and compare results, or check the chain (and that it extends signed checkpoints). Exit 0 when
    it holds, 1 when it does not."""
    if chain == (record_id is not None) or (record_id is not None and inputs is None):
        raise InputError("give either --chain, or a RECORD_ID with --inputs SCENARIO")
    if (checkpoint and not chain) or bool(checkpoint) != (public_key is not None):
        raise InputError("--checkpoint FILE goes with --chain and --public-key FILE, and --public-key with --checkpoint")
    checkpoints = [(path, read_checkpoint(_read_text(path), file=path)) for path in checkpoint or []]
    with Register(register_location(register), create=False) as reg:
        if chain:
            report = reg.verify_chain()
            console.print(str(report))
            holds = report.ok
            for path, cp in checkpoints:
                problems = verify_checkpoint(reg, cp, public_key, chain=report)
                for p in problems:
                    say(Outcome.MISMATCH, f"checkpoint {path} (size {cp.size}, {cp.time}): {p}")
                if not problems:
                    console.print(f"checkpoint {path} holds: the register extends its {cp.size} "
                                  f"record{'s' * (cp.size != 1)} signed at {cp.time}")
                if cp.origin != reg.location:
                    echo(f"note: checkpoint {path} was made of {cp.origin}, this register is "
                               f"{reg.location} (a copy or a move?)", err=True)
                holds = holds and not problems
            return Outcome.DONE if holds else Outcome.MISMATCH
        try:
            rec = reg.get(record_id)
        except RegisterError as e:
            raise InputError(str(e)) from None
    problems = replay(rec, load_recorded(rec, inputs))
    for p in problems:
        say(Outcome.MISMATCH, p)
    if problems:
        return Outcome.MISMATCH
    console.print(f"record {rec.id} verified: replaying seed {rec.seed} on these inputs gives the "
                  f"recorded result {rec.result_sha256}.")
    if rec.seed_source == SeedSource.OPERATOR:
        echo(f"warning: record {rec.id}'s seed was chosen by a person, who could have picked it for this "
                   f"result (reason given: {rec.reason})", err=True)
    return Outcome.DONE


@command()
def keygen(key: KeyOption) -> None:
    """Create the office's checkpoint signing key (0600, never overwritten) and KEY.pub beside it.
    Keep the key off the database server: whoever holds it can sign a rewritten register."""
    kid = make_key(key)
    console.print(f"signing key {kid} written to {key} (keep it off the database server); "
                  f"give {key}.pub to whoever checks the checkpoints")


@command()
def checkpoint(
    key: KeyOption,
    register: RegisterOption = None,
    out: Annotated[Optional[Path], typer.Option(
        help="Also write the checkpoint to this new file (never over an earlier one).")] = None,
) -> None:
    """Sign the register's size and head hash now and print the checkpoint: send it outside (a
    court registry, an auditor, a public page); `verify --chain --checkpoint` later proves the
    register still extends it."""
    with Register(register_location(register), create=False) as reg:
        text = sign_checkpoint(reg, key)
    if out is not None:
        try:
            with open(out, "x", encoding="utf-8") as f:
                f.write(text)
        except FileExistsError:
            raise InputError(f"{out} exists already: a checkpoint once written is kept as it is") from None
        except OSError as e:
            raise InputError(f"cannot write the checkpoint: {e.strerror or e}", file=out) from None
    echo(text, nl=False)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read it: {getattr(e, 'strerror', None) or e}", file=path) from None


def _seed_from(record) -> str:
    """The record's seed source, a chosen seed marked so that it stands out in the list."""
    if record.kind != "draw":
        return ""
    if record.seed_source == SeedSource.OPERATOR:
        return "CHOSEN by operator"
    return record.seed_source or "(not recorded)"
