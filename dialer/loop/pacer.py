"""One pacing round of one campaign: measure, decide with the pure pacing function, place the calls.

Owned here: turning live state into `PacingStats` (the desk's agents, this engine's calls in
flight and waiting, the campaign's hourly counters, the recent answer delays and talk times),
calling `dialer.pacing.decision.calls_to_place`, and placing that many calls through
`Dialer.place_call`, never around it. Rules it keeps:
- progressive (and every dial that names an agent): an agent is reserved through the desk
  before the lead is claimed and the call placed; no reserved agent, no call. A call that is not
  placed gives its agent back at once.
- predictive: no reservation; an answered call is handed to the desk, which routes it.
- preview: no calls; ready agents without an offer are offered the next lead, one at a time.
- A round never claims more than `calls + spare` leads, so leads refused by calling hours or caps
  are walked through in bounded steps (each goes back to its queue for its next chance).
- A round's calls are placed concurrently, at most `dials_at_once` at a time, never more placed
  or under way than the round decided; each placement keeps every step and order above (its
  agent held, its lead claimed, the gate, the write-ahead intent before its Originate).
- A store or AMI outage ends the round at once: nothing is dialed until it is back.
- Fenced: before each call's lead is claimed the `fence` confirms in Redis that this engine still
  leads the pacing (NotOwnerError ends the round otherwise): checked locally before its agent is
  held, in Redis by the hold itself when the desk's hold is a write fenced by the same lease (the
  ACD's; one command less per dial), else by a read of the lease after the hold.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from dialer.calls.attempts import AttemptStore, CampaignCounts
from dialer.calls.dial_metrics import DialerMetrics
from dialer.calls.dial_records import OUTAGES, DialKind, DialOutcome, DialRequest, DialStatus, new_call_id
from dialer.calls.dialing import Dialer
from dialer.calls.settlement import LiveSample
from dialer.campaigns.rules import Campaign
from dialer.desk.protocol import AgentDesk, CallTarget, snapshots
from dialer.leads.store import LeadNotClaimedError, LeadStore, OfferRefusedError
from dialer.pacing.decision import DialMode, PacingDecision, PacingStats, calls_to_place
from routing.agent_events import AgentState

log = logging.getLogger("switchboard.dialer.pacer")

_SPARE_CLAIMS = 20
DIALS_AT_ONCE = 16  # a round's placements under way at once (each awaits its own round trips)
_DECLINED_REST = timedelta(minutes=1)  # a declined preview lead is not offered straight back
_COUNTS_EVERY = timedelta(seconds=5)  # progressive: how stale the abandon-rate gauges may get


class Fence(Protocol):
    """The pacing lease as the pacer checks it (core.lease.Lease)."""

    def mark(self) -> int: ...  # NotOwnerError unless owned locally; a point to confirm from

    async def confirm(self, since: int | None = None) -> None: ...  # in Redis (see Lease.confirm)


@dataclass(frozen=True, slots=True)
class InFlight:
    """This engine's calls of one campaign: ringing, and answered but not yet with an agent."""

    ringing: int = 0
    waiting: int = 0
    placed_at: tuple[float, ...] = ()  # of the ringing calls, epoch seconds: their ages for pacing


def ringing_ages(flight: InFlight, now: datetime) -> tuple[float, ...] | None:
    """How long each ringing call has rung (None when the flight does not list them)."""
    if len(flight.placed_at) != flight.ringing:
        return None
    return tuple(max(0.0, now.timestamp() - placed) for placed in flight.placed_at)


def target_of(campaign: Campaign) -> CallTarget:
    return CallTarget(campaign.queue, campaign.needs)


@dataclass(slots=True)
class _Round:
    """One round's counts, shared by its placers (one event loop: no await between a check and
    its update). `started`: placements under way; `claims`: placements begun (each claims at most
    one lead)."""

    calls: int
    max_claims: int
    placed: int = 0
    started: int = 0
    claims: int = 0
    stopped: bool = False
    error: Exception | None = None

    def may_start(self) -> bool:
        """Another placement fits: none of the round's ends met, and placed + under way stays within
        its calls, its claims within `max_claims`."""
        return not self.stopped and self.placed + self.started < self.calls and self.claims < self.max_claims

    def stop(self, error: Exception | None = None) -> None:
        self.stopped = True
        if self.error is None:
            self.error = error


class Pacer:
    def __init__(
        self,
        *,
        dialer: Dialer,
        desk: AgentDesk,
        leads: LeadStore,
        attempts: AttemptStore,
        metrics: DialerMetrics,
        in_flight: Callable[[str], InFlight],
        samples: Callable[[str], LiveSample],
        active: Callable[[], bool] = lambda: True,
        fence: Fence | None = None,
        dials_at_once: int = DIALS_AT_ONCE,
    ) -> None:
        self.dialer = dialer
        self.desk = desk
        self.leads = leads
        self.attempts = attempts
        self.metrics = metrics
        self._in_flight = in_flight
        self._samples = samples
        self._active = active  # False once the service is closing: place nothing more
        self._fence = fence  # raises NotOwnerError once another engine leads the pacing
        self.dials_at_once = max(1, dials_at_once)
        self.decisions: dict[str, PacingDecision] = {}
        self._offers: dict[str, str] = {}  # preview lead id -> the agent it was offered to
        self._kept_counts: dict[str, tuple[datetime, CampaignCounts]] = {}  # campaign -> (read at, counts)

    @property
    def offers(self) -> dict[str, str]:
        """Open preview offers this engine made: lead id -> agent id."""
        return dict(self._offers)

    @property
    def owner(self) -> str:
        return self.dialer.owner

    async def pace(self, campaign: Campaign, now: datetime) -> PacingDecision:
        """Measure, decide and place this round's calls for one running campaign."""
        if campaign.mode is DialMode.PREVIEW:
            offered = await self.offer_previews(campaign, now)
            decision = PacingDecision(0, 0.0, f"preview: {offered} lead(s) offered")
        else:
            decision = calls_to_place(await self.stats(campaign, now), campaign.params, now)
            if decision.calls > 0:
                await self.place(campaign, decision.calls, now)
        self.decisions[campaign.id] = decision
        self.metrics.dial_level.labels(campaign=campaign.id).set(decision.dial_level)
        return decision

    async def _counts(self, campaign: Campaign, now: datetime) -> CampaignCounts:
        """The campaign's hourly counters: every round for predictive pacing, which decides on them;
        progressive decides on its agents alone, so there they only feed the abandon-rate gauges and
        are read again once `_COUNTS_EVERY` has passed."""
        kept = self._kept_counts.get(campaign.id)
        if campaign.mode is DialMode.PROGRESSIVE and kept is not None and now - kept[0] < _COUNTS_EVERY:
            return kept[1]
        counts = await self.attempts.counts(campaign.id, now)
        self._kept_counts[campaign.id] = (now, counts)
        return counts

    async def stats(self, campaign: Campaign, now: datetime) -> PacingStats:
        agents = await self.desk.agents(target_of(campaign))
        counts = await self._counts(campaign, now)
        flight = self._in_flight(campaign.id)
        self.metrics.in_flight.labels(campaign=campaign.id).set(flight.ringing)
        sample = self._samples(campaign.id)
        abandons = counts.window.counts(now)
        self.metrics.abandon_rate.labels(campaign=campaign.id, window="24h").set(abandons.rate_24h)
        self.metrics.abandon_rate.labels(campaign=campaign.id, window="30d").set(abandons.rate_30d)
        return PacingStats(
            agents=snapshots(agents),
            calls_in_flight=flight.ringing,
            answered_waiting=flight.waiting,
            dials=counts.recent_dials,
            live_answers=counts.recent_answers,
            avg_answer_delay_s=sample.answer_delay_s,
            avg_talk_s=sample.talk_s,
            talk_times=sample.talk_times,
            abandons=abandons,
            ring_times=sample.ring_times,
            ringing_ages_s=ringing_ages(flight, now),
        )

    async def place(self, campaign: Campaign, calls: int, now: datetime) -> int:
        """Place up to `calls` calls; returns how many left. Stops early on an outage or no leads.

        Up to `dials_at_once` placements run at once (each awaits its own round trips and the
        desk's hold; one after another they made the dial path, not the agents, the limit). The
        round's counts are kept in one place (`_Round`), checked and taken without an await
        between them, so the round never has more than `calls` placements left or under way, nor
        more than `calls + spare` claims. What keeps two placements from taking the same agent,
        lead or number is where it always was: the desk's hold (a compare-and-set under its lock),
        the lead's claim and the number's dial lock (atomic in Redis). A placement that fails ends
        the round for the others too (no agent, no lead, an outage, NotOwnerError), but those
        under way finish: a placement is never cut between its intent and its Originate."""
        reserve = campaign.mode is DialMode.PROGRESSIVE
        if reserve and not await self.leads.any_due(campaign.id, now=now):
            return 0  # no lead: hold nobody (the ACD would log and count a hold and a release)
        round_ = _Round(calls, calls + _SPARE_CLAIMS)
        workers = [
            self._placer(campaign, round_, reserve, now) for _ in range(min(calls, self.dials_at_once))
        ]
        await asyncio.gather(*workers)
        if round_.error is not None:
            raise round_.error
        return round_.placed

    async def _placer(self, campaign: Campaign, round_: _Round, reserve: bool, now: datetime) -> None:
        """One of the round's concurrent placers: places calls while the round has some left."""
        while round_.may_start() and self._active():
            round_.started += 1
            round_.claims += 1  # at most one lead per placement
            try:
                placed, more = await self._place_one(campaign, reserve, now)
            except Exception as exc:  # the others finish what they started; place() raises it
                round_.stop(exc)
                return
            finally:
                round_.started -= 1
            round_.placed += placed
            if not more:
                round_.stop()

    async def _place_one(self, campaign: Campaign, reserve: bool, now: datetime) -> tuple[bool, bool]:
        """One placement: agent held (progressive), lead claimed, call placed. Returns (placed, the
        round goes on)."""
        mark = self._fence.mark() if self._fence is not None else 0
        call_id, agent_id = new_call_id(), None
        if reserve:
            agent_id = await self.desk.reserve(target_of(campaign), call_id)
            if agent_id is None:
                return False, False
        try:  # no command when the hold passed the lease's fence in Redis after the mark
            await self.confirm_leader(since=mark)
        except Exception:
            await self._unreserve(agent_id, call_id, now)
            raise
        lead = await self.leads.claim(campaign.id, self.owner, now=now)
        if lead is None:
            await self._unreserve(agent_id, call_id, now)
            return False, False
        request = DialRequest(campaign, DialKind.CAMPAIGN, lead, agent_id=agent_id, call_id=call_id)
        outcome = await self.dialer.place_call(request, now=now)
        if outcome.placed:  # an Originate Asterisk did not answer: AMI may be stalled, no more this round
            return True, not outcome.unanswered
        await self._unreserve(agent_id, call_id, now)
        return False, outcome.status not in OUTAGES

    async def confirm_leader(self, since: int | None = None) -> None:
        """NotOwnerError unless this engine still leads the pacing (checked in Redis, after `since`)."""
        if self._fence is not None:
            await self._fence.confirm(since)

    async def _unreserve(self, agent_id: str | None, call_id: str, now: datetime) -> None:
        if agent_id is not None:
            await self.desk.release(agent_id, call_id)

    async def dial_for_agent(self, request: DialRequest, agent_id: str, now: datetime) -> DialOutcome:
        """A dial that connects to one named agent (manual, preview): reserve them, dial, or give back."""
        call_id = request.call_id or new_call_id()
        reserved = await self.desk.reserve(target_of(request.campaign), call_id, agent_id=agent_id)
        if reserved is None:
            self.metrics.refused.labels(
                campaign=request.campaign.id, reason=DialStatus.AGENT_NOT_READY.value
            ).inc()
            return DialOutcome(DialStatus.AGENT_NOT_READY, detail=f"agent {agent_id} is not ready")
        placing = replace(request, agent_id=agent_id, call_id=call_id)
        outcome = await self.dialer.place_call(placing, now=now)
        if not outcome.placed:
            await self.desk.release(agent_id, call_id)
        return outcome

    # ---- preview ----------------------------------------------------------------------------------

    async def offer_previews(self, campaign: Campaign, now: datetime) -> int:
        """Dial the offers advisors accepted, take back declined ones, offer the next lead to every
        ready agent of the campaign who holds no offer. Returns the number of new offers."""
        busy = await self._follow_offers(campaign, now)
        offered = 0
        agents = await self.desk.agents(target_of(campaign))
        ready = [a.agent_id for a in agents if a.state is AgentState.READY and a.agent_id not in busy]
        if not ready or not await self.leads.any_due(campaign.id, now=now):
            return 0  # nothing to offer: no advisor's offer read (a round every 0.5 s)
        holding = await self.leads.current_offers(ready, now=now)
        timeout = timedelta(seconds=campaign.preview_offer_s)
        for agent_id in ready:
            if holding[agent_id] is not None:
                continue
            lead = await self.leads.claim(campaign.id, self.owner, now=now)
            if lead is None:
                break
            try:
                await self.leads.offer(lead.lead_id, self.owner, agent_id, now=now, timeout=timeout)
            except OfferRefusedError as exc:
                log.info("preview offer refused: %s", exc.message, extra={"lead": lead.lead_id})
                await self.leads.release(lead.lead_id, self.owner, now=now)
                continue
            self._offers[lead.lead_id] = agent_id
            offered += 1
        return offered

    async def _follow_offers(self, campaign: Campaign, now: datetime) -> set[str]:
        """Accepted offers are dialed for their advisor; declined or expired ones go back to the queue.
        Returns the agents whose offer is still open."""
        open_for: set[str] = set()
        for lead_id, agent_id in list(self._offers.items()):
            lead = await self.leads.find(lead_id)
            if lead is None or lead.campaign_id != campaign.id:
                continue
            state = lead.offer_state or ""
            if state == "offered" and lead.offered_to == agent_id:
                open_for.add(agent_id)
                continue
            del self._offers[lead_id]
            if state == "accepted" and lead.status == "claimed":
                request = DialRequest(campaign, DialKind.PREVIEW, lead, agent_id=agent_id)
                await self.confirm_leader()
                await self.dial_for_agent(request, agent_id, now)
            elif lead.status == "claimed":  # declined or expired: someone else's turn first
                await self._take_back(lead_id, now, later=state == "declined")
        return open_for

    async def _take_back(self, lead_id: str, now: datetime, *, later: bool) -> None:
        not_before = now + _DECLINED_REST if later else None
        try:
            await self.leads.release(lead_id, self.owner, now=now, next_attempt_at=not_before)
        except LeadNotClaimedError:
            log.debug("lead %s not released: no longer ours", lead_id)

    async def expire_previews(self, now: datetime) -> list[str]:
        """End offers whose time ran out (the next round takes their leads back)."""
        return await self.leads.expire_offers(now=now)
