"""Taking calls over after an AMI (re)login, a restart or another engine's death: the outbound resync
and the recovery of dial intents as one mechanism; DialerService holds one Takeover.

- The channel listing (CoreShowChannels, dialer.calls.resync) is the truth about what still exists;
  the intent store (dialer.calls.intents) about which calls were placed and by whom; the call book
  and its table (dialer.calls.follow, dialer.calls.lifecycle, `Found` included) are the one way a
  call is followed.
- `resync`, after every login: list; take over what dialer.calls.recovery.sort gives this engine
  (customers of its previous life or of a dead engine are added to the book from their intents;
  open intents with no channel are settled once as dialer.calls.recovery.unseen_end says (unknown,
  answered if bridged, an abandon in doubt if answered past the grace), advisor released; answered customers
  without any record are adopted at the first login only); then, if it owns the lease and its
  desk has resynced since it took over (AgentDesk.settled), plan every followed call against the
  listing (answered: `Found`; gone: `Vanished`, a guess, written unfenced). An engine without the
  lease plans nothing (the owner, which follows the same calls, decides them); it keeps following
  them and plans them when it owns again (the takeover's resync, which runs the desk's first, or
  its next recovery pass for a lease without `on_owned`).
- `recover`, in housekeeping: when some open intent nobody here follows may be this engine's (its
  owner's heartbeat ran out or this engine took its owner's lease, or it is overdue), the same
  listing and takeover. A takeover of the lease runs `resync` at once (the ACD's `on_owned`).
- A customer the listing showed on hold is planned as they are when planned (`_as_now`): the
  listing may predate the desk's Bridge of them (the desk's resync and this one run in either
  order), and a customer the desk connected, or whose Bridge awaits its answer, is not abandoned.
- Both send again the effects Asterisk did not confirm (`BackgroundWork.owed`: an abandon Redirect
  lost with the link) that the listing shows still due (dialer.calls.resync.still_due), and the
  abandon message (or a machine's hang-up) of a customer on hold whose call a previous life or a
  dead engine settled (dialer.calls.recovery `stranded`): a customer settled as abandoned never
  stays on hold. The call is not settled or counted again.
A live engine's calls are left to it, whatever the login. The store reads are bounded by the store
timeout: a frozen Redis never holds a login up (the followed calls are still planned).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace

from core.clock import Clock
from core.errors import AmiError, SwitchboardError
from core.lease import Lease
from core.store_errors import store_available
from dialer.calls import lifecycle as outbound
from dialer.calls import resync as outbound_resync
from dialer.calls.dial_records import PlacedCall
from dialer.calls.follow import CallBook, call_rules
from dialer.calls.intents import Intent
from dialer.calls.recovery import Decision, Recovery, Seen, Stranded, placed_of, sort, stranded_action
from dialer.calls.resync import LiveCustomer, OutboundResync
from dialer.loop.background import BackgroundWork, OwedAction
from pbx.tracker import CallTracker
from routing.acd.outbound import BridgeState

log = logging.getLogger("switchboard.dialer")


class Takeover:
    """See the module docstring. `follow` adds a call to the service's book (its registry's
    `expect`), `apply` feeds one event to the call table and performs its effects; `settling` holds
    the calls whose outcome the service is writing (shared with it: they are its to settle)."""

    def __init__(
        self,
        *,
        book: CallBook,
        resyncer: OutboundResync,
        recovery: Recovery,
        background: BackgroundWork,
        lease: Lease,
        follow: Callable[[PlacedCall], None],
        apply: Callable[[str, outbound.Event], Awaitable[None]],
        settling: set[str],
        instance_id: str,
        clock: Clock,
    ) -> None:
        self.book = book
        self.resyncer = resyncer
        self.recovery = recovery
        self.background = background
        self.lease = lease
        self.expect = follow
        self._apply = apply
        self._settling = settling
        self.instance_id = instance_id
        self._clock = clock
        self._tracker: CallTracker | None = None
        self._last_event_at: float | None = None
        self._first_resync = True
        self._unplanned: set[str] = set()  # adopted by a resync without the lease: planned at the next
        self._unplanned_since: float | None = None  # the earliest cut a resync without it skipped

    def event_seen(self, at: float) -> None:
        """An event of the live link arrived: the next resync plans the calls from the cut after it."""
        self._last_event_at = at

    async def resync(self, tracker: CallTracker) -> None:
        """After a (re)login or a restart: take over what is this engine's, then rebuild every
        followed call from Asterisk's channels."""
        self._tracker = tracker
        now = self._clock()
        live = await self._listing("resync")
        if live is None:
            return  # the link went again: the next login resyncs
        first, self._first_resync = self._first_resync, False
        adopted = await self._take_over(live, now, first=first)
        since = self._last_event_at or 0.0
        if self._planned(adopted, since):
            adopted |= self._unplanned
            since = min(since, self._unplanned_since if self._unplanned_since is not None else since)
            self._unplanned, self._unplanned_since = set(), None
            await self._plan([c for c in self.book if c.call_id not in adopted], live, now, since)
            answered_any_time = [c for c in self.book if c.call_id in adopted]
            await self._plan(answered_any_time, live, now, 0.0)
        await self._send_owed(live)

    def _planned(self, adopted: set[str], since: float | None) -> bool:
        """The followed calls are planned by the lease's owner only: what Asterisk did not say (a
        call gone from the listing: `unknown`, an abandon in doubt) is guessed, and the settlement is
        unfenced (the first writer wins), so an old owner back on its link must not write its guess
        before the new owner, which follows the same calls, writes what happened. A non-owner keeps
        following its calls and plans them at the resync of its next ownership (the ACD's
        `on_owned`), from the earliest cut it skipped (`since`), its adopted calls as adopted. Nor
        before the desk has resynced under this ownership: its resync may bridge a customer that
        this one would abandon on an older listing (the takeover's resync runs the desk's first)."""
        if self._owner():
            return True
        self._unplanned |= adopted
        if since is not None and (self._unplanned_since is None or since < self._unplanned_since):
            self._unplanned_since = since
        if self.book.calls:
            count = len(self.book.calls)
            log.info("outbound resync before owning the calls: %d followed calls not planned", count)
        return False

    def _owner(self) -> bool:
        return self.lease.owned and self.recovery.desk.settled()

    async def recover(self) -> None:
        """Housekeeping: resolve open intents nobody follows that may be this engine's (another
        engine died, or a write gave up), and effects still owed; not while AMI is down."""
        if self._tracker is None or not self.background.sender.ready or self.background.closed:
            return
        if self._owner() and (self._unplanned or self._unplanned_since is not None):
            # a resync without the lease left its calls unplanned and no takeover resynced since (a
            # lease without the ACD's `on_owned`: a standalone dialer's, taken after its first login)
            await self.resync(self._tracker)
            return
        now = self._clock()
        pending = await self.recovery.pending(self._follows, now)
        if not pending and not self.background.owed:
            return
        live = await self._listing("recover")
        if live is None:
            return
        if pending:
            adopted = await self._take_over(live, now, first=False)
            if self._planned(adopted, None):  # only the adopted calls were to be planned
                await self._plan([c for c in self.book if c.call_id in adopted], live, now, 0.0)
        await self._send_owed(live)

    async def _send_stranded(self, stranded: Stranded) -> None:
        """A customer on hold whose call was settled (by this engine's previous life or a dead
        engine) before its message reached Asterisk: sent now, the outcome left as it is."""
        intent, channel = stranded.intent, stranded.customer.channel
        rules = call_rules(self.recovery.campaign(intent.campaign_id))
        action, fields = stranded_action(stranded.result, channel, rules)
        log.warning(
            "call %s: settled %s, yet its customer still waits on hold; %s sent",
            intent.call_id, stranded.result, action, extra={"call_id": intent.call_id},
        )  # fmt: skip
        self.background.metrics.recovered.labels(campaign=intent.campaign_id, how="resent").inc()
        owed = OwedAction(intent.call_id, intent.campaign_id, channel, action, fields)
        await self.background.ami(action, fields, owed)

    async def _send_owed(self, live: dict[str, LiveCustomer]) -> None:
        """Send again what Asterisk did not confirm and the listing shows still due; forget the rest."""
        owed = self.background.owed
        for channel, action in list(owed.items()):
            if owed.get(channel) is not action:
                continue  # confirmed (or owed anew) meanwhile
            del owed[channel]
            if not outbound_resync.still_due(action.call_id, channel, live):
                continue  # executed (the customer moved on or is gone)
            log.warning(
                "call %s: %s of %s was never confirmed and the customer still waits; sent again",
                action.call_id, action.action, channel, extra={"call_id": action.call_id},
            )  # fmt: skip
            self.background.metrics.recovered.labels(campaign=action.campaign_id, how="resent").inc()
            await self.background.ami(action.action, action.fields, action)

    async def _listing(self, step: str) -> dict[str, LiveCustomer] | None:
        try:
            return await self.resyncer.live()
        except AmiError as exc:
            self.background.metrics.errors.labels(step=step).inc()
            log.warning("outbound %s: channels not listed: %s", step, exc.message)
            return None

    async def _take_over(self, live: dict[str, LiveCustomer], now: float, *, first: bool) -> set[str]:
        """Adopt and settle what dialer.calls.recovery.sort gives this engine; the adopted call ids."""
        orphans = outbound_resync.orphans(live, self.book.calls)
        try:  # bounded: a frozen store must not hold the login up
            with store_available("reading the open dial intents"):
                async with asyncio.timeout(self.background.settings.store_timeout_s):
                    seen = await self.recovery.read(orphans, live, self._follows)
        except SwitchboardError as exc:
            self.background.metrics.errors.labels(step="recover").inc()
            log.error("open dial intents not read (%r): answered customers adopted without records", exc)
            seen = Seen({}, (), ())
        decided = sort(
            orphans, seen, owner=self.instance_id, now=now, deadline=self.recovery.deadline,
            leader=self.lease.owned, mine=self.recovery.mine, shard=self.recovery.shard, first=first,
        )  # fmt: skip
        adopted = self._adopt(decided, now, first=first)
        for stranded in decided.stranded:
            await self._send_stranded(stranded)
        for intent in decided.settle:
            self._settling.add(intent.call_id)  # settled once, not again by the next pass meanwhile
            self.background.spawn(self._settle_gone(intent, now))
        if adopted or decided.settle:
            taken, gone = len(adopted), len(decided.settle)
            log.info("calls taken over: %d followed again, %d settled (gone from Asterisk)", taken, gone)
        return adopted

    def _adopt(self, decided: Decision, now: float, *, first: bool) -> set[str]:
        adopted: set[str] = set()
        for intent in decided.adopt:
            if intent.call_id in self.book.calls:
                continue  # a pass that overlapped this one (a cut during a recovery) took it already
            self.expect(placed_of(intent))
            self.recovery.adopted(intent)
            adopted.add(intent.call_id)
        if first:  # later, a customer without a record may be a live engine's just-settled call
            for customer in decided.unrecorded:
                log.warning("call %s: answered customer without a dial record; adopted", customer.call_id)
                self.expect(outbound_resync.unknown_call(customer.call_id, now))
                adopted.add(customer.call_id)
        return adopted

    async def _settle_gone(self, intent: Intent, now: float) -> None:
        try:
            settling = self._settled_gone(intent, now)
            await self.background.bounded("recover", settling, self.background.settings.round_timeout_s)
        finally:
            self._settling.discard(intent.call_id)

    async def _settled_gone(self, intent: Intent, now: float) -> None:
        await self.recovery.settle(intent, now)

    async def _plan(
        self, calls: list[outbound.OutboundCall], live: dict[str, LiveCustomer], now: float, since: float
    ) -> None:
        verdicts: dict[str, str] = {}
        for call in calls:
            customer = live.get(call.call_id)
            if customer is not None and outbound_resync.needs_verdict(call, customer):
                verdicts[call.call_id] = await self.resyncer.verdict(customer.channel)
        bridges = {c.channel for c in calls if c.channel and self._may_have_talked(c.channel)}
        heard = self.book.heard  # verdicts it heard for calls it took over: their grace counts from them
        for call_id, event in outbound_resync.plan(
            calls, live, now, since, verdicts, bridges=bridges, heard=heard
        ):
            await self._apply(call_id, self._as_now(call_id, event))

    def _as_now(self, call_id: str, event: outbound.Event) -> outbound.Event:
        """A customer the listing showed on hold, as things are now: the listing was read before the
        verdicts, and the desk's resync (or a recovery pass of this dialer) may have run meanwhile. A
        customer now in a bridge, or whom the desk connected, talks; one whose Bridge the desk sent
        may; neither hears the abandon message on the listing's word."""
        if not isinstance(event, outbound.Found) or event.bridged:
            return event
        state = self.recovery.desk.bridge_state(call_id)
        channel = self._tracker.channel(event.uniqueid) if self._tracker is not None else None
        if state is BridgeState.CONNECTED or (channel is not None and channel.bridge_id):
            return replace(event, bridged=True)
        return replace(event, bridging=state is BridgeState.PENDING)

    def _may_have_talked(self, channel: str) -> bool:
        """The desk's Bridge of this customer connected them, as the ACD's resync judges it from the
        same channels (so the order of the two resyncs does not matter)."""
        sent = self.recovery.desk.bridge_sent(channel)
        if sent is None:
            return False
        leg = self._tracker.channel_by_name(sent.agent_channel) if self._tracker is not None else None
        return sent.may_have_connected(leg is not None and leg.answered)

    def _follows(self, call_id: str) -> bool:
        """The call is this engine's to settle: followed, or its outcome being written."""
        return call_id in self.book.calls or call_id in self._settling
