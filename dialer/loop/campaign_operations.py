"""The dialer's operations for the HTTP API and the other features: campaign states, stats, manual
and callback dials, and the campaign's retry rule for a disposition.

Kept apart from dialer/loop/service.py (the engine-side loop) so each stays small; DialerService
holds one `CampaignOperations` (built with the parts it needs, nothing else) and hands these calls
to it. Every dial here goes through `Dialer.place_call` (via the pacer's
`dial_for_agent` when it connects to a named agent): calling hours, caps and the gate apply.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from core.clock import Clock, utc
from core.errors import NotFoundError
from core.lease import Lease
from dialer.calls.attempts import AttemptStore
from dialer.calls.dial_records import DialKind, DialOutcome, DialRequest
from dialer.calls.dialing import Dialer
from dialer.campaigns.rules import Campaign, Campaigns
from dialer.leads.store import LeadStore
from dialer.loop.campaign_control import CampaignControl, CampaignState, CampaignStatus
from dialer.loop.pacer import InFlight, Pacer


class CampaignNotFoundError(NotFoundError):
    error_id = "campaign-not-found"


class CampaignOperations:
    """What the API and the other features ask of the dialer; `campaigns` gives the campaigns in
    force (swapped on reload), `in_flight` the calls the service follows for a campaign."""

    def __init__(
        self,
        *,
        campaigns: Callable[[], Campaigns],
        control: CampaignControl,
        attempts: AttemptStore,
        leads: LeadStore,
        lease: Lease,
        pacer: Pacer,
        dialer: Dialer,
        in_flight: Callable[[str], InFlight],
        instance_id: str,
        clock: Clock,
        every: Callable[[], Campaigns] | None = None,
    ) -> None:
        self._campaigns = campaigns
        self._every = every or campaigns  # every shard's campaigns: a disposition's retry rule
        self.control = control
        self.attempts = attempts
        self.leads = leads
        self.lease = lease
        self.pacer = pacer
        self.dialer = dialer
        self.in_flight = in_flight
        self.instance_id = instance_id
        self._clock = clock

    def _now(self) -> datetime:
        """The time of an API request: the engine's injected clock, as the dialer's datetime."""
        return utc(self._clock())

    @property
    def campaigns(self) -> Campaigns:
        return self._campaigns()

    def campaign(self, campaign_id: str) -> Campaign:
        campaign = self.campaigns.get(campaign_id)
        if campaign is None:
            other = self._every().get(campaign_id)
            shard = (
                f"ACD shard {other.shard!r}" if other is not None and other.shard else "the default ACD shard"
            )
            where = "in campaigns.yaml" if other is None else f"here: {shard} runs it"
            raise CampaignNotFoundError(f"no campaign {campaign_id!r} {where}", campaign_id=campaign_id)
        return campaign

    async def set_state(
        self, campaign_id: str, state: CampaignState, actor: str, reason: str = ""
    ) -> CampaignStatus:
        self.campaign(campaign_id)
        return await self.control.set_state(campaign_id, state, actor=actor, now=self._now(), reason=reason)

    async def manual_dial(self, agent_id: str, campaign_id: str, number: str) -> DialOutcome:
        """An advisor dials a number (E.164) for a campaign; it connects to them. Gate and caps apply."""
        campaign = self.campaign(campaign_id)
        request = DialRequest(campaign, DialKind.MANUAL, numbers=(number,), agent_id=agent_id)
        return await self.pacer.dial_for_agent(request, agent_id, self._now())

    async def callback_dial(
        self, campaign_id: str, number: str, *, agent_id: str | None = None, lead_id: str | None = None
    ) -> DialOutcome:
        """A callback (dialer.tasks.rules): to its owner when named (reserved first), else to any agent of the
        campaign. The lead is not claimed; its id goes on the attempt. The per-number caps apply."""
        campaign = self.campaign(campaign_id)
        request = DialRequest(
            campaign, DialKind.CALLBACK, numbers=(number,), agent_id=agent_id, lead_ref=lead_id
        )
        if agent_id is not None:
            return await self.pacer.dial_for_agent(request, agent_id, self._now())
        return await self.dialer.place_call(request, now=self._now())

    async def apply_disposition(self, lead_id: str, code: str) -> str | None:
        """`caps.retry_after_disposition` of the lead's campaign, after a disposition was recorded:
        requeue the lead after the configured delay, or close it (null). None: the code is not listed."""
        lead = await self.leads.get(lead_id)
        campaign = self._every().get(lead.campaign_id or "")  # recorded through any shard's engine
        if campaign is None or code not in campaign.caps.retry_after_disposition:
            return None
        now = self._now()
        delay = campaign.caps.retry_after_disposition[code]
        if delay is None:
            await self.leads.close(
                lead_id, reason=f"disposition {code}", actor=f"dialer:{self.instance_id}", now=now
            )
            return "closed"
        return await self.leads.schedule_retry(lead_id, now + delay, now=now)

    async def stats(self, campaign_id: str) -> dict[str, Any]:
        campaign = self.campaign(campaign_id)
        now = self._now()
        status = await self.control.status(campaign_id)
        counts = await self.attempts.counts(campaign_id, now)
        rates = counts.window.counts(now)
        flight = self.in_flight(campaign_id)
        decision = self.pacer.decisions.get(campaign_id)
        return {
            "campaign_id": campaign.id, "name": campaign.name, "mode": campaign.mode.value,
            "state": status.state.value, "state_changed_by": status.actor, "state_changed_at": status.at,
            "leads": await self.leads.queue_sizes(campaign_id),
            "calls_in_flight": flight.ringing, "answered_waiting": flight.waiting,
            "dials_24h": counts.dials_24h, "answering_machines_24h": counts.machines_24h,
            "live_answers_24h": rates.answers_24h, "abandons_24h": rates.abandons_24h,
            "abandon_rate_24h": rates.rate_24h, "live_answers_30d": rates.answers_30d,
            "abandons_30d": rates.abandons_30d, "abandon_rate_30d": rates.rate_30d,
            "abandon_target": campaign.pacing.abandon_target,
            "dial_level": decision.dial_level if decision else None,
            "pacing": decision.reason if decision else None,
            "paced_by": await self.lease.holder(),
        }  # fmt: skip
