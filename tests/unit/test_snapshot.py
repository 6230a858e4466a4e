"""Snapshot indexes: incremental updates give exactly the indexes a full build gives."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import replace

from routing.agent_events import AgentState
from routing.agents import AgentStatus
from routing.queue import WaitingCall
from routing.rules import AgentSpec
from routing.snapshot import AgentView, Levels, Snapshot, agent_view

NOW = 1_750_000_000.0
SKILLS = ("tech", "billing", "sales")


def _ids(table: Mapping[str, Levels]) -> dict[str, tuple[tuple[str, ...], ...]]:
    return {
        skill: tuple(tuple(a.id for a in bucket) for bucket in levels)
        for skill, levels in table.items()
        if any(levels)
    }


def _shape(snapshot: Snapshot) -> tuple[object, ...]:
    return (
        dict(snapshot.agents),
        dict(snapshot.calls),
        _ids(snapshot.by_idle),
        _ids(snapshot.by_occupancy),
        {key: tuple(c.id for c in members) for key, members in snapshot.groups.items()},
        dict(snapshot.groups_by_skill),
        dict(snapshot.groups_by_queue),
        {skill: tuple(map(dict, levels)) for skill, levels in snapshot.staffed.items() if any(levels)},
    )


def _random_agent(rng: random.Random, number: int) -> AgentView:
    skills = {s: rng.randint(1, 5) for s in rng.sample(SKILLS, rng.randint(1, 3))}
    state = rng.choice([AgentState.READY, AgentState.READY, AgentState.BUSY, AgentState.PAUSED])
    return AgentView(f"a{number}", state, skills, idle_since=NOW - rng.randint(0, 50), occupancy=rng.random())


def _random_call(rng: random.Random, number: int) -> WaitingCall:
    skill = rng.choice(SKILLS)
    tier = rng.choice(["key", "active"])
    return WaitingCall(
        f"c{number}", f"q-{skill}", tier, 40, ((skill, rng.randint(1, 3)),), NOW - rng.randint(0, 30)
    )


def test_incremental_updates_match_a_full_build() -> None:
    rng = random.Random(5)
    snapshot = Snapshot()
    agents: dict[str, AgentView] = {}
    calls: dict[str, WaitingCall] = {}
    for _ in range(600):
        roll = rng.random()
        if roll < 0.35:
            agent = _random_agent(rng, rng.randint(0, 15))
            agents[agent.id] = agent
            snapshot = snapshot.with_agent(agent)
        elif roll < 0.45 and agents:
            gone = rng.choice(sorted(agents))
            del agents[gone]
            snapshot = snapshot.without_agent(gone)
        elif roll < 0.8:
            call = _random_call(rng, rng.randint(0, 30))
            calls[call.id] = call
            snapshot = snapshot.with_call(call)
        elif calls:
            gone = rng.choice(sorted(calls))
            del calls[gone]
            snapshot = snapshot.without_call(gone)
        assert _shape(snapshot) == _shape(Snapshot.build(agents.values(), calls.values()))


def _random_update(rng: random.Random, snapshot: Snapshot) -> Snapshot:
    roll = rng.random()
    if roll < 0.4:
        return snapshot.with_agent(_random_agent(rng, rng.randint(0, 15)))
    if roll < 0.5 and snapshot.agents:
        return snapshot.without_agent(rng.choice(sorted(snapshot.agents)))
    if roll < 0.8:
        return snapshot.with_call(_random_call(rng, rng.randint(0, 30)))
    if roll < 0.9 and snapshot.calls:
        return snapshot.without_call(rng.choice(sorted(snapshot.calls)))
    return snapshot.with_talk_time(rng.choice(["q-tech", "q-sales"]), rng.randint(10, 300))


def test_an_old_snapshot_reads_the_same_after_updates_made_from_it() -> None:
    """Callers read a snapshot after deriving others from it (early_offer decides over
    `state.snapshot.with_call(call)` and keeps the current one; the benchmark derives every
    sample from one base), so no update may write into the snapshot it came from."""
    rng = random.Random(9)
    snapshot = Snapshot()
    kept: list[tuple[Snapshot, tuple[object, ...]]] = []
    for _ in range(500):
        for _side in range(rng.randint(0, 3)):  # branches read once and dropped, as early_offer's
            _random_update(rng, snapshot)
        snapshot = _random_update(rng, snapshot)
        kept.append((snapshot, _whole(snapshot)))
    assert len(snapshot.agents) > 5 and len(snapshot.calls) > 5
    for old, then in kept:
        assert _whole(old) == then


def _whole(snapshot: Snapshot) -> tuple[object, ...]:
    return (*_shape(snapshot), dict(snapshot.talk_seconds))


def test_buckets_are_in_fairness_order() -> None:
    agents = [
        AgentView("late", AgentState.READY, {"tech": 3}, idle_since=NOW - 5, occupancy=0.1),
        AgentView("early", AgentState.READY, {"tech": 3}, idle_since=NOW - 50, occupancy=0.9),
        AgentView("busy", AgentState.BUSY, {"tech": 3}, idle_since=NOW - 500),
    ]
    snapshot = Snapshot.build(agents, [])
    assert [a.id for a in snapshot.ready_levels("tech", "longest_idle")[3]] == ["early", "late"]
    assert [a.id for a in snapshot.ready_levels("tech", "least_occupancy")[3]] == ["late", "early"]
    assert snapshot.ready_levels("sales", "longest_idle") == ((),) * 6


def test_groups_are_oldest_first_and_report_waiting_tiers() -> None:
    calls = [
        WaitingCall("new", "q", "active", 40, (("tech", 2),), NOW - 1),
        WaitingCall("old", "q", "active", 40, (("tech", 2),), NOW - 9),
        WaitingCall("vip", "q", "key", 100, (("tech", 5),), NOW - 3),
    ]
    snapshot = Snapshot.build([], calls)
    assert [c.id for c in snapshot.groups[("q", "active", (("tech", 2),))]] == ["old", "new"]
    assert snapshot.has_waiting("q", frozenset({"key"}))
    assert not snapshot.without_call("vip").has_waiting("q", frozenset({"key"}))
    moved = snapshot.with_call(replace(calls[0], entered_at=NOW - 20))  # replacing a call re-sorts it
    assert [c.id for c in moved.groups[("q", "active", (("tech", 2),))]] == ["new", "old"]


def test_agent_view_from_profile_and_status() -> None:
    spec = AgentSpec(id="1001", name="Kovács Anna", interface="PJSIP/1001", skills={"tech": 4})
    status = AgentStatus(
        "1001",
        state=AgentState.READY,
        since=NOW - 10,
        idle_since=NOW - 10,
        history=((NOW - 100, AgentState.BUSY), (NOW - 10, AgentState.READY)),
    )
    view = agent_view(spec, status, NOW, 3600)
    assert (view.id, view.name, view.interface, view.skills) == (
        "1001",
        "Kovács Anna",
        "PJSIP/1001",
        {"tech": 4},
    )
    assert view.occupancy == 0.9
    assert view.idle_since == NOW - 10
