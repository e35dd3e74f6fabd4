"""pydantic's `ValidationError` → `InputError`: the error nearest the top of the file, its line from
the YAML line map, and what was expected in words a scenario author understands."""

from __future__ import annotations

from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from balancer.errors import InputError
from balancer.scenario.bounds import MAX_ID_CHARS, MAX_TEXT_CHARS
from balancer.scenario.messages import _A_DATE, _error, _listing, _report, _show, _suggest
from balancer.scenario.yaml_reader import _Doc, _Lines

_A_MAPPING = "a mapping ('key: value' lines or {key: value})"
_EXPECTED = {
    "string_type": "text (put values that YAML reads as numbers, dates or yes/no in quotes)",
    "list_type": "a list ('- item' lines or [a, b])",
    "dict_type": _A_MAPPING,
    "model_type": _A_MAPPING,
    "model_attributes_type": _A_MAPPING,
    "date_type": _A_DATE,
    "date_parsing": _A_DATE,
    "date_from_datetime_parsing": _A_DATE,
    "date_from_datetime_inexact": f"{_A_DATE} (without a time)",
    "string_too_long": (f"a shorter text: ids and names of at most {MAX_ID_CHARS} characters, free texts of "
                        f"at most {MAX_TEXT_CHARS:,}"),
}
_NUMBER_ERRORS = {"float_type", "float_parsing", "finite_number", "greater_than", "greater_than_equal",
                  "less_than", "less_than_equal", "int_type", "int_parsing", "int_from_float"}


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside an annotation like `list[CaseType] | None`, if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return next((m for m in map(_inner_model, get_args(annotation)) if m is not None), None)


def _field_at(cls: type[BaseModel], loc: tuple) -> tuple[Any, type[BaseModel] | None]:
    """(FieldInfo of the last field named in `loc`, the model holding the fields below it)."""
    info, model = None, cls
    for part in loc:
        if isinstance(part, int):
            continue
        fields = {(f.alias or name): f for name, f in model.model_fields.items()} if model else {}
        if part not in fields:
            return None, None
        info = fields[part]
        model = _inner_model(info.annotation)
    return info, model


def _bounds(limits: list[dict]) -> str:
    """' >= 1 and <= 12': the limits (each a mapping that may hold gt, ge, lt, le) in words."""
    parts = [f"{sign} {limit[attr]:,.10g}" for limit in limits
             for attr, sign in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<="))
             if limit.get(attr) is not None]
    return (" " + " and ".join(parts)) if parts else ""


def _field_limits(info: Any) -> list[dict]:
    """A field's bounds (its `Field(ge=…, le=…)` metadata) as `_bounds` reads them."""
    return [{attr: getattr(meta, attr, None) for attr in ("gt", "ge", "lt", "le")}
            for meta in getattr(info, "metadata", [])]


def _describe(err: dict, cls: type[BaseModel], loc: tuple) -> tuple[str, str | None]:
    """(problem, expected) in words a scenario author understands."""
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind == "extra_forbidden":
        _, model = _field_at(cls, loc[:-1])
        allowed = [f.alias or name for name, f in (model or cls).model_fields.items()]
        problem = f"unknown field {loc[-1]!r}{_suggest(loc[-1], allowed)}"
        return problem, f"only the fields {_listing(allowed)}"
    if kind == "missing":
        return f"the required field {loc[-1]!r} is missing", f"a value for {loc[-1]!r}"
    if "expected" in ctx and kind != "literal_error":  # our own errors (`_at`) say it all
        return err["msg"], ctx["expected"]
    problem = err["msg"]
    if "input" in err and not isinstance(err["input"], (dict, list)):
        problem += f" (got {_show(err['input'])})"
    if kind in _NUMBER_ERRORS:
        noun = "a whole number" if kind.startswith("int") else "a number"
        # a field's own bounds, or (in a mapping's keys and values, which no field names) the error's
        return problem, noun + (_bounds(_field_limits(_field_at(cls, loc)[0])) or _bounds([ctx]))
    if kind == "literal_error":
        return problem, f"one of {ctx.get('expected')}"
    if kind == "too_short":
        return problem, "at least one entry" if isinstance(err.get("input"), list) else "non-empty text"
    return problem, _EXPECTED.get(kind)


def _errors(exc: ValidationError, cls: type[BaseModel], shown: str, lines: _Lines,
            prefix: tuple = ()) -> list[InputError]:
    """Every error of `exc`, nearest the top of the file first: that is where people start fixing.
    On one line an unknown key comes before the "missing" it causes (`form:` written for `from:`)."""
    located = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"]) + tuple((err.get("ctx") or {}).get("at", ()))
        located.append((lines.at(prefix + loc), err["type"] == "missing", loc, err))
    out = []
    for line, _, loc, err in sorted(located, key=lambda item: item[:2]):
        problem, expected = _describe(err, cls, loc)
        field = ".".join(str(p) for p in prefix + loc if isinstance(p, str)) or None
        out.append(_error(problem, file=shown, line=line, field=field, expected=expected))
    return out


def _translate(exc: ValidationError, cls: type[BaseModel], shown: str, lines: _Lines,
               prefix: tuple = ()) -> InputError:
    """The error of `exc` nearest the top of the file."""
    return _errors(exc, cls, shown, lines, prefix)[0]


def _validate(cls: type[BaseModel], data: Any, doc: _Doc, prefix: tuple = ()) -> Any:
    """`data` (found at `prefix` in the document) as a `cls`; every error is reported (`validate`
    collects them all), and the last one ends the load, which cannot go on without the object."""
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        *first, last = _errors(exc, cls, doc.shown, doc.lines, prefix)
        for error in first:
            _report(error)
        raise last from None
