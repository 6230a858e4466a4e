"""Turns the ACD's decisions into AMI actions, through whatever ActionSender it is given.

Rules it keeps (DESIGN.md §3, config/asterisk/extensions_switchboard.conf):
- Ringing an agent is one async Originate of the agent's interface into
  [switchboard-agent] `s`, Timeout = the queue's ring timeout, carrying the case:
  SWITCHBOARD_CALL_ID (the caller's call id), _AGENT_ID, _CASE_ID, _TIER,
  _CALLER, _IVR, _QUEUE and _ENGINE (this instance). It is never re-sent: an
  error is reported to the caller of `ring`, who decides (it knows the call).
- The caller is connected only after the agent answered: AMI Bridge.
- A caller leaves the ACD by Redirect into the exit context (voicemail, closed...).
- A transferred caller holds in the transfer context ([switchboard-transfer]): moved there with
  Asterisk's own BlindTransfer on the agent's leg (Redirect when Asterisk refuses it); for a
  consult, one dual Redirect puts the caller on hold and the agent's leg in `consult`. Agent legs
  carry TRANSFER_CONTEXT, so a transfer made on the phone lands in the same context.
- Nothing waits for a lost AMI link: Bridge, Hangup, Redirect and Setvar fail at once while it is
  down, and the resync after the reconnect acts on what Asterisk has then.
- Variable values never carry a comma (Asterisk splits Variable headers on it)
  nor a line break.
- Only the owner acts (several engines sharing one Asterisk and Redis): while `may_act()` is
  false (the engine does not own the ACD, core/lease.py) nothing is sent, so a standby or a
  stale owner never rings, bridges or hangs up a leg of a call it does not own.
- Every action is timed from the moment the triggering event came in
  (`started`) to the moment Asterisk accepted it: the decision latency metric.
- The agent's Originate, the Bridge and the case's Setvar are written at once and their answers
  awaited apart (`start_ring`, `start_bridge`; routing/acd/answers.py), so the ACD's next event
  never waits for Asterisk's answer to the last one; actions still leave in the order decided.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from core.errors import AmiActionError, AmiError, NotOwnerError
from core.step_deadline import ami_time_left
from pbx.ami_actions import originate_fields
from pbx.codec import ActionResult
from pbx.service import ActionSender
from routing.acd.acd_metrics import AcdMetrics
from routing.acd.answers import Answers
from routing.acd.calls import ActiveCall

log = logging.getLogger("switchboard.acd.ami")
BRIDGES_KEPT = 4096  # far more than the calls one engine bridges between two resyncs
_GONE = "No such channel"  # manager.c action_hangup: no channel by that name (any more)
_OWED_MAX = 4096  # unconfirmed Hangups kept until a resync (each dropped once it is settled)


@dataclass(frozen=True, slots=True)
class SentBridge:
    """A Bridge of a caller to `agent_channel` that Asterisk did not refuse: `answered` True when
    Asterisk said bridged, None while (or since) its answer is unknown (in doubt)."""

    agent_channel: str
    answered: bool | None

    def may_have_connected(self, agent_leg_alive: bool) -> bool:
        """The ACD's own resync rule: a Bridge in doubt connected the caller unless the agent's
        leg is still there (a Bridge refused for a caller already gone leaves it in its dialplan)."""
        return bool(self.answered) or not agent_leg_alive


def _clean(value: str) -> str:
    return value.replace(",", " ").replace("\r", " ").replace("\n", " ")


def case_variables(
    active: ActiveCall, agent_id: str, instance_id: str, transfer_context: str = "switchboard-transfer"
) -> dict[str, str]:
    """The channel variables that carry the case to the agent's leg."""
    call, facts = active.call, active.facts
    values = {
        "TRANSFER_CONTEXT": transfer_context,
        "SWITCHBOARD_CALL_ID": call.id,
        "SWITCHBOARD_AGENT_ID": agent_id,
        "SWITCHBOARD_CASE_ID": facts.case_id,
        "SWITCHBOARD_TIER": call.tier,
        "SWITCHBOARD_CALLER": facts.number or facts.caller,
        "SWITCHBOARD_IVR": facts.ivr,
        "SWITCHBOARD_QUEUE": call.queue,
        "SWITCHBOARD_ENGINE": instance_id,
    }
    if facts.campaign:  # an outbound call the dialer handed over: the agent's screen shows the lead
        values["SWITCHBOARD_CAMPAIGN"] = facts.campaign
        values["SWITCHBOARD_LEAD_ID"] = facts.lead_id
    return {name: _clean(value) for name, value in values.items()}


class Executor:
    def __init__(
        self,
        sender: ActionSender,
        metrics: AcdMetrics,
        *,
        instance_id: str,
        agent_context: str,
        exit_context: str,
        transfer_context: str = "switchboard-transfer",
        action_timeout_s: float | None = None,
        answers: Answers,
        may_act: Callable[[], bool] = lambda: True,
    ) -> None:
        self.answers = answers  # where answers nobody waits for are followed
        self.transfer_context = transfer_context
        self.sender = sender
        self.metrics = metrics
        self.instance_id = instance_id
        self.agent_context = agent_context
        self.exit_context = exit_context
        self._timeout = action_timeout_s
        self._started = time.perf_counter()
        self.may_act = may_act  # whether this engine owns the ACD now (the service's lease)
        self.resyncing = False  # set by the service around its resync: the resync's own actions go out
        self.bridging: set[str] = set()  # caller channels whose Bridge awaits its answer
        # caller channels a Bridge went out for and was not refused (bridged, or in doubt): the
        # dialer's resync reads it (a customer gone unseen may have talked); the last ones only
        self.bridges_sent: OrderedDict[str, SentBridge] = OrderedDict()
        self.on_bridge: Callable[[str], None] | None = None  # told the call id of each Bridge, before it
        self.on_refused: Callable[[str], None] | None = None  # ...and of each Bridge that connected nobody
        self.owed_hangups: OrderedDict[str, None] = OrderedDict()  # channels whose Hangup was not confirmed
        self.refusals: dict[str, str] = {}  # agent leg -> why its Bridge was refused, until bridge_done

    @property
    def ready(self) -> bool:
        """Routing may ring agents now: the sender is connected AND its resync has finished.
        The resync's own actions (Bridge, Hangup of stale legs) go out regardless; routing waits
        for the first tick after it (a cut during the resync must never start a ring loop)."""
        return self.sender.ready

    def started(self) -> None:
        """An event, timer or request came in: decision latency counts from here."""
        self._started = time.perf_counter()

    def _sent(self, action: str) -> None:
        self.metrics.decision(action, time.perf_counter() - self._started)

    def new_action_id(self) -> str:
        return f"acd-{self.instance_id}-{uuid.uuid4().hex[:16]}"

    async def ring(
        self, interface: str, active: ActiveCall, agent_id: str, ring_s: float, action_id: str
    ) -> None:
        """Originate the agent's leg and wait for Asterisk's answer: `start_ring`, then its answer
        raised (a consult's ring waits for it)."""
        await (await self.start_ring(interface, active, agent_id, ring_s, action_id))

    async def start_ring(
        self, interface: str, active: ActiveCall, agent_id: str, ring_s: float, action_id: str
    ) -> Awaitable[None]:
        """Originate the agent's leg now; returns its answer to await apart, which raises AmiError
        when Asterisk refused it or did not answer. Raised at once: NotOwnerError when this engine
        does not own the ACD, and the AmiErrors of an Originate that did not leave (not sent)."""
        if not self.may_act():
            raise NotOwnerError("this engine does not own the ACD: the agent is not rung", role="acd")
        facts = active.facts
        number = _clean(facts.number or facts.caller)
        caller_id = f'"{active.call.tier} {facts.case_id}" <{number}>' if number else None
        fields = originate_fields(
            channel=interface, context=self.agent_context, exten="s", priority=1, application=None,
            data=None, caller_id=caller_id, timeout_ms=max(1, int(ring_s * 1000)),
            variables=case_variables(active, agent_id, self.instance_id, self.transfer_context),
        )  # fmt: skip
        started = self._started
        answer = await self.sender.submit("Originate", fields, timeout=self._timeout, action_id=action_id)
        return self._rung(interface, action_id, answer, started)

    async def _rung(
        self, interface: str, action_id: str, answer: Awaitable[ActionResult], started: float
    ) -> None:
        result = await answer
        if not result.response.ok:
            raise AmiActionError(
                f"Asterisk refused to ring {interface}: {result.response.message}",
                action="Originate",
                action_id=action_id,
                asterisk_message=result.response.message,
            )
        self.metrics.decision("originate", time.perf_counter() - started)

    async def bridge(self, caller_channel: str, agent_channel: str, call_id: str = "") -> bool | None:
        """The Bridge of `start_bridge`, its answer waited for and noted (`bridge_done`)."""
        ok = await (await self.start_bridge(caller_channel, agent_channel, call_id))
        self.bridge_done(caller_channel, agent_channel, ok, call_id)
        return ok

    async def start_bridge(
        self, caller_channel: str, agent_channel: str, call_id: str = ""
    ) -> Awaitable[bool | None]:
        """Send the Bridge now; returns its answer to await apart: True bridged; False Asterisk said
        no (a channel is gone); None unknown (no answer, the link was lost): maybe bridged, so
        nothing may be hung up; the resync after a reconnect settles it. The caller's channel counts
        as `bridging` until `bridge_done` notes the answer. `on_bridge` hears of it first and
        `on_refused` of a False (the dialer marks its dial record with both: they survive a crash)."""
        if self.on_bridge is not None and call_id:
            self.on_bridge(call_id)
        self.bridging.add(caller_channel)
        self.bridges_sent[caller_channel] = SentBridge(agent_channel, None)
        while len(self.bridges_sent) > BRIDGES_KEPT:
            self.bridges_sent.popitem(last=False)
        started = self._started
        answer = await self._start("Bridge", {"Channel1": caller_channel, "Channel2": agent_channel})
        return self._timed(answer, "bridge", started)

    def bridge_done(self, caller_channel: str, agent_channel: str, ok: bool | None, call_id: str = "") -> str:
        """The Bridge's answer is in (and handed to the call's table now); `call_id` as `start_bridge`'s.
        Returns Asterisk's message when it refused the Bridge ('' otherwise, or if nothing was sent)."""
        refusal = self.refusals.pop(agent_channel, "")
        self.bridging.discard(caller_channel)
        if ok:
            self.bridges_sent[caller_channel] = SentBridge(agent_channel, True)
        elif ok is False:
            self.bridges_sent.pop(caller_channel, None)  # refused: it connected nobody
            if self.on_refused is not None and call_id:
                self.on_refused(call_id)
        return refusal

    def bridge_judged(self, caller_channel: str, *, connected: bool) -> None:
        """The resync judged a Bridge in doubt (end_transitions.resync_offered): it connected the caller
        (both legs gone), or not (the agent's leg still waits): the memory says what the ACD settled."""
        sent = self.bridges_sent.get(caller_channel)
        if sent is not None and connected:
            self.bridges_sent[caller_channel] = SentBridge(sent.agent_channel, True)
        elif sent is not None:
            del self.bridges_sent[caller_channel]

    async def set_case(self, channel: str, case_id: str) -> None:
        """Put the case number on the caller's channel too (CDRs and recordings carry it). Nothing
        waits for the answer: a refusal is only logged."""
        fields = {"Channel": channel, "Variable": "SWITCHBOARD_CASE_ID", "Value": _clean(case_id)}
        self.answers.follow(await self._start("Setvar", fields))

    async def hangup(self, channel: str) -> bool:
        """Hang a channel up. One not confirmed (AMI down, its answer lost) is owed: the resync
        hangs it up if Asterisk still has it (`owed_hangups`)."""
        down = self.may_act() and not (self.ready or self.resyncing)
        ok = await self._send("Hangup", {"Channel": channel, "Cause": "16"})
        self.owed_hangups.pop(channel, None)
        if ok is None or (ok is False and down):
            self.owed_hangups[channel] = None
            while len(self.owed_hangups) > _OWED_MAX:
                self.owed_hangups.popitem(last=False)
        return ok is True

    async def redirect(self, channel: str, exten: str) -> bool:
        fields = {"Channel": channel, "Context": self.exit_context, "Exten": exten, "Priority": "1"}
        ok = await self._send("Redirect", fields) is True
        if ok:
            self._sent("redirect")
        return ok

    async def play_notice(self, channel: str, variables: Mapping[str, str], context: str, exten: str) -> bool:
        """Set the notice's variables on the caller's channel, then Redirect it to the notice."""
        for name, value in variables.items():
            if (
                await self._send("Setvar", {"Channel": channel, "Variable": name, "Value": _clean(value)})
                is not True
            ):
                return False
        ok = await self._send(
            "Redirect", {"Channel": channel, "Context": context, "Exten": exten, "Priority": "1"}
        )
        if ok:
            self._sent("notice")
        return ok is True

    async def move_caller(self, agent_channel: str, caller_channel: str, exten: str) -> bool:
        """The caller to the transfer context's `exten` (music on hold): BlindTransfer on the agent's
        leg, as a phone does it; a Redirect of the caller when Asterisk refuses (no bridge any more)."""
        fields = {"Channel": agent_channel, "Exten": exten, "Context": self.transfer_context}
        if agent_channel and await self._send("BlindTransfer", fields):
            self._sent("redirect")
            return True
        where = {"Channel": caller_channel, "Context": self.transfer_context, "Exten": exten, "Priority": "1"}
        ok = await self._send("Redirect", where) is True
        if ok:
            self._sent("redirect")
        return ok

    async def hold_for_consult(self, caller_channel: str, agent_channel: str) -> bool:
        """One dual Redirect: the caller to `hold`, the agent's leg to `consult` (both hear music)."""
        context = self.transfer_context
        fields = {
            "Channel": caller_channel, "Context": context, "Exten": "hold", "Priority": "1",
            "ExtraChannel": agent_channel, "ExtraContext": context, "ExtraExten": "consult",
            "ExtraPriority": "1",
        }  # fmt: skip
        ok = await self._send("Redirect", fields) is True
        if ok:
            self._sent("redirect")
        return ok

    async def _send(self, action: str, fields: Mapping[str, str]) -> bool | None:
        """Send once and wait for the answer (`_start`, then its answer); in a bounded step of the
        dialer's (a withdraw, a hand-over) only until the step's AMI time is up (core.step_deadline):
        a stalled link is then AMI's timeout, not the step's, which would read as Redis."""
        left = ami_time_left()
        limit = self._timeout if left is None else max(0.05, min(left, self._timeout or left))
        return await (await self._start(action, fields, limit))

    async def _start(
        self, action: str, fields: Mapping[str, str], limit: float | None = None
    ) -> Awaitable[bool | None]:
        """Send once now; returns the answer to await: False (logged) when Asterisk said no, this
        engine does not own the ACD, or AMI is down; None when the outcome is unknown (no answer,
        connection lost). While AMI is down nothing waits for it (the caller holds the ACD's
        lock): the resync after the reconnect reconciles from what Asterisk then has."""
        if not self.may_act():
            log.warning("%s not sent: this engine does not own the ACD", action, extra={"action": action})
            return _known(False)
        if not (self.ready or self.resyncing):
            log.info("%s not sent: AMI is down; the resync will settle it", action, extra={"action": action})
            return _known(False)
        try:
            answer = await self.sender.submit(action, fields, timeout=limit or self._timeout)
        except AmiError as exc:
            log.warning("%s failed: %s", action, exc.message, extra={"action": action, **fields})
            return _known(None)
        return self._judged(action, fields, answer)

    async def _judged(
        self, action: str, fields: Mapping[str, str], answer: Awaitable[ActionResult]
    ) -> bool | None:
        try:
            result = await answer
        except AmiError as exc:
            log.warning("%s failed: %s", action, exc.message, extra={"action": action, **fields})
            return None
        if not result.response.ok:
            message = result.response.message
            if action == "Hangup" and message == _GONE:
                # Already ended in its own dialplan (a colleague let out of a consult hangs up
                # before our Hangup arrives, as on Asterisk 22.10.1): what we wanted, no warning.
                log.info("Hangup not needed: %s is gone", fields.get("Channel"), extra={"action": action})
                return False
            log.warning("%s refused: %s", action, message, extra={"action": action, **fields})
            if action == "Bridge":
                self.refusals[fields.get("Channel2", "")] = message
        return result.response.ok

    async def _timed(self, answer: Awaitable[bool | None], action: str, started: float) -> bool | None:
        """The answer; an accepted action counts in the decision latency from `started`."""
        ok = await answer
        if ok:
            self.metrics.decision(action, time.perf_counter() - started)
        return ok


async def _known(value: bool | None) -> bool | None:
    """An answer known without asking Asterisk (nothing was sent)."""
    return value
