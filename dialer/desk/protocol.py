"""What the dialer needs from the agents' owner: the inbound ACD (dialer/desk/acd.py AcdDesk).

The dialer never changes an agent's state itself. It asks the desk:
- `agents(target)`: the logged-in, unpaused agents who could take the campaign's calls, each a
  routing.acd.outbound.PacingAgent in the ACD's own AgentState (ready, reserved, ringing, busy,
  wrap-up): one agent type and one state enum from the ACD to the pacing decision;
- `reserve(target, call_id)`: atomically take one READY agent (or the named one, for manual and
  preview dials) for a call about to be placed, so inbound routing cannot offer them anything
  meanwhile (progressive: "reserve a ready agent before dialing");
- `release(agent_id, call_id)`: the reserved call reached nobody (busy, no answer, machine,
  refused by a check): the agent is ready again, without a missed ring;
- `connect(call)`: an answered, human outbound call waits on hold (switchboard-outbound, music
  on hold); ring its reserved agent, or any fitting agent when it has none, and bridge them when
  the agent answers (the ACD's inbound path does exactly this for a waiting caller);
- `withdraw(call_id)`: the dialer gave up on the call (abandoned after the grace, the customer
  hung up): stop routing it, free any agent reserved or rung for it, hang up an agent leg that
  answers late. Never touch the customer's channel: the dialer already redirected it;
- `bridge_state(call_id)`: CONNECTED, the desk connected the customer to an agent; PENDING, it
  sent a Bridge of the customer to the agent who answered and has no answer to it yet, or got none
  in time: the customer may be talking; NONE otherwise. The grace's abandon waits for PENDING and
  takes CONNECTED as the connection (a Redirect would pull a connected customer out of the talk),
  and so does a resync's, whatever the order of the dialer's and the desk's resyncs;
- `bridge_sent(channel)`: the Bridge the desk sent of this customer's channel to an agent, if
  Asterisk did not refuse it (bridged, or no answer): a customer on hold found gone unseen talked
  if it was bridged, or if it was in doubt and the agent's leg is gone too (the ACD's own resync
  rule), so the dialer's resync settles it as answered, never as an abandon in doubt;
- `abandoning(call_id)`: `bridge_state`, for a call whose grace ran out; when NONE, the desk sends
  no Bridge of it until the `withdraw` that follows the abandon message's Redirect (read and
  marked at once: an agent answering meanwhile is not bridged to a customer hearing the message);
- `settled()`: the desk owns the agents and has matched Asterisk's channels since it took them
  over: what it will bridge is decided. The dialer plans the calls of a resync only then (a
  customer it would abandon on the listing's word may be one the desk's own resync bridges);
- `watch_bridges(heard, refused)`: `heard(call_id)` is told just before the desk sends such a
  Bridge, `refused(call_id)` when Asterisk refused it (a definite no over a live link, or never
  sent): the dialer marks the dial record with both, so the recovery after a crash applies the
  same rule (a Bridge refused and not followed by another connected nobody).
The dialer learns that the call was connected from the tracker (the customer's channel enters
a bridge with the agent leg, which carries the same SWITCHBOARD_CALL_ID).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from core.clock import utc
from dialer.pacing.decision import AgentSnapshot
from routing.acd.executor import SentBridge
from routing.acd.outbound import BridgeState, PacingAgent

Needs = tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class CallTarget:
    """Who may take a campaign's calls: agents of `queue`, needing `needs` (empty: the queue's own)."""

    queue: str | None
    needs: Needs = ()


@dataclass(frozen=True, slots=True)
class AnsweredCall:
    """An outbound call a person answered, holding at `channel` until an agent is bridged in."""

    call_id: str
    campaign_id: str
    target: CallTarget
    channel: str
    uniqueid: str
    number: str
    answered_at: float
    lead_id: str | None = None
    agent_id: str | None = None  # reserved before dialing (progressive, manual, preview)


class AgentDesk(Protocol):
    """The agents' owner (the ACD) keeps their state on its own injected clock: no call passes a time."""

    async def agents(self, target: CallTarget) -> Sequence[PacingAgent]: ...

    async def reserve(
        self, target: CallTarget, call_id: str, *, agent_id: str | None = None
    ) -> str | None: ...

    async def release(self, agent_id: str, call_id: str) -> None: ...

    async def connect(self, call: AnsweredCall) -> None: ...

    async def withdraw(self, call_id: str) -> None: ...

    def bridge_state(self, call_id: str) -> BridgeState: ...

    def abandoning(self, call_id: str) -> BridgeState: ...

    def settled(self) -> bool: ...

    def bridge_sent(self, channel: str) -> SentBridge | None: ...

    def watch_bridges(self, heard: Callable[[str], None], refused: Callable[[str], None]) -> None: ...


def snapshots(agents: Sequence[PacingAgent]) -> tuple[AgentSnapshot, ...]:
    """The desk's agents as the pure pacing function reads them (datetimes in UTC, epoch seconds
    in the ACD)."""

    return tuple(
        AgentSnapshot(
            agent.state,
            utc(agent.since),
            None if agent.wrap_up_ends_at is None else utc(agent.wrap_up_ends_at),
        )
        for agent in agents
    )
