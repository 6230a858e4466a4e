"""DialerService: the outbound dialer as a PbxService — pacing rounds, placed calls, campaign control.

Owned here: the engine-side shell around the pure cores. It
- runs a pacing round every `round_interval_s` while this engine holds the pacing lease of its ACD
  shard (core.lease.Lease: the runtime shares the shard's ACD lease, else campaign_control.LeaderLease;
  renewed on its own timer; one engine per shard paces; each dial first confirms the lease in Redis),
  for each running campaign (state in Redis) of its shard: its due callbacks first (when given the
  task store), then dialer.loop.pacer.Pacer measures, decides and places calls for fresh leads; every
  call goes through dialer.calls.dialing.Dialer.place_call (the gate is inside it);
- follows the calls this engine placed: tracker changes become events of the call table
  (dialer.calls.follow.CallBook, whatever order Asterisk delivers them in;
  dialer.calls.lifecycle.apply) and its effects are performed (dialer.loop.call_effects): hand the
  answered call to the desk, redirect an abandoned one to the abandon message, release reserved
  agents, and write the outcome (dialer.calls.settlement) in the background;
- after every (re)login, and in its rounds while it leads, takes calls over and rebuilds them from
  Asterisk (dialer.loop.takeover: the channel listing, the dial intents, the call book as one
  mechanism): an answered customer is connected or abandoned once, never left on hold;
- starts, pauses and stops campaigns, answers the API's stats and dials (campaign_operations.py).
Rules it keeps:
- Nothing that waits on Redis runs in `handle` or `tick` themselves: rounds, hand-overs to the
  desk, agent releases and outcome writes run in the service's own tasks, each with a timeout,
  so a frozen Redis never stalls the engine's events or ticker, and a cancellation a library
  swallows (redis-py's asyncio.wait_for on Python 3.11) never hangs the engine's stop. AMI
  effects (redirect, hangup) are sent at once and never wait on Redis.
- An Originate is never sent twice: a placed call is followed until its end, through reconnects
  (the lease owner's resync settles calls whose channels are gone; a call whose answer never came
  is settled as unknown by the owner after its ring timeout plus a margin); never placed again.
- No dial in doubt is forgotten: each placed call has a write-ahead intent (dialer.calls.intents) naming
  its engine; intents nobody follows are taken over by their engine's next life, or by the leader once
  their engine's heartbeat (renewed every lease/3) ran out or it took that engine's lease (at once):
  followed again if alive in Asterisk, else settled once (dialer.calls.recovery).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from redis.asyncio import Redis

from core.clock import Clock, utc
from core.errors import NotOwnerError, StoreUnavailableError, SwitchboardError
from core.lease import Lease
from core.step_deadline import bounded_step
from core.store_errors import store_available
from dialer.calls import lifecycle as outbound
from dialer.calls.attempts import AttemptStore
from dialer.calls.dial_metrics import DialerMetrics
from dialer.calls.dial_records import DialOutcome, PlacedCall
from dialer.calls.dialing import Dialer
from dialer.calls.follow import CallBook, call_rules, overdue
from dialer.calls.intents import IntentStore
from dialer.calls.lifecycle import OutboundCall, Phase
from dialer.calls.recovery import Recovery
from dialer.calls.resync import OutboundResync
from dialer.calls.settlement import LiveSample, Outcomes
from dialer.campaigns.rules import Campaign, Campaigns, CampaignsInForce
from dialer.desk.protocol import AgentDesk
from dialer.dialer_keys import DialerKeys
from dialer.leads.store import LeadStore
from dialer.lists.gate import Gate
from dialer.loop.background import BackgroundWork, DialerSettings
from dialer.loop.call_effects import CallEffects
from dialer.loop.callbacks import CallbackRound
from dialer.loop.campaign_control import CampaignControl, CampaignState, CampaignStatus, LeaderLease
from dialer.loop.campaign_operations import CampaignOperations
from dialer.loop.pacer import InFlight, Pacer
from dialer.loop.takeover import Takeover
from dialer.tasks.store import TaskStore
from pbx.call_changes import CallChange
from pbx.codec import Event
from pbx.service import ActionSender
from pbx.tracker import CallTracker
from routing.acd.outbound import BridgeState

__all__ = ["DialerService", "DialerSettings"]  # DialerSettings lives in dialer.loop.background

DOUBT_RECHECK_S = 0.5  # a grace over while the desk's Bridge is in doubt is looked at again after this
log = logging.getLogger("switchboard.dialer")


class DialerService:
    """See the module docstring. Register it in the Engine after the desk (if the desk is a service).
    Its `operations` (dialer/loop/campaign_operations.py) do what the HTTP API asks (start / pause /
    stop, stats, manual and callback dials, dispositions); the resync and the recovery of dial
    intents (`resync`, `recover`) are done by its `takeover` (dialer/loop/takeover.py), its
    background writes by its `background` (dialer/loop/background.py)."""

    name = "dialer"

    def __init__(
        self,
        redis: Redis,
        sender: ActionSender,
        campaigns: Campaigns | CampaignsInForce,
        *,
        gate: Gate,
        leads: LeadStore,
        desk: AgentDesk,
        metrics: DialerMetrics,
        instance_id: str,
        clock: Clock = time.time,
        keys: DialerKeys | None = None,
        settings: DialerSettings | None = None,
        audit_maxlen: int | None = None,
        tasks: TaskStore | None = None,
        lease: Lease | None = None,
        shard: str = "",
    ) -> None:
        self.in_force = campaigns if isinstance(campaigns, CampaignsInForce) else CampaignsInForce(campaigns)
        self.sender, self.leads, self.desk, self.shard = sender, leads, desk, shard  # shard: whose campaigns
        self.metrics, self.instance_id, self._clock = metrics, instance_id, clock
        self.settings = settings = settings or DialerSettings()
        self.attempts = AttemptStore(redis, keys, audit_maxlen=audit_maxlen)
        self.intents = IntentStore(redis, keys, audit_maxlen=audit_maxlen)
        self.control = CampaignControl(redis, keys, audit_maxlen=audit_maxlen)
        self._own_lease = lease is None  # else the runtime's (the ACD's) lease: started there
        self.lease: Lease = lease or LeaderLease(
            redis, instance_id, keys=keys, ttl_ms=settings.lease_ms, renew_s=settings.lease_renew_s,
            shard=shard,
        )  # fmt: skip
        self.dialer = Dialer(
            gate=gate, sender=sender, attempts=self.attempts, intents=self.intents, leads=leads,
            registry=self, metrics=metrics, owner=instance_id, clock=clock,
            store_timeout=settings.store_timeout_s, shard=shard,
        )  # fmt: skip
        self.outcomes = Outcomes(self.attempts, self.intents, leads, metrics, instance_id, tasks=tasks)
        self.background = BackgroundWork(settings, sender, metrics)
        self._samples: dict[str, LiveSample] = {}
        self.pacer = Pacer(
            dialer=self.dialer, desk=desk, leads=leads, attempts=self.attempts, metrics=metrics,
            in_flight=self.in_flight, samples=self.sample, active=lambda: not self.background.closed,
            fence=self.lease,
        )  # fmt: skip
        self.operations = self._operations()
        self.callbacks = CallbackRound(tasks, self.pacer, desk) if tasks is not None else None
        self.book = CallBook()
        self._settling: set[str] = set()  # calls whose outcome is being written: this engine's to settle
        self.takeover = self._takeover(sender, desk)
        self.effects = CallEffects(
            background=self.background, desk=desk, outcomes=self.outcomes, campaign=self._campaign_of,
            sample=self.sample, settling=self._settling, clock=clock,
        )  # fmt: skip
        self._round: asyncio.Task[bool] | None = None
        self._next_round = self._next_housekeeping = self._next_recovery = 0.0
        self.is_leader, self.rounds, self.round_failures = False, 0, 0
        self._beating, self._next_beat = False, 0.0  # heartbeat set (intents.beat); renewed next at

    def _operations(self) -> CampaignOperations:
        return CampaignOperations(
            campaigns=lambda: self.campaigns, control=self.control, attempts=self.attempts, leads=self.leads,
            lease=self.lease, pacer=self.pacer, dialer=self.dialer, in_flight=self.in_flight,
            instance_id=self.instance_id, clock=self._clock, every=lambda: self.in_force.current,
        )  # fmt: skip

    def _takeover(self, sender: ActionSender, desk: AgentDesk) -> Takeover:
        recovery = Recovery(
            intents=self.intents, outcomes=self.outcomes, desk=desk, metrics=self.metrics,
            owner=self.instance_id, campaign=self._campaign_of, answer_margin_s=self.settings.answer_margin_s,
            mine=lambda campaign_id: self.in_force.takes_over(self.shard, campaign_id), shard=self.shard,
            superseded=self.lease.superseded,
        )  # fmt: skip
        return Takeover(
            book=self.book, resyncer=OutboundResync(sender, timeout=self.settings.store_timeout_s),
            recovery=recovery, background=self.background, lease=self.lease, follow=self.expect,
            apply=self._apply, settling=self._settling, instance_id=self.instance_id, clock=self._clock,
        )  # fmt: skip

    # ---- configuration ------------------------------------------------------------------------
    @property
    def campaigns(self) -> Campaigns:
        return self.in_force.of_shard(self.shard)  # what this engine paces: its shard's

    def replace_campaigns(self, campaigns: Campaigns) -> None:
        """Hot reload: the next round uses the new campaigns (placed calls keep their rules)."""
        self.in_force.replace(campaigns)

    # ---- what the API and the other features ask (dialer/loop/campaign_operations.py) -----------

    def campaign(self, campaign_id: str) -> Campaign:
        return self.operations.campaign(campaign_id)

    async def set_state(
        self, campaign_id: str, state: CampaignState, actor: str, reason: str = ""
    ) -> CampaignStatus:
        return await self.operations.set_state(campaign_id, state, actor, reason)

    async def manual_dial(self, agent_id: str, campaign_id: str, number: str) -> DialOutcome:
        return await self.operations.manual_dial(agent_id, campaign_id, number)

    async def callback_dial(
        self, campaign_id: str, number: str, *, agent_id: str | None = None, lead_id: str | None = None
    ) -> DialOutcome:
        return await self.operations.callback_dial(campaign_id, number, agent_id=agent_id, lead_id=lead_id)

    async def apply_disposition(self, lead_id: str, code: str) -> str | None:
        return await self.operations.apply_disposition(lead_id, code)

    async def stats(self, campaign_id: str) -> dict[str, Any]:
        return await self.operations.stats(campaign_id)

    # ---- taking calls over (dialer/loop/takeover.py) ---------------------------------------------

    async def resync(self, tracker: CallTracker) -> None:
        """After a (re)login or a restart: take over what is ours, rebuild the calls from Asterisk's."""
        await self.takeover.resync(tracker)

    async def recover(self) -> None:
        """Housekeeping: resolve open intents nobody follows that may be this engine's."""
        await self.takeover.recover()

    def _campaign_of(self, campaign_id: str) -> Campaign | None:
        return self.campaigns.get(campaign_id)  # the campaigns of the last reload

    # ---- the call registry (dialer.calls.dialing.CallRegistry) --------------------------------------

    def expect(self, call: PlacedCall) -> None:
        self.book.add(call, call_rules(self.campaigns.get(call.campaign_id)))

    def forget(self, call_id: str) -> None:
        self.book.forget(call_id)

    def calls(self) -> list[OutboundCall]:
        return list(self.book)

    def in_flight(self, campaign_id: str) -> InFlight:
        calls = [call for call in self.book if call.placed.campaign_id == campaign_id]
        placed = tuple(call.placed.placed_at for call in calls if call.phase is Phase.DIALING)
        waiting = sum(call.phase in (Phase.ANSWERED, Phase.WAITING) for call in calls)
        return InFlight(len(placed), waiting, placed)

    def sample(self, campaign_id: str) -> LiveSample:
        return self._samples.setdefault(campaign_id, LiveSample())

    # ---- PbxService ----------------------------------------------------------------------------

    async def handle(self, event: Event, changes: Sequence[CallChange]) -> None:
        if self.sender.ready:  # not the new link's first events: the resync must see the cut's start
            self.takeover.event_seen(self._clock())
        for change in changes:
            for call_id, found in self.book.translate(change, self._clock()):
                await self._apply(call_id, found)

    async def _apply(self, call_id: str, event: outbound.Event) -> None:
        done = self.book.apply(call_id, event)
        if done is not None:
            moved, effects = done
            for effect in effects:
                if not await self.effects.perform(moved, effect):
                    self._let_go(call_id)
                    return
            if moved.phase is Phase.ENDED:
                self.book.forget(call_id)

    def _let_go(self, call_id: str) -> None:
        """An action on this call was fenced: this engine no longer owns the calls, so it decides
        nothing more about this one (no outcome written): whoever leads next takes it over from its
        intent (the resync after a takeover, or the leader's recovery once this engine stopped beating)."""
        log.warning("call %s: left to the engine owning the calls now", call_id, extra={"call_id": call_id})
        self.book.forget(call_id)

    async def tick(self, now: float) -> None:
        if self.background.closed:
            return
        if self._own_lease:
            self.lease.start()  # renewed on its own timer from now on, however long rounds take
        await self._timers(now)
        if (self._round is None or self._round.done()) and now >= self._next_round:
            self._next_round = now + self.settings.round_interval_s
            self._round = asyncio.create_task(self._guarded_round())

    async def _timers(self, now: float) -> None:
        for call_id in self.book.due(now):
            bridge = self.desk.abandoning(call_id)  # NONE: no Bridge from the desk until the Withdraw
            if bridge is BridgeState.PENDING:  # the desk's Bridge is unanswered: they may talk (a Redirect
                self.book.postpone(call_id, now + DOUBT_RECHECK_S)  # would pull them out); BridgeEnter says
                continue
            connected = bridge is BridgeState.CONNECTED  # by the desk's Bridge answer, before BridgeEnter
            await self._apply(call_id, outbound.AgentConnected(now) if connected else outbound.GraceOver(now))
        for call in self.book if self.lease.owned else ():  # unfenced (settles `unknown`): owners only
            campaign = self.campaigns.get(call.placed.campaign_id)
            ring = campaign.ring_timeout_s if campaign is not None else 60.0
            event = overdue(call, now, ring_timeout_s=ring, settings=self.settings)
            if event is not None:
                await self._apply(call.call_id, event)

    # ---- pacing rounds ----------------------------------------------------------------------------

    async def _guarded_round(self) -> bool:
        started, limit = time.perf_counter(), self.settings.round_timeout_s
        try:
            with store_available("running a pacing round"):  # its AMI waits end first, as AMI's
                async with bounded_step(limit, keep=limit / 4):
                    return await self.run_once()
        except SwitchboardError as exc:  # StoreUnavailableError, NotOwnerError (pacing catches AmiError)
            self.round_failures += 1
            self.is_leader = False
            self.metrics.leader.set(0)
            self.metrics.errors.labels(step="round").inc()
            if isinstance(exc, StoreUnavailableError):
                self.dialer.gate.note_unavailable()  # refused because a store is unreachable
            log.warning("pacing round failed, nothing dialed: %s", exc.message)
            return False
        finally:
            self.metrics.round_seconds.observe(time.perf_counter() - started)

    async def run_once(self) -> bool:
        """One round: if this engine leads, renew its heartbeat and pace every running campaign.
        True if it led.

        Only the leader beats: an engine that lost the pacing (frozen, cut off, superseded) may send
        nothing for its calls (pbx.client fences them), so once its heartbeat runs out the leader
        takes them over (dialer.calls.recovery) instead of leaving them to an engine that cannot act;
        an engine that stops leading takes its heartbeat away at once."""
        if not await self._leads():
            return False
        now = self._clock()  # the engine's clock: the round's schedule; `at`: the time cores and stores read
        at = utc(now)
        try:
            await self._pace_running(at)
        except NotOwnerError:  # a dial's fence found another leader: this engine was paused
            self.is_leader = False
            self.metrics.leader.set(0)
            log.warning("pacing round stopped: another engine leads the pacing now")
            return False
        if now >= self._next_recovery:  # as often as a dead engine's heartbeat can run out
            self._next_recovery = now + min(self.settings.housekeeping_s, self.settings.lease_ms / 1000)
            await self.recover()
        if now >= self._next_housekeeping:
            self._next_housekeeping = now + self.settings.housekeeping_s
            await self._housekeeping(at)
        self.rounds += 1
        return True

    async def _leads(self) -> bool:
        """Take or keep the pacing lease; beat while leading, take the heartbeat away when not."""
        if self._own_lease and not self.lease.owned:
            self.lease.start()
            await self.lease.acquire()  # at once, not one renewal period later
        self.is_leader = self.lease.owned
        self.metrics.leader.set(int(self.is_leader))
        if not self.is_leader:
            if self._beating:  # it led until now: its calls go to the leader's next recovery pass
                await self.intents.stop_beating(self.instance_id)
                self._beating = False
            return False
        if not self._beating or self._clock() >= self._next_beat:  # every lease/3: 8 s of 9 to spare
            await self.intents.beat(self.instance_id, ttl=timedelta(milliseconds=3 * self.settings.lease_ms))
            self._beating, self._next_beat = True, self._clock() + self.settings.lease_ms / 3000
        return True

    async def _pace_running(self, now: datetime) -> None:
        states = await self.control.states()
        for campaign in self.campaigns.campaigns:
            status = states.get(campaign.id)
            running = status is not None and status.state is CampaignState.RUNNING
            if running and not self.background.closed:
                await self._pace(campaign, now)

    async def _pace(self, campaign: Campaign, now: datetime) -> None:
        """One campaign's round, due callbacks first; a refusal inside it never stops the other
        campaigns (an outage does)."""
        if not self.sender.ready:
            return  # disconnected or resyncing: nothing is dialed (nor any agent held) until it is over
        try:
            with store_available(f"pacing campaign {campaign.id}"):
                if self.callbacks is not None:
                    await self.callbacks.run(campaign, now)
                await self.pacer.pace(campaign, now)
        except (StoreUnavailableError, NotOwnerError):  # an outage, or another leader: the round stops
            raise
        except SwitchboardError as exc:
            self.metrics.errors.labels(step="pace").inc()
            log.warning("pacing of campaign %s failed: %s", campaign.id, exc.message,
                        extra={"campaign": campaign.id})  # fmt: skip

    async def _housekeeping(self, now: datetime) -> None:
        await self.leads.requeue_expired(now=now)
        await self.pacer.expire_previews(now)
        for campaign in self.campaigns.campaigns:
            sizes = await self.leads.queue_sizes(campaign.id)
            for queue, size in sizes.items():
                self.metrics.leads_remaining.labels(campaign=campaign.id, state=queue).set(size)
            self.metrics.in_flight.labels(campaign=campaign.id).set(self.in_flight(campaign.id).ringing)

    async def close(self, *, release: bool = True) -> None:
        """Stop pacing, the round, the background writes (placed calls are left to Asterisk);
        `release=False` is what a crash leaves: the pacing lease runs out instead of being given up."""
        await self.background.close(self._round)  # first: no tick or round starts the lease again
        if self._own_lease:  # let another engine take over at once (else the lease runs out)
            await self.lease.stop(release=release)
        self.is_leader = False

    async def settled(self) -> None:
        """Wait until every outcome write started so far is done (tests, graceful stop)."""
        await self.background.settled()
