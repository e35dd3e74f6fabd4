"""report.html of `balancer staffing`: the answer in sentences, need against staff in post per
office and per specialisation, the sweep (when there is one), and the tables behind them.

Built from the page parts every report shares (`balancer.page`): matplotlib SVG inline, every
text from the inputs escaped."""

from __future__ import annotations

from html import escape

import numpy as np
import pandas as pd

from balancer.page import edges, figure, html_table, legend, page, percent, section, summary
from balancer.staffing.inputs import ALL
from balancer.staffing.plan import StaffingResult

CHART_ROWS = 40
"""A need chart shows at most this many offices or specialisations (those with the largest
formula gap); the table and staffing.csv have them all."""
SHARES = ("max_utilisation_before", "max_utilisation_after")


def staffing_html(result: StaffingResult, sweep: pd.DataFrame | None = None) -> str:
    parts = [summary(sentences(result, sweep))]
    parts += [section(title, body) for title, body in (*_charts(result, sweep), *_tables(result, sweep))]
    findings = "".join(f"<li>{escape(f)}</li>" for f in result.findings)
    parts.append(section("Findings", f"<ul>{findings}</ul>" if findings else "<p>None.</p>"))
    return page(f"{result.scenario}: staffing report", f"Staffing report: {result.scenario}", parts)


# --- the summary ------------------------------------------------------------------------------


def sentences(result: StaffingResult, sweep: pd.DataFrame | None) -> list[str]:
    """The answer a person reads first: hires, the formula's figure, utilisation, proof, sweep."""
    s, target = result.summary(), f"{result.target:.0%}"
    if not result.feasible:
        said = [f"No number of hires keeps everyone at or below {target}: see the findings below."]
    elif s["hires"]:
        said = [f"{s['hires']:,} more prosecutor(s) are needed to keep everyone at or below {target} "
                f"({_profiles(result.hires)}).", _proof(s)]
    else:
        said = [f"The staff in post can keep everyone at or below {target}: no hires are needed."]
    gap = s["formula_gap_fte"]
    said.append(f"The plain formula (workload ÷ hours per FTE) says {abs(gap):.1f} FTE "
                f"{'short' if gap > 0 else 'to spare'}: {s['formula_need_fte']:.1f} FTE of work against "
                f"{s['fte_in_post']:.1f} FTE in post (it fills posts to 100 % and lets anyone take any case).")
    said.append(_utilisation(s))
    if sweep is not None:
        said.append(_sweep_sentence(sweep))
    return said


def _profiles(hires: pd.DataFrame) -> str:
    return "; ".join(f"{r.hires:,} {r.grade}" + (f" in {r.office}" if pd.notna(r.office) else "")
                     + (f" with {r.specialisation}" if r.specialisation != "any" else "")
                     for r in hires.itertuples())


def _proof(s: dict) -> str:
    if s["hires_proven_fewest"]:
        return f"These are proven the fewest (each of the {s['solver']['parts']} independent part(s) solved exactly)."
    return (f"These are NOT proven the fewest (a solve stopped at its time limit): at least "
            f"{s['hires_lower_bound']:,} are needed. Allow more time with --time-limit.")


def _utilisation(s: dict) -> str:
    before = ("some work has nobody who may take it" if s["max_utilisation_before"] is None else
              f"the most loaded prosecutor is at best {s['max_utilisation_before']:.0%}")
    after = "" if s["max_utilisation_after"] is None else f"; after the hires, {s['max_utilisation_after']:.0%}"
    return f"With the staff in post, {before}{after}."


def _sweep_sentence(sweep: pd.DataFrame) -> str:
    values, hires = sweep["value"], pd.to_numeric(sweep["hires"], errors="coerce")
    found = (f"hires go from {hires.iloc[0]:.0f} to {hires.iloc[-1]:.0f}" if hires.notna().all()
             else f"{int(hires.isna().sum())} of the {len(sweep)} values need more than any number of hires")
    return (f"As {axis_title(sweep['parameter'].iat[0])} goes from {values.iloc[0]:g} to "
            f"{values.iloc[-1]:g} ({len(sweep)} values), {found}.")


def axis_title(parameter: str) -> str:
    if parameter == "intake":
        return "intake (× the filings as written)"
    if parameter == "hours_per_fte":
        return "hours per FTE"
    return f"weight of {parameter.split('.', 1)[1]} (hours per case)"


# --- charts -----------------------------------------------------------------------------------


def need_rows(table: pd.DataFrame, dimension: str) -> pd.DataFrame:
    """The rows of one office (specialisation `all`) or one specialisation (office `all`), by name."""
    other = "specialisation" if dimension == "office" else "office"
    rows = table[(table[dimension] != ALL) & (table[other] == ALL)]
    return rows.assign(with_hires=rows["fte_in_post"] + rows["hires"]).set_index(dimension)


def _charts(result: StaffingResult, sweep: pd.DataFrame | None) -> list[tuple[str, str]]:
    charts = []
    for dimension in ("office", "specialisation"):
        rows = need_rows(result.table, dimension)
        if len(rows):
            charts.append((f"Need against staff in post, by {dimension}",
                           _note(rows, dimension) + figure(_need_chart(rows, dimension, result.feasible))))
    if sweep is not None:
        charts.append((f"FTE against {sweep['parameter'].iat[0]}", figure(_sweep_fte_chart(sweep))))
        charts.append((f"Highest utilisation against {sweep['parameter'].iat[0]}",
                       figure(_sweep_utilisation_chart(sweep, result.target))))
    return charts


def _note(rows: pd.DataFrame, dimension: str) -> str:
    if len(rows) <= CHART_ROWS:
        return ""
    return (f'<p class="note">The {CHART_ROWS} of {len(rows):,} with the largest formula gap by {dimension}; '
            "all are in the table below and in staffing.csv.</p>")


def _need_chart(rows: pd.DataFrame, dimension: str, feasible: bool):
    """Per office (or specialisation): FTE in post, the formula's need, and in post + hires."""
    rows = rows.nlargest(CHART_ROWS, "formula_gap_fte").sort_index(ascending=False)  # top to bottom A→Z
    # drawn top down in the legend's order
    series = [("in post", "fte_in_post", "tab:grey"), ("formula need", "formula_need_fte", "tab:blue")]
    series += [("in post + optimiser hires", "with_hires", "tab:red")] if feasible else []
    y, height = np.arange(len(rows)), 0.8 / len(series)

    def draw(plt):
        fig, ax = plt.subplots(figsize=(9, 1.2 + 0.5 * len(rows)))
        for i, (label, column, colour) in enumerate(series):
            ax.barh(y + ((len(series) - 1) / 2 - i) * height, rows[column], height, color=colour, label=label)
        ax.set_yticks(y, [str(g) for g in rows.index])
        ax.set_ylabel(dimension)
        ax.set_xlabel("full-time prosecutors (FTE)")
        ax.grid(alpha=0.3, axis="x")
        legend(ax)
        return fig

    return draw


def _sweep_fte_chart(sweep: pd.DataFrame):
    series = [("formula need", "formula_need_fte", "tab:blue", "o"),
              ("in post + optimiser hires", "optimiser_posts_fte", "tab:red", "s"),
              ("in post", "fte_in_post", "tab:grey", "^")]
    return _sweep_chart(sweep, series, "full-time prosecutors (FTE)")


def _sweep_utilisation_chart(sweep: pd.DataFrame, target: float):
    series = [("with the staff in post", "max_utilisation_before", "tab:grey", "o"),
              ("after the optimiser's hires", "max_utilisation_after", "tab:blue", "s")]
    return _sweep_chart(sweep, series, "best highest utilisation", target)


def _sweep_chart(sweep: pd.DataFrame, series, ylabel: str, target: float | None = None):
    """One line with markers per series against the swept value; `target`: a share axis with the
    target drawn. A value with no answer is a gap in its line."""
    x = sweep["value"].astype(float)

    def draw(plt):
        fig, ax = plt.subplots(figsize=(9, 4))
        for label, column, colour, marker in series:
            ax.plot(x, pd.to_numeric(sweep[column], errors="coerce"), marker=marker, color=colour, label=label)
        if target is not None:
            ax.axhline(target, color="tab:red", linestyle="--", linewidth=1, label=f"target {target:.0%}")
            percent(ax)
        ax.set_xlabel(axis_title(sweep["parameter"].iat[0]))
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        legend(ax)
        return fig

    return draw


# --- tables -----------------------------------------------------------------------------------


def _tables(result: StaffingResult, sweep: pd.DataFrame | None) -> list[tuple[str, str]]:
    tables = [("Per office and specialisation", edges(result.table))]
    if len(result.hires):
        tables.append(("Hires by profile", edges(result.hires)))
    if sweep is not None:
        hires = pd.to_numeric(sweep["hires"]).astype("Int64")  # whole posts, blank where none fit
        tables.append(("Sweep", html_table(sweep.assign(hires=hires), SHARES)))
    return tables
