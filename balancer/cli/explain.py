"""`explain`: why one case of a run went where it did, in plain words (the logic is
`balancer.explain`; this only prints it)."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Annotated

import typer

from balancer.cli.app import command, console
from balancer.explain import Explanation, explain as explain_case
from balancer.pipeline import SEED_SOURCE_SAID

WIDTH = 80


@command()
def explain(
    case_id: Annotated[str, typer.Argument(help="The case, as its id is written in the scenario.")],
    run: Annotated[Path, typer.Option("--run", help="The run's output folder (`balancer run --out`).")],
    inputs: Annotated[Path, typer.Option(help="The scenario the run was drawn from.")],
) -> None:
    """Why a case of a run went to its prosecutor: each eligible prosecutor's chance, why every other
    one had none, and the seed and register record of the draw (replayed from the scenario)."""
    for line in lines(explain_case(run, case_id, inputs)):
        console.print(line, soft_wrap=True)


def lines(e: Explanation) -> list[str]:
    group = f"group {e.group}" if e.group else "no group"
    excluded = f"excludes {', '.join(e.excluded)}" if e.excluded else "no exclusions"
    out = _wrap(f"Case {e.case_id}: {e.case_type}, {e.weight_hours:g} h, {group}, {excluded}.")
    went = f"Went to {e.staff_id} (chance {e.chances[e.staff_id]:.1%})"
    if not e.drawn:
        went += ", its holder: held cases that do not move are not drawn"
    elif e.previous_staff_id:
        went += f" (held before by {e.previous_staff_id})"
    out += _wrap(went + ".")
    out += ["", f"Eligible, with their chances ({len(e.chances)}):"]
    out += [f"  {s:<12} {p:7.1%}{'  <- drawn' if s == e.staff_id else ''}" for s, p in e.chances.items()]
    if e.why_not:
        out += ["", f"No chance ({len(e.why_not)}):"]
        for s, why in e.why_not.items():
            out += _wrap(f"{s:<12} {why}", indent="  ", hang=15)
    out += [""] + _draw(e)
    return out


def _draw(e: Explanation) -> list[str]:
    said = {source.value: words for source, words in SEED_SOURCE_SAID.items()}.get(e.seed_source, "")
    out = _wrap(f"Seed {e.seed} ({e.seed_source}{': ' + said if said else ''}).")
    if e.record:
        out += _wrap(f"Recorded as record {e.record['id']} in {e.record['register']}, hash:")
        out += [f"  {e.record['hash']}"]
    else:
        out += ["Not recorded in a register."]
    return out


def _wrap(text: str, indent: str = "", hang: int = 0) -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent=indent, subsequent_indent=" " * hang,
                         break_long_words=False, break_on_hyphens=False) or [""]
