"""What the commands print: findings, the plan's loads and indicators, staffing and frontier tables."""

from __future__ import annotations

from rich.table import Table

from balancer.checks import Finding, Severity
from balancer.cli.app import console, echo
from balancer.pipeline import Result
from balancer import tables
from balancer.registry import BY_NAME, plain

STAFF_ROWS = 15
"""How many prosecutors the terminal table shows; the rest are in staff.csv."""


def findings(found: list[Finding], quiet: bool) -> None:
    for f in found:
        if f.severity is Severity.ERROR:
            echo(f"error: {f.message}", err=True)
        elif not quiet:
            echo(f"warning: {f.message}", err=True)


def plan(result: Result, register: dict | None = None) -> None:
    """The most loaded prosecutors, the indicators by office, specialisation and case type, and
    what happened in plain sentences: 80 columns, no statistics (those are in report.html)."""
    from balancer.indicators import indicators
    from balancer.report import summary_sentences

    staff = tables.staff(result)
    offices = staff["office"].notna().any()
    shown = staff.sort_values("utilisation", ascending=False).head(STAFF_ROWS)
    table = _table(f"{result.scenario.name}: the most loaded prosecutors",
                   ["prosecutor", *(["office"] if offices else []), "capacity h", "before", "after", "target", "cases"])
    for r in shown.itertuples():
        table.add_row(str(r.staff_id), *([str(r.office)] if offices else []), f"{r.capacity_hours:,.0f}",
                      _share(r.utilisation_before), _share(r.utilisation), _share(r.target_utilisation), str(r.cases))
    if len(staff) > STAFF_ROWS:
        table.caption = f"{len(staff) - STAFF_ROWS} more in staff.csv"
    console.print(table)
    for dimension, found in indicators(result).items():
        console.print(_indicator_table(dimension, found))
    head = _table("in short", ["", ""], show_header=False)
    for name, value in plain(result.metrics).items():
        head.add_row(BY_NAME[name].label, BY_NAME[name].show(value))
    console.print(head)
    console.print(" ".join(summary_sentences(result, register)))


def _indicator_table(dimension: str, found) -> Table:
    """One row per office / specialisation / case type, in 80 columns."""
    moved = "moved_in" in found or "moved" in found
    if dimension == "type":
        table = _table("by case type", ["case type", "cases", "hours", "qualified", "given",
                                        *(["moved"] if moved else [])])
        table.caption = "qualified: prosecutors who may take the type; given: those who got one"
        for r in found.itertuples():
            table.add_row(str(r.type), f"{r.cases:,}", f"{r.hours:,.0f}", f"{r.prosecutors_qualified:,}",
                          f"{r.prosecutors_given:,}", *([f"{r.moved:,}"] if moved else []))
        return table
    table = _table(f"by {dimension}", [dimension, "staff", "cases", "hours", "most", "mean", "least",
                                       *(["in/out"] if moved else [])])
    table.caption = "utilisation after the draw" + ("; cases moved in/out" if moved else "")
    for r in found.itertuples():
        table.add_row(str(getattr(r, dimension)), f"{r.prosecutors:,}", f"{r.cases:,}", f"{r.hours:,.0f}",
                      _share(r.utilisation_max), _share(r.utilisation_mean), _share(r.utilisation_min),
                      *([f"{r.moved_in:,}/{r.moved_out:,}"] if moved else []))
    return table


def _table(title: str, columns: list[str], **settings) -> Table:
    """A table whose first column (names) folds rather than being cut, the rest right-aligned."""
    table = Table(title=title, **settings)
    for i, col in enumerate(columns):
        table.add_column(col, justify="left" if i == 0 else "right", overflow="fold", no_wrap=i > 0)
    return table


def _share(value) -> str:
    return "" if value != value else f"{value:.0%}"  # NaN: no capacity


def staffing(result) -> None:
    table = Table(title=f"{result.scenario}: staffing at target {result.target:.0%}")
    cols = ("office", "specialisation", "workload h", "available h", "FTE in post", "formula need",
            "formula gap", "hires")
    for col in cols:
        table.add_column(col, justify="left" if col in cols[:2] else "right")
    for r in result.table.itertuples():
        table.add_row(r.office, r.specialisation, f"{r.workload_hours:,.0f}", f"{r.available_hours:,.0f}",
                      f"{r.fte_in_post:.2f}", f"{r.formula_need_fte:.2f}", f"{r.formula_gap_fte:+.2f}",
                      f"{r.hires} {('(' + r.hires_by_grade + ')') if r.hires_by_grade else ''}".strip()
                      if result.feasible else "—")
    console.print(table)
    if result.feasible:
        console.print(f"{result.total_hires} hire(s); best highest utilisation {result.max_utilisation_before:.0%} "
                      f"with the staff in post, {result.max_utilisation_after:.0%} after the hires.")
        console.print(_proof(result))


def _proof(result) -> str:
    """Whether the hires are proven fewest: a time-limited answer must not pass for an optimum."""
    parts = result.parts
    if result.hires_proven:
        return f"Proven fewest in each of the {len(parts)} independent part(s)."
    stopped = [", ".join(p["offices"]) for p in parts if not p["hires_proven"]]
    return (f"NOT proven fewest: {len(stopped)} of {len(parts)} part(s) stopped at the time limit of "
            f"{result.time_limit:g} s (offices {'; '.join(stopped[:5])}{' …' if len(stopped) > 5 else ''}); "
            f"at least {result.hires_lower_bound} hire(s) are needed. Allow more time with --time-limit.")


def frontier(frontier, name: str, step: int, paths) -> None:
    table = Table(title=f"{name}: what each move budget buys (fluid targets; forced moves on top)")
    for col in ("budget", "moved cases", "moved hours", "max", "lowest max reachable", "min", "spread"):
        table.add_column(col, justify="right")
    for r in frontier.table.itertuples(index=False):
        table.add_row(str(r.budget), f"{r.moved_cases:.0f}", f"{r.moved_hours:,.1f}", f"{r.max_utilisation:.1%}",
                      f"{r.lowest_max_utilisation:.1%}", f"{r.min_utilisation:.1%}", f"{r.spread:.1%}")
    console.print(table)
    if frontier.step != step:
        console.print(f"(step widened from {step} to {frontier.step} cases to keep the table short)")
    console.print(f"written: {', '.join(str(p) for p in paths)}")
