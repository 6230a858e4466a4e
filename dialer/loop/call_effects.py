"""Carrying out the effects of the outbound call table (dialer.calls.lifecycle) for DialerService.

AMI effects (redirect, hangup) are sent at once and never wait on Redis; one Asterisk did not
confirm is kept as owed (the takeover sends it again after the reconnect while it is still due).
Hand-overs to the desk, agent releases and outcome writes run in the service's background work
(bounded, or retried through an outage), never in the engine's own event handling.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable

from core.clock import Clock, utc
from dialer.calls import lifecycle as outbound
from dialer.calls.intents import Settlement
from dialer.calls.lifecycle import OutboundCall
from dialer.calls.settlement import LiveSample, Outcomes
from dialer.campaigns.rules import Campaign
from dialer.desk.protocol import AgentDesk, AnsweredCall, CallTarget
from dialer.loop.background import BackgroundWork, OwedAction
from dialer.loop.pacer import target_of

log = logging.getLogger("switchboard.dialer")


class CallEffects:
    """`campaign` finds a campaign in force, `sample` a campaign's live abandon sample; `settling`
    holds the calls whose outcome is being written (shared with the service's takeover)."""

    def __init__(
        self,
        *,
        background: BackgroundWork,
        desk: AgentDesk,
        outcomes: Outcomes,
        campaign: Callable[[str], Campaign | None],
        sample: Callable[[str], LiveSample],
        settling: set[str],
        clock: Clock,
    ) -> None:
        self._work = background
        self._desk = desk
        self._outcomes = outcomes
        self._campaign = campaign
        self._sample = sample
        self._settling = settling
        self._clock = clock
        desk.watch_bridges(self.bridge_sent, self.bridge_refused)

    def bridge_sent(self, call_id: str) -> None:
        """The desk is sending a Bridge of the customer to an agent: the dial record says so, so that
        the recovery after a crash settles a call that then ended unseen as answered, not abandoned."""
        at, intents, by = utc(self._clock()), self._outcomes.intents, self._outcomes.owner
        mark = functools.partial(intents.mark_bridge_sent, call_id, at=at, by=by)
        self._work.spawn(self._work.retried("mark-bridge", mark))

    def bridge_refused(self, call_id: str) -> None:
        """Asterisk refused that Bridge (it connected nobody): the dial record says so too, so that the
        recovery applies the answered customer's rule unless a later Bridge went out."""
        at, intents, by = utc(self._clock()), self._outcomes.intents, self._outcomes.owner
        mark = functools.partial(intents.mark_bridge_refused, call_id, at=at, by=by)
        self._work.spawn(self._work.retried("mark-bridge-refused", mark))

    async def perform(self, call: OutboundCall, effect: outbound.Effect) -> bool:
        """Carry out one effect; False when its AMI action was fenced (this engine does not own the calls)."""
        if isinstance(effect, outbound.Redirect):
            fields: dict[str, str | int] = {
                "Channel": effect.channel,
                "Context": effect.context,
                "Exten": effect.exten,
                "Priority": 1,
            }
            owed = self._owed(call, effect.channel, "Redirect", fields)
            return await self._work.ami("Redirect", fields, owed)
        if isinstance(effect, outbound.HangupChannel):
            fields = {"Channel": effect.channel, "Cause": 16}
            return await self._work.ami("Hangup", fields, self._owed(call, effect.channel, "Hangup", fields))
        work = self._work
        if isinstance(effect, outbound.HandOver):  # at once, but never in the engine's own tasks
            work.spawn(work.bounded("hand-over", self._desk.connect(self._answered_call(call))))
        elif isinstance(effect, outbound.Withdraw):
            work.spawn(work.retried("withdraw", lambda: self._desk.withdraw(call.call_id)))
        elif isinstance(effect, outbound.ReleaseAgent):
            agent_id, call_id = effect.agent_id, call.call_id
            work.spawn(work.retried("release-agent", lambda: self._desk.release(agent_id, call_id)))
        elif isinstance(effect, outbound.Connected) and call.placed.number:  # no dial record: nothing to mark
            call_id, at, intents = call.call_id, utc(self._clock()), self._outcomes.intents
            work.spawn(work.retried("mark-connected", lambda: intents.mark_connected(call_id, at=at)))
        elif isinstance(effect, outbound.AnswerSeen) and call.placed.number:
            call_id, at, intents = call.call_id, utc(self._clock()), self._outcomes.intents
            work.spawn(work.retried("mark-answered", lambda: intents.mark_answered(call_id, at=at)))
        elif isinstance(effect, outbound.Settle):
            self._settle(call, effect)
        return True

    @staticmethod
    def _owed(call: OutboundCall, channel: str, action: str, fields: dict[str, str | int]) -> OwedAction:
        """Kept until Asterisk confirms it: a lost abandon Redirect would leave the customer on hold."""
        return OwedAction(call.call_id, call.placed.campaign_id, channel, action, fields)

    def _answered_call(self, call: OutboundCall) -> AnsweredCall:
        placed = call.placed
        campaign = self._campaign(placed.campaign_id)
        target = target_of(campaign) if campaign is not None else CallTarget(None)  # removed: any agent
        return AnsweredCall(
            call_id=placed.call_id, campaign_id=placed.campaign_id, target=target, channel=call.channel,
            uniqueid=call.uniqueid, number=placed.number, answered_at=call.answered_at or self._clock(),
            lead_id=placed.lead_id, agent_id=placed.agent_id,
        )  # fmt: skip

    def _settle(self, call: OutboundCall, settle: outbound.Settle) -> None:
        placed = call.placed
        if settle.doubt:
            log.warning(
                "call %s to %s settled %s, %s",
                placed.call_id, placed.number, settle.result.value, settle.doubt,
                extra={"call_id": placed.call_id, "campaign": placed.campaign_id},
            )  # fmt: skip
        rang_until = call.answered_at if call.answered_at is not None else self._clock()
        self._sample(placed.campaign_id).add(settle, rang_s=rang_until - placed.placed_at)
        if not placed.number:  # adopted at a resync without its dial record: counted, nothing to write
            self._outcomes.count(placed, settle)
            log.warning("call %s settled %s without a dial record", placed.call_id, settle.result.value)
            return
        campaign = self._campaign(placed.campaign_id)
        at = utc(self._clock())  # the outcome's time, as the stores read it
        work, outcomes, tries = self._work, self._outcomes, 0

        def written() -> Awaitable[Settlement]:  # counted there if settled by this write (or a try)
            nonlocal tries
            tries += 1
            return outcomes.write(placed, settle, campaign, at, retry=tries > 1)

        def write() -> Awaitable[None]:
            return work.retried("write-outcome", written)

        self._settling.add(placed.call_id)  # its intent is this write's, not recovery's (unless it gives up)
        work.spawn(work.then(write, lambda: self._settling.discard(placed.call_id)))
