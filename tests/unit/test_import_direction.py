"""Imports point one way: core <- pbx <- routing <- dialer <- switchboard.

Walks the AST of every module (including imports inside functions and under
TYPE_CHECKING, which still couple the code) and fails listing file:line for
each import of a package further right in the chain.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ORDER = ("core", "pbx", "routing", "dialer", "switchboard")


def imported_modules(tree: ast.AST, module: str) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import: resolve against the importing module's package
                base = module.split(".")[: -node.level]
                found.append((node.lineno, ".".join([*base, node.module or ""]).rstrip(".")))
            elif node.module:
                found.append((node.lineno, node.module))
    return found


def violations(package: str) -> list[str]:
    rank = ORDER.index(package)
    forbidden = set(ORDER[rank + 1 :])
    problems = []
    for path in sorted((ROOT / package).rglob("*.py")):
        relative = path.relative_to(ROOT)
        module = ".".join(relative.with_suffix("").parts)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(relative))
        for line, name in imported_modules(tree, module):
            top = name.split(".")[0]
            if top in forbidden:
                problems.append(f"{relative}:{line}: {package} must not import {name} ({top} is above it)")
    return problems


@pytest.mark.parametrize("package", ORDER)
def test_no_package_imports_one_to_its_right(package: str) -> None:
    problems = violations(package)
    chain = " <- ".join(ORDER)
    assert not problems, f"imports must point {chain}:\n" + "\n".join(problems)


def test_the_check_sees_a_violation() -> None:
    source = "import os\nfrom switchboard.settings import Settings\ndef f():\n    import dialer.x\n"
    names = [name for _, name in imported_modules(ast.parse(source), "pbx.client")]
    assert names == ["os", "switchboard.settings", "dialer.x"]
    relative = imported_modules(ast.parse("from ..routing import rules\n"), "dialer.sub.mod")
    assert relative == [(1, "dialer.routing")]
