"""The canonical digest of a scenario: one SHA-256 of everything a draw depends on, and of nothing else.

Re-draw detection must not be fooled by a disguise: a renamed file, a comment, CRLF line endings, a
byte-order mark, reordered rows, another `name:` or the tables copied under other names all leave
the draw as it was, so they leave this digest as it was; any change to what the draw reads changes
it. It is computed from the loaded `Scenario`, after its variant and settings are applied:

- staff: id, capacity in the period (after absences: `staff_capacity`, so `fte` and the
  `capacity_hours` it comes to are the same input), base load, specialisations (a set), grade, office;
- cases: id, type, weight (the case's own, else its type's), group, excluded staff (a set), holder;
- the workload model's case types (id, weight, specialisation, min grade) and its grades (in order:
  the order ranks them);
- the period; the policy except its seed (the seed is recorded next to the digest, not in it).

Not covered: file names and bytes (`Scenario.inputs` keeps those, for people), the scenario's
`name` and `description`, the model's name, sources, descriptions and `hours_per_fte` (which counts
only through the capacities), and `caseload` (staffing questions only).

The canonical text is one JSON object, keys sorted, no whitespace, UTF-8 (not ASCII-escaped),
numbers as floats written by Python's `repr` (the shortest text that reads back exactly; `10` and
`10.0` are one number), rows sorted by id in code-point order, lists of staff ids and
specialisations sorted and without repeats. `format` names this layout: a change to it must change
the name. Rows are assembled column by column (vectorised), so 1M cases take about a second.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any, Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from balancer.scenario.capacity import staff_capacity

if TYPE_CHECKING:
    from balancer.scenario.schema import Scenario

__all__ = ["BATCH_FORMAT", "CANONICAL_FORMAT", "batch_digest", "canonical_digest", "canonical_text", "id_order"]

CANONICAL_FORMAT = "balancer/canonical-inputs/1"
"""The layout of `canonical_text`; part of the text, so another layout gives other digests."""
BATCH_FORMAT = "balancer/canonical-batch/1"
"""The layout `batch_digest` hashes."""

STAFF_COLUMNS = ("id", "capacity_hours", "base_load_hours", "specialisations", "grade", "office")
CASE_COLUMNS = ("id", "type", "weight_hours", "group", "excluded", "assigned_to")

# What json.dumps(ensure_ascii=False) escapes: the quote, the backslash and control characters.
_ESCAPED = r'["\\\x00-\x1f]'


def canonical_digest(scenario: Scenario) -> str:
    """SHA-256 (hex) of `canonical_text(scenario)`."""
    return hashlib.sha256(_canonical_bytes(scenario)).hexdigest()


def canonical_text(scenario: Scenario) -> str:
    """What the draw depends on, as canonical JSON (see the module's docstring)."""
    return _canonical_bytes(scenario).decode("utf-8")


def batch_digest(scenario: Scenario, cases: pd.DataFrame) -> str:
    """SHA-256 of a batch of new, unheld `cases` drawn against `scenario` (daily intake): canonical
    JSON of `{"format", "scenario": its canonical digest, "cases": the batch as canonical rows}`.
    Only the batch's rows are written out, so a day of a long intake costs its own cases."""
    batch = cases.assign(assigned_to=None)
    return hashlib.sha256(_object({
        "format": _dumps(BATCH_FORMAT),
        "scenario": _dumps(scenario.canonical_sha256),
        "cases": _table(CASE_COLUMNS, batch["id"], _case_columns(batch, scenario.model)),
    })).hexdigest()


def id_order(ids: Iterable) -> np.ndarray | None:
    """The permutation that sorts `ids` (unique text) in code-point order; None when they already are.
    The compile step puts staff and cases in this order, so a draw does not depend on row order."""
    order = pc.sort_indices(_arrow(ids)).to_numpy()  # UTF-8 byte order is code-point order
    return None if np.array_equal(order, np.arange(len(order))) else order


def _canonical_bytes(scenario: Scenario) -> bytes:
    model = scenario.model
    period = scenario.period
    policy = scenario.policy.recorded()
    policy.pop("seed", None)
    types = sorted(model.case_types, key=lambda t: t.id)
    return _object({
        "format": _dumps(CANONICAL_FORMAT),
        "case_types": _dumps([[t.id, float(t.weight_hours), t.specialisation, t.min_grade] for t in types]),
        "grades": _dumps(list(model.grades)),
        "period": _dumps({"start": str(period.start), "end": str(period.end)} if period is not None else None),
        "policy": _dumps(_as_floats(policy)),
        "staff": _table(STAFF_COLUMNS, scenario.staff["id"], _staff_columns(scenario)),
        "cases": _table(CASE_COLUMNS, scenario.cases["id"], _case_columns(scenario.cases, model)),
    })


def _staff_columns(scenario: Scenario) -> list[pa.Array]:
    staff = scenario.staff
    return [
        _strings(staff["id"]),
        _numbers(staff_capacity(scenario)),
        _numbers(staff["current_load_hours"].to_numpy(np.float64)),
        _sets(staff["specialisations"]),
        _strings(staff["grade"]),
        _strings(staff["office"]),
    ]


def _case_columns(cases: pd.DataFrame, model: Any) -> list[pa.Array]:
    weight = cases["weight_hours"].to_numpy(np.float64, na_value=np.nan, copy=True)
    unset = np.isnan(weight)
    if unset.any():  # the type's weight
        of_type = np.array([t.weight_hours for t in model.case_types], dtype=np.float64)
        weight[unset] = of_type[pd.Index([t.id for t in model.case_types]).get_indexer(cases["type"][unset])]
    return [
        _strings(cases["id"]),
        _strings(cases["type"]),
        _numbers(weight),
        _strings(cases["group"]),
        _sets(cases["excluded"]),
        _strings(cases["assigned_to"]),
    ]


def _object(parts: dict[str, str | bytes]) -> bytes:
    """A JSON object of already encoded values, keys sorted."""
    return b"{" + b",".join(_dumps(key).encode() + b":" + _bytes(parts[key]) for key in sorted(parts)) + b"}"


def _table(columns: tuple[str, ...], ids: pd.Series, cells: list[pa.Array]) -> bytes:
    """`{"columns":[…],"rows":[[…],…]}` with the rows sorted by `ids`: each row is joined from its
    encoded cells by Arrow, then the rows' bytes are read off the array's data buffer in one piece."""
    if len(ids) == 0:
        return b'{"columns":' + _dumps(list(columns)).encode() + b',"rows":[]}'
    rows = pc.binary_join_element_wise(_lit("["), pc.binary_join_element_wise(*cells, _lit(",")), _lit("],"),
                                       _lit(""))
    order = id_order(ids)
    if order is not None:
        rows = rows.take(pa.array(order))
    rows = pa.concat_arrays([rows])  # a fresh array: its data buffer holds exactly these rows
    offsets = np.frombuffer(rows.buffers()[1], dtype=np.int64)[rows.offset:rows.offset + len(rows) + 1]
    data = rows.buffers()[2].to_pybytes()[offsets[0]:offsets[-1] - 1]  # no comma after the last row
    return b'{"columns":' + _dumps(list(columns)).encode() + b',"rows":[' + data + b"]}"


def _arrow(values: Iterable) -> pa.Array:
    """Text values (None or NaN where missing) as an Arrow large_string array."""
    if not isinstance(values, pd.Series):
        values = np.asarray(values, dtype=object)
    text = pa.array(values, from_pandas=True)  # a str column: no detour through Python objects
    if isinstance(text, pa.ChunkedArray):  # a long column may come in chunks
        text = text.combine_chunks()
    return text.cast(pa.large_string())


def _lit(text: str) -> pa.Scalar:
    return pa.scalar(text, type=pa.large_string())


def _strings(values: pd.Series) -> pa.Array:
    """Each value as a JSON string, `null` where missing."""
    text = _arrow(values)
    quoted = pc.binary_join_element_wise(_lit('"'), text, _lit('"'), _lit(""))
    odd = pc.fill_null(pc.match_substring_regex(text, _ESCAPED), False).to_numpy(zero_copy_only=False)
    if odd.any():  # rare: text with quotes, backslashes or control characters
        fixed = quoted.to_numpy(zero_copy_only=False).astype(object)
        fixed[odd] = [_dumps(v) for v in text.filter(pa.array(odd)).to_pylist()]
        quoted = pa.array(fixed, type=pa.large_string())
    return pc.fill_null(quoted, _lit("null"))


def _numbers(values: np.ndarray) -> pa.Array:
    """Each float as Python's `repr` (as json.dumps writes it); each distinct value is written once."""
    values = np.asarray(values, dtype=np.float64) + 0.0  # -0.0 is 0.0
    if not np.isfinite(values).all():
        raise ValueError("canonical inputs: a number is not finite")
    distinct, index = np.unique(values, return_inverse=True)
    return pa.array([repr(v) for v in distinct.tolist()], type=pa.large_string()).take(pa.array(index.ravel()))


def _sets(values: pd.Series) -> pa.Array:
    """Each tuple of text as a sorted JSON list without repeats; `[]` for an empty one."""
    out = np.full(len(values), "[]", dtype=object)
    cells = values.to_numpy(dtype=object)
    for i in np.flatnonzero(np.fromiter(map(len, cells), np.int64, len(cells))):  # few: conflicts
        out[i] = _dumps(sorted(set(cells[i])))
    return pa.array(out, type=pa.large_string())


def _as_floats(value: Any) -> Any:
    """Every number a float, so that `10` and `10.0` (one policy value) are written alike."""
    if isinstance(value, dict):
        return {k: _as_floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_floats(v) for v in value]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return value


def _bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8")


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
