"""Recovery of dial intents without an outcome (dialer.calls.intents), after a crash or an AMI cut.

One mechanism with the outbound resync (dialer.calls.resync): the intent store says which calls
were placed and by whom, Asterisk's channel listing (CoreShowChannels) says what still exists, and
the call book (dialer.calls.follow) is the one way a call is followed. `sort` (pure) decides, for
the customers and open intents this engine does not follow:
- a customer alive in Asterisk whose intent is this engine's (its previous life) or a dead
  engine's is adopted: followed from its intent (ActionID included, so a ringing call ends with
  its OriginateResponse's exact reason; an answered one is `Found`: connected, answered, or
  handed over / abandoned past the grace);
- an open intent with no channel: the call ended (or never rang) while nobody listened. It is
  settled once as `unknown` (it counts against the number's caps and the lead's attempts; the
  lead waits the retry delay of an unknown result), and the advisor held for it is released;
  unless its record says the customer had been bridged to an agent (`connected_ms`): then the
  talk ended unseen and it is settled as `answered` (talk time unknown), so the lead is done and
  a customer who talked to an agent is not called again; so is a call the desk sent a Bridge for
  (`bridge_ms`: the customer may have talked, the ACD settles that talk), unless Asterisk refused
  that Bridge and no later one went out (`bridge_refused_ms` not before `bridge_ms`, or, marked by
  two engines whose clocks may differ, not written before it: it connected nobody; a Bridge left in
  doubt is never marked refused); or that the customer had answered
  (`answered_ms`) and was never connected: past the campaign's grace since the answer it is an
  abandon in doubt (counted in the abandon rate, the audit record says why, as
  dialer.calls.lifecycle does at a resync), within it a `no_answer`;
- an answered customer without any dial record (lost) is adopted as such, at the first login
  only: connected or abandoned, never left on hold (the caller decides when);
- a customer still on hold in [switchboard-outbound] (answered, unbridged) whose call is already
  settled `abandoned` (or `answering_machine`) is `stranded`: the Redirect to the message (or the
  Hangup) decided with the outcome never reached Asterisk; it is sent again, nothing is settled or
  counted again (`stranded_action`). Only a dead engine's (by the leader) and this engine's
  previous life's (at the first login: later its own are its memory's, BackgroundWork.owed);
- anything of a live engine is its own: left alone. Only its intent with no channel older than
  the campaign's ring timeout plus the answer margin is settled (its own safety timer would
  have settled it by then). A dead engine's calls, and such overdue intents, are taken by the
  engine holding the pacing lease only, so two engines never take one call over; with the center
  split into ACD shards, by the leader of the call's campaign's shard (its agents, its desk).
Another engine counts as dead once its heartbeat (renewed every lease/3) ran out, or at once when this
engine took the pacing lease from it (`superseded`: the new token fences every call action it could
still send, so its calls need not wait for its heartbeat); its intent with no channel waits a few
seconds after the dial, so the channel had time to appear.
Nothing is resolved while AMI is down: only Asterisk can say whether the call is alive.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field

from core.clock import utc
from dialer.calls.dial_metrics import DialerMetrics
from dialer.calls.dial_records import DialKind, PlacedCall
from dialer.calls.intents import Intent, IntentStore, Settlement
from dialer.calls.lifecycle import IN_DOUBT, CallRules, Settle
from dialer.calls.resync import LiveCustomer
from dialer.calls.settlement import Outcomes
from dialer.campaigns.rules import Campaign
from dialer.compliance.caps import CallResult
from dialer.desk.protocol import AgentDesk

log = logging.getLogger("switchboard.dialer.recovery")

UNKNOWN = Settle(CallResult.UNKNOWN)
TALK_ENDED_UNSEEN = Settle(CallResult.ANSWERED, live=True)  # bridged, then ended while nobody listened
ABANDON_IN_DOUBT = Settle(CallResult.ABANDONED, live=True, abandoned=True, doubt=IN_DOUBT)
GONE_IN_AMD = Settle(CallResult.NO_ANSWER)  # answered, gone within the grace: never abandoned
CHANNEL_GRACE_S = 5.0  # an Originate that left has a channel in Asterisk well within this
_KINDS = frozenset(kind.value for kind in DialKind)


def unseen_end(intent: Intent, now: float, grace_s: float) -> Settle:
    """How an open intent with no channel is settled (pure; see the module docstring)."""
    if intent.connected_ms or intent.bridge_may_have_connected:
        return TALK_ENDED_UNSEEN
    if intent.answered_ms:
        return ABANDON_IN_DOUBT if now > intent.answered_ms / 1000 + grace_s else GONE_IN_AMD
    return UNKNOWN


def placed_of(intent: Intent) -> PlacedCall:
    """The call an intent recorded, as the service follows it."""
    return PlacedCall(
        call_id=intent.call_id, action_id=intent.action_id, campaign_id=intent.campaign_id,
        number=intent.number, kind=DialKind(intent.kind) if intent.kind in _KINDS else DialKind.CAMPAIGN,
        placed_at=intent.placed_ms / 1000, lead_id=intent.lead_id, holder=intent.holder,
        agent_id=intent.agent_id, lock_token=intent.lock_token,
    )  # fmt: skip


_STRANDED = frozenset({CallResult.ABANDONED.value, CallResult.ANSWERING_MACHINE.value})


def on_hold(customer: LiveCustomer) -> bool:
    """Answered, past AMD, in [switchboard-outbound] and in no bridge: waiting on hold music."""
    return customer.answered and not customer.detecting and not customer.bridged


def stranded_action(result: str, channel: str, rules: CallRules) -> tuple[str, dict[str, str | int]]:
    """What a settled call's customer still on hold is owed: the abandon message, or for a machine
    the campaign's rule (its message, or a hang-up)."""
    if result == CallResult.ANSWERING_MACHINE.value and rules.machine != "message":
        return "Hangup", {"Channel": channel, "Cause": 16}
    context, exten = (
        rules.machine_target if result == CallResult.ANSWERING_MACHINE.value else rules.abandon_target
    )
    return "Redirect", {"Channel": channel, "Context": context, "Exten": exten, "Priority": 1}


@dataclass(frozen=True, slots=True)
class Stranded:
    customer: LiveCustomer
    intent: Intent
    result: str


@dataclass(frozen=True, slots=True)
class Seen:
    """What the store says about the calls this engine does not follow (one read)."""

    records: Mapping[str, Intent | None]  # the live orphans' records: open intent, None if settled
    gone: Sequence[Intent]  # open intents with no customer in Asterisk
    alive: Collection[str]  # the other engines whose heartbeat runs
    settled: Mapping[str, tuple[Intent, str]] = field(default_factory=dict)  # on hold, yet settled


@dataclass(frozen=True, slots=True)
class Decision:
    adopt: tuple[Intent, ...] = ()  # alive in Asterisk: followed from here
    settle: tuple[Intent, ...] = ()  # gone: settled once as unknown
    unrecorded: tuple[LiveCustomer, ...] = ()  # answered customers without any dial record
    waiting: int = 0  # a live engine's
    stranded: tuple[Stranded, ...] = ()  # on hold, their call settled: its message (or hang-up) owed


def sort(
    orphans: Sequence[LiveCustomer], seen: Seen, *, owner: str, now: float,
    deadline: Callable[[Intent], float], leader: bool = True, mine: Callable[[Intent], bool] = lambda _: True,
    shard: str = "", first: bool = False,
) -> Decision:  # fmt: skip
    """Who takes what (pure; see the module docstring). A dead engine's calls are taken by the
    `leader` only (the engine holding the pacing lease), so two engines never take one over; and
    only those of its own campaigns (`mine`): each shard's leader takes its shard's calls over, and
    an answered customer without a record only when its SWITCHBOARD_SHARD is this engine's `shard`.
    `first`: the first login of this engine (its previous life's stranded customers are its own)."""
    adopt: list[Intent] = []
    stranded: list[Stranded] = []
    settle: list[Intent] = []
    unrecorded: list[LiveCustomer] = []
    waiting = 0
    for customer in orphans:
        if customer.call_id not in seen.records:
            if customer.answered and customer.shard == shard:
                unrecorded.append(customer)
            continue  # not answered: an inbound leg, or a ringing call whose record is lost
        intent = seen.records[customer.call_id]
        if intent is None:
            done = seen.settled.get(customer.call_id)
            if done is not None and on_hold(customer) and done[1] in _STRANDED:
                owner_of = done[0].owner
                if (owner_of == owner and first) or (
                    owner_of != owner and leader and mine(done[0]) and owner_of not in seen.alive
                ):
                    stranded.append(Stranded(customer, *done))
            continue  # settled: its channel is on its way out (or its message owed, above)
        if intent.owner == owner or (leader and mine(intent) and intent.owner not in seen.alive):
            adopt.append(intent)
        else:
            waiting += 1
    for intent in seen.gone:
        age = now - intent.placed_ms / 1000
        leads = leader and mine(intent)
        dead = leads and intent.owner not in seen.alive
        ours = intent.owner == owner or (dead and age > CHANNEL_GRACE_S)
        if ours or (leads and age > deadline(intent)):
            settle.append(intent)
        else:
            waiting += 1
    return Decision(tuple(adopt), tuple(settle), tuple(unrecorded), waiting, tuple(stranded))


class Recovery:
    """The store side: read what nobody here follows, settle what is gone."""

    def __init__(
        self,
        *,
        intents: IntentStore,
        outcomes: Outcomes,
        desk: AgentDesk,
        metrics: DialerMetrics,
        owner: str,
        campaign: Callable[[str], Campaign | None],
        answer_margin_s: float,
        mine: Callable[[str], bool] = lambda _: True,
        shard: str = "",
        superseded: Callable[[], Collection[str]] = tuple,
    ) -> None:
        self.intents = intents
        self.outcomes = outcomes
        self.desk = desk
        self.metrics = metrics
        self.owner = owner
        self._campaign = campaign
        self._margin = answer_margin_s
        self._mine = mine  # campaign id -> its calls are this engine's shard's to take over
        self.shard = shard
        self._superseded = superseded  # the engine whose lease this one took: dead to it, beating or not

    async def read(
        self, orphans: Sequence[LiveCustomer], live: Collection[str], followed: Callable[[str], bool]
    ) -> Seen:
        records = await self.intents.records([customer.call_id for customer in orphans])
        gone = [
            i for i in await self.intents.open_intents() if not followed(i.call_id) and i.call_id not in live
        ]
        held = [
            c.call_id for c in orphans if c.call_id in records and records[c.call_id] is None and on_hold(c)
        ]
        settled = await self.intents.settled_records(held)
        intents = [i for i in (*records.values(), *gone, *(i for i, _ in settled.values())) if i is not None]
        alive = await self._alive({i.owner for i in intents})
        return Seen(records, gone, alive, settled)

    async def _alive(self, owners: Collection[str]) -> set[str]:
        """Which of these other engines still count as alive: heartbeat running, lease not taken from."""
        superseded = set(self._superseded())
        others = sorted(o for o in owners if o != self.owner and o not in superseded)
        return await self.intents.alive(others)

    async def pending(self, followed: Callable[[str], bool], now: float) -> bool:
        """Some open intent nobody here follows may be this engine's to resolve (worth a listing)."""
        found = [i for i in await self.intents.open_intents() if not followed(i.call_id)]
        seen = Seen({}, found, await self._alive({i.owner for i in found}))
        decided = sort((), seen, owner=self.owner, now=now, deadline=self.deadline, mine=self.mine)
        return bool(decided.settle)

    def mine(self, intent: Intent) -> bool:
        """A call of this engine's shard's campaigns: a leader takes only these over."""
        return self._mine(intent.campaign_id)

    def deadline(self, intent: Intent) -> float:
        campaign = self._campaign(intent.campaign_id)
        return (campaign.ring_timeout_s if campaign is not None else 60.0) + self._margin

    def campaign(self, campaign_id: str) -> Campaign | None:
        return self._campaign(campaign_id)

    def adopted(self, intent: Intent) -> None:
        self.metrics.recovered.labels(campaign=intent.campaign_id, how="adopted").inc()

    async def settle(self, intent: Intent, now: float) -> bool:
        """Settle as `unseen_end` says (once: a concurrent settlement wins), free its advisor."""
        call = placed_of(intent)
        campaign = self._campaign(call.campaign_id)
        settle = unseen_end(intent, now, campaign.pacing.abandon_grace_s if campaign is not None else 2.0)
        applied = await self.outcomes.write(call, settle, campaign, utc(now)) is Settlement.NOW  # counted
        if call.agent_id:
            await self.desk.release(call.agent_id, call.call_id)
        if applied:
            self.metrics.recovered.labels(campaign=call.campaign_id, how="settled").inc()
            log.warning(
                "call %s to %s placed by %s: no outcome and no channel; settled as %s %s",
                call.call_id, call.number, intent.owner or "?", settle.result.value, settle.doubt,
                extra={"call_id": call.call_id, "lead": call.lead_id or "", "campaign": call.campaign_id},
            )  # fmt: skip
        return applied
