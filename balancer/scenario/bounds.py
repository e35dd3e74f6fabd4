"""What the loader accepts: sizes of files, lengths of texts and ranges of numbers, declared once so
that the schema, the row rules and the README ("Limits of what is read") say the same.

The ranges are those of a prosecution office, with room to spare: they refuse values no office
has (a case of 10^308 hours, a capacity of 10^-300 hours) before they reach a solver, whose
answer to them would be a numerical failure that names no field.
"""

from __future__ import annotations

MAX_YAML_BYTES = 64 * 2**20
"""A scenario or workload model YAML file (an inline list of 100,000 cases is about 4 MB)."""
MAX_TABLE_BYTES = 2**30
"""A .csv, .xlsx or .parquet table (1M cases in CSV are about 30 MB)."""
MAX_UNPACKED_BYTES = 4 * 2**30
"""An .xlsx workbook is a zip archive: the sum of its members' unpacked sizes (a zip bomb is
refused before it is unpacked)."""
MAX_ALIAS_VALUES = 100_000
"""Values YAML aliases (`*name`) may add to a file beyond those written in it: anchors for shared
absences or `<<:` defaults add a few, a "billion laughs" file adds 10^9."""
MAX_ERRORS = 20
"""Errors `validate` reports in one pass (then it says there may be more)."""

MAX_ID_CHARS = 200
"""Ids and other one-word texts: ids, case types, groups, grades, specialisations, offices, names."""
MAX_TEXT_CHARS = 10_000
"""Free texts: descriptions, sources."""

# Ranges of numbers, both ends included (hours are hours of prosecutor work).
WEIGHT_HOURS = (1e-3, 1e5)
"""Hours one case takes: from 3.6 seconds to about 60 years of full-time work."""
CAPACITY_HOURS = (1e-3, 1e6)
"""Hours a prosecutor has in the period (0 is allowed too: no time)."""
FTE = (1e-3, 10.0)
"""Full-time equivalents of one prosecutor (0 is allowed too: someone who left)."""
LOAD_HOURS = (0.0, 1e6)
"""Hours already committed (`current_load_hours`)."""
HOURS_PER_FTE = (1.0, 8784.0)
"""Case-related hours one full-time prosecutor works per year (8784: every hour of a leap year)."""
TOLERANCE = (0.0, 10.0)
"""Utilisation points the draw may deviate from the leximin profile (10: a thousand points)."""
FILINGS = (0.0, 1e8)
"""Expected filings of one case type (staffing)."""
MAX_MOVES = 10**9
"""policy.moves.max: cases that may move."""
MOVE_HOURS = (0.0, 1e12)
"""policy.moves.max_hours."""
MOVE_PRICE = (0.0, 10.0)
"""policy.moves.price, in utilisation points per hour moved."""
CASELOAD_SCALE = (0.0, 1e3)
"""The `caseload.scale` setting."""
MAX_SEED = 2**64 - 1
"""Seeds are 64-bit, like the ones drawn from the OS."""
MAX_PERIOD_DAYS = 36_525
"""A period's days, both ends included: 100 years."""
SEASON_FACTOR = (0.0, 1e3)
"""A type's filings in a month relative to its usual month (`policy.forecast.seasons`)."""


def span(bounds: tuple[float, float]) -> str:
    """'between 0.001 and 100,000': how messages and the README state a range."""
    lo, hi = bounds
    return f"between {lo:,.10g} and {hi:,.10g}"
