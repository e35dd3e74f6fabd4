"""Load step: a scenario YAML, its workload model and its tables → one validated `Scenario`.

Every mistake in the input becomes an `InputError` naming the file, the line, the field and what
was expected; no raw exception (YAML, pydantic, pandas, OS) escapes for bad input.

How it is built, and why:
- The small nested parts (workload model, period, policy) are pydantic models (`schema`). YAML is
  parsed to a node tree first (`yaml_reader`), so every key and list item has a line; pydantic's
  error locations are looked up in that map (`validation`).
- Staff, cases and caseload rows may be long (1M cases), so each row rule is one vectorised check
  over a DataFrame (`tables`, `rows`). Inline YAML lists become a DataFrame too and go through the
  same checks, so each rule exists exactly once; only rows with errors or non-empty list cells are
  looped over.

Named variants (the file's `overrides:`/`scenarios:`) and dotted settings (`policy.tolerance`,
`caseload.scale`, …) are resolved here too, by `load_scenario(path, variant=, settings=)` or
`apply_settings(scenario, settings)`, and recorded on the `Scenario` (see `settings`).

Modules: `load` (the entry points and `peek`), `schema` (the models and `Scenario`), `yaml_reader`,
`validation`, `readers` (CSV, XLSX and Parquet files → raw frames), `tables` (rows and column
rules), `rows` (staff, cases, caseload), `settings` (variants and dotted settings), `bounds` (file
sizes, text lengths and number ranges accepted), `messages` (how errors are worded, files read,
errors collected for `validate`).
"""

from balancer.scenario.load import Peek, load_model, load_new_cases, load_scenario, peek
from balancer.scenario.schema import CaseType, Forecast, Moves, Period, Policy, Scenario, TableRef, WorkloadModel
from balancer.scenario.settings import SETTINGS_INPUT, apply_settings

__all__ = ["SETTINGS_INPUT", "CaseType", "Forecast", "Moves", "Peek", "Period", "Policy", "Scenario", "TableRef", "WorkloadModel",
           "apply_settings", "load_model", "load_new_cases", "load_scenario", "peek"]
