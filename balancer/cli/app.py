"""The Typer application, the one table of exit codes, and the one error handler every command uses."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Annotated, Callable, Iterable, Optional

import typer
from rich.console import Console

from balancer.errors import BalancerError, InputError, Outcome
from balancer.pipeline import SeedSource

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Measure workload and allocate cases at random, evenly, to qualified prosecutors.",
)


def printable(text: str) -> str:
    """`text` safe for a terminal: every control character but newline and tab (ANSI escapes, CR,
    backspace, the 8-bit C1 codes) and every bidirectional override is shown as its escape
    (`\\x1b`), so an id, an operator or a reason cannot move the cursor, recolour, hide or
    reorder what the terminal shows."""
    return text.translate(_ESCAPED)


_ESCAPED = {c: f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"
            for c in [*range(0x20), *range(0x7F, 0xA0), *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
            if chr(c) not in "\n\t"}


class _Console(Console):
    """Rich's console, printing text as text: control characters escaped (`printable`), and no
    markup or emoji codes read from it (markup is off), so `[bold]` in an id is shown as typed."""

    def render_str(self, text: str, **kwargs):
        return super().render_str(printable(text), **kwargs)


console = _Console(highlight=False, markup=False, emoji=False)
"""Everything the commands print goes through this console or `echo`."""


def wide_console() -> Console:
    """The console for a wide table: the terminal's, or 200 columns where output goes to a log or
    a pipe (where rich would wrap every cell to 80 columns)."""
    return console if console.is_terminal else _Console(highlight=False, markup=False, emoji=False, width=200)


def echo(message: str, err: bool = False, nl: bool = True) -> None:
    """`typer.echo` of `printable(message)`: for plain lines (stderr messages, warnings)."""
    typer.echo(printable(message), err=err, nl=nl)

EXIT_CODES = {
    Outcome.DONE: 0,
    Outcome.INFEASIBLE: 1,
    Outcome.MISMATCH: 1,
    Outcome.FAILED: 3,
    Outcome.INVALID: 2,
}
"""Every exit code of every command. Where several outcomes meet (the rows of a batch), the one
listed last wins: bad input first (it must be fixed before anything else means much), then a
failure, then an infeasible scenario or a check that does not hold."""


SAID_AS = {Outcome.INFEASIBLE: "infeasible", Outcome.MISMATCH: "mismatch", Outcome.INVALID: "invalid input",
           Outcome.FAILED: "failed"}
"""How a message about each outcome starts on stderr, whichever command (or batch row) says it."""


def say(outcome: Outcome, message: str) -> None:
    echo(f"{SAID_AS[outcome]}: {message}", err=True)


def worst(outcomes: Iterable[Outcome]) -> Outcome:
    """The outcome that decides the exit code of several (see `EXIT_CODES`)."""
    order = list(EXIT_CODES)
    return max(outcomes, key=order.index, default=Outcome.DONE)


def command(name: str | None = None, on: typer.Typer | None = None, **settings) -> Callable:
    """Register a command (on `app`, or the command group `on`) whose function returns an
    `Outcome` (None: done) or raises. Bad input exits 2 with its message, any other error of
    ours 3 — never a traceback."""

    def register(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def run(*args, **kwargs) -> None:
            try:
                outcome = fn(*args, **kwargs) or Outcome.DONE
            except BalancerError as error:
                outcome = Outcome.of_error(error)
                say(outcome, error.message if isinstance(error, InputError) else str(error))
            except Exception as error:  # a bug of ours: say so in one line (BALANCER_DEBUG=1: the traceback)
                if os.environ.get("BALANCER_DEBUG"):
                    raise
                outcome = Outcome.FAILED
                say(outcome, f"internal error {type(error).__name__}: {error} — please report it "
                             "(BALANCER_DEBUG=1 shows where it happened)")
            if EXIT_CODES[outcome]:
                raise typer.Exit(EXIT_CODES[outcome])

        return (on or app).command(name, **settings)(run)

    return register


# Options several commands share, declared once.
ScenarioArg = Annotated[Path, typer.Argument(help="Scenario YAML file.")]
OutOption = Annotated[Path, typer.Option("--out", "-o", help="Folder for the output files.")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="Print only problems.")]
RegisterOption = Annotated[Optional[str], typer.Option(
    help="Draw register: a SQLite file or a postgresql:// URL [default: $BALANCER_REGISTER, else "
         "register.sqlite in the user's data folder].")]
OperatorOption = Annotated[Optional[str], typer.Option(help="Who draws [default: the OS user].")]
VariantOption = Annotated[Optional[str], typer.Option(
    help="A named variant of the scenario file (its `scenarios:` or `overrides:`).")]
SetOption = Annotated[Optional[list[str]], typer.Option(
    "--set", help="KEY=VALUE (repeatable), e.g. policy.tolerance=0.02; applied after --variant.")]


def chosen_seed(source: SeedSource, reason: str | None) -> None:
    """A seed a person chose could have been picked for what it gives: refused without a reason
    (before anything is drawn; the library's rule, worded for the command line), and flagged when
    given one."""
    from balancer.drawing import ChosenSeedWithoutReason, refuse_chosen_seed

    try:
        refuse_chosen_seed(source, reason)
    except ChosenSeedWithoutReason as e:
        raise InputError(f"{e.problem}: give --reason. Leave the seed out (--seed, policy.seed) for a fresh one "
                         "from the OS, or fix it in advance with `balancer commit`") from None
    if source is SeedSource.OPERATOR:
        echo(f"warning: the seed was chosen by a person; recorded and flagged as such (reason: {reason})", err=True)


def read_text(path: Path) -> str:
    """A small text file the user named (a sealed secret, a checkpoint), or an InputError saying why not."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read it: {getattr(e, 'strerror', None) or e}", file=path) from None


def load(path: Path, variant: str | None = None, sets: list[str] | None = None, max_errors: int = 1):
    """The scenario as the command asks for it: the file, its named variant, then `--set`s;
    `max_errors` > 1: report up to that many input errors at once."""
    from balancer.scenario import load_scenario
    from balancer.scenario.settings import parse_sets

    return load_scenario(path, variant=variant, settings=parse_sets(sets or []), max_errors=max_errors)
