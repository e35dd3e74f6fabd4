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

Modules: `load` (the entry points), `schema` (the models and `Scenario`), `yaml_reader`,
`validation`, `tables` (readers and column rules), `rows` (staff, cases, caseload), `messages`
(how errors are worded).
"""

from balancer.scenario.load import load_model, load_new_cases, load_scenario
from balancer.scenario.schema import CaseType, Moves, Period, Policy, Scenario, WorkloadModel

__all__ = ["CaseType", "Moves", "Period", "Policy", "Scenario", "WorkloadModel", "load_model", "load_new_cases",
           "load_scenario"]
