"""AcdDesk: the dialer's AgentDesk over the inbound ACD, so one owner keeps every agent's state.

`switchboard run` uses it: an advisor who is ready takes inbound and outbound calls alike, never
two at once. What each call of dialer.desk.protocol.AgentDesk becomes (routing/acd/outbound.py):
- agents: the ACD's logged-in, unpaused agents who fit the campaign's queue (or its skills), as
  the ACD reports them (PacingAgent: ready / reserved / ringing / busy / wrap-up);
- reserve: the ACD holds a ready agent (the named one, else the one routing would pick for the
  call) in Redis with a compare-and-set; inbound routing offers them nothing meanwhile;
- release: the held agent is ready again, without a missed ring;
- connect: the answered call joins the ACD above every inbound caller; its held agent is rung
  (else whoever routing chooses) with the call's own SWITCHBOARD_CALL_ID and bridged on answer;
- withdraw: the ACD stops routing the call and frees its agent; a late agent leg is hung up;
- bridge_state: the ACD connected the customer (CONNECTED), or its Bridge of the customer to the
  agent who answered awaits its answer or got none (PENDING);
- bridge_sent: the ACD's Bridge of the customer's channel that was not refused (answered or in
  doubt), whatever its resync settled since: the customer may have talked;
- abandoning: bridge_state, and when NONE the ACD holds the call's Bridges back until its withdraw;
- settled: the ACD owns and has resynced with Asterisk since it took over (routing/acd/ownership.py);
- watch_bridges: the ACD tells the dialer of each outbound Bridge just before it sends it, and of
  each one Asterisk refused (or that was never sent: AMI down, not the owner).
No call passes a time: the ACD reads the same injected clock itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from dialer.desk.protocol import AnsweredCall, CallTarget
from routing.acd.executor import SentBridge
from routing.acd.outbound import BridgeState, HandedCall, PacingAgent
from routing.acd.service import AcdService


class AcdDesk:
    """dialer.desk.protocol.AgentDesk backed by the AcdService (see the module docstring)."""

    def __init__(self, acd: AcdService) -> None:
        self.acd = acd

    async def agents(self, target: CallTarget) -> Sequence[PacingAgent]:
        return self.acd.agents_for(target.queue, target.needs)

    async def reserve(self, target: CallTarget, call_id: str, *, agent_id: str | None = None) -> str | None:
        return await self.acd.hold(target.queue, target.needs, call_id, agent_id=agent_id)

    async def release(self, agent_id: str, call_id: str) -> None:
        await self.acd.release_hold(agent_id, call_id)

    async def connect(self, call: AnsweredCall) -> None:
        handed = HandedCall(
            call_id=call.call_id, campaign=call.campaign_id, queue=call.target.queue, needs=call.target.needs,
            channel=call.channel, uniqueid=call.uniqueid, number=call.number, lead_id=call.lead_id or "",
            agent_id=call.agent_id or "",
        )  # fmt: skip
        await self.acd.take_outbound(handed)

    async def withdraw(self, call_id: str) -> None:
        await self.acd.withdraw_outbound(call_id)

    def bridge_state(self, call_id: str) -> BridgeState:
        return self.acd.bridge_state(call_id)

    def bridge_sent(self, channel: str) -> SentBridge | None:
        return self.acd.bridge_sent(channel)

    def abandoning(self, call_id: str) -> BridgeState:
        return self.acd.outbound.abandoning(call_id)

    def settled(self) -> bool:
        return self.acd.ownership.settled

    def watch_bridges(self, heard: Callable[[str], None], refused: Callable[[str], None]) -> None:
        self.acd.watch_bridges(heard, refused)
