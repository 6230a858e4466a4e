"""The simulated PBX plays the IVR menu and the outage notice as Asterisk 22.10.1 did.

tests/fixtures/ami/asterisk-22.10.1-ivr-notice.txt was recorded from a real Asterisk running the
dialplan `switchboard asterisk-dialplan` writes for config/routing.yaml's menu and the shipped
[switchboard-notice] context, with the engine redirecting callers of an outage's segment. The
simulator runs the same text for the same callers (same keys, same Setvar and Redirect as the
engine sends) and must emit the same events, in the same order, with the same values.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from core.config.loader import load_rules
from pbx.codec import AmiDecoder, Event
from pbx.sim import SimConfig, SimulatedPbx
from pbx.sim.apps import DTMF_DURATION_MS
from pbx.sim.dialplan import SWITCHBOARD_DIALPLAN
from pbx.sim.events import EventFactory
from pbx.sim.rawclient import RawAmiClient
from routing.ivr_dialplan import IVR_CONTEXT, render
from routing.rules import Rules
from tests.support.recordings import FIXTURES, channel_from, load_steps, without_timestamp

pytestmark = pytest.mark.integration

RECORDING = FIXTURES / "asterisk-22.10.1-ivr-notice.txt"
ROUTING = Path(__file__).resolve().parents[2] / "config" / "routing.yaml"
MENU_LINE, PLAIN_LINE = "+3615550200", "+3615550300"
COMPARED = (
    "Context",
    "Exten",
    "Priority",
    "Application",
    "AppData",
    "Variable",
    "Value",
    "Digit",
    "DurationMs",
    "Direction",
    "UserEvent",
    "IvrChoice",
    "Queue",
    "Outage",
    "Status",
    "Cause",
    "Class",
)
# A Local ;1 (the recorded callers) is Up before its dialplan runs, so Answer() sends no Newstate
# there; a trunk caller (the simulator's) is answered by it. The Local ;1 also closes with a
# SoftHangupRequest after its partner's HangupRequest; no trunk caller's hangup was recorded.
NOT_COMPARED = ("Newstate", "SoftHangupRequest")
_ID_OR_TIME = re.compile(r"\b\d{9,}\.\d+\b")  # Uniqueids and epoch arrival times


def recorded(title_start: str) -> list[Event]:
    step = next(step for step in load_steps(RECORDING) if step.title.startswith(title_start))
    items = AmiDecoder(expect_banner=False).feed(step.server_bytes + b"\r\n\r\n")
    return [item for item in items if isinstance(item, Event)]


def sequence(events: list[Event]) -> list[tuple[str, ...]]:
    """What the flow is made of: each event's name and the compared headers (ids and times masked)."""
    return [
        (event.name, *(f"{key}={_ID_OR_TIME.sub('<id>', event.get(key) or '')}" for key in COMPARED))
        for event in events
        if event.name not in NOT_COMPARED
    ]


def recorded_inbound() -> str:
    """[switchboard-inbound] as the recorded Asterisk ran it: the recording predates the `Shard`
    header of its UserEvent (ACD shards), so the simulator runs that dialplan here, step for step."""
    pattern, steps = SWITCHBOARD_DIALPLAN["switchboard-inbound"]
    lines = [step.replace(",Shard: ${SWITCHBOARD_SHARD}", "") for step in steps]
    assert lines != list(steps), "the shipped UserEvent changed: record the bench again"
    first, *rest = lines
    return "\n".join(
        ["[switchboard-inbound]", f"exten => {pattern},1,{first}", *(f" same => n,{x}" for x in rest)]
    )


def bench_config(**overrides: Any) -> SimConfig:
    """The recorded bench: config/routing.yaml's menu, fast prompts, and a read-all login."""
    settings: dict[str, Any] = {
        "dialplan_conf": render(load_rules(ROUTING, Rules)) + "\n" + recorded_inbound() + "\n",
        "playback_s": 0.05,
        "dtmf_s": 0.05,
        "event_history": 5000,
        "time_scale": 20,
        "users": {"switchboard": "switchboard-secret", "recorder": "recorder-secret"},  # read = all
    }
    return SimConfig(**(settings | overrides))


@asynccontextmanager
async def running(config: SimConfig) -> AsyncIterator[tuple[SimulatedPbx, RawAmiClient]]:
    pbx = SimulatedPbx(config, seed=5)
    await pbx.start()
    client = await RawAmiClient.connect("127.0.0.1", pbx.port)
    try:
        await client.login("switchboard", "switchboard-secret")
        yield pbx, client
    finally:
        await client.close()
        await pbx.stop()


@pytest.fixture
async def sim() -> AsyncIterator[SimulatedPbx]:
    pbx = SimulatedPbx(bench_config(), seed=5)
    await pbx.start()
    yield pbx
    await pbx.stop()


@pytest.fixture
async def ami(sim: SimulatedPbx) -> AsyncIterator[RawAmiClient]:
    client = await RawAmiClient.connect("127.0.0.1", sim.port)
    await client.login("switchboard", "switchboard-secret")
    yield client
    await client.close()


def of_channel(sim: SimulatedPbx, channel: str, first_context: str) -> list[Event]:
    """The channel's events from its first step in `first_context` on, as the recording was cut."""
    mine = [event for event in sim.events if event.get("Channel") == channel]
    start = next(i for i, e in enumerate(mine) if e.name == "Newexten" and e.get("Context") == first_context)
    return mine[start:]


def until_holding(events: list[Event], times: int = 1) -> list[Event]:
    """Up to the `times`-th Wait(86400): the caller holds for an agent."""
    seen = 0
    for index, event in enumerate(events):
        if event.name == "Newexten" and event.get("AppData") == "86400":
            seen += 1
            if seen == times:
                return events[: index + 1]
    raise AssertionError(f"the caller never held {times} time(s): {[e.name for e in events]}")


async def holding(sim: SimulatedPbx, channel: str, times: int = 1) -> None:
    """Wait until the caller reached Wait(86400) `times` times."""

    def held(event: Event) -> bool:
        return (
            event.name == "Newexten" and event.get("Channel") == channel and event.get("AppData") == "86400"
        )

    while sum(held(event) for event in sim.events) < times:
        await sim.wait_for_event("Newexten", held, since=sim.event_count)


@pytest.mark.parametrize(
    ("title", "caller", "keys"),
    [
        ("ivr: the caller presses 1", "+36201110001", ("1",)),
        ("ivr: a wrong key (7)", "+36201110005", ("7", "2")),
        ("ivr: no key at either attempt", "+36201110004", ("", "")),
    ],
)
async def test_menu_flows_match_asterisk(
    sim: SimulatedPbx, title: str, caller: str, keys: tuple[str, ...]
) -> None:
    channel = await sim.inbound_call(caller, MENU_LINE, patience_s=600, context=IVR_CONTEXT, keys=keys)
    await holding(sim, channel)
    played = until_holding(of_channel(sim, channel, IVR_CONTEXT))
    assert sequence(played) == sequence(recorded(title))


RECORDED_TEXT = "Miskolcon a TV szolgaltatas szunetel, hamarosan helyreall."


async def redirect_to_notice(ami: RawAmiClient, channel: str, *, text: bool = False) -> None:
    """What the engine sends for a caller of the outage's segment (routing/acd/executor.py)."""
    for name, value in (
        ("SWITCHBOARD_OUTAGE", "miskolc-tv-1205" if text else "debrecen-fibre-1205"),
        ("SWITCHBOARD_NOTICE", "" if text else "outage-debrecen-fibre"),
        ("SWITCHBOARD_NOTICE_TEXT", RECORDED_TEXT.replace(",", " ") if text else ""),
        ("SWITCHBOARD_NOTICE_LEAVE", "5"),
    ):
        await ami.request("Setvar", [("Channel", channel), ("Variable", name), ("Value", value)])
    fields = [
        ("Channel", channel),
        ("Context", "switchboard-notice"),
        ("Exten", "text" if text else "recording"),
        ("Priority", "1"),
    ]
    await ami.request("Redirect", fields)


async def test_a_notice_heard_then_held_matches_asterisk(sim: SimulatedPbx, ami: RawAmiClient) -> None:
    channel = await sim.inbound_call("+3652123456", PLAIN_LINE, patience_s=600, context=IVR_CONTEXT)
    await holding(sim, channel)
    await redirect_to_notice(ami, channel)
    await holding(sim, channel, times=2)
    played = until_holding(of_channel(sim, channel, "switchboard-inbound"), times=2)
    assert sequence(played) == sequence(recorded("notice: a caller of the segment hears it and holds on"))


async def test_hanging_up_during_the_notice_matches_asterisk(sim: SimulatedPbx, ami: RawAmiClient) -> None:
    """Asterisk reports PLAYBACKSTATUS=SUCCESS to a caller who hung up in the middle of the message."""
    channel = await sim.inbound_call("+3652123457", PLAIN_LINE, patience_s=600, context=IVR_CONTEXT)
    await holding(sim, channel)
    await redirect_to_notice(ami, channel)
    await sim.wait_for_event(
        "Newexten", lambda e: e.get("Channel") == channel and e.get("Application") == "Playback"
    )
    sim.core.hangup(sim.channels[channel], 16, "remote")  # the caller hangs up during the message
    await sim.wait_for_event("Hangup", lambda e: e.get("Channel") == channel)
    played = of_channel(sim, channel, "switchboard-inbound")
    expected = recorded("notice: a caller of the segment hangs up during the Playback")
    assert sequence(played) == sequence(expected)


def test_the_dtmf_events_match_asterisk() -> None:
    """DTMFBegin / DTMFEnd as the simulator builds them, against the recorded ones header by header."""
    begin, end = recorded("full headers: DTMFBegin and DTMFEnd")
    factory = EventFactory(tuple(v.partition("=")[0] for v in begin.get_all("ChanVariable")))
    assert factory.dtmf_begin(channel_from(begin), "1") == without_timestamp(begin)
    assert factory.dtmf_end(channel_from(end), "1", DTMF_DURATION_MS) == without_timestamp(end)


async def test_the_engine_login_gets_no_dtmf_events_like_asterisk(
    sim: SimulatedPbx, ami: RawAmiClient
) -> None:
    """Asterisk 22 sends DTMFBegin/DTMFEnd only to logins whose manager.conf `read=` has dtmf: the
    shipped one (system,call,dialplan,user) gets the IVR choice from the UserEvent alone, a login
    with `read = all` (not in SimConfig.read) sees the keys."""
    everything = await RawAmiClient.connect("127.0.0.1", sim.port)
    try:
        await everything.login("recorder", "recorder-secret")
        channel = await sim.inbound_call(
            "+36201110001", MENU_LINE, patience_s=600, context=IVR_CONTEXT, keys=("1",)
        )
        await holding(sim, channel)
        inbound = await ami.wait_event("UserEvent", lambda e: e.get("UserEvent") == "SwitchboardInbound")
        assert inbound.get("IvrChoice") == "1"
        await everything.wait_event("UserEvent", lambda e: e.get("UserEvent") == "SwitchboardInbound")
        assert [e.get("Digit") for e in everything.events if e.name == "DTMFEnd"] == ["1"]
        assert not [e for e in ami.events if e.name.startswith("DTMF")]
    finally:
        await everything.close()


async def test_hanging_up_during_the_menu_matches_asterisk(sim: SimulatedPbx) -> None:
    """Read() reports the empty choice and READSTATUS=HANGUP before the call ends."""
    channel = await sim.inbound_call(
        "+36201110007", MENU_LINE, patience_s=600, context=IVR_CONTEXT, keys=("",)
    )
    await sim.wait_for_event(
        "Newexten", lambda e: e.get("Channel") == channel and e.get("Application") == "Read"
    )
    sim.core.hangup(sim.channels[channel], 16, "remote")
    await sim.wait_for_event("Hangup", lambda e: e.get("Channel") == channel)
    played = of_channel(sim, channel, IVR_CONTEXT)
    assert sequence(played) == sequence(recorded("ivr: the caller hangs up during the menu prompt"))


OLD_TEXT_NOTICE = """\
[switchboard-notice]
exten => text,1,NoOp(Switchboard: outage ${SWITCHBOARD_OUTAGE} read out to ${SWITCHBOARD_CALL_ID})
 same => n,StopMusicOnHold()
 same => n,Festival(${SWITCHBOARD_NOTICE_TEXT})
 same => n,Goto(switchboard-notice,after,1)
"""


async def test_a_missing_application_cuts_the_caller_off_like_asterisk() -> None:
    """Why the shipped context wraps Festival() in TryExec: called directly where app_festival did
    not load, Asterisk ends the call (no Newexten, Hangup cause 0) and the caller hears nothing."""
    conf = render(load_rules(ROUTING, Rules)) + "\n" + recorded_inbound() + "\n" + OLD_TEXT_NOTICE
    async with running(bench_config(dialplan_conf=conf, missing_applications=("Festival",))) as (sim, ami):
        channel = await sim.inbound_call("+3646123461", PLAIN_LINE, patience_s=600, context=IVR_CONTEXT)
        await holding(sim, channel)
        await redirect_to_notice(ami, channel, text=True)
        await sim.wait_for_event("Hangup", lambda e: e.get("Channel") == channel)
        played = of_channel(sim, channel, "switchboard-inbound")
    expected = recorded("notice: text, Festival() not loaded, called directly")
    assert sequence(played) == sequence(expected)
    assert expected[-1].get("Cause") == "0" and played[-1].get("Cause") == "0"


@pytest.mark.parametrize(
    ("title", "caller", "lacking"),
    [
        (
            "notice: text, TryExec(Festival()) not loaded",
            "+3646123463",
            {"missing_applications": ("Festival",)},
        ),
        (
            "notice: text, TryExec(Festival()) without a Festival server",
            "+3646123464",
            {"failing_applications": ("Festival",)},
        ),
    ],
)
async def test_a_text_notice_without_text_to_speech_queues_the_caller_like_asterisk(
    title: str, caller: str, lacking: dict[str, tuple[str, ...]]
) -> None:
    """The shipped context: TryExec sets TRYSTATUS (NOAPP, FAILED), the engine hears
    SwitchboardNoticeUnheard and the caller goes straight back to be queued."""
    async with running(bench_config(**lacking)) as (sim, ami):
        channel = await sim.inbound_call(caller, PLAIN_LINE, patience_s=600, context=IVR_CONTEXT)
        await holding(sim, channel)
        await redirect_to_notice(ami, channel, text=True)
        await holding(sim, channel, times=2)
        played = until_holding(of_channel(sim, channel, "switchboard-inbound"), times=2)
    assert sequence(played) == sequence(recorded(title))
