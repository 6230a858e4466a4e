"""Recovery of dial intents without an outcome (dialer.calls.intents), after a crash or an AMI cut.

Run by DialerService after every AMI (re)login, once it knows Asterisk's channels (resync), and in
its housekeeping. For each open intent that this engine does not follow:
- a channel carrying its SWITCHBOARD_CALL_ID is alive in Asterisk: the call is real and going on,
  and it is followed again (`adopt`): ringing, bridged to an advisor, or answered and waiting;
- no channel carries it: the call ended (or never rang) while nobody listened. It is settled once
  as an attempt with result `unknown` (it counts against the number's caps and the lead's
  attempts; the lead goes back to its queue for the campaign's retry delay of an unknown result),
  and the advisor held for it is released at once.
Another engine's intent is resolved only when that engine is gone (its heartbeat, renewed every
round, ran out; a few seconds after the dial, so its channel had time to appear). While that
engine lives, it follows its own calls; only an intent of it with no channel that is older than
the campaign's ring timeout plus the answer margin is settled (its own safety timer would have
settled it by then).
Nothing is resolved while AMI is down: only Asterisk can say whether the call is alive.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from core.clock import utc
from dialer.calls.dial_metrics import DialerMetrics
from dialer.calls.dialing import DialKind, PlacedCall
from dialer.calls.intents import Intent, IntentStore
from dialer.calls.lifecycle import Settle
from dialer.calls.settlement import Outcomes
from dialer.campaigns.rules import Campaign
from dialer.compliance.caps import CallResult
from dialer.desk.protocol import AgentDesk
from pbx.call_changes import ChannelInfo

log = logging.getLogger("switchboard.dialer.recovery")

UNKNOWN = Settle(CallResult.UNKNOWN)
_CHANNEL_GRACE_S = 5.0  # an Originate that left has a channel in Asterisk well within this
_KINDS = frozenset(kind.value for kind in DialKind)


def placed_of(intent: Intent) -> PlacedCall:
    """The call an intent recorded, as the service follows it (recovery)."""
    return PlacedCall(
        call_id=intent.call_id, action_id=intent.action_id, campaign_id=intent.campaign_id,
        number=intent.number, kind=DialKind(intent.kind) if intent.kind in _KINDS else DialKind.CAMPAIGN,
        placed_at=intent.placed_ms / 1000, lead_id=intent.lead_id, holder=intent.holder,
        agent_id=intent.agent_id, lock_token=intent.lock_token,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Resolved:
    """What one recovery pass did: calls adopted, settled as unknown, left for later."""

    adopted: int = 0
    settled: int = 0
    waiting: int = 0


class Recovery:
    def __init__(
        self,
        *,
        intents: IntentStore,
        outcomes: Outcomes,
        desk: AgentDesk,
        metrics: DialerMetrics,
        owner: str,
        campaign: Callable[[str], Campaign | None],
        followed: Callable[[str], bool],
        adopt: Callable[[PlacedCall, Sequence[ChannelInfo]], Awaitable[None]],
        answer_margin_s: float,
    ) -> None:
        self.intents = intents
        self.outcomes = outcomes
        self.desk = desk
        self.metrics = metrics
        self.owner = owner
        self._campaign = campaign
        self._followed = followed
        self._adopt = adopt
        self._margin = answer_margin_s

    async def run(self, channels: Callable[[str], Sequence[ChannelInfo]], now: float) -> Resolved:
        """One pass over the open intents; `channels(call_id)` is what Asterisk has for a call now."""
        adopted = settled = waiting = 0
        found = [i for i in await self.intents.open_intents() if not self._followed(i.call_id)]
        alive = await self.intents.alive(sorted({i.owner for i in found if i.owner != self.owner}))
        for intent in found:
            live, age = channels(intent.call_id), now - intent.placed_ms / 1000
            ours = intent.owner == self.owner or (intent.owner not in alive and age > _CHANNEL_GRACE_S)
            if live and ours:
                await self._adopt(placed_of(intent), live)
                self.metrics.recovered.labels(campaign=intent.campaign_id, how="adopted").inc()
                adopted += 1
            elif not live and (ours or age > self._deadline(intent)):
                settled += await self._settle(intent, now)
            else:
                waiting += 1  # another engine, alive, follows it
        return Resolved(adopted, settled, waiting)

    def _deadline(self, intent: Intent) -> float:
        campaign = self._campaign(intent.campaign_id)
        return (campaign.ring_timeout_s if campaign is not None else 60.0) + self._margin

    async def _settle(self, intent: Intent, now: float) -> bool:
        """Settle as an unknown attempt (once: a concurrent settlement wins), free its advisor."""
        call = placed_of(intent)
        applied = await self.outcomes.write(call, UNKNOWN, self._campaign(call.campaign_id), utc(now))
        if call.agent_id:
            await self.desk.release(call.agent_id, call.call_id, now)
        if applied:
            self.outcomes.count(call, UNKNOWN)
            self.metrics.recovered.labels(campaign=call.campaign_id, how="settled").inc()
            log.warning(
                "call %s to %s placed by %s: no outcome and no channel; settled as unknown",
                call.call_id, call.number, intent.owner or "?",
                extra={"call_id": call.call_id, "lead": call.lead_id or "", "campaign": call.campaign_id},
            )  # fmt: skip
        return applied
