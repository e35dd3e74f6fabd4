"""What every HTML report shares (`report.html` of `run`, `staffing` and `batch`): one page that
opens anywhere without a network, matplotlib charts inlined as SVG, tables, and every text from the
inputs escaped (an id may be `<script>` or a formula). matplotlib is imported only when a chart is
drawn."""

from __future__ import annotations

import io
from html import escape

import numpy as np
import pandas as pd

EDGE_ROWS = 50
"""A table longer than twice this shows its first and last this many rows (all are in the CSVs)."""

STYLE = """
body{font-family:system-ui,sans-serif;max-width:70em;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}
p.summary{font-size:1.1em;line-height:1.5}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em}
th,td{border:1px solid #ccc;padding:.2em .5em;text-align:left}td.n{text-align:right}
th{background:#f2f2f2}figure{margin:1em 0}figure svg{max-width:100%;height:auto}
.note{color:#555;font-size:.9em}
section{overflow-x:auto}/* a wide table scrolls by itself, not the whole page */
"""


def page(title: str, heading: str, parts: list[str]) -> str:
    """The whole document: `title` for the tab, `heading` for the page (both escaped here),
    `parts` already HTML."""
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,">'
            f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
            f"<body><h1>{escape(heading)}</h1>{''.join(parts)}</body></html>\n")


def section(title: str, body: str) -> str:
    return f"<section><h2>{escape(title)}</h2>{body}</section>"


def summary(sentences: list[str]) -> str:
    return f'<p class="summary">{escape(" ".join(sentences))}</p>'


# --- charts -----------------------------------------------------------------------------------


def pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt

    return plt


def figure(draw) -> str:
    """`draw` (a function making a figure) as inline SVG: text kept as text (smaller, searchable),
    ids never read as math (`$` in an office name), no XML prolog (not allowed inside HTML)."""
    plt = pyplot()
    with plt.rc_context({"svg.fonttype": "none", "text.parse_math": False, "svg.hashsalt": "report"}):
        fig = draw(plt)
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", bbox_inches="tight")
        plt.close(fig)
    svg = buffer.getvalue()
    return f"<figure>{svg[svg.index('<svg'):]}</figure>"


def percent(ax, axis="y"):
    from matplotlib.ticker import PercentFormatter

    getattr(ax, f"{axis}axis").set_major_formatter(PercentFormatter(1.0))
    ax.grid(alpha=0.3)


def legend(ax):
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small")  # beside, never over the data


# --- tables -----------------------------------------------------------------------------------


def edges(table: pd.DataFrame, shares=()) -> str:
    """All of `table`, or its first and last `EDGE_ROWS` rows and a note."""
    if len(table) <= 2 * EDGE_ROWS:
        return html_table(table, shares)
    note = (f'<p class="note">The first and last {EDGE_ROWS} of {len(table):,} rows; all are in the '
            "output tables.</p>")
    return note + html_table(pd.concat([table.head(EDGE_ROWS), table.tail(EDGE_ROWS)]), shares)


def html_table(table: pd.DataFrame, shares=()) -> str:
    """`table` as HTML; the columns named in `shares` (utilisations, 1.0 = 100 %) as percentages."""
    head = "".join(f"<th>{escape(str(c))}</th>" for c in table.columns)
    share = [c in shares for c in table.columns]
    body = "".join("<tr>" + "".join(_share(v) if s else _cell(v) for v, s in zip(row, share)) + "</tr>"
                   for row in table.itertuples(index=False, name=None))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _missing(value) -> bool:
    return value is None or value is pd.NA or (isinstance(value, (float, np.floating)) and np.isnan(value))


def _unsigned_zero(text: str) -> str:
    """A number as shown, without the sign of a zero: a gap of −10⁻¹² reads 0.0 %, not −0.0 %."""
    return text[1:] if text.startswith("-") and not any(c in "123456789" for c in text) else text


def _cell(value) -> str:
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return f'<td class="n">{value:,}</td>'
    if isinstance(value, (float, np.floating)):
        return f'<td class="n">{"" if np.isnan(value) else _unsigned_zero(f"{value:,.1f}")}</td>'
    return f"<td>{'' if _missing(value) else escape(str(value))}</td>"


def _share(value) -> str:
    return f'<td class="n">{"" if _missing(value) else _unsigned_zero(f"{float(value):.1%}")}</td>'
