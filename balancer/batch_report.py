"""report.html of `balancer batch`, beside batch.csv: how many runs ended how, one chart per
headline metric that differs across the variants (the grid), and the table.

Built from the page parts every report shares (`balancer.page`): matplotlib SVG inline, every
text from the inputs escaped (a variant's name is whatever a grid value or a file said)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from balancer.errors import Outcome
from balancer.page import edges, figure, html_table, legend, page, percent, section, summary
from balancer.registry import BY_NAME

LABELS = {"balance_moves": "cases moved for balance",
          "forced_moves": "cases moved because the holder may not keep them",
          "formula_need_fte": "formula need (FTE)", "formula_gap_fte": "formula gap (FTE)",
          "hires": "optimiser hires"}
"""Charted columns the metric registry does not name (rebalancing and staffing rows)."""
COUNTS = ("balance_moves", "forced_moves", "hires")
"""Those of them that are whole numbers."""
MAX_TICKS = 25
"""More variants than this: every k-th is named on the axis (the table names them all)."""
MAX_NAME = 40
"""Longer variant names are cut on the axis (the table has them whole)."""


ENDINGS = tuple(o.value for o in (Outcome.DONE, Outcome.INFEASIBLE, Outcome.INVALID, Outcome.FAILED))
"""How a batch row may end (its `status`), in the order the summary counts them."""


def batch_html(table: pd.DataFrame, columns: tuple[str, ...]) -> str:
    """The report of a batch's table (batch.csv's rows and columns); `columns`: the headline
    metrics it may chart (`balancer.batch.REPORTED`)."""
    metrics = charted(table, columns)
    numbers = table.assign(**{m: _numbers(table[m], m) for m in metrics})
    parts = [summary(sentences(numbers, metrics)), *_charts(numbers, metrics), *_tables(numbers, metrics)]
    return page("batch report", f"Batch report: {len(table):,} runs", parts)


def _charts(numbers: pd.DataFrame, metrics: list[str]) -> list[str]:
    """A chart per metric that differs between runs; one table of those that do not (a bar chart
    of one value says nothing, and each drawing costs a tenth of a second)."""
    varying = [m for m in metrics if numbers[m].dropna().nunique() > 1]
    parts = [section(label(m), figure(_metric_chart(numbers, m))) for m in varying]
    same = [(label(m), show(m, numbers[m].dropna().iloc[0])) for m in metrics if m not in varying]
    if same:
        parts.append(section("The same in every run that has them",
                             html_table(pd.DataFrame(same, columns=["metric", "value"]))))
    return parts


def _tables(numbers: pd.DataFrame, metrics: list[str]) -> list[str]:
    shown = ["scenario", "variant", "status", "reused", *metrics]
    parts = [section("Runs", edges(numbers[shown], [m for m in metrics if _share(m)]))]
    failed = numbers[numbers["status"] != Outcome.DONE.value]
    if len(failed):
        parts.append(section("Runs not done, and why", edges(failed[["scenario", "variant", "status", "error"]])))
    return parts


def charted(table: pd.DataFrame, columns: tuple[str, ...]) -> list[str]:
    """Of `columns`, those some row has a number in (allocation, rebalancing or staffing)."""
    return [c for c in columns if pd.to_numeric(table[c], errors="coerce").notna().any()]


def _numbers(column: pd.Series, metric: str) -> pd.Series:
    """The column as numbers: counts as whole numbers (batch.csv's columns hold any object)."""
    values = pd.to_numeric(column, errors="coerce")
    whole = BY_NAME[metric].unit == "count" if metric in BY_NAME else metric in COUNTS
    return values.round().astype("Int64") if whole else values.astype(float)


def label(metric: str) -> str:
    return BY_NAME[metric].label if metric in BY_NAME else LABELS.get(metric, metric)


def show(metric: str, value) -> str:
    return BY_NAME[metric].show(value) if metric in BY_NAME else f"{value:,.4g}"


def _share(metric: str) -> bool:
    return metric in BY_NAME and BY_NAME[metric].unit == "share"


# --- the summary ------------------------------------------------------------------------------


def sentences(table: pd.DataFrame, metrics: list[str]) -> list[str]:
    counts = table["status"].value_counts()
    variants = table["variant"].fillna("").replace("", np.nan).nunique()
    said = [f"{len(table):,} runs: {table['scenario'].nunique():,} scenario(s)"
            + (f" × {variants:,} variant(s)" if variants else "") + "; "
            + ", ".join(f"{counts.get(s, 0):,} {s}" for s in ENDINGS) + "."]
    reused = int(table["reused"].map(bool).sum())
    if reused:
        said.append(f"{reused:,} were up to date from an earlier batch and not solved again.")
    said += [_range(table, m) for m in ("max_utilisation", "hires") if m in metrics]
    said.append("Batch runs are not recorded in the draw register.")
    return said


def _range(table: pd.DataFrame, metric: str) -> str:
    """Where a metric is lowest and highest across the runs that have it."""
    values = table[metric].dropna()
    lo, hi = values.idxmin(), values.idxmax()
    if values[lo] == values[hi]:
        return f"The {label(metric)} is {show(metric, values[lo])} in every run that has it."
    return (f"The {label(metric)} ranges from {show(metric, values[lo])} ({_name(table.loc[lo])}) to "
            f"{show(metric, values[hi])} ({_name(table.loc[hi])}).")


def _name(row: pd.Series) -> str:
    variant = row["variant"] if isinstance(row["variant"], str) else ""
    return f"{row['scenario']} [{variant}]" if variant else row["scenario"]


# --- charts -----------------------------------------------------------------------------------


def _grid(table: pd.DataFrame, metric: str) -> pd.DataFrame:
    """The metric with the variants as rows and the scenarios as columns (with no variants: the
    scenarios as rows, one column), in the batch's order."""
    variant = table["variant"].fillna("").astype(str)
    by = variant if (variant != "").any() else table["scenario"].astype(str)
    series = table["scenario"].astype(str) if (variant != "").any() else pd.Series("", index=table.index)
    frame = pd.DataFrame({"x": by, "series": series, "value": table[metric].astype(float)})  # NA → NaN: no bar
    grid = frame.pivot_table(index="x", columns="series", values="value", aggfunc="first", dropna=False)
    return grid.reindex(index=pd.unique(by), columns=pd.unique(series))


def _metric_chart(table: pd.DataFrame, metric: str):
    """One bar per variant (a group of bars, one per scenario, when several share the variants)."""
    grid = _grid(table, metric)
    x, width = np.arange(len(grid)), 0.8 / max(1, grid.shape[1])
    step = -(-len(grid) // MAX_TICKS)  # ceiling: at most MAX_TICKS names on the axis

    def draw(plt):
        fig, ax = plt.subplots(figsize=(9, 3))
        for i, scenario in enumerate(grid.columns):
            ax.bar(x + (i - (grid.shape[1] - 1) / 2) * width, grid[scenario], width, label=scenario or None)
        crowded = len(x[::step]) > 10  # upright names would overlap
        ax.set_xticks(x[::step], [_cut(str(v)) for v in grid.index[::step]], rotation=90 if crowded else 30,
                      ha="center" if crowded else "right")
        ax.set_xlabel("variant" if grid.columns[0] else "scenario")
        ax.set_ylabel(label(metric))
        if _share(metric):
            percent(ax)
        else:
            ax.grid(alpha=0.3)
        ax.set_axisbelow(True)  # gridlines behind the bars
        if grid.shape[1] > 1:
            legend(ax)
        return fig

    return draw


def _cut(name: str) -> str:
    return name if len(name) <= MAX_NAME else name[:MAX_NAME - 1] + "…"
