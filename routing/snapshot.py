"""An immutable view of agents and waiting calls, indexed for constant-ish time decisions.

Owned here: the indexes `decide` and `pick_call` read, so neither ever scans all
agents or all calls:
- ready agents per skill and level (buckets 1..5), each bucket pre-sorted in
  both fairness orders (longest idle first; least occupied first);
- waiting calls in groups of (queue, tier, needs), each group oldest first. Within
  a group effective priority only depends on the wait, so the head of a group is
  its most urgent call and picking a call compares group heads only.
Updates (`with_agent`, `with_call`, `without_call`, ...) return a new snapshot and
leave the old one intact (callers keep reading it: early_offer decides over
`snapshot.with_call(call)`). They copy only the index buckets they touch; the agents
and calls are persistent maps (routing.persistent_map), so a status change no longer
copies every agent; it still copies the staffed index of each of the agent's skill
levels (the agents at that level: all of them in a one-skill center). Occupancy is
computed when the view is made.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from routing.agent_events import AgentState
from routing.agents import AgentStatus, occupancy
from routing.persistent_map import PersistentMap
from routing.queue import Needs, WaitingCall

if TYPE_CHECKING:
    from routing.rules import AgentSpec

Bucket = tuple["AgentView", ...]
Levels = tuple[Bucket, ...]  # index = level; index 0 is unused
GroupKey = tuple[str, str, Needs]  # (queue, tier, needs)
EMPTY_LEVELS: Levels = ((),) * 6
Staff = tuple[Mapping[str, "AgentView"], ...]  # index = level: id -> view; never written once made
EMPTY_STAFF: Staff = ({},) * 6
POLICIES = ("longest_idle", "least_occupancy")
UNSTAFFED = frozenset({AgentState.LOGGED_OUT, AgentState.PAUSED})
TALK_WEIGHT = 0.1
"""Weight of the newest call in a queue's average talk time (an EWMA over about the last 20 calls)."""


@dataclass(frozen=True, slots=True)
class AgentView:
    """One agent as routing sees it: profile (skills) + status + occupancy at snapshot time."""

    id: str
    state: AgentState
    skills: Mapping[str, int]
    idle_since: float = 0.0
    occupancy: float = 0.0
    name: str = ""
    interface: str = ""
    pause_reason: str = ""
    since: float = 0.0
    """When the agent entered `state` (a busy agent's talk began, a wrap-up began)."""


def agent_view(spec: AgentSpec, status: AgentStatus, now: float, window: float) -> AgentView:
    """Combine an agent's profile and status; occupancy over the last `window` seconds."""
    return AgentView(
        id=spec.id,
        state=status.state,
        skills=dict(spec.skills),
        idle_since=status.idle_since,
        occupancy=occupancy(status.history, now, window),
        name=spec.name,
        interface=spec.interface,
        pause_reason=status.pause_reason,
        since=status.since,
    )


def _idle_key(agent: AgentView) -> tuple[float, str]:
    return (agent.idle_since, agent.id)


def _occupancy_key(agent: AgentView) -> tuple[float, float, str]:
    return (agent.occupancy, agent.idle_since, agent.id)


def _call_key(call: WaitingCall) -> tuple[float, str]:
    return (call.entered_at, call.id)


def group_key(call: WaitingCall) -> GroupKey:
    return (call.queue, call.tier, call.needs)


@dataclass(frozen=True, slots=True)
class Snapshot:
    agents: PersistentMap[str, AgentView] = field(default_factory=PersistentMap)
    calls: PersistentMap[str, WaitingCall] = field(default_factory=PersistentMap)
    by_idle: Mapping[str, Levels] = field(default_factory=dict)
    by_occupancy: Mapping[str, Levels] = field(default_factory=dict)
    groups: Mapping[GroupKey, tuple[WaitingCall, ...]] = field(default_factory=dict)
    groups_by_skill: Mapping[str, frozenset[GroupKey]] = field(default_factory=dict)
    groups_by_queue: Mapping[str, frozenset[GroupKey]] = field(default_factory=dict)
    staffed: Mapping[str, Staff] = field(default_factory=dict)
    """The agents logged in and not paused (id -> view), per skill and level: the forecast's agents,
    read without a lookup in `agents` per agent (the forecast reads hundreds per decision)."""
    talk_seconds: Mapping[str, float] = field(default_factory=dict)
    """Per queue: the recent average talk time of its answered calls (EWMA, `with_talk_time`)."""

    @classmethod
    def build(
        cls,
        agents: Iterable[AgentView],
        calls: Iterable[WaitingCall],
        talk_seconds: Mapping[str, float] | None = None,
    ) -> Snapshot:
        """Index everything at once (O(n log n)); use the `with_*` updates afterwards."""
        agent_map = PersistentMap((a.id, a) for a in agents)
        call_map = PersistentMap((c.id, c) for c in calls)
        by_idle, by_occupancy = _ready_index(agent_map.values())
        groups: dict[GroupKey, list[WaitingCall]] = {}
        for call in call_map.values():
            groups.setdefault(group_key(call), []).append(call)
        sorted_groups = {key: tuple(sorted(members, key=_call_key)) for key, members in groups.items()}
        by_skill, by_queue = _group_indexes(sorted_groups)
        staffed = _staff_index(agent_map.values())
        talk = dict(talk_seconds or {})
        return cls(
            agent_map, call_map, by_idle, by_occupancy, sorted_groups, by_skill, by_queue, staffed, talk
        )

    def with_talk_time(self, queue: str, seconds: float) -> Snapshot:
        """This snapshot after a call of `queue` talked `seconds` (the first call sets the average)."""
        old = self.talk_seconds.get(queue)
        new = seconds if old is None else old + TALK_WEIGHT * (seconds - old)
        return self._but(talk_seconds={**self.talk_seconds, queue: new})

    def ready_levels(self, skill: str, policy: str) -> Levels:
        table = self.by_occupancy if policy == "least_occupancy" else self.by_idle
        return table.get(skill, EMPTY_LEVELS)

    def has_waiting(self, queue: str, tiers: frozenset[str]) -> bool:
        return any(key[1] in tiers for key in self.groups_by_queue.get(queue, ()))

    def with_agent(self, agent: AgentView) -> Snapshot:
        """This snapshot with `agent` added or replaced."""
        old = self.agents.get(agent.id)
        agents = self.agents.set(agent.id, agent)
        staffed = self.staffed
        was_staffed = old is not None and old.state not in UNSTAFFED
        if was_staffed or agent.state not in UNSTAFFED:  # the view changed: so does its entry
            staffed = dict(self.staffed)
            if old is not None and was_staffed and (agent.state in UNSTAFFED or old.skills != agent.skills):
                _restaff(staffed, old, False)
            _restaff(staffed, agent, True)
        was_ready = old is not None and old.state is AgentState.READY
        if not was_ready and agent.state is not AgentState.READY:
            return self._but(agents=agents, staffed=staffed)
        by_idle, by_occupancy = dict(self.by_idle), dict(self.by_occupancy)
        if old is not None and was_ready:
            _unindex(by_idle, old, _idle_key)
            _unindex(by_occupancy, old, _occupancy_key)
        if agent.state is AgentState.READY:
            _index(by_idle, agent, _idle_key)
            _index(by_occupancy, agent, _occupancy_key)
        return self._but(agents=agents, by_idle=by_idle, by_occupancy=by_occupancy, staffed=staffed)

    def without_agent(self, agent_id: str) -> Snapshot:
        old = self.agents.get(agent_id)
        if old is None:
            return self
        gone = self.with_agent(replace(old, state=AgentState.LOGGED_OUT))
        return gone._but(agents=gone.agents.without(agent_id))

    def with_call(self, call: WaitingCall) -> Snapshot:
        """This snapshot with `call` added or replaced."""
        base = self.without_call(call.id) if call.id in self.calls else self
        key = group_key(call)
        members = list(base.groups.get(key, ()))
        insort(members, call, key=_call_key)
        groups = {**base.groups, key: tuple(members)}
        by_skill, by_queue = dict(base.groups_by_skill), dict(base.groups_by_queue)
        by_skill[call.needs[0][0]] = by_skill.get(call.needs[0][0], frozenset()) | {key}
        by_queue[call.queue] = by_queue.get(call.queue, frozenset()) | {key}
        return base._but(
            calls=base.calls.set(call.id, call),
            groups=groups,
            groups_by_skill=by_skill,
            groups_by_queue=by_queue,
        )

    def without_call(self, call_id: str) -> Snapshot:
        call = self.calls.get(call_id)
        if call is None:
            return self
        calls = self.calls.without(call_id)
        key = group_key(call)
        members = tuple(c for c in self.groups[key] if c.id != call_id)
        groups = dict(self.groups)
        if members:
            groups[key] = members
            return self._but(calls=calls, groups=groups)
        del groups[key]
        by_skill, by_queue = dict(self.groups_by_skill), dict(self.groups_by_queue)
        _drop(by_skill, call.needs[0][0], key)
        _drop(by_queue, call.queue, key)
        return self._but(calls=calls, groups=groups, groups_by_skill=by_skill, groups_by_queue=by_queue)

    def _but(
        self,
        *,
        agents: PersistentMap[str, AgentView] | None = None,
        calls: PersistentMap[str, WaitingCall] | None = None,
        by_idle: Mapping[str, Levels] | None = None,
        by_occupancy: Mapping[str, Levels] | None = None,
        groups: Mapping[GroupKey, tuple[WaitingCall, ...]] | None = None,
        groups_by_skill: Mapping[str, frozenset[GroupKey]] | None = None,
        groups_by_queue: Mapping[str, frozenset[GroupKey]] | None = None,
        staffed: Mapping[str, Staff] | None = None,
        talk_seconds: Mapping[str, float] | None = None,
    ) -> Snapshot:
        """This snapshot with the given fields changed: `dataclasses.replace` without its per-call
        field checks, which cost as much as the rest of a status change."""
        return Snapshot(
            self.agents if agents is None else agents,
            self.calls if calls is None else calls,
            self.by_idle if by_idle is None else by_idle,
            self.by_occupancy if by_occupancy is None else by_occupancy,
            self.groups if groups is None else groups,
            self.groups_by_skill if groups_by_skill is None else groups_by_skill,
            self.groups_by_queue if groups_by_queue is None else groups_by_queue,
            self.staffed if staffed is None else staffed,
            self.talk_seconds if talk_seconds is None else talk_seconds,
        )


def _ready_index(agents: Iterable[AgentView]) -> tuple[dict[str, Levels], dict[str, Levels]]:
    buckets: dict[str, list[list[AgentView]]] = {}
    for agent in agents:
        if agent.state is not AgentState.READY:
            continue
        for skill, level in agent.skills.items():
            buckets.setdefault(skill, [[] for _ in range(6)])[level].append(agent)
    by_idle = {s: tuple(tuple(sorted(b, key=_idle_key)) for b in levels) for s, levels in buckets.items()}
    by_occupancy = {
        s: tuple(tuple(sorted(b, key=_occupancy_key)) for b in levels) for s, levels in buckets.items()
    }
    return by_idle, by_occupancy


def _staff_index(agents: Iterable[AgentView]) -> dict[str, Staff]:
    found: dict[str, list[dict[str, AgentView]]] = {}
    for agent in agents:
        if agent.state not in UNSTAFFED:
            for skill, level in agent.skills.items():
                found.setdefault(skill, [{} for _ in range(6)])[level][agent.id] = agent
    return {skill: tuple(levels) for skill, levels in found.items()}


def _restaff(table: dict[str, Staff], agent: AgentView, add: bool) -> None:
    """Add (or replace) `agent` in the staffed index if they are staffed, or remove them.
    Copies the level it changes: a level, once in a snapshot, is never written."""
    if add and agent.state in UNSTAFFED:
        return
    for skill, level in agent.skills.items():
        levels = list(table.get(skill, EMPTY_STAFF))
        members = dict(levels[level])
        if add:
            members[agent.id] = agent
        else:
            members.pop(agent.id, None)
        levels[level] = members
        table[skill] = tuple(levels)


def _index(table: dict[str, Levels], agent: AgentView, key: Callable[[AgentView], Any]) -> None:
    for skill, level in agent.skills.items():
        levels = list(table.get(skill, EMPTY_LEVELS))
        bucket = list(levels[level])
        insort(bucket, agent, key=key)
        levels[level] = tuple(bucket)
        table[skill] = tuple(levels)


def _unindex(table: dict[str, Levels], agent: AgentView, key: Callable[[AgentView], Any]) -> None:
    """Remove `agent` (as indexed: its key found by bisection, the buckets being sorted by it)."""
    for skill, level in agent.skills.items():
        levels = list(table.get(skill, EMPTY_LEVELS))
        bucket = levels[level]
        at = bisect_left(bucket, key(agent), key=key)
        if at < len(bucket) and bucket[at].id == agent.id:
            levels[level] = bucket[:at] + bucket[at + 1 :]
        else:  # not where its key says (never expected): the full scan
            levels[level] = tuple(a for a in bucket if a.id != agent.id)
        table[skill] = tuple(levels)


def _group_indexes(
    groups: Mapping[GroupKey, object],
) -> tuple[dict[str, frozenset[GroupKey]], dict[str, frozenset[GroupKey]]]:
    by_skill: dict[str, set[GroupKey]] = {}
    by_queue: dict[str, set[GroupKey]] = {}
    for key in groups:
        by_skill.setdefault(key[2][0][0], set()).add(key)
        by_queue.setdefault(key[0], set()).add(key)
    return {k: frozenset(v) for k, v in by_skill.items()}, {k: frozenset(v) for k, v in by_queue.items()}


def _drop(table: dict[str, frozenset[GroupKey]], name: str, key: GroupKey) -> None:
    remaining = table.get(name, frozenset()) - {key}
    if remaining:
        table[name] = remaining
    else:
        table.pop(name, None)
