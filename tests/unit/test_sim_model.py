"""Channel registry, dialplan helpers and CLI output of the simulator."""

from __future__ import annotations

import random
import re

import pytest

from pbx.sim.channels import ChannelRegistry, linkedid_key
from pbx.sim.cli import run_cli
from pbx.sim.clock import ManualClock
from pbx.sim.config import SimConfig
from pbx.sim.core import PbxCore, variable_name
from pbx.sim.dialplan import exten_pattern, parse_step, read_variable


def test_unique_ids_and_names_follow_asterisk() -> None:
    registry = ChannelRegistry(ManualClock(start=1795333657.6))
    one, two = registry.new_local_pair("100", "sim-customer-answer")
    assert (one.name, two.name) == (
        "Local/100@sim-customer-answer-00000000;1",
        "Local/100@sim-customer-answer-00000000;2",
    )
    assert (one.uniqueid, two.uniqueid, two.linkedid) == ("1795333657.0", "1795333657.1", "1795333657.0")
    assert (one.state_desc, two.state_desc) == ("Down", "Ring")
    assert one.partner is two and two.base_name == "Local/100@sim-customer-answer-00000000"
    trunk = registry.new_single("PJSIP", "trunk", state=4, context="from-trunk", exten="s")
    agent = registry.new_single("PJSIP", "1001", state=0, context="from-agents", exten="s")
    assert (trunk.name, agent.name) == ("PJSIP/trunk-00000000", "PJSIP/1001-00000001")
    third, _ = registry.new_local_pair("1", "agents")
    assert third.name == "Local/1@agents-00000001;1" and third.uniqueid == "1795333657.4"


def test_lookup_by_name_uniqueid_prefix_and_regex() -> None:
    registry = ChannelRegistry(ManualClock())
    one, two = registry.new_local_pair("300", "customers")
    assert registry.get(one.name) is one
    assert registry.get(two.uniqueid) is two
    assert registry.get(one.name.upper()) is one
    assert registry.get("Local/nope") is None
    assert registry.get_by_prefix("Local/300@cust") is one
    assert registry.matching(re.compile(r";2$")) == [two]
    registry.remove(one)
    assert list(registry) == [two] and len(registry) == 1


def test_linkedid_age_order() -> None:
    assert sorted(["1795333707.30", "1795333707.28", "mine-1", "1795333706.99"], key=linkedid_key) == [
        "1795333706.99",
        "1795333707.28",
        "1795333707.30",
        "mine-1",
    ]


@pytest.mark.parametrize(
    ("pattern", "exten", "matches"),
    [
        ("_[+0-9].", "+3612345678", True),
        ("_[+0-9].", "+", False),
        ("_[+0-9].", "s", False),
        ("_X.", "123", True),
        ("_NXX", "212", True),
        ("_NXX", "112", False),
        ("_Z!", "1", True),
        ("_!", "", True),
        ("s", "s", True),
        ("s", "S", True),
        ("s", "ss", False),
    ],
)
def test_extension_patterns(pattern: str, exten: str, matches: bool) -> None:
    assert bool(exten_pattern(pattern).match(exten)) is matches


def test_parse_step() -> None:
    assert parse_step("Answer()") == ("Answer", "")
    assert parse_step("UserEvent(X,A: b)") == ("UserEvent", "X,A: b")
    assert parse_step("Hangup") == ("Hangup", "")
    with pytest.raises(ValueError, match="not a dialplan step"):
        parse_step("(broken")


def test_variables_and_functions() -> None:
    core = PbxCore(SimConfig(), ManualClock(), random.Random(0), lambda headers: None)
    one, _ = core.channels.new_local_pair("42", "customers")
    core.set_var(one, "__INHERITED", "yes")
    core.globals["SHARED"] = "g"
    assert variable_name("__X") == "X" and variable_name("_X") == "X" and variable_name("X") == "X"
    assert read_variable(one, "INHERITED", core.globals) == "yes"
    assert read_variable(one, "CHANNEL(context)", core.globals) == "customers"
    assert read_variable(one, "CALLERID(num)", core.globals) == ""
    assert read_variable(one, "SHARED", core.globals) == "g"
    assert read_variable(None, "SHARED", core.globals) == "g"
    assert (
        core.dialplan.substitute(one, "${EXTEN}@${CONTEXT}:${UNIQUEID}:${MISSING}")
        == f"42@customers:{one.uniqueid}:"
    )


def test_cli_commands() -> None:
    core = PbxCore(SimConfig(), ManualClock(), random.Random(0), lambda headers: None)
    core.channels.new_local_pair("42", "customers")
    ok, lines = run_cli(core, "core  show   channels")
    assert ok and lines[0].startswith("Channel ") and "Location" in lines[0]
    assert lines[1].startswith("Local/42@customers-00000000;1")
    assert lines[-3:] == ["2 active channels", "1 active call", "0 calls processed"]
    ok, lines = run_cli(core, "core show version")
    assert ok and lines[0].startswith("Asterisk 22.10.1 built by")
    ok, lines = run_cli(core, "core show uptime")
    assert ok and lines[0].startswith("System uptime")
    ok, lines = run_cli(core, "sip show peers")
    assert not ok and lines == [
        "No such command 'sip show peers' (type 'core show help sip show peers' for other possible commands)"
    ]
