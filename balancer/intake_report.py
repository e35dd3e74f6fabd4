"""report.html of a daily intake: the days in one page, for the people who answer for them.

A plain summary first (cases, days, where the loads ended against the balance of every case so
far drawn at once, the register records), then charts — the highest utilisation day by day
against that balance, the cases a day, and every prosecutor's load before the intake and after its
last day — and the tables behind them. The charts and tables are drawn by `balancer.report`'s
helpers: one look for every report.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from balancer.intake import Intake
from balancer.pipeline import Status
from balancer.page import edges, figure, legend, page, percent, section, summary
from balancer.report import SHARES, _findings_table, _utilisation_chart


def intake_report_html(intake: Intake) -> str:
    sc = intake.scenario
    days = intake.days_table()
    parts = [summary(intake_sentences(intake, days))]
    drawn = days[days["status"] == Status.DONE.value]
    if len(drawn):
        parts.append(section("Highest utilisation, day by day", figure(_days_chart(drawn))))
        parts.append(section("New cases a day", figure(_cases_chart(drawn))))
    staff = intake.staff()
    if staff is not None:
        staff = staff[staff["capacity_hours"] > 0].assign(
            before=lambda s: s["base_load_hours"] / s["capacity_hours"])
        parts.append(section("Utilisation per prosecutor after the last day", figure(_utilisation_chart(staff))))
        shown = ["staff_id", "capacity_hours", "base_load_hours", "assigned_hours", "before", "utilisation", "cases"]
        parts.append(section("Prosecutors, most loaded first",
                              edges(staff.sort_values("utilisation", ascending=False)[shown], SHARES)))
    parts.append(section("Days", edges(days.drop(columns=["record_hash"]), SHARES)))
    last = intake.days[-1].findings if intake.days else []
    parts.append(section("Findings of the last day", _findings_table(last)))
    return page(f"{sc.name}: intake report", f"Daily intake report: {sc.name}", parts)


def intake_sentences(intake: Intake, days: pd.DataFrame) -> list[str]:
    """What happened over the days, in sentences a person reads first."""
    if not intake.days:
        return ["No new cases arrived: nothing was drawn."]
    done = days[days["status"] == Status.DONE.value]
    dated = [str(d) for d in days["date"] if d is not None and d == d]
    span = f" from {dated[0]} to {dated[-1]}" if dated else ""
    said = [f"{int(days['cases'].sum()):,} new cases arrived on {len(days):,} day(s){span}; "
            f"{int(done['drawn'].sum()):,} cases were drawn in all (the new ones, and any held case "
            "whose holder could no longer keep it)."]
    if len(done):
        last = done.iloc[-1]
        said.append(f"After the last day drawn the most loaded prosecutor is at {last['max_utilisation']:.0%} of "
                    f"capacity; had every case so far been allocated at once, the most loaded would be at "
                    f"{last['leximin_so_far']:.0%}.")
        records = done["record"].dropna()
        if len(records):
            said.append(f"Each day was recorded in the register (records {int(records.min())}–{int(records.max())}).")
    if intake.status is not Status.DONE:
        said.append(f"The day {intake.days[-1].date} could not be drawn: see its findings below; the days "
                    "before it stand.")
    return said


def _day_axis(days: pd.DataFrame) -> pd.Series:
    """The days as dates, or numbered 1, 2, … where some batch had no date."""
    x = pd.to_datetime(days["date"], errors="coerce")
    return x if x.notna().all() else pd.Series(np.arange(1, len(days) + 1))


def _days_chart(days: pd.DataFrame):
    x = _day_axis(days)

    def draw(plt):
        fig, ax = plt.subplots(figsize=(9, 3.5))
        ax.plot(x, days["max_utilisation"], marker="o", markersize=3, label="after the day's draw")
        ax.plot(x, days["leximin_so_far"], color="tab:red", linestyle="--",
                label="every case so far, allocated at once")
        ax.set_xlabel("day")
        ax.set_ylabel("highest utilisation")
        ax.set_ylim(bottom=0)  # from zero: a flat series must not look like a wave of rounding noise
        fig.autofmt_xdate()
        percent(ax)
        legend(ax)
        return fig

    return draw


def _cases_chart(days: pd.DataFrame):
    x = _day_axis(days)

    def draw(plt):
        fig, ax = plt.subplots(figsize=(9, 2.5))
        ax.bar(x, days["cases"], color="tab:green")
        ax.set_xlabel("day")
        ax.set_ylabel("new cases")
        ax.grid(alpha=0.3, axis="y")
        fig.autofmt_xdate()
        return fig

    return draw
