"""The demo's view (switchboard/demo_view.py): what it counts agrees with the closing summary,
the frame fits an 80x24 terminal with the metrics URL and the clock's speed on it, and the
story names what the product did (tier, level, the agent who did not answer, the blocked number)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from rich.console import Console

from core.config.loader import load_rules
from pbx.sim.core import CallRecord
from routing.rules import Rules
from switchboard.demo_view import (
    AgentSeen,
    Frame,
    Story,
    agent_changes,
    blocked_text,
    caller_view,
    engine_tiers,
    handover_text,
    refused_text,
    render,
    summary,
)

RULES = load_rules(Path(__file__).resolve().parents[2] / "config" / "routing.yaml", Rules)
URL = "http://127.0.0.1:41559/metrics"


def caller(
    number: str, waited: float | None, *, dialled: str = "+3612345678", gave_up: float = 0.0
) -> CallRecord:
    bridged = 100.0 + waited if waited is not None else None
    ended = None if waited is None and not gave_up else 100.0 + (gave_up or (waited or 0) + 60)
    return CallRecord(
        "caller", number, "PJSIP/trunk-1", "active", dialled, "", 100.0, bridged=bridged, ended=ended
    )


LOG = [
    caller("+36301234567", 1.0),  # key by number
    caller("+36701000001", 3.0, dialled="+3615550100"),  # the VIP line makes an ordinary number key
    caller("+36171000001", 5.0),  # important by prefix
    caller("+36701000002", 12.0),
    caller("+36701000003", 35.0),  # answered late: a failure
    caller("+36701000004", None, gave_up=10.0),  # hung up within 20 s: not counted
    caller("+36701000005", None, gave_up=50.0),  # hung up after 20 s: a failure
    caller("+36701000006", None),  # still waiting
]


def test_service_level_and_waits_by_the_engines_tier() -> None:
    view = caller_view(LOG, engine_tiers(RULES))
    assert (view.arrived, view.answered, view.abandoned, view.waiting) == (8, 5, 2, 1)
    assert view.service_level == 4 / 6  # 4 within 20 s / (5 answered + 1 abandoned after 20 s)
    assert view.mean_wait("key") == 2.0 and view.mean_wait("important") == 5.0
    assert view.mean_wait("active") == (12.0 + 35.0) / 2


def frame(story: list[str]) -> Frame:
    view = caller_view(LOG, engine_tiers(RULES))
    agents = Counter({"ready": 4, "busy": 2, "paused": 1, "wrap_up": 1})
    outbound = {"dialed": 40, "answered": 20, "blocked": 3}
    return Frame(view, 605.0, 60.5, 10.0, URL, agents, outbound, story)


def test_the_live_view_fits_80x24_with_the_metrics_url_and_the_clock_speed() -> None:
    long_story = [
        f"00:{i:02d}  " + "a story line much longer than the terminal is wide " * 2 for i in range(12)
    ]
    console = Console(width=80, height=24, record=True, color_system=None)
    console.print(render(frame(long_story), console.size.height))
    lines = console.export_text().rstrip("\n").splitlines()
    assert len(lines) <= 24 and max(len(line) for line in lines) <= 80
    assert any(URL in line for line in lines)
    assert "10x" in lines[0] and "simulated 10:05" in lines[0]
    assert any("67%" in line and "target 80%" in line for line in lines)
    small = Console(width=80, height=16, record=True, color_system=None)
    small.print(render(frame(long_story), 16))
    assert len(small.export_text().rstrip("\n").splitlines()) <= 16, "the story gives way"


def test_the_summary_says_what_the_last_frame_shows() -> None:
    last = frame([])
    text = summary(last.view, last.outbound, ["+36205000000"], refused=True)
    assert "8 callers, 5 answered (4 within 20 s), 2 abandoned, 1 still waiting; service level 67%" in text
    assert "key 2 s · important 5 s · active 24 s" in text
    assert "3 blocked by the gate (e.g. +36205000000)" in text and "refused" in text


def test_the_story_names_tier_level_agent_block_and_refusal() -> None:
    vip = {"queue": "support", "agent_id": "1004", "caller": "+36301234567", "ivr": "2", "waited": 0.4}
    text, _ = handover_text(vip, RULES) or ("", "")
    assert text == "key caller, needs tech 5: Tóth Gábor (tech 5), waited 0 s"
    assert handover_text({**vip, "campaign": "demo-sales"}, RULES) is None, "outbound calls are the dialer's"
    before = {"1006": AgentSeen("ready", 2, "Varga Bence")}
    after = {"1006": AgentSeen("paused", 3, "Varga Bence", "missed 3 rings")}
    assert [t for t, _ in agent_changes(before, after)] == [
        "Varga Bence did not answer: next agent rung, caller still on hold",
        "Varga Bence paused after missed 3 rings: offered no more calls",
    ]
    entry = {"number": "+36205000000", "sources": "internal", "lead": "D0"}
    assert blocked_text(entry, {"+36205000000": "asked not to be called"}) == (
        "gate blocked +36205000000 (internal list: asked not to be called)"
    )
    assert refused_text("/tmp/x/routing.yaml:150:5: queues[0].level must be <= 5") == (
        "routing.yaml:150:5 queues[0].level must be <= 5"
    )
    story = Story(started_at=1000.0)
    story.add(1065.0, "first", once="k")
    story.add(1070.0, "again", once="k")
    assert story.last(5) == ["01:05  first"]
