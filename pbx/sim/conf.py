"""extensions.conf text -> the simulator's dialplan, and Asterisk's `$[...]` expressions. Pure.

Owned here: reading the dialplan an admin includes (`[context]`, `exten => X,1,App(data)`,
` same => n(label),App(data)`, `;` comments) so the simulator runs the very text Switchboard
generates (`switchboard asterisk-dialplan`) instead of a copy; and the small part of Asterisk's
expression language such a dialplan uses: `=`, `!=`, `<`, `>`, `<=`, `>=`, `+`, `-` on quoted or
bare operands (numbers compare as numbers), `&` and `|`, true being anything but "" and "0".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_CONTEXT = re.compile(r"^\[([^\]]+)\]")
_EXTEN = re.compile(r"^(exten|same)\s*=>\s*(.*)$")
_PRIORITY = re.compile(r"^(\d+|n)(?:\(([^)]*)\))?$")


@dataclass
class Extension:
    """One extension of a context: its steps in priority order and its labels (label -> priority)."""

    pattern: str
    steps: list[str] = field(default_factory=list)
    labels: dict[str, int] = field(default_factory=dict)


def parse_conf(text: str) -> list[tuple[str, Extension]]:
    """(context, extension) in file order; raises ValueError naming the line of a line it cannot read."""
    found: list[tuple[str, Extension]] = []
    context: str | None = None
    current: Extension | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = _strip_comment(raw).strip()
        if not line:
            continue
        header = _CONTEXT.match(line)
        if header:
            context, current = header.group(1).strip(), None
            continue
        entry = _EXTEN.match(line)
        if entry is None or context is None:
            raise ValueError(f"line {number}: not a dialplan line: {raw!r}")
        kind, rest = entry.groups()
        if kind == "exten":
            pattern, _, rest = rest.partition(",")
            current = Extension(pattern.strip())
            found.append((context, current))
        if current is None:
            raise ValueError(f"line {number}: `same` without an extension before it")
        priority, _, step = rest.partition(",")
        parsed = _PRIORITY.match(priority.strip())
        if parsed is None or not step.strip():
            raise ValueError(f"line {number}: cannot read the priority and application: {raw!r}")
        if parsed.group(2):
            current.labels[parsed.group(2)] = len(current.steps) + 1
        current.steps.append(step.strip())
    return found


def _strip_comment(line: str) -> str:
    r"""Text before an unescaped `;` (`\;` is a literal semicolon)."""
    out = []
    index = 0
    while index < len(line):
        char = line[index]
        if char == "\\" and index + 1 < len(line):
            out.append(line[index + 1])
            index += 2
            continue
        if char == ";":
            break
        out.append(char)
        index += 1
    return "".join(out)


# -- expressions ------------------------------------------------------------------------------
_TOKEN = re.compile(r'\s*("[^"]*"|<=|>=|!=|[=<>+\-&|()]|[^\s=<>!+\-&|()"]+)')
_LEVELS: tuple[tuple[str, ...], ...] = (("|",), ("&",), ("=", "!=", "<", ">", "<=", ">="), ("+", "-"))


def evaluate(expression: str) -> str:
    """The value of `$[expression]` (after ${} substitution), as Asterisk writes it back."""
    tokens = [t for t in _TOKEN.findall(expression) if t]
    value, rest = _parse(tokens, 0)
    if rest:
        raise ValueError(f"cannot evaluate $[{expression}]")
    return value


def _parse(tokens: list[str], level: int) -> tuple[str, list[str]]:
    if level == len(_LEVELS):
        return _operand(tokens)
    left, tokens = _parse(tokens, level + 1)
    while tokens and tokens[0] in _LEVELS[level]:
        operator = tokens[0]
        right, tokens = _parse(tokens[1:], level + 1)
        left = _apply(operator, left, right)
    return left, tokens


def _operand(tokens: list[str]) -> tuple[str, list[str]]:
    if not tokens:
        return "", tokens
    first = tokens[0]
    if first == "(":
        value, rest = _parse(tokens[1:], 0)
        return value, rest[1:] if rest and rest[0] == ")" else rest
    if first.startswith('"') and first.endswith('"'):
        return first[1:-1], tokens[1:]
    return first, tokens[1:]


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _apply(operator: str, left: str, right: str) -> str:
    if operator == "|":
        return left if _true(left) else right
    if operator == "&":
        return left if _true(left) and _true(right) else "0"
    a, b = _number(left), _number(right)
    if operator in "+-":
        if a is None or b is None:
            raise ValueError(f"not numbers: {left!r} {operator} {right!r}")
        total = a + b if operator == "+" else a - b
        return str(int(total)) if total.is_integer() else str(total)
    pair: tuple[float, float] | tuple[str, str] = (a, b) if a is not None and b is not None else (left, right)
    compare = {
        "=": pair[0] == pair[1],
        "!=": pair[0] != pair[1],
        "<": pair[0] < pair[1],  # type: ignore[operator]
        ">": pair[0] > pair[1],  # type: ignore[operator]
        "<=": pair[0] <= pair[1],  # type: ignore[operator]
        ">=": pair[0] >= pair[1],  # type: ignore[operator]
    }
    return "1" if compare[operator] else "0"


def _true(value: str) -> bool:
    return value not in ("", "0")


def substitute_expressions(text: str) -> str:
    """Every innermost `$[...]` replaced by its value, until none is left."""
    for _ in range(100):
        start = text.rfind("$[")
        if start < 0:
            return text
        end = text.find("]", start)
        if end < 0:
            return text
        text = text[:start] + evaluate(text[start + 2 : end]) + text[end + 1 :]
    return text
