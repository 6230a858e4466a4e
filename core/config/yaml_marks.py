"""YAML text -> plain data plus the line/column of every mapping key and sequence item.

Owned here: the YAML dialect supervisors write and where each value came from.
Rules it keeps:
- Implicit types follow YAML 1.2's core schema, not PyYAML's 1.1 default: only
  `true/false` are booleans (`no` stays the string "no", e.g. Norway's region
  code), only plain decimals are numbers (`+36301234567`, `0630...`, `10:30` and
  `2025-12-25` stay strings, so phone numbers keep their plus and leading zero).
- A duplicate key is an error (PyYAML silently keeps the last one).
- Anchors, aliases and `<<` merge keys work; a recursive alias is an error, and
  so is a document that expands to more than MAX_VALUES values or nests deeper
  than MAX_DEPTH (a "billion laughs" of nested aliases is refused in
  milliseconds instead of filling memory).
- Every problem is collected with its 1-based line and column; nothing raises
  half-way with a partial result.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

Loc = tuple[str | int, ...]

_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_MERGE = "tag:yaml.org,2002:merge"
MAX_FILE_BYTES = 2 * 1024 * 1024  # any config file; the shipped routing.yaml is 10 KiB
MAX_VALUES = 100_000  # values after alias expansion; the shipped routing.yaml has about 600
MAX_DEPTH = 64  # nesting; the rule files need fewer than 10
TOO_MANY_VALUES = f"the document expands to more than {MAX_VALUES} values (nested aliases?)"


class _TooLarge(Exception):
    def __init__(self, node: Node, message: str) -> None:
        super().__init__(message)
        self.node = node


class StrictLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core implicit typing (see the module docstring)."""


StrictLoader.yaml_implicit_resolvers = {}
StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^-?(?:0|[1-9][0-9_]*)$"), list("-0123456789")
)
StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^-?(?:[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?|\.[0-9_]+|[0-9]+[eE][-+]?[0-9]+|\.(?:inf|Inf|INF))$"
    ),
    list("-.0123456789"),
)
StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)
StrictLoader.add_implicit_resolver(_MERGE, re.compile(r"^(?:<<)$"), ["<"])


@dataclass(frozen=True, slots=True)
class Mark:
    """A 1-based position in the source text."""

    line: int
    column: int


@dataclass(frozen=True, slots=True)
class RawIssue:
    """A problem found while reading YAML, before any model sees the data."""

    mark: Mark
    loc: Loc
    message: str


@dataclass
class Parsed:
    """The result of reading one YAML document."""

    data: Any = None
    marks: dict[tuple[str, ...], Mark] = field(default_factory=dict)
    issues: list[RawIssue] = field(default_factory=list)

    def mark_for(self, loc: Loc) -> Mark:
        """The mark of the deepest existing prefix of `loc` (a missing field points at its parent)."""
        key = tuple(str(part) for part in loc)
        while key:
            found = self.marks.get(key)
            if found is not None:
                return found
            key = key[:-1]
        return self.marks.get((), Mark(1, 1))


def _mark(node: Node) -> Mark:
    return Mark(node.start_mark.line + 1, node.start_mark.column + 1)


class _Walker:
    """Builds plain data from a composed node tree, recording marks and issues."""

    def __init__(self, loader: StrictLoader, parsed: Parsed) -> None:
        self.loader = loader
        self.parsed = parsed
        self.active: set[int] = set()
        self.values = 0

    def walk(self, node: Node, loc: Loc) -> Any:
        self.values += 1
        if self.values > MAX_VALUES:
            raise _TooLarge(node, TOO_MANY_VALUES)
        if len(loc) > MAX_DEPTH:
            raise _TooLarge(node, f"nested deeper than {MAX_DEPTH} levels")
        if id(node) in self.active:
            self._issue(node, loc, "recursive alias: a node contains itself")
            return None
        self.active.add(id(node))
        try:
            if isinstance(node, MappingNode):
                return self._mapping(node, loc)
            if isinstance(node, SequenceNode):
                return self._sequence(node, loc)
            return self._scalar(node, loc)
        finally:
            self.active.discard(id(node))

    def _issue(self, node: Node, loc: Loc, message: str) -> None:
        self.parsed.issues.append(RawIssue(_mark(node), loc, message))

    def _scalar(self, node: Node, loc: Loc) -> Any:
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            self._issue(node, loc, f"cannot read value: {getattr(exc, 'problem', None) or exc}")
            return None

    def _sequence(self, node: SequenceNode, loc: Loc) -> list[Any]:
        if node.tag != _SEQ:
            self._issue(node, loc, f"unsupported tag {node.tag!r}")
        items: list[Any] = []
        for index, child in enumerate(node.value):
            self.parsed.marks[_key((*loc, index))] = _mark(child)
            items.append(self.walk(child, (*loc, index)))
        return items

    def _mapping(self, node: MappingNode, loc: Loc) -> dict[Any, Any]:
        if node.tag != _MAP:
            self._issue(node, loc, f"unsupported tag {node.tag!r}")
        self._check_duplicates(node, loc)
        try:
            self.loader.flatten_mapping(node)
        except yaml.YAMLError as exc:
            self._issue(node, loc, f"bad merge key: {getattr(exc, 'problem', None) or exc}")
            return {}
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = self._key_of(key_node, loc)
            if key is _BAD_KEY:
                continue
            self.parsed.marks[_key((*loc, key))] = _mark(key_node)
            result[key] = self.walk(value_node, (*loc, key))
        return result

    def _key_of(self, key_node: Node, loc: Loc) -> Any:
        if not isinstance(key_node, ScalarNode):
            self._issue(key_node, loc, "a key must be a plain value, not a list or mapping")
            return _BAD_KEY
        key = self._scalar(key_node, loc)
        return key if isinstance(key, str | int | float | bool) or key is None else str(key)

    def _check_duplicates(self, node: MappingNode, loc: Loc) -> None:
        seen: dict[Any, Node] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag == _MERGE:
                continue
            try:
                key = self.loader.construct_object(key_node, deep=True)
            except yaml.YAMLError:
                continue  # reported when the key is read
            first = seen.get(key)
            if first is not None:
                line = _mark(first).line
                self._issue(key_node, (*loc, key), f"duplicate key {key!r} (first defined on line {line})")
            else:
                seen[key] = key_node


_BAD_KEY = object()


def _key(loc: Loc) -> tuple[str, ...]:
    return tuple(str(part) for part in loc)


def parse_yaml(text: str) -> Parsed:
    """Read one YAML document; syntax errors become issues with their position."""
    parsed = Parsed()
    try:
        loader = StrictLoader(text)  # refuses control characters at once
    except yaml.YAMLError as exc:
        parsed.issues.append(RawIssue(_reader_mark(exc, text), (), f"YAML error: {_first_line(exc)}"))
        return parsed
    try:
        node = loader.get_single_node()
        if node is not None:
            if _expanded_size(node, {}, set()) > MAX_VALUES:  # counted on the node graph: microseconds
                raise _TooLarge(node, TOO_MANY_VALUES)
            parsed.marks[()] = _mark(node)
            parsed.data = _Walker(loader, parsed).walk(node, ())
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Mark(mark.line + 1, mark.column + 1) if mark else Mark(1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        parsed.issues.append(RawIssue(where, (), f"YAML syntax error: {problem}"))
    except yaml.YAMLError as exc:
        parsed.issues.append(RawIssue(_reader_mark(exc, text), (), f"YAML error: {_first_line(exc)}"))
    except _TooLarge as exc:
        parsed.data = None
        parsed.issues.append(RawIssue(_mark(exc.node), (), str(exc)))
    except RecursionError:
        parsed.issues.append(RawIssue(Mark(1, 1), (), f"nested deeper than {MAX_DEPTH} levels"))
    finally:
        loader.dispose()
    return parsed


def _expanded_size(node: Node, memo: dict[int, int], active: set[int]) -> int:
    """How many values `node` becomes once every alias is expanded (aliases share their node)."""
    known = memo.get(id(node))
    if known is not None:
        return known
    if id(node) in active or len(active) > MAX_DEPTH:
        return 1  # a recursive alias or too deep: the walk reports it
    active.add(id(node))
    size = 1
    if isinstance(node, MappingNode):
        size += sum(_expanded_size(k, memo, active) + _expanded_size(v, memo, active) for k, v in node.value)
    elif isinstance(node, SequenceNode):
        size += sum(_expanded_size(child, memo, active) for child in node.value)
    active.discard(id(node))
    memo[id(node)] = size
    return size


def _reader_mark(exc: yaml.YAMLError, text: str) -> Mark:
    """Where a reader error (a control character, ...) is: PyYAML gives its offset only."""
    position = getattr(exc, "position", None)
    if not isinstance(position, int):
        return Mark(1, 1)
    before = text[:position]
    return Mark(before.count("\n") + 1, position - (before.rfind("\n") + 1) + 1)


def _first_line(exc: yaml.YAMLError) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def size_problem(size: int) -> str | None:
    """The sentence for a config file that is too large to read, or None."""
    if size <= MAX_FILE_BYTES:
        return None
    return f"is {size} bytes, more than the {MAX_FILE_BYTES // (1024 * 1024)} MiB a config file may have"
