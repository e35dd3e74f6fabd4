"""`balancer kpi`: indicators per month from a case-management register export (issue 18).

    load (`load`: the register, the staff table and the workload model) → compute (`compute`:
    filings, dispositions, clearance, pending cases and their age, time to disposition, weighted
    caseload per FTE against the model's standard; per service, office, prosecutor and case type)
    → write (`outputs`: kpi.csv, totals.csv, warnings.csv, summary.json; `report`: report.html).

In Python:

    from balancer.kpi import KpiOptions, compute, load_register, parse_period
    start, end = parse_period("2025-07:2026-06")
    options = KpiOptions(start=start, end=end)
    found = compute(load_register("cases.csv", "model.yaml", "staff.csv", options), options)
    found.table  # one row per dimension, group and month
"""

from balancer.kpi.compute import COLUMNS, DIMENSIONS, TOTAL_COLUMNS, Indicators, compute, group_quantiles
from balancer.kpi.load import CASE_COLUMNS, Register, load_register
from balancer.kpi.outputs import summary, write_kpi
from balancer.kpi.schema import KpiOptions, parse_period

__all__ = ["CASE_COLUMNS", "COLUMNS", "DIMENSIONS", "TOTAL_COLUMNS", "Indicators", "KpiOptions", "Register",
           "compute", "group_quantiles", "load_register", "parse_period", "summary", "write_kpi"]
