"""The names a run reports, declared once: its steps and its metrics.

The CLI's headline table, `summary.json`, the columns of `batch.csv` and the metrics a register
record keeps all read this module, so a metric is named, described and formatted in one place.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    name: str
    """As in `summary.json` `timings` and the `seconds_<name>` columns of `batch.csv`."""
    module: str
    """Where the step lives."""
    what: str
    """One line for the README and for people reading timings."""


STEPS = (
    Step("load", "balancer/scenario/", "YAML and tables → validated scenario (variants and settings applied)"),
    Step("compile", "balancer/problem.py", "cases → classes of interchangeable cases, with everything later steps read"),
    Step("check", "balancer/checks.py", "what makes the scenario impossible, found before any solver runs"),
    Step("select", "balancer/rebalance.py", "rebalancing only: which held cases move"),
    Step("balance", "balancer/balance.py", "the leximin utilisation profile (one convex QP on classes)"),
    Step("limit", "balancer/limits.py", "the best maximum utilisation of whole cases, with its proof"),
    Step("design", "balancer/lottery.py", "the probabilities π(case → prosecutor)"),
    Step("draw", "balancer/lottery.py", "one assignment with exactly those probabilities"),
    Step("plan", "balancer/plan.py", "tables and metrics"),
    Step("write", "balancer/io.py", "output files, each written whole or not at all"),
)
STEP_NAMES = tuple(s.name for s in STEPS)


UNITS = {
    "count": lambda v: f"{v:,}",
    "share": lambda v: f"{v:.1%}",
    "hours": lambda v: f"{v:,.1f} h",
    "probability": lambda v: f"{v:.2f}",
    "nats": lambda v: f"{v:.2f} nats",
    "number": lambda v: f"{v:.3g}",
}
"""How a value of each unit is shown to people (`share`: a utilisation, 1.0 = 100 %)."""


@dataclass(frozen=True)
class Metric:
    name: str
    """Key in `summary.json` `metrics`, a `batch.csv` column when a headline."""
    unit: str
    """One of `UNITS`."""
    label: str
    """What people read: the console, the report and the workbook call it this."""
    headline: bool = False
    """A column of `batch.csv` and kept in the draw register's record."""
    console: bool = False
    """Shown by `balancer run` in plain words; the rest are in the report and summary.json."""
    meaning: str = ""
    """For a statistical figure: one line on what it says, beside it in the report's
    "Randomness" section."""

    def show(self, value) -> str:
        return UNITS[self.unit](value)

    @property
    def randomness(self) -> bool:
        return bool(self.meaning)


METRICS = (
    Metric("n_cases", "count", "cases", headline=True, console=True),
    Metric("n_staff", "count", "prosecutors", headline=True, console=True),
    Metric("n_items", "count", "allocation units (cases and groups)"),
    Metric("n_classes", "count", "classes of interchangeable units"),
    Metric("n_edges", "count", "class × prosecutor pairs"),
    Metric("n_drawn_cases", "count", "cases drawn (rebalancing: new and released)"),
    Metric("max_utilisation", "share", "most loaded (utilisation)", headline=True, console=True),
    Metric("mean_utilisation", "share", "average utilisation", headline=True, console=True),
    Metric("min_utilisation", "share", "least loaded (utilisation)", headline=True, console=True),
    Metric("spread", "share", "spread (most − least loaded)", headline=True, console=True),
    Metric("gini", "number", "Gini of utilisation", headline=True),
    Metric("max_utilisation_before", "share", "most loaded before"),
    Metric("target_max_utilisation", "share", "most loaded in the fairest split", headline=True, console=True),
    Metric("target_min_utilisation", "share", "least loaded in the fairest split"),
    Metric("lp_bound", "share", "best most-loaded, cases split in parts (LP bound)", headline=True),
    Metric("integral_limit", "share", "best most-loaded with whole cases", headline=True, console=True),
    Metric("integral_limit_lower", "share", "best most-loaded with whole cases, proven lower bound"),
    Metric("integral_gap_above_target", "hours", "whole cases' excess over the target (D*)"),
    Metric("max_distance_from_target_hours", "hours", "furthest from target", headline=True, console=True),
    Metric("mean_distance_from_target_hours", "hours", "average distance from target"),
    Metric("max_distance_from_target_utilisation", "share", "furthest from target (utilisation)"),
    Metric("max_probability", "probability", "largest chance of one prosecutor for one case", headline=True,
           meaning="no case went to anyone with a higher chance than this: the most predictable pairing"),
    Metric("mean_max_probability", "probability", "average largest chance per case", headline=True,
           meaning="for a typical case, the chance of its most likely prosecutor"),
    Metric("mean_effective_candidates", "number", "equally likely candidates per case", headline=True, console=True,
           meaning="1/Σπ²: as unpredictable as a fair draw among this many prosecutors, on average"),
    Metric("mean_entropy", "nats", "average entropy per case", headline=True,
           meaning="Shannon entropy of each case's probabilities; ln(N) for a fair draw among N"),
    Metric("support_size", "count", "(case, prosecutor) pairs possible", headline=True,
           meaning="pairs with a chance above zero: every assignment the lottery could have drawn is made of these"),
    Metric("expected_overlap", "share", "chance two draws agree on a case", headline=True,
           meaning="drawing again from the same inputs gives a case the same prosecutor this often"),
    Metric("cases_cap_relaxed_by_eligibility", "count", "cases whose chance cap eligibility relaxes",
           meaning="too few are qualified for the cap on any one prosecutor's chance: 1/qualified is used"),
    Metric("cases_over_cap_by_balance", "count", "cases above the chance cap for balance",
           meaning="the balance band forced a chance above the policy's cap for these"),
    Metric("pooled_items", "count", "conflicted units kept in their class",
           meaning="cases with exclusions drawn within their class, so they stay as unpredictable as the rest"),
)
BY_NAME = {m.name: m for m in METRICS}
HEADLINE = tuple(m.name for m in METRICS if m.headline)


def ordered(metrics: dict) -> dict:
    """`metrics` in the registry's order; raises KeyError for a name the registry does not declare,
    so a new metric cannot reach `summary.json` undeclared."""
    undeclared = [k for k in metrics if k not in BY_NAME]
    if undeclared:
        raise KeyError(f"metrics not declared in balancer.registry.METRICS: {', '.join(undeclared)}")
    return {m.name: metrics[m.name] for m in METRICS if m.name in metrics}


def headline(metrics: dict) -> dict:
    """The headline metrics present in `metrics`, in the registry's order."""
    return {name: metrics[name] for name in HEADLINE if name in metrics}


def plain(metrics: dict) -> dict:
    """What `balancer run` prints (`Metric.console`), in the registry's order."""
    return {m.name: metrics[m.name] for m in METRICS if m.console and m.name in metrics}
