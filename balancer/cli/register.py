"""`commit`, `history`, `verify`, `keygen` and `checkpoint`: the draw register from the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from balancer.cli.app import (OperatorOption, RegisterOption, ScenarioArg, SetOption, VariantOption, command,
                              console, echo, load, read_text, say, wide_console)
from balancer.errors import InputError, Outcome
from balancer.io import write_secret
from balancer.pipeline import SeedSource
from balancer.register import (Register, RegisterError, current_operator,
                               load_recorded, register_location, replay, replay_intake, seed_problems,
                               summary_problems)
from balancer.register.ceremony import named_public
from balancer.register.checkpoint import extends, make_key, read_checkpoint, sign_checkpoint, verify_checkpoint

KeyOption = Annotated[Path, typer.Option("--key", help="The Ed25519 signing key (PEM; `balancer keygen`).")]


@command()
def commit(
    scenario: ScenarioArg,
    secret_file: Annotated[Optional[Path], typer.Option(
        "--secret-file", "--seed-file", help="Where to write this party's sealed secret (kept by them until the draw).")] = None,
    party: Annotated[Optional[str], typer.Option(
        help="Who commits (the clerk, a witness); default: the operator.")] = None,
    public: Annotated[Optional[str], typer.Option(
        help="Name a public value to be published after now, which the draw must enter "
             "(e.g. \"main numbers of the national lottery draw of 5 December 2026, in drawn order\").")] = None,
    variant: VariantOption = None,
    set_: SetOption = None,
    register: RegisterOption = None,
    operator: OperatorOption = None,
) -> None:
    """Fix the draw's seed before anyone can see its result. Each party commits a fresh secret of
    their own (recorded as a hash; the secret goes to --secret-file), and/or names a public value to
    come; the draw (`run --reveal FILE… [--public-value …]`) derives its seed from them all."""
    if secret_file is None and public is None:
        raise InputError("give --secret-file FILE (a secret of this party's), --public DESCRIPTION (a public "
                         "value to come), or both")
    from balancer.drawing import commit as record_commitment

    sc = load(scenario, variant, set_)
    who = party or operator or current_operator()

    def seal(text: str):
        _seal(secret_file, text)
        return lambda: secret_file.unlink(missing_ok=True)

    done = record_commitment(sc, register_location(register), operator=operator or current_operator(),
                             party=who, public=public, seal=seal if secret_file is not None else None)
    rec, opened = done.record, done.opened
    who, named, earlier = rec.ceremony.get("party"), rec.ceremony.get("public"), named_public(opened)
    parties = ", ".join(f"{c.id} ({c.ceremony.get('party')})" for c in [*opened, rec] if c.ceremony)
    console.print(f"commitment {rec.id} ({who}) recorded in {done.register}"
                  + (f": secret commitment {rec.seed_commitment}; keep {secret_file} sealed until the draw"
                     if secret_file is not None else "")
                  + (f"; the draw must enter the public value: {named}" if named else "")
                  + f". Open commitments to these inputs: {parties}. At the draw: balancer run {scenario} "
                  f"--reveal FILE (one per secret){' --public-value VALUE' if named or earlier else ''} --out DIR")


def _seal(path: Path, text: str) -> None:
    try:
        write_secret(path, text)
    except FileExistsError:
        raise InputError(f"{path} exists already: a sealed secret is written once") from None
    except OSError as e:
        raise InputError(f"cannot write the sealed secret: {e.strerror or e}", file=path) from None


@command()
def history(
    register: RegisterOption = None,
    scenario: Annotated[Optional[str], typer.Option(help="Only this scenario's records.")] = None,
) -> None:
    """List the recorded draws and commitments, with how often each set of inputs was drawn."""
    with Register(register_location(register), create=False) as reg:
        records, counts, states = reg.history(scenario), reg.redraw_counts(), reg.commitment_states()
    table = Table(title=f"register {reg.location}")
    for col in ("id", "time (UTC)", "kind", "scenario", "operator", "seed from", "draws of these inputs",
                "re-draw of", "reason"):
        table.add_column(col)
    for r in records:
        draws = str(counts.get(r.inputs_sha256, 0))
        table.add_row(str(r.id), r.created_at[:19], r.kind, r.scenario, r.operator, _seed_from(r, states), draws,
                      ", ".join(map(str, r.redraw_of)), r.reason or "")
    wide_console().print(table)


@command()
def verify(
    record_id: Annotated[Optional[int], typer.Argument(help="The draw to replay.")] = None,
    inputs: Annotated[Optional[Path], typer.Option(help="The scenario the draw was made from.")] = None,
    new_cases: Annotated[Optional[Path], typer.Option(
        help="For a day of `intake`: the new-cases table it was drawn from.")] = None,
    chain: Annotated[bool, typer.Option("--chain", help="Check the whole hash chain instead.")] = False,
    checkpoint: Annotated[Optional[list[Path]], typer.Option(
        help="With --chain: a signed checkpoint the register must still extend (repeatable).")] = None,
    public_key: Annotated[Optional[Path], typer.Option(
        help="The public key (KEY.pub) the checkpoints were signed with.")] = None,
    summaries: Annotated[Optional[Path], typer.Option(
        help="With --chain: a folder of published outputs; every summary.json under it must name "
             "records of this chain, with their hashes.")] = None,
    register: RegisterOption = None,
) -> Outcome:
    """Replay a recorded draw from its seed and inputs (with the variant and settings it records)
    and compare results, or check the chain (and that it extends signed checkpoints). Exit 0 when
    it holds, 1 when it does not."""
    if chain == (record_id is not None) or (record_id is not None and inputs is None):
        raise InputError("give either --chain, or a RECORD_ID with --inputs SCENARIO")
    if summaries is not None and not chain:
        raise InputError("--summaries DIR goes with --chain")
    if (checkpoint and not chain) or bool(checkpoint) != (public_key is not None):
        raise InputError("--checkpoint FILE goes with --chain and --public-key FILE, and --public-key with --checkpoint")
    checkpoints = [(path, read_checkpoint(read_text(path), file=path)) for path in checkpoint or []]
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
                    console.print(f"checkpoint {path} holds: {extends(cp)}")
                if cp.origin != reg.location:
                    echo(f"note: checkpoint {path} was made of {cp.origin}, this register is "
                               f"{reg.location} (a copy or a move?)", err=True)
                holds = holds and not problems
            if summaries is not None:
                holds = _cross_check(reg, summaries) and holds
            return Outcome.DONE if holds else Outcome.MISMATCH
        try:
            rec = reg.get(record_id)
        except RegisterError as e:
            raise InputError(str(e)) from None
        problems = seed_problems(reg, rec)
    if (rec.intake is not None) != (new_cases is not None):
        raise InputError(f"record {rec.id} is a day of intake: give --new-cases FILE too" if rec.intake else
                         f"record {rec.id} is not a day of intake: --new-cases does not apply")
    if rec.intake is not None:
        with Register(register_location(register), create=False) as reg:
            problems += replay_intake(reg, rec, inputs, new_cases)
    else:
        problems += replay(rec, load_recorded(rec, inputs))
    for p in problems:
        say(Outcome.MISMATCH, p)
    if problems:
        return Outcome.MISMATCH
    if rec.intake is not None:
        console.print(f"record {rec.id} verified: day {rec.intake['day']} of an intake "
                      f"({rec.intake['date'] or 'undated'}), replayed with the days before it from their "
                      f"recorded seeds, gives the recorded result {rec.result_sha256}.")
    else:
        console.print(f"record {rec.id} verified: replaying seed {rec.seed} on these inputs gives the "
                      f"recorded result {rec.result_sha256}.")
    ceremony = rec.ceremony or {}
    if ceremony.get("commitments"):
        public = ceremony.get("public")
        console.print(f"its seed is derived from commitments {', '.join(map(str, ceremony['commitments']))}"
                      + (f" and the public value {public['value']!r} ({public['source']})" if public else "")
                      + ", each secret opening the commitment recorded before the draw.")
    if ceremony.get("abandoned"):
        echo(f"warning: record {rec.id} abandoned commitments {', '.join(map(str, ceremony['abandoned']))} "
                   f"to the same inputs without using them (reason given: {rec.reason})", err=True)
    if rec.seed_source == SeedSource.OPERATOR:
        echo(f"warning: record {rec.id}'s seed was chosen by a person, who could have picked it for this "
                   f"result (reason given: {rec.reason})", err=True)
    return Outcome.DONE


def _cross_check(reg: Register, folder: Path) -> bool:
    """Every summary.json under `folder` against the register (`summary_problems`); True if all hold."""
    if not folder.is_dir():
        raise InputError("not a folder", file=folder, expected="the folder the run outputs were published in")
    files = sorted(folder.rglob("summary.json"))
    claimed, bad = 0, 0
    for path in files:
        try:
            summary = json.loads(path.read_text(encoding="utf-8"))
            n, problems = summary_problems(reg, summary if isinstance(summary, dict) else {})
        except (OSError, UnicodeDecodeError, ValueError) as e:
            n, problems = 0, [f"cannot be read: {getattr(e, 'strerror', None) or e}"]
        claimed += n
        bad += bool(problems)
        for p in problems:
            say(Outcome.MISMATCH, f"{path}: {p}")
    if not files:
        say(Outcome.MISMATCH, f"no summary.json under {folder}: nothing was cross-checked")
        return False
    if not bad:
        console.print(f"{len(files)} summar{'ies' if len(files) != 1 else 'y'} under {folder} claim {claimed} "
                      f"record{'s' * (claimed != 1)}, each in the chain with its hash")
    return not bad


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



def _seed_from(record, states: dict[int, tuple[str, int]]) -> str:
    """How the record's seed was fixed, what stands out to an auditor in capitals: a seed a person
    chose, commitments left unused. For a commitment: whose, and whether a draw used it yet."""
    ceremony = record.ceremony or {}
    if record.kind == "commitment":
        state, by = states.get(record.id, ("open", None))
        said = {"open": "open", "used": f"used by {by}", "abandoned": f"ABANDONED by {by}"}[state]
        public = f"; public value: {ceremony['public']}" if ceremony.get("public") else ""
        return f"{ceremony.get('party', record.operator)}: {said}{public}"
    if record.seed_source == SeedSource.OPERATOR:
        said = "CHOSEN by operator"
    elif ceremony.get("commitments") or record.commitment_id:
        used = ceremony.get("commitments") or [record.commitment_id]
        said = f"{record.seed_source or 'commitment'} (commitments {', '.join(map(str, used))})"
    else:
        said = record.seed_source or "(not recorded)"
    if ceremony.get("abandoned"):
        said += f"; ABANDONED commitments {', '.join(map(str, ceremony['abandoned']))}"
    return said
