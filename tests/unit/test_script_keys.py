"""Lua scripts get every key they can name through KEYS[], built by the feature's key module.

A script may build from a tagged prefix (passed as a KEY) only per-item keys: a lead it pops, the
campaign a task names (docs/redis.md#one-slot-per-script-the-hash-tags). A key made of the prefix
and literals only, or of the prefix and an argument, is one the caller can name: building it in
Lua is a second source of truth for its name, so it fails here.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from dialer.dialer_keys import LeadKeys, TaskKeys
from dialer.leads import scripts as lead_scripts
from dialer.tasks import scripts as task_scripts
from switchboard.webhooks.outbox_keys import PREFIX as OUTBOX_PREFIX
from switchboard.webhooks.outbox_keys import OutboxKeys

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("core", "pbx", "routing", "dialer", "switchboard")

# The tagged prefix a script is passed is its `P` (every script names it so): `P .. 'leads:claimed'`
# (nothing dynamic follows) or `P .. 'tasks:digest:' .. ARGV[5]` is a key the caller can name.
FIXED = re.compile(r"\bP \.\. '[^']*'(?!\s*\.\.)")
FROM_ARGUMENT = re.compile(r"\bP \.\. '[^']*' \.\. ARGV\[")


def lua_scripts() -> dict[str, str]:
    """Every Lua text of the product: module-level strings that call Redis, by module.NAME."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "redis.call(" not in path.read_text(encoding="utf-8"):
                continue
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            module = importlib.import_module(name)
            for attr, value in vars(module).items():
                if isinstance(value, str) and "redis.call(" in value:
                    found[f"{name}.{attr}"] = value
    return found


SCRIPTS = lua_scripts()


def test_the_scripts_are_found() -> None:
    assert {
        "dialer.leads.scripts.CLAIM",
        "dialer.tasks.scripts.CREATE",
        "switchboard.webhooks.outbox._ENQUEUE",
    } <= set(SCRIPTS)


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_no_script_builds_a_key_its_caller_can_name(name: str) -> None:
    lua = SCRIPTS[name]
    built = [m.group(0) for m in FIXED.finditer(lua)] + [m.group(0) for m in FROM_ARGUMENT.finditer(lua)]
    assert not built, f"{name} builds keys its caller should pass in KEYS[]: {built}"


def test_the_rule_sees_a_fixed_key_and_lets_a_discovered_one_pass() -> None:
    assert FIXED.search("redis.call('ZADD', P .. 'leads:claimed', NOW, id)")
    assert FROM_ARGUMENT.search("local marks = P .. 'tasks:digest:' .. ARGV[5]")
    assert not FIXED.search("local function lkey(id) return P .. 'lead:' .. id end")


def test_the_lua_reads_as_many_fixed_keys_as_the_key_modules_pass() -> None:
    def lib_keys(lua: str) -> int:
        found = re.search(r"LIB_KEYS = [^\n]*?(\d+)\n", lua)
        assert found, "LIB_KEYS not declared"
        return int(found.group(1))

    assert lib_keys(lead_scripts.LIB) == len(LeadKeys().script_tail)
    assert lib_keys(task_scripts.LIB) == len(TaskKeys().script_keys)


def test_every_key_a_script_is_passed_carries_its_feature_tag() -> None:
    assert all("{dial}" in key for key in [*LeadKeys().script_tail, *TaskKeys().script_keys])
    assert all("{dial}" in key for key in TaskKeys().outbox_queue("tasks:mail"))
    assert all(key.startswith(OUTBOX_PREFIX) for key in [OutboxKeys().cursor, *OutboxKeys().queue("crm")])
