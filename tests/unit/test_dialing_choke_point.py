"""Nothing dials a customer around the gate: only dialer/calls/dialing.py originates to customer dial strings.

Walks the AST of every module of our packages (and scripts/, bench/) and fails with file:line for
- an Originate (a call of `.originate(...)`, or the action name "Originate") outside
  dialer/calls/dialing.py and the modules that ring AGENTS (the ACD's executor: it owns every agent;
  the benchmark's null engine);
- a campaign dial string read (`.dial_string`) or rendered (`dial_target`) outside
  dialer/calls/dialing.py and its definition in dialer/campaigns/rules.py;
- an agent-ringing module that touches a campaign's dial string or the number of a lead.
The pbx package is the AMI boundary itself (it defines Originate; its simulator answers it).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("routing", "dialer", "switchboard", "scripts", "bench")
CHOKE_POINT = "dialer/calls/dialing.py"
DEFINES_TEMPLATE = "dialer/campaigns/rules.py"
# bench/null_engine.py rings agents only: figure 4's stand-in engine without Redis, measuring the
# simulated PBX's own capacity.
AGENT_LEGS = ("routing/acd/executor.py", "bench/null_engine.py")
CUSTOMER_ONLY = ("dial_string", "dial_target", "phones", "candidates")


def modules() -> Iterator[tuple[str, ast.AST]]:
    for package in SCANNED:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            yield relative, ast.parse(path.read_text(encoding="utf-8"), filename=relative)


def _is_originate(node: ast.AST) -> bool:
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return node.func.attr == "originate"
    is_text = isinstance(node, ast.Constant) and isinstance(node.value, str)
    return is_text and str(node.value).lower() == "originate"  # type: ignore[attr-defined]


def originates(tree: ast.AST) -> list[int]:
    return [node.lineno for node in ast.walk(tree) if _is_originate(node)]  # type: ignore[attr-defined]


def touches(tree: ast.AST, names: tuple[str, ...]) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in names:
            found.append((node.lineno, node.attr))
        elif isinstance(node, ast.Name) and node.id in names:
            found.append((node.lineno, node.id))
    return found


def test_only_the_choke_point_and_agent_legs_originate() -> None:
    problems = [
        f"{module}:{line}: Originate outside {CHOKE_POINT}: customer dials must go through Dialer.place_call"
        for module, tree in modules()
        if module != CHOKE_POINT and module not in AGENT_LEGS
        for line in originates(tree)
    ]
    assert not problems, "\n".join(problems)


def test_only_the_choke_point_renders_a_customer_dial_string() -> None:
    problems = [
        f"{module}:{line}: {name} used outside {CHOKE_POINT}"
        for module, tree in modules()
        if module not in (CHOKE_POINT, DEFINES_TEMPLATE)
        for line, name in touches(tree, ("dial_string", "dial_target"))
    ]
    assert not problems, "\n".join(problems)


def test_agent_leg_modules_never_see_a_customer_number() -> None:
    trees = dict(modules())
    problems = [
        f"{module}:{line}: an agent-ringing module uses {name}"
        for module in AGENT_LEGS
        if module in trees
        for line, name in touches(trees[module], CUSTOMER_ONLY)
    ]
    assert not problems, "\n".join(problems)


def test_the_choke_point_does_originate() -> None:
    trees = dict(modules())
    assert originates(trees[CHOKE_POINT]), "the scan would pass vacuously"


def test_the_scan_sees_a_violation() -> None:
    source = 'async def f(ami, c):\n    await ami.send("Originate", {"Channel": c.dial_string})\n'
    tree = ast.parse(source)
    assert originates(tree) == [2]
    assert touches(tree, ("dial_string",)) == [(2, "dial_string")]
