"""Stored records round-trip; malformed ones are refused with a clear error; key names."""

from __future__ import annotations

import pytest

from core.errors import ValidationFailedError
from routing.acd.routing_keys import RoutingKeys
from routing.acd.store_records import dump_call, dump_status, load_call, load_status
from routing.agent_events import AgentState
from routing.agents import AgentStatus
from routing.queue import WaitingCall


def test_agent_status_round_trip() -> None:
    status = AgentStatus(
        "1001",
        AgentState.PAUSED,
        since=10.5,
        idle_since=3.0,
        missed_rings=3,
        pause_reason="missed 3 rings",
        history=((1.0, AgentState.READY), (10.5, AgentState.PAUSED)),
    )
    assert load_status(dump_status(status)) == status
    assert load_status(dump_status(status).encode()) == status


def test_waiting_call_round_trip_with_facts() -> None:
    call = WaitingCall(
        "c1", "support", "key", 100, (("tech", 5), ("hungarian", 1)), 20.0, 5.0, frozenset({"1004"})
    )
    facts = {"caller": "+36301234567", "ivr_choice": "1", "case_id": "CASE-1"}
    assert load_call(dump_call(call, facts)) == (call, facts)
    assert load_call(dump_call(call))[1] == {}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("{", "bad waiting call record: not JSON"),
        ("[1]", "bad waiting call record: not a JSON object"),
        ('{"id": "c"}', "bad waiting call record: KeyError('queue')"),
        (
            '{"id":"c","queue":"q","tier":"t","priority":1,"needs":[],"entered_at":1}',
            "bad waiting call record: no needs",
        ),
        (
            '{"id":"c","queue":"q","tier":"t","priority":"x","needs":[["a",1]],"entered_at":1}',
            "bad waiting call record: ValueError",
        ),
    ],
)
def test_malformed_calls(raw: str, message: str) -> None:
    with pytest.raises(ValidationFailedError) as caught:
        load_call(raw)
    assert caught.value.message.startswith(message)
    assert caught.value.details["record"] == raw


def test_malformed_status() -> None:
    with pytest.raises(ValidationFailedError, match="bad agent status record"):
        load_status('{"agent_id": "1", "state": "dancing", "since": 0, "idle_since": 0}')


def test_keys_live_under_one_prefix_and_hash_tag() -> None:
    """One ACD, one slot on a Redis Cluster; a side-by-side ACD with its own tag, another slot."""
    keys = RoutingKeys("t:")
    names = [
        keys.agents,
        keys.agent_profile("1001"),
        keys.agent_status("1001"),
        keys.call("c1"),
        keys.queue("support"),
        keys.queue_pattern,
        keys.rules_active,
    ]
    assert names == [
        "t:{acd}:agents",
        "t:{acd}:agent:1001:profile",
        "t:{acd}:agent:1001:status",
        "t:{acd}:call:c1",
        "t:{acd}:queue:support",
        "t:{acd}:queue:*",
        "t:{acd}:rules:active",
    ]
    assert RoutingKeys().call("x") == "sb:routing:{acd}:call:x"
    assert RoutingKeys("t:", tag="acd-east").call("c1") == "t:{acd-east}:call:c1"
