"""Originate against the simulated PBX over TCP, compared with the Asterisk 22 recordings."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable

import pytest

from pbx.codec import AmiDecoder, Event
from pbx.sim import EventOrder, SimConfig, SimulatedPbx
from pbx.sim.rawclient import RawAmiClient
from tests.support.recordings import load_steps

pytestmark = pytest.mark.integration

# Events Asterisk sends that the simulator may send fewer of (or none); the
# SimCustomer UserEvent comes from the recording's own test dialplan.
NOISE = {"VarSet", "Newexten", "DeviceStateChange", "Cdr"}
Signature = tuple[str, str, str, str, str, str]


def _half(event: Event) -> str:
    channel = event.get("Channel") or event.get("DestChannel") or event.get("LocalOneChannel") or ""
    return channel[-2:] if channel[-2:] in (";1", ";2") else ""


def signature(events: Iterable[Event], base: str, action_id: str) -> list[Signature]:
    """(event, half, Cause, Reason, DialStatus, ChannelStateDesc) of one call's events."""
    found: list[Signature] = []
    for event in events:
        channel = event.get("Channel") or event.get("DestChannel") or event.get("LocalOneChannel") or ""
        ours = channel.startswith(base) or event.get("ActionID") == action_id
        if not ours or event.name in NOISE or event.get("UserEvent") == "SimCustomer":
            continue
        fields = (event.get(key) or "" for key in ("Cause", "Reason", "DialStatus", "ChannelStateDesc"))
        found.append((event.name, _half(event), *fields))  # type: ignore[arg-type]
    return found


def recorded(title_start: str, base: str, action_id: str) -> list[Signature]:
    step = next(step for step in load_steps() if step.title.startswith(title_start))
    items = AmiDecoder(expect_banner=False).feed(step.server_bytes + b"\r\n\r\n")
    return signature((item for item in items if isinstance(item, Event)), base, action_id)


@pytest.fixture
async def sim() -> AsyncIterator[SimulatedPbx]:
    # the usual order: the one these recorded calls came in (the others: tests/unit/test_sim_orders.py)
    config = SimConfig(time_scale=50, extra_dialplan={"engine-util": ("Hangup()",)}, order=EventOrder())
    pbx = SimulatedPbx(config, seed=7)
    await pbx.start()
    yield pbx
    await pbx.stop()


@pytest.fixture
async def ami(sim: SimulatedPbx) -> AsyncIterator[RawAmiClient]:
    client = await RawAmiClient.connect("127.0.0.1", sim.port)
    assert (await client.login("switchboard", "switchboard-secret")).ok
    yield client
    await client.close()


async def _originate_and_finish(
    ami: RawAmiClient, fields: list[tuple[str, str]], expect_hangups: int = 2
) -> tuple[str, list[Event]]:
    """Send an async Originate, wait for its OriginateResponse and both Hangups."""
    start = len(ami.events)
    response = await ami.request("Originate", [("Async", "true"), *fields])
    assert response.ok, response.message
    action_id = response.action_id or ""
    await ami.wait_event(
        "OriginateResponse", lambda e: e.get("ActionID") == action_id, timeout=10, since=start
    )
    while sum(1 for event in ami.events[start:] if event.name == "Hangup") < expect_hangups:
        await ami.wait_event("Hangup", timeout=10, since=len(ami.events))
    return action_id, ami.events[start:]


WAIT2 = [("Application", "Wait"), ("Data", "2"), ("Timeout", "30000")]


@pytest.mark.parametrize(
    ("context", "title", "fields"),
    [
        (
            "sim-customer-answer",
            "Originate Local/100@sim-customer-answer",
            [
                ("CallerID", '"Engine" <7000>'),
                ("Variable", "SIM_TALK=5"),
                ("Variable", "ENGINE_CALL_ID=call-0001"),
            ],
        ),
        ("sim-customer-busy", "Originate Local/101@sim-customer-busy", []),
        ("sim-customer-congestion", "Originate Local/101@sim-customer-congestion", []),
        ("sim-customer-noanswer", "Originate Local/101@sim-customer-noanswer", [("Timeout", "4000")]),
    ],
)
async def test_originate_sequence_matches_recording(
    ami: RawAmiClient, context: str, title: str, fields: list[tuple[str, str]]
) -> None:
    exten = title.split("Local/", 1)[1].split("@", 1)[0]
    base_fields = [f for f in WAIT2 if not any(f[0] == g[0] for g in fields)]
    action_id, events = await _originate_and_finish(
        ami, [("Channel", f"Local/{exten}@{context}"), *base_fields, *fields]
    )
    recorded_id = {
        "sim-customer-answer": "orig-answer-1",
        "sim-customer-busy": "orig-busy-1",
        "sim-customer-congestion": "orig-congestion-1",
        "sim-customer-noanswer": "orig-noanswer-1",
    }[context]
    expected = recorded(title, f"Local/{exten}@{context}-", recorded_id)
    assert expected, "the recording step was not found"
    assert signature(events, f"Local/{exten}@{context}-", action_id) == expected


@pytest.mark.parametrize(
    ("context", "title", "recorded_id"),
    [
        ("sim-customer-reject", "Originate Local/101@sim-customer-reject", "orig-reject-1"),
        ("nosuchcontext", "Originate Local/101@nosuchcontext", "orig-badctx-1"),
    ],
)
async def test_failed_originate_has_recorded_events(
    ami: RawAmiClient, context: str, title: str, recorded_id: str
) -> None:
    """Same events and causes; only OriginateResponse's place may differ (a race in Asterisk)."""
    action_id, events = await _originate_and_finish(ami, [("Channel", f"Local/101@{context}"), *WAIT2])
    base = f"Local/101@{context}-"
    ours = signature(events, base, action_id)
    expected = recorded(title, base, recorded_id)
    without = [s for s in ours if s[0] != "OriginateResponse"]
    assert without == [s for s in expected if s[0] != "OriginateResponse"]
    assert [s for s in ours if s[0] == "OriginateResponse"] == [
        s for s in expected if s[0] == "OriginateResponse"
    ]


@pytest.mark.parametrize(
    ("context", "reason", "cause"),
    [
        ("sim-customer-answer", "4", "0"),
        ("sim-customer-busy", "5", "17"),
        ("sim-customer-congestion", "8", "34"),
        ("sim-customer-noanswer", "3", "19"),
        ("sim-customer-reject", "0", "21"),
        ("nosuchcontext", "0", "0"),
    ],
)
async def test_originate_response_reasons(ami: RawAmiClient, context: str, reason: str, cause: str) -> None:
    _, events = await _originate_and_finish(
        ami,
        [("Channel", f"Local/555@{context}"), ("Application", "Wait"), ("Data", "1"), ("Timeout", "2000")],
    )
    response = next(e for e in events if e.name == "OriginateResponse")
    assert response.get("Reason") == reason
    if reason == "4":
        assert response.get("Response") == "Success"
        assert (response.get("Channel") or "").endswith(";1")
    else:
        assert response.get("Response") == "Failure"
        assert response.get("Channel") == f"Local/555@{context}"
        assert response.get("Uniqueid") == "<unknown>"
    last_two = next(e for e in events if e.name == "Hangup" and (e.get("Channel") or "").endswith(";2"))
    assert last_two.get("Cause") == cause


async def test_sync_originate_replies_after_answer_and_events_follow(
    sim: SimulatedPbx, ami: RawAmiClient
) -> None:
    start, events_start = len(ami.messages), len(ami.events)
    fields = [
        ("Async", "false"),
        ("Channel", "Local/102@sim-customer-answer"),
        ("Context", "engine-util"),
        ("Exten", "hangup"),
        ("Priority", "1"),
    ]
    response = await ami.request("Originate", fields)
    assert response.ok and response.message == "Originate successfully queued"
    # As recorded: the session's events come after the reply; no OriginateResponse.
    assert ami.messages[start] == response
    await ami.wait_event("Hangup", lambda e: (e.get("Channel") or "").endswith(";2"), since=events_start)
    names = [m.name for m in ami.messages[start + 1 :] if isinstance(m, Event)]
    assert "OriginateResponse" not in names
    expected = recorded("Originate Exten/Context form, synchronous", "Local/102@sim-customer-answer-", "")
    ours = signature(
        [m for m in ami.messages[start + 1 :] if isinstance(m, Event)], "Local/102@sim-customer-answer-", ""
    )
    assert sorted(ours) == sorted(expected)
    assert ours[-1][0] == "Hangup"


async def test_sync_originate_failure(ami: RawAmiClient) -> None:
    fields = [
        ("Async", "no"),
        ("Channel", "Local/1@sim-customer-busy"),
        ("Application", "Wait"),
        ("Data", "1"),
    ]
    response = await ami.request("Originate", fields)
    assert response.status == "Error"
    assert response.message == "Originate failed"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ([("Application", "Wait")], "Channel not specified"),
        ([("Channel", "nochannel"), ("Application", "Wait")], "Invalid channel"),
        ([("Channel", "PJSIP/1@trunk"), ("Timeout", "soon"), ("Application", "Wait")], "Invalid timeout"),
        (
            [
                ("Channel", "PJSIP/1@trunk"),
                ("Context", "switchboard-outbound"),
                ("Exten", "s"),
                ("Priority", "x"),
            ],
            "Invalid priority",
        ),
        (
            [("Channel", "PJSIP/1@trunk"), ("Context", "nowhere"), ("Exten", "s"), ("Priority", "1")],
            "Extension does not exist.",
        ),
        (
            [("Channel", "PJSIP/1@trunk"), ("Exten", "s")],
            "Originate with 'Exten' requires 'Context' and 'Priority'",
        ),
    ],
)
async def test_originate_validation_errors(
    ami: RawAmiClient, fields: list[tuple[str, str]], message: str
) -> None:
    response = await ami.request("Originate", [("Async", "true"), *fields])
    assert response.status == "Error"
    assert response.message == message


async def test_variables_become_channel_variables_and_numbers_are_recorded(
    sim: SimulatedPbx, ami: RawAmiClient
) -> None:
    response = await ami.request(
        "Originate",
        [
            ("Async", "true"),
            ("Channel", "PJSIP/+36301234567@trunk"),
            ("Context", "switchboard-outbound"),
            ("Exten", "s"),
            ("Priority", "1"),
            ("Variable", "SWITCHBOARD_CALL_ID=c-42,SWITCHBOARD_CASE_ID=case-7"),
        ],
    )
    assert response.ok
    answered = await ami.wait_event(
        "UserEvent", lambda e: e.get("UserEvent") == "SwitchboardOutboundAnswered"
    )
    assert answered.get("CallID") == "c-42"
    assert answered.get("AMDStatus") in ("HUMAN", "MACHINE")
    shown = {name: value for name, value in answered.chan_variables().items() if value}  # channelvars: all
    assert shown == {"SWITCHBOARD_CALL_ID": "c-42", "SWITCHBOARD_CASE_ID": "case-7"}
    assert (answered.get("Channel") or "").startswith("PJSIP/trunk-")
    origin = await ami.wait_event("OriginateResponse")
    assert {name: value for name, value in origin.chan_variables().items() if value} == {
        "SWITCHBOARD_CALL_ID": "c-42",
        "SWITCHBOARD_CASE_ID": "case-7",
    }
    assert sim.originated_numbers() == ["+36301234567"]
