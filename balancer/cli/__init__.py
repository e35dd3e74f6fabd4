"""Command line: a thin layer over the library, one module per command family. Exit codes are
decided here, in one table (`balancer.cli.app.EXIT_CODES`): 0 done, 1 infeasible or a check that
does not hold, 2 invalid input (file:line, field, expectation), 3 any other failure."""

# Each module adds its commands; `--help` lists them in this order.
from balancer.cli import run, intake, batch, staffing, measure, kpi, register, explain, serve  # noqa: F401, I001
from balancer.cli.app import EXIT_CODES, app

__all__ = ["EXIT_CODES", "app"]
