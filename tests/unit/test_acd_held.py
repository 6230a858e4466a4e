"""Reading held callers from CoreShowChannels (routing/acd/held.py), agent legs, STRFTIME in the sim."""

from __future__ import annotations

import pytest

from pbx.codec import Event
from pbx.sim.dialplan import strftime
from routing.acd.calls import is_agent_leg
from routing.acd.held import HeldCaller, arrival, held_caller, held_callers, parse_duration

NOW = 1_795_333_800.0
VARS = ("CALL_ID", "CASE_ID", "DIALLED", "IVR", "QUEUE", "ARRIVED", "SHARD")


def listed(uniqueid: str = "1795333707.28", **fields: str) -> Event:
    """A CoreShowChannel as Asterisk 22 sends it (shared/ami recording), for a held caller."""
    values = {
        "Channel": "PJSIP/trunk-0000000e",
        "CallerIDNum": "+36301234567",
        "Context": "switchboard-inbound",
        "Exten": "+3612345678",
        "Application": "Wait",
        "Duration": "00:01:33",
        "BridgeId": "",
        "CALL_ID": uniqueid,
        "DIALLED": "+3612345678",
        "IVR": "",
        "QUEUE": "billing",
        "ARRIVED": f"{NOW - 93.4:.3f}",
        "SHARD": "",
        **fields,
    }
    head = [("Event", "CoreShowChannel"), ("ActionID", "csc-1"), ("Channel", values["Channel"])]
    head += [("ChannelState", "6"), ("CallerIDNum", values["CallerIDNum"]), ("Context", values["Context"])]
    head += [("Exten", values["Exten"]), ("Priority", "8"), ("Uniqueid", uniqueid), ("Linkedid", uniqueid)]
    head += [("ChanVariable", f"SWITCHBOARD_{v}={values[v]}") for v in VARS if v in values]
    head += [(k, values[k]) for k in ("Application", "Duration", "BridgeId")]
    return Event("\r\n".join(f"{k}: {v}" for k, v in head), "CoreShowChannel")


def test_a_held_caller_is_read_from_its_listing_with_the_acd_shard_that_takes_it() -> None:
    found = held_caller(listed(SHARD="east"), "switchboard-inbound", NOW)
    assert found == HeldCaller(
        call_id="1795333707.28",
        uniqueid="1795333707.28",
        channel="PJSIP/trunk-0000000e",
        caller="+36301234567",
        dialled="+3612345678",
        queue="billing",
        shard="east",
        arrived_at=pytest.approx(NOW - 93.4),  # type: ignore[arg-type]
        age_s=93.0,
    )


@pytest.mark.parametrize(
    "fields",
    [
        {"Context": "switchboard-outbound"},  # the dialer's customer
        {"BridgeId": "b-1"},  # talking already
        {"Application": "UserEvent"},  # its UserEvent is about to arrive
        {"Application": "Answer"},
        {"CALL_ID": ""},  # before the dialplan set the call id
    ],
)
def test_channels_that_are_not_held_callers_are_left(fields: dict[str, str]) -> None:
    assert held_caller(listed(**fields), "switchboard-inbound", NOW) is None


def test_variables_the_listing_lacks_are_named_and_a_withheld_number_is_empty() -> None:
    event = listed(CallerIDNum="<unknown>")
    raw = "\r\n".join(
        line for line in event.raw.split("\r\n") if not any(v in line for v in ("QUEUE", "ARRIVED", "SHARD"))
    )
    found = held_caller(Event(raw, "CoreShowChannel"), "switchboard-inbound", NOW)
    assert found is not None
    assert (found.caller, found.missing, found.arrived_at) == (
        "",
        ("SWITCHBOARD_QUEUE", "SWITCHBOARD_ARRIVED", "SWITCHBOARD_SHARD"),
        NOW - 93,
    )
    asked = {"QUEUE": "support", "ARRIVED": f"{NOW - 93.5}", "SHARD": "east"}
    told = found.described({f"SWITCHBOARD_{name}": value for name, value in asked.items()}, NOW)
    assert (told.queue, told.arrived_at, told.shard, told.missing) == ("support", NOW - 93.5, "east", ())


def test_a_variable_getvar_did_not_answer_stays_missing_and_an_unanswered_shard_is_unknown() -> None:
    event = listed()
    lines = event.raw.split("\r\n")
    raw = "\r\n".join(line for line in lines if not any(v in line for v in ("QUEUE", "SHARD")))
    found = held_caller(Event(raw, "CoreShowChannel"), "switchboard-inbound", NOW)
    assert found is not None and not found.shard_known
    told = found.described({"SWITCHBOARD_QUEUE": "support"}, NOW)  # the shard's Getvar failed
    assert (told.queue, told.missing, told.shard_known) == ("support", ("SWITCHBOARD_SHARD",), False)
    unset = found.described({"SWITCHBOARD_SHARD": ""}, NOW)  # answered, not set: the default shard
    assert (unset.shard, unset.shard_known) == ("", True)


@pytest.mark.parametrize(
    ("stamp", "age", "expected"),
    [
        (f"{NOW - 10.25}", 10.0, NOW - 10.25),  # agrees with the age: exact to the millisecond
        (f"{NOW - 3600}", 10.0, NOW - 10.0),  # Asterisk's clock an hour off: the age decides
        ("", 10.0, NOW - 10.0),  # no stamp (an older dialplan)
        ("soon", 5.0, NOW - 5.0),
        (f"{NOW + 0.5}", 0.0, NOW),  # never in the future
    ],
)
def test_arrival(stamp: str, age: float, expected: float) -> None:
    assert arrival(stamp, NOW, age) == pytest.approx(expected)


def test_callers_come_in_arrival_order_and_ties_keep_the_creation_order() -> None:
    events = [
        listed("sys-1795333707.10", ARRIVED="", Duration="00:00:07"),
        listed("sys-1795333707.9", ARRIVED="", Duration="00:00:07"),
        listed("sys-1795333700.3", ARRIVED="", Duration="00:00:12"),
    ]
    found = held_callers(events, "switchboard-inbound", NOW)
    assert [c.call_id for c in found] == ["sys-1795333700.3", "sys-1795333707.9", "sys-1795333707.10"]
    assert [c.arrived_at for c in found] == pytest.approx([NOW - 12, NOW - 7, NOW - 7 + 0.001])


@pytest.mark.parametrize(
    ("text", "seconds"), [("00:01:33", 93.0), ("120:00:01", 432001.0), ("", 0.0), ("1:2", 0.0), (None, 0.0)]
)
def test_parse_duration(text: str | None, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("channel", "interface", "is_leg"),
    [
        ("Local/2001@agents-0000001a;1", "Local/2001@agents", True),
        ("Local/2001@agents-0000001a;2", "Local/2001@agents", False),  # runs the agent's dialplan
        ("PJSIP/2001-00000031", "Local/2001@agents", False),  # the phone behind it: inherited the id
        ("Local/2001@agents-0000001a;1", "Local/2001@agents/n", True),  # options are not in the name
        ("PJSIP/2001-00000031", "PJSIP/2001", True),
        ("PJSIP/20011-00000031", "PJSIP/2001", False),
        ("PJSIP/trunk-00000002", "PJSIP/2001", False),  # the caller
    ],
)
def test_the_agent_leg_is_recognised_exactly(channel: str, interface: str, is_leg: bool) -> None:
    assert is_agent_leg(channel, interface) is is_leg


def test_the_simulators_strftime_has_asterisks_fractions() -> None:
    assert strftime(",,%s.%3q", 1795333707.1239) == "1795333707.123"
    assert strftime("1795333707.5,,%s.%1q", 0.0) == "1795333707.5"
    assert strftime("0,UTC,%Y-%m-%d %H:%M:%S", NOW) == "1970-01-01 00:00:00"
