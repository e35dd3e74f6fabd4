"""report.html: a run's outcome for people, in one file that opens anywhere without a network.

A plain-language summary first, then charts (matplotlib SVG, inline) and the tables behind them
(the page's parts, shared with the staffing and batch reports, are in `balancer.page`). Every text
from the inputs (ids, offices, messages) is escaped: an id may be `<script>` or a
formula. Big runs are summarised, never listed whole (the top and bottom prosecutors, per-type
aggregates), so writing the report stays small next to the run.
"""

from __future__ import annotations

from html import escape

import numpy as np
import pandas as pd

from balancer.indicators import indicators, why_by_type
from balancer.page import edges, figure, html_table, legend, page, percent, section, summary
from balancer.pipeline import Result, Status
from balancer.plan import item_rows
from balancer.registry import BY_NAME, ordered

SEED_SOURCES = {
    "os": "seed from the operating system's random source (nobody knew it before the draw)",
    "commitment": "seed derived from secrets committed before the draw",
    "public": "seed derived from a public value named before the draw",
    "operator": "seed given by a person",
}


def report_html(result: Result, register: dict | None = None, groups: dict | None = None) -> str:
    """The whole report; `register`: where the draw was recorded (`Recorded.to_dict()`); `groups`:
    the run's `indicators`, when the caller has them already."""
    sc = result.scenario
    parts = [f'<p class="note">{escape(sc.description)}</p>'] if sc.description else []
    parts.append(summary(summary_sentences(result, register)))
    if result.status is Status.DONE:
        staff = _staff(result)
        groups = groups if groups is not None else indicators(result)
        parts += [section(title, body) for title, body in (*_charts(result, staff, groups),
                                                           *_tables(result, staff, groups))]
    parts.append(section("Findings", _findings(result)))
    return page(f"{sc.name}: allocation report", f"Allocation report: {sc.name}", parts)


# --- the summary ------------------------------------------------------------------------------


def summary_sentences(result: Result, register: dict | None) -> list[str]:
    """What happened, in sentences a person reads first."""
    if result.status is not Status.DONE:
        return ["No plan was drawn: the checks found the scenario impossible (see the findings below)."]
    m, available = result.metrics, int((result.plan.staff["capacity_hours"] > 0).sum())
    said = [f"{m['n_cases']:,} cases to {available:,} prosecutors with time in the period; "
            f"the most loaded is at {m['max_utilisation']:.0%} of capacity, the least at "
            f"{m['min_utilisation']:.0%} (the balance aimed at {m['target_max_utilisation']:.0%} "
            f"at most and {m['target_min_utilisation']:.0%} at least)."]
    if result.rebalance is not None:
        r = result.rebalance
        said.append(f"Of {r['held_cases']:,} cases already held, {r['moved_cases']:,} changed hands "
                    f"({r['balance_moves']:,} for balance, {r['forced_moves']:,} because the holder may no "
                    f"longer keep them); {r['new_cases']:,} new cases were drawn.")
    said.append(_breaches_sentence(*breaches(result)))
    if "mean_effective_candidates" in m:
        said.append(f"Each case drawn had on average {m['mean_effective_candidates']:.1f} equally likely "
                    "candidates: the draw was as hard to predict as a fair pick among that many prosecutors.")
    said.append(_recorded_sentence(result, register))
    return said


def breaches(result: Result) -> tuple[int, int]:
    """Cases given to someone they exclude, and to someone not qualified for their type: counted
    from the plan itself, not assumed from how it was drawn."""
    p, a = result.problem, result.plan.assignments
    order = pd.Index(a["case_id"].to_numpy(dtype=object)).get_indexer(p.case_ids)
    to = a["staff_id"].to_numpy(dtype=object)[order]
    staff = pd.Index(p.staff_ids).get_indexer(to)
    unqualified = ~p.type_eligible[pd.Index(p.type_ids).get_indexer(p.case_type), staff]
    excluded = sum(to[i] in p.case_excluded[i] for i in np.flatnonzero([len(e) > 0 for e in p.case_excluded]))
    return int(excluded), int(unqualified.sum())


def _breaches_sentence(excluded: int, unqualified: int) -> str:
    if not excluded and not unqualified:
        return ("No case went to someone excluded from it, and every case went to a prosecutor "
                "qualified for its type.")
    return (f"{excluded:,} cases went to someone excluded from them and {unqualified:,} to someone not "
            "qualified for their type: this should not happen; please report it.")


def _recorded_sentence(result: Result, register: dict | None) -> str:
    source = SEED_SOURCES.get(result.seed_source.value, result.seed_source.value)
    if register is None:
        return f"This draw was not recorded in a register; {source}."
    redraw = (f" It re-draws inputs drawn before (records {', '.join(map(str, register['redraw_of']))}), "
              f"for this reason: {register['reason']}." if register.get("redraw_of") else "")
    return f"The draw is recorded as record {register['id']} in the register; {source}.{redraw}"


# --- data behind the charts and tables --------------------------------------------------------


def _staff(result: Result) -> pd.DataFrame:
    """The staff table of those with time in the period, with `before` (utilisation before this
    draw: held cases when rebalancing, else the base load) and office and specialisations."""
    staff = result.plan.staff
    staff = staff[staff["capacity_hours"] > 0].copy()
    staff["before"] = (staff["utilisation_before"] if "utilisation_before" in staff
                       else staff["base_load_hours"] / staff["capacity_hours"])
    people = result.scenario.staff.set_index("id")
    for column in ("office", "specialisations"):
        staff[column] = people[column].reindex(staff["staff_id"].to_numpy(dtype=object)).to_numpy()
    return staff


def candidates(result: Result) -> tuple[np.ndarray, np.ndarray]:
    """Effective candidates (1/Σπ²) of each drawn unit (a case or a group), with weights: the
    distribution whose mean is `mean_effective_candidates`."""
    collision, weight = item_rows(result.pool, result.design)["collision"]
    keep = (weight > 0) & (collision > 0)
    return 1.0 / collision[keep], weight[keep]


# --- charts -----------------------------------------------------------------------------------


def _charts(result: Result, staff: pd.DataFrame, groups: dict[str, pd.DataFrame]) -> list[tuple[str, str]]:
    charts = [("Utilisation per prosecutor", figure(_utilisation_chart(staff)))]
    for dimension, table in groups.items():
        if dimension != "type":
            charts.append((f"Utilisation by {dimension}", figure(_group_chart(table, dimension))))
    if result.design is not None and len(result.pool.item_class):
        charts.append(("Candidates per case", figure(_candidates_chart(*candidates(result)))))
    if result.moves is not None and len(result.moves):
        charts.append(("Moves by reason", figure(_moves_chart(result.moves))))
    return charts


def _utilisation_chart(staff: pd.DataFrame):
    """Prosecutors sorted by utilisation after the draw: before, after and the target. Markers for
    a small office; lines for a big one (thousands of markers would bloat the file)."""
    s = staff.sort_values(["utilisation", "target_utilisation"], kind="stable")
    x = np.arange(len(s))
    style = {"marker": "o", "linestyle": "none", "markersize": 4} if len(s) <= 150 else {"linewidth": 1}

    def draw(plt):
        fig, ax = plt.subplots(figsize=(9, 4))
        ax.plot(x, s["before"], color="tab:grey", alpha=0.6, label="before this draw", **style)
        ax.plot(x, s["utilisation"], color="tab:blue", label="after this draw", **style)
        ax.plot(x, s["target_utilisation"], color="tab:red", drawstyle="steps-mid", linewidth=1,
                label="target (leximin balance)")
        ax.set_xlabel("prosecutors, from least to most loaded after the draw")
        ax.set_ylabel("utilisation (load / capacity)")
        percent(ax)
        legend(ax)
        return fig

    return draw


def _group_chart(table: pd.DataFrame, dimension: str):
    """One row per group: the range after the draw (min–max bar, mean dot), the mean before, and
    the mean target."""
    y = np.arange(len(table))

    def draw(plt):
        fig, ax = plt.subplots(figsize=(9, 1 + 0.4 * len(table)))
        ax.hlines(y, table["utilisation_min"], table["utilisation_max"], color="tab:blue", linewidth=6, alpha=0.35,
                  label="after: lowest to highest")
        ax.plot(table["utilisation_mean"], y, "o", color="tab:blue", label="after: mean")
        ax.plot(table["before_mean"], y, "o", mfc="none", color="tab:grey", label="before: mean")
        ax.plot(table["target_mean"], y, "|", color="tab:red", markersize=14, label="target: mean")
        ax.set_yticks(y, [str(g) for g in table[dimension]])
        ax.set_ylabel(dimension)
        ax.set_xlabel("utilisation")
        percent(ax, "x")
        legend(ax)
        return fig

    return draw


def _candidates_chart(values: np.ndarray, weights: np.ndarray):
    def draw(plt):
        fig, ax = plt.subplots(figsize=(9, 3.5))
        ax.hist(values, bins=min(40, max(5, len(np.unique(np.round(values, 1))))), weights=weights,
                color="tab:green")
        mean = float(weights @ values / weights.sum())
        ax.axvline(mean, color="black", linestyle="--", label=f"mean {mean:.1f}")
        ax.set_xlabel("effective candidates per case or group (1/Σπ²)")
        ax.set_ylabel("cases and groups drawn")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
        return fig

    return draw


def _moves_chart(moves: pd.DataFrame):
    counts = moves["reason"].value_counts().sort_index()

    def draw(plt):
        fig, ax = plt.subplots(figsize=(9, 1 + 0.5 * len(counts)))
        ax.barh([str(r) for r in counts.index], counts.to_numpy(), color="tab:orange")
        ax.set_xlabel("cases moved")
        ax.grid(alpha=0.3, axis="x")
        return fig

    return draw


# --- tables -----------------------------------------------------------------------------------


def _tables(result: Result, staff: pd.DataFrame, groups: dict[str, pd.DataFrame]) -> list[tuple[str, str]]:
    shown = ["staff_id", *(["office"] if staff["office"].notna().any() else []), "capacity_hours", "base_load_hours", "load_hours", "before",
             "utilisation", "target_utilisation", "cases"]
    tables = [
        ("Balance figures", _metrics_table(result.metrics, randomness=False)),
        ("Randomness", _metrics_table(result.metrics, randomness=True)),
        ("Prosecutors, most loaded first", edges(staff.sort_values("utilisation", ascending=False)[shown], SHARES)),
        *((f"By {'case type' if dimension == 'type' else dimension}", html_table(table, SHARES))
          for dimension, table in groups.items()),
    ]
    tables.append(("Why cases went where they did", WHY_NOTE + html_table(why_by_type(result))))
    if result.moves is not None:
        reasons = result.moves.groupby("reason").agg(cases=("case_id", "size"), hours=("hours", "sum"))
        tables += [("Moves by reason", html_table(reasons.reset_index())),
                   ("Moves", edges(result.moves))]
    return tables


WHY_NOTE = ('<p class="note">Each case went by lottery to one of the prosecutors who may take it, with the '
            "chances in the assignments table (<code>probability</code>). Per case type: how many may take it, "
            "the largest chance anyone had of one of its cases, and why the others may not. A conflict of "
            "interest or a group is the case's own: <code>balancer explain CASE --run DIR --inputs "
            "SCENARIO</code> lists, for any one case, every prosecutor's chance and why each other had none.</p>")


def _metrics_table(metrics: dict, randomness: bool) -> str:
    """The run's figures about balance, or about randomness — each of those with one line on
    what it says (`Metric.meaning`)."""
    shown = [BY_NAME[name] for name in ordered(metrics) if BY_NAME[name].randomness == randomness]
    rows = [(m.label, m.show(metrics[m.name]), *([m.meaning] if randomness else [])) for m in shown]
    columns = ["figure", "value", *(["what it means"] if randomness else [])]
    return html_table(pd.DataFrame(rows, columns=columns))


SHARES = ("before", "utilisation", "target_utilisation", "before_mean", "utilisation_min", "utilisation_mean",
          "utilisation_max", "spread", "target_mean", "max_utilisation", "target_max_utilisation",
          "leximin_so_far", "gap_to_leximin")
"""Utilisation columns, shown as percentages."""


def _findings(result: Result) -> str:
    return _findings_table(result.findings)


def _findings_table(findings: list) -> str:
    if not findings:
        return "<p>None.</p>"
    rows = [(f.severity.value, f.code, f.message) for f in findings]
    return html_table(pd.DataFrame(rows, columns=["severity", "code", "message"]))
