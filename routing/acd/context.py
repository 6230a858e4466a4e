"""What the ACD shell's parts share: options, and one context object with the collaborators
(built by `build_ctx`).

AcdOptions are deployment choices, not rules a supervisor edits (those are
routing.yaml): dialplan context names, which queue a dialled number enters,
timer granularity.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import redis.asyncio as aioredis

from core.clock import Clock
from core.lease import Lease
from pbx.service import ActionSender
from routing.acd.acd_keys import AcdKeys
from routing.acd.acd_metrics import AcdMetrics
from routing.acd.answers import Answers
from routing.acd.events import AcdEvents
from routing.acd.executor import Executor
from routing.acd.state import AcdState
from routing.acd.store import AcdStore
from routing.acd.timers import Timers
from routing.rules import Rules


@dataclass(frozen=True)
class AcdOptions:
    shard: str = ""
    """The ACD shard this is (settings acd.shard): it takes only the callers whose SWITCHBOARD_SHARD
    names it ('' the default shard: callers without the variable)."""
    agent_context: str = "switchboard-agent"
    """Where agent legs are originated (extensions_switchboard.conf)."""
    inbound_context: str = "switchboard-inbound"
    """Where Asterisk holds inbound callers: after a (re)connect, callers held there that the engine
    never heard of are adopted (routing/acd/adoption.py)."""
    exit_context: str = "switchboard-exit"
    """Where a caller is redirected to leave the ACD; the extension is the rule's `exit_to`."""
    transfer_context: str = "switchboard-transfer"
    """Where a transferred caller holds with music while routed again (and a consulting agent's leg
    waits); set as TRANSFER_CONTEXT on agent legs so a phone's blind transfer lands there too."""
    default_exit: str = "voicemail"
    """Extension in exit_context when a call must leave and no rule names one (its queue was removed)."""
    queues_by_dialled: Mapping[str, str] = field(default_factory=dict)
    """Dialled number (any format) -> queue, for UserEvents without a `Queue` header."""
    default_queue: str | None = None
    """Queue for calls no header or dialled number assigns; None: the first queue in routing.yaml."""
    ring_grace_s: float = 5.0
    """Asterisk ends an unanswered ring (Originate Timeout); the engine's own timer is a safety net
    this much later, for an OriginateResponse that never came."""
    sweep_s: float = 2.0
    """How often every waiting call is routed again while an agent is ready (a safety net)."""
    gauges_s: float = 5.0
    """How often occupancy, service level and the per-state gauges are refreshed."""
    action_timeout_s: float | None = None
    """Per AMI action; None: the AMI client's default."""
    max_overflow_hops: int = 5
    ended_call_ttl_s: int = 86400
    """An ended call's record expires from Redis this long after the end (settings acd.ended_call_ttl)."""
    hold_ttl_s: float = 180.0
    """An agent the dialer holds for a call it places is given back after this long if the call is
    never handed over (ring timeout + AMD + margin; the dialer normally releases them itself)."""


@dataclass
class Ctx:
    state: AcdState
    store: AcdStore
    events: AcdEvents
    executor: Executor
    timers: Timers
    metrics: AcdMetrics
    clock: Clock
    options: AcdOptions
    instance_id: str
    answers: Answers
    abandoning: dict[str, float] = field(default_factory=dict)
    """Outbound calls the dialer is abandoning -> until when none of their Bridges may go out
    (routing/acd/outbound.py `abandoning`)."""


def build_ctx(
    redis: aioredis.Redis,
    sender: ActionSender,
    rules: Rules,
    metrics: AcdMetrics,
    *,
    clock: Clock,
    instance_id: str,
    options: AcdOptions,
    keys: AcdKeys,
    lease: Lease | None,
    may_act: Callable[[], bool],
    lock: asyncio.Lock,
) -> Ctx:
    """The context of one AcdService: its working state, Redis store and event stream, the AMI
    executor (acting only while `may_act`: the service owns the ACD), the timers, and the AMI
    answers nothing waits for (handed back under the service's `lock`)."""
    answers = Answers(lock)
    executor = Executor(
        sender,
        metrics,
        instance_id=instance_id,
        agent_context=options.agent_context,
        exit_context=options.exit_context,
        transfer_context=options.transfer_context,
        action_timeout_s=options.action_timeout_s,
        answers=answers,
        may_act=may_act,
    )
    return Ctx(
        state=AcdState(rules),
        store=AcdStore(redis, keys, ended_ttl_s=options.ended_call_ttl_s, lease=lease),
        events=AcdEvents(redis, keys),
        executor=executor,
        timers=Timers(),
        metrics=metrics,
        clock=clock,
        options=options,
        instance_id=instance_id,
        answers=answers,
    )
