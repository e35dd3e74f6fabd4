"""YAML with line numbers: the file is parsed to a node tree first, so that every key and list
item has a line, and every message can point at it (pydantic's error locations are looked up in
that map, see `validation`)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from balancer.errors import InputError
from balancer.scenario.bounds import MAX_ALIAS_VALUES, MAX_YAML_BYTES
from balancer.scenario.messages import _A_DATE, _error, _read_bytes, _show

_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_KEY_ON_LINE = re.compile(r"""^\s*(?:-\s+)?["']?([^\s:"'#{}\[\],]+)["']?\s*:""")


class _Lines(dict):
    """1-based line of each path in a YAML document: a key's line, or a list item's first line."""

    def at(self, path: tuple) -> int:
        """Line of `path`, or of its nearest ancestor that has one (a missing key sits in its parent)."""
        while path and path not in self:
            path = path[:-1]
        return self.get(path, 1)


@dataclass
class _Doc:
    """A parsed YAML file: its data, where each key sits, and how messages name it."""

    data: Any
    lines: _Lines
    path: Path
    shown: str
    digest: str


def _read_yaml(path: Path, shown: str, missing: InputError) -> _Doc:
    raw = _read_bytes(path, missing, MAX_YAML_BYTES)
    lines = _Lines()
    try:
        node = yaml.compose(raw, Loader=_YAML_LOADER)
        builder = _Builder(lines, shown)
        data = None if node is None else builder.build(node, ())
    except yaml.YAMLError as exc:
        raise _yaml_syntax_error(exc, shown, raw.decode("utf-8", errors="replace")) from None
    except RecursionError:
        raise _error("the YAML nests too deeply, or its aliases refer to themselves", file=shown,
                     expected="no alias inside its own anchor, and at most a few hundred levels of nesting") from None
    return _Doc(data, lines, path, shown, hashlib.sha256(raw).hexdigest())


class _Builder:
    """Python values of a YAML node tree, recording the line of every key and list item.

    An alias (`*name`) is its anchor's node again, built again for each use so that every path has
    its own lines; the values that adds beyond the file's own are counted and bounded
    (`MAX_ALIAS_VALUES`), so that a few hundred bytes of nested aliases ("billion laughs") are
    refused at once instead of expanding to 10^9 values."""

    def __init__(self, lines: _Lines, shown: str) -> None:
        self.lines, self.shown = lines, shown
        self.constructor = yaml.constructor.SafeConstructor()
        self.seen: set[int] = set()
        self.built = 0

    def build(self, node: yaml.Node, path: tuple) -> Any:
        self._count(node)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            items = []
            for i, item in enumerate(node.value):
                self.lines[path + (i,)] = item.start_mark.line + 1
                items.append(self.build(item, path + (i,)))
            return items
        try:
            return self.constructor.construct_object(node)
        except ValueError as exc:  # e.g. 2025-02-30 has the form of a date but is none
            raise _error(f"{node.value!r} is not valid ({exc})", file=self.shown, line=node.start_mark.line + 1,
                         field=".".join(p for p in path if isinstance(p, str)) or None,
                         expected=f"a real calendar date, {_A_DATE}") from None

    def _count(self, node: yaml.Node) -> None:
        self.built += 1
        self.seen.add(id(node))
        if self.built - len(self.seen) > MAX_ALIAS_VALUES:
            raise _error(f"the YAML's aliases (*name) expand to more than {MAX_ALIAS_VALUES:,} values beyond "
                         "those written in the file", file=self.shown, line=node.start_mark.line + 1,
                         expected="aliases that repeat a few values (a file that multiplies itself through "
                                  "nested aliases is refused)")

    def _mapping(self, node: yaml.MappingNode, path: tuple) -> dict:
        self.constructor.flatten_mapping(node)  # `<<: *anchor` merge keys, as yaml.safe_load does
        out: dict = {}
        for key_node, value_node in node.value:
            key = self.build(key_node, path)
            line = key_node.start_mark.line + 1
            if not isinstance(key, (str, int, float, date)):
                raise _error(f"{_show(key)} cannot be a key", file=self.shown, line=line, expected="a word as key")
            if key in out:
                first = self.lines[path + (key,)]
                raise _error(f"key {key!r} appears twice in one mapping (first on line {first})", file=self.shown,
                             line=line, field=str(key), expected="each key once per mapping")
            self.lines[path + (key,)] = line
            out[key] = self.build(value_node, path + (key,))
        return out


def _yaml_syntax_error(exc: yaml.YAMLError, shown: str, text: str) -> InputError:
    source = text.splitlines()
    mark = getattr(exc, "problem_mark", None)
    context = getattr(exc, "context_mark", None)
    # An unclosed quote or bracket is reported at the end of the file; where it opened helps more.
    if context is not None and (mark is None or mark.line >= len(source) or not source[mark.line].strip()):
        mark = context
    line = mark.line + 1 if mark is not None else None
    key = _KEY_ON_LINE.match(source[line - 1]) if line and line <= len(source) else None
    what = ": ".join(filter(None, [getattr(exc, "context", None), getattr(exc, "problem", None)])) or exc
    return _error(f"this is not valid YAML: {what}", file=shown, line=line,
                  field=key.group(1) if key else None,
                  expected="'key: value' lines indented consistently with spaces, and '- ' before list items "
                           "(quote values that contain ': ' or ' #')")


def _scalar(text: str) -> Any:
    """Text as typed on a command line (`--set policy.tolerance=0.02`), read as a YAML scalar;
    numbers YAML 1.1 reads as text (`1e-3`) are numbers."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, str):
        for number in (int, float):
            try:
                return number(value)
            except ValueError:
                pass
    return value
