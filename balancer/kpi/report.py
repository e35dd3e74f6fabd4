"""report.html of `balancer kpi`: the indicators for people, in the run report's style (the page's
parts are `balancer.page`'s): a summary in sentences, charts per month for the service and per
office, the period's totals by office, case type and prosecutor, the warnings and the definitions.
Every text from the register (offices, types, prosecutors) is escaped by `balancer.page`."""

from __future__ import annotations

from html import escape

import numpy as np
import pandas as pd

from balancer.kpi.compute import DEFINITIONS, Indicators
from balancer.page import edges, figure, html_table, legend, page, percent, section, summary

MAX_LINES = 12
"""Offices drawn as lines in one chart: the busiest this many (all are in the tables and kpi.csv)."""
HEADERS = {"fte": "FTE", "clearance_rate": "clearance", "disposition_days_median": "to disposal, median d",
           "disposition_days_p90": "to disposal, p90 d", "pending_age_median_days": "pending age, median d",
           "pending_age_p90_days": "pending age, p90 d", "pending_hours_per_fte": "pending h per FTE",
           "pending_load": "× standard"}
"""Column names as the report shows them (the CSVs keep the names of README's table)."""
SHARES = ("clearance",)


def report_html(found: Indicators) -> str:
    reg = found.register
    parts = [summary(summary_sentences(found))]
    parts += [section(title, body) for title, body in _charts(found)]
    parts += [section(title, body) for title, body in _tables(found)]
    title = f"{reg.model.name}: indicators {found.months[0]} to {found.months[-1]}"
    return page(title, f"Indicators from the case register, {found.months[0]} to {found.months[-1]}", parts)


def summary_sentences(found: Indicators) -> list[str]:
    s = found.totals["service"].iloc[0]
    months, last = found.months, found.months[-1]
    said = [f"{found.cases:,} cases in the register. In the {len(months)} month"
            f"{'s' if len(months) > 1 else ''} from {months[0]} to {last}, {s.filings:,} cases were filed and "
            f"{s.dispositions:,} disposed: a clearance rate of {_pct(s.clearance_rate)}."]
    said.append(f"At the end of {last}, {s.pending:,} cases were pending, aged {_days(s.pending_age_median_days)} "
                f"at the median ({_days(s.pending_age_p90_days)} at the 90th percentile).")
    if s.dispositions:
        said.append(f"Cases disposed in the period took {_days(s.disposition_days_median)} from filing at the "
                    f"median ({_days(s.disposition_days_p90)} at the 90th percentile).")
    if np.isfinite(s.pending_hours_per_fte):
        std = found.table[(found.table["dimension"] == "service")]["standard_hours_per_fte"].iloc[-1]
        said.append(f"The pending cases hold {s.pending_hours_per_fte:,.0f} hours of work per FTE "
                    f"({s.fte:,.1f} FTE): {s.pending_load:,.1f} times the {std:,.0f} case hours one FTE has in "
                    f"{last} by the model {found.register.model.name!r}.")
    if found.register.warnings:
        said.append(f"{len(found.register.warnings)} warning{'s' if len(found.register.warnings) > 1 else ''} "
                    "(see the end).")
    return said


def _pct(x: float) -> str:
    return "none (no filings)" if not np.isfinite(x) else f"{x:.0%}"


def _days(x: float) -> str:
    return "—" if not np.isfinite(x) else f"{x:,.0f} days"


# --- charts -----------------------------------------------------------------------------------


def _charts(found: Indicators) -> list[tuple[str, str]]:
    t = found.table
    service = t[t["dimension"] == "service"].reset_index(drop=True)
    offices = t[t["dimension"] == "office"]
    busiest = (found.totals["office"].sort_values("filings", ascending=False, kind="stable")["group"]
               .head(MAX_LINES).tolist())
    offices = offices[offices["group"].isin(busiest)]
    note = (f'<p class="note">The {MAX_LINES} offices with the most filings; all are in the tables and kpi.csv.</p>'
            if len(found.totals["office"]) > MAX_LINES else "")
    months = found.months
    charts = [
        ("Filings and dispositions per month", figure(_flow_chart(service, months))),
        ("Clearance rate per month", figure(_lines(service, "clearance_rate", months, "clearance rate",
                                                   share=True, reference=1.0))),
        ("Pending cases and their age", figure(_pending_chart(service, months))),
        ("Weighted caseload per FTE against the standard", figure(_per_fte_chart(service, offices, months))
         + '<p class="note">Hours of work (the model\'s weight_hours) in the cases pending at each month\'s end, '
           "per FTE, beside one FTE's case hours in that month (the dashed line). The work filed in the month "
           "per FTE is in kpi.csv (filed_hours_per_fte, filed_load).</p>"),
        ("Filings per month by office", note + figure(_lines(offices, "filings", months, "cases filed"))),
        ("Clearance rate by office", figure(_lines(offices, "clearance_rate", months, "clearance rate",
                                                   share=True, reference=1.0))),
        ("Pending cases by office", figure(_lines(offices, "pending", months, "cases pending at month end"))),
        ("Median age of pending cases by office", figure(_lines(offices, "pending_age_median_days", months,
                                                                "days since filing (median)"))),
    ]
    return charts


def _ticks(ax, months: list[str]) -> None:
    step = max(1, len(months) // 12)
    ax.set_xticks(range(0, len(months), step), months[::step], rotation=45 if len(months) > 6 else 0,
                  ha="right" if len(months) > 6 else "center")


def _flow_chart(service: pd.DataFrame, months: list[str]):
    x = np.arange(len(months))

    def draw(plt):
        fig, ax = plt.subplots(figsize=(9, 3.5))
        ax.bar(x - 0.2, service["filings"], width=0.4, color="tab:blue", label="filings")
        ax.bar(x + 0.2, service["dispositions"], width=0.4, color="tab:green", label="dispositions")
        ax.set_ylabel("cases")
        ax.grid(alpha=0.3, axis="y")
        _ticks(ax, months)
        legend(ax)
        return fig

    return draw


def _lines(table: pd.DataFrame, column: str, months: list[str], label: str, share: bool = False,
           reference: float | None = None):
    """One line per group of `table` (in the order of first appearance)."""
    def draw(plt):
        fig, ax = plt.subplots(figsize=(9, 3.5))
        _group_lines(ax, table, column, months, "all")
        if reference is not None:
            ax.axhline(reference, color="tab:grey", linestyle="--", linewidth=1, label="100 %" if share else None)
        ax.set_ylabel(label)
        if share:
            percent(ax)
        else:
            ax.grid(alpha=0.3)
        _ticks(ax, months)
        legend(ax)
        return fig

    return draw


def _group_lines(ax, table: pd.DataFrame, column: str, months: list[str], all_label: str,
                 widths: tuple[float, float] | None = None) -> None:
    """One line of `column` per group of `table`, in the order of first appearance; the group
    "all" is labelled `all_label` (and drawn `widths[0]` wide, the others `widths[1]`)."""
    for g in dict.fromkeys(table["group"]):
        rows = table[table["group"] == g]
        width = None if widths is None else widths[0] if g == "all" else widths[1]
        ax.plot(pd.Index(months).get_indexer(rows["month"]), rows[column], marker="o", markersize=3,
                linewidth=width, label=all_label if g == "all" else str(g))


def _pending_chart(service: pd.DataFrame, months: list[str]):
    x = np.arange(len(months))

    def draw(plt):
        fig, ax = plt.subplots(figsize=(9, 3.5))
        ax.bar(x, service["pending"], color="tab:orange", alpha=0.6, label="pending at month end")
        ax.set_ylabel("cases pending")
        ax.grid(alpha=0.3, axis="y")
        right = ax.twinx()
        right.plot(x, service["pending_age_median_days"], marker="o", color="tab:purple", label="age: median")
        right.plot(x, service["pending_age_p90_days"], marker="^", color="tab:red", label="age: 90th percentile")
        right.set_ylabel("age of pending cases (days)")
        right.set_ylim(bottom=0)
        _ticks(ax, months)
        handles = ax.get_legend_handles_labels()
        more = right.get_legend_handles_labels()
        ax.legend(handles[0] + more[0], handles[1] + more[1], loc="upper left", bbox_to_anchor=(1.08, 1),
                  fontsize="small")
        return fig

    return draw


def _per_fte_chart(service: pd.DataFrame, offices: pd.DataFrame, months: list[str]):
    both = pd.concat([service, offices[offices["fte"] > 0]])

    def draw(plt):
        fig, ax = plt.subplots(figsize=(9, 3.5))
        _group_lines(ax, both, "pending_hours_per_fte", months, "whole service", widths=(2.5, 1.2))
        ax.plot(np.arange(len(months)), service["standard_hours_per_fte"], color="black", linestyle="--",
                linewidth=1, label="standard: one FTE's case hours in the month")
        ax.set_ylabel("pending hours per FTE")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        _ticks(ax, months)
        legend(ax)
        return fig

    return draw


# --- tables -----------------------------------------------------------------------------------


def _tables(found: Indicators) -> list[tuple[str, str]]:
    def shown(dim: str) -> pd.DataFrame:
        t = found.totals[dim].rename(columns={"group": dim})
        t = t.drop(columns=["fte", "pending_hours_per_fte", "pending_load"]) if dim == "type" else t
        return t.rename(columns=HEADERS)

    period = f'<p class="note">Over {found.months[0]} to {found.months[-1]}: filings and dispositions summed, ' \
             f"time to disposition over every case disposed in the period; pending figures at the end of " \
             f"{found.months[-1]}. Month by month: kpi.csv.</p>"
    tables = [("By office", period + html_table(shown("office"), SHARES)),
              ("By case type", html_table(shown("type"), SHARES)),
              ("By prosecutor", edges(shown("prosecutor"), SHARES))]
    warnings = found.register.warnings
    tables.append(("Warnings", html_table(pd.DataFrame(warnings, columns=["kind", "subject", "message"]))
                   if warnings else "<p>None.</p>"))

    tables.append(("Definitions", html_table(pd.DataFrame(list(DEFINITIONS.items()),
                                                          columns=["indicator", "formula"]))
                   + f'<p class="note">{escape("Month end: its last day. Dates are days; ages in days.")}</p>'))
    return tables
