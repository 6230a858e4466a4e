"""What people do to the ACD through the API (a part AcdService holds and hands these calls to):
agents log in and out, pause, get ready; supervisors
edit agents; advisors write the case summary (also in wrap-up) and transfer calls (blind or warm:
consult, then complete or cancel); the CRM pushes customer records. And the views.

Each operation takes the service lock, like the call events, and goes through
the agent lifecycle table (routing.agents): a change it does not allow raises
AgentTransitionError (the API answers 409). An agent who logs out while being
rung has the ringing leg hung up; the call goes to the next agent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import replace

from core.errors import NotFoundError, StoreUnavailableError, ValidationFailedError
from core.phone_numbers import normalize
from routing.acd import call_events as ev
from routing.acd.callflow import CallFlow
from routing.acd.calls import ActiveCall, CallState
from routing.acd.context import Ctx
from routing.acd.dispatcher import Dispatcher
from routing.acd.store import Change
from routing.acd.store_records import SOURCE_API, SOURCE_RULES
from routing.acd.transfers import TransferError, check_target, parse_target
from routing.acd.views import AgentInfo, CaseInfo, QueueInfo, agent_info, agents_info, case_info, queues_info
from routing.agent_events import Event as AgentEvent
from routing.agent_events import Login, Logout, Pause, Ready
from routing.agents import AgentState
from routing.classify import classify
from routing.queue import WaitingCall
from routing.rules import AgentSpec
from routing.selection import Outcome, decide

MAX_SUMMARY = 2000


class Operations:
    def __init__(self, ctx: Ctx, dispatcher: Dispatcher, flow: CallFlow, lock: asyncio.Lock) -> None:
        self.ctx = ctx
        self.dispatcher = dispatcher
        self.flow = flow
        self.lock = lock

    # -- agent presence --------------------------------------------------------------------
    async def login(self, agent_id: str) -> AgentInfo:
        return await self._agent(agent_id, Login(self.ctx.clock()))

    async def ready(self, agent_id: str) -> AgentInfo:
        return await self._agent(agent_id, Ready(self.ctx.clock()))

    async def pause(self, agent_id: str, reason: str) -> AgentInfo:
        return await self._agent(agent_id, Pause(self.ctx.clock(), reason.strip() or "paused"))

    async def logout(self, agent_id: str) -> AgentInfo:
        return await self._agent(agent_id, Logout(self.ctx.clock()))

    async def _agent(self, agent_id: str, event: AgentEvent) -> AgentInfo:
        async with self.lock:
            self.ctx.executor.started()
            self._known(agent_id)
            status = self.ctx.state.status(agent_id)
            if isinstance(event, Logout) and status.state in (AgentState.RESERVED, AgentState.RINGING):
                ringing = self.ctx.state.calls.get(status.call_id)
                if ringing is not None:
                    await self.flow.hangup_legs(ringing)
            await self.dispatcher.agent_event(agent_id, event)
            return self._info(agent_id)

    def _known(self, agent_id: str) -> None:
        if agent_id not in self.ctx.state.profiles:
            raise NotFoundError(f"no agent {agent_id!r}", agent_id=agent_id)

    def _info(self, agent_id: str) -> AgentInfo:
        info = agent_info(self.ctx.state, agent_id, self.ctx.clock())
        if info is None:
            raise NotFoundError(f"no agent {agent_id!r}", agent_id=agent_id)
        return info

    # -- agent profiles ---------------------------------------------------------------------
    async def put_agent(self, spec: AgentSpec) -> AgentInfo:
        """Add or replace an agent (kept over restarts and over routing.yaml's version of them)."""
        unknown = sorted(set(spec.skills) - {s.name for s in self.ctx.state.rules.skills})
        if unknown:
            raise ValidationFailedError(
                f"unknown skills {unknown}; routing.yaml defines the skills", skills=unknown
            )
        async with self.lock:
            state, now = self.ctx.state, self.ctx.clock()
            await self.ctx.store.save_profile(spec, SOURCE_API, state.status(spec.id))
            state.set_profile(spec, SOURCE_API, now)
            if state.status(spec.id).state is AgentState.READY:
                await self.dispatcher.seek(spec.id)
            return self._info(spec.id)

    async def set_skills(self, agent_id: str, skills: Mapping[str, int]) -> AgentInfo:
        async with self.lock:
            self._known(agent_id)
            current = self.ctx.state.profiles[agent_id]
        try:
            spec = AgentSpec.model_validate({**current.model_dump(), "skills": dict(skills)})
        except ValueError as exc:
            raise ValidationFailedError(f"invalid skills: {exc}", agent_id=agent_id) from None
        return await self.put_agent(spec)

    def agents(self) -> list[AgentInfo]:
        return agents_info(self.ctx.state, self.ctx.clock())

    def agent(self, agent_id: str) -> AgentInfo:
        return self._info(agent_id)

    def queues(self) -> list[QueueInfo]:
        now = self.ctx.clock()
        return queues_info(self.ctx.state, now, lambda queue: self.ctx.metrics.levels.ratio(queue, now))

    # -- cases ------------------------------------------------------------------------------
    async def case(self, call_id: str) -> CaseInfo:
        """The case of a call being handled, or of one that ended within the last day."""
        active = self.ctx.state.calls.get(call_id)
        if active is not None:
            return case_info(active, self.ctx.state)
        stored = await self.ctx.store.call(call_id)
        if stored is None:
            raise NotFoundError(f"no call {call_id!r}", call_id=call_id)
        return case_info(stored, self.ctx.state, ended=True)

    async def set_summary(self, call_id: str, summary: str) -> CaseInfo:
        if len(summary) > MAX_SUMMARY:
            raise ValidationFailedError(
                f"summary is longer than {MAX_SUMMARY} characters",
                reason="too-long", field="summary", limit=MAX_SUMMARY, length=len(summary),
            )  # fmt: skip
        async with self.lock:
            active = self.ctx.state.calls.get(call_id)
            if active is None:
                return await self._wrap_up_summary(call_id, summary)
            updated = active.with_facts(summary=summary.strip())
            await self.dispatcher.commit(Change(calls=[updated]))
            return case_info(updated, self.ctx.state)

    async def _wrap_up_summary(self, call_id: str, summary: str) -> CaseInfo:
        """An ended call's summary stays editable while its agent wraps up that very call (then it
        is final): the agent's status names the call through the wrap-up."""
        stored = await self.ctx.store.call(call_id)
        agent_id = stored.facts.agent_id if stored is not None else ""
        status = self.ctx.state.status(agent_id) if agent_id else None
        if (
            stored is None
            or status is None
            or (status.state, status.call_id) != (AgentState.WRAP_UP, call_id)
        ):
            raise NotFoundError(f"call {call_id!r} is not being handled or wrapped up", call_id=call_id)
        updated = stored.with_facts(summary=summary.strip())
        await self.dispatcher.commit(Change(ended=[updated]))
        return case_info(updated, self.ctx.state, ended=True)

    def may_handle(self, call_id: str, agent_id: str) -> bool:
        """Whether `agent_id` works on this call now: has it, consults on it, transferred it and is
        still wrapping it up, or wraps it up after it ended."""
        active = self.ctx.state.calls.get(call_id)
        if active is not None and agent_id in (active.facts.agent_id, active.facts.transferer):
            return True
        status = self.ctx.state.status(agent_id)
        return status.call_id == call_id and status.state is not AgentState.LOGGED_OUT

    # -- transfers ----------------------------------------------------------------------------
    async def transfer(self, call_id: str, to: str, *, warm: bool = False, level: int = 1) -> CaseInfo:
        """Blind: the caller waits again for `to` with the case, the agent wraps up. Warm: the caller
        holds while the agent consults the agent the rules pick for `to` (complete or cancel next)."""
        target = parse_target(to, level)
        async with self.lock:
            self.ctx.executor.started()
            state, now = self.ctx.state, self.ctx.clock()
            active = self._talking(call_id)
            check_target(target, state.rules, frozenset(state.profiles), active.facts.agent_id)
            moved = self.flow.transfers.requeued_for(active, target)
            named = target.name if target.kind == "agent" else ""
            if not warm:
                await self.flow.step(call_id, ev.TransferAsked(now, moved, target.label, named))
            else:
                agent = self._consult_agent(moved, named, target.label)
                await self.flow.step(call_id, ev.ConsultAsked(now, agent, target.label))
            return self._case_now(call_id)

    def _talking(self, call_id: str) -> ActiveCall:
        active = self.ctx.state.calls.get(call_id)
        if active is None:
            raise NotFoundError(f"no call {call_id!r} being handled", call_id=call_id)
        if active.state is not CallState.CONNECTED:
            raise TransferError(
                f"call {call_id!r} is {active.state}: only a call in conversation can be transferred",
                call_id=call_id, state=str(active.state),
            )  # fmt: skip
        if not self.ctx.executor.ready:
            raise TransferError("Asterisk is not connected: try again in a moment", call_id=call_id)
        return active

    def _consult_agent(self, moved: WaitingCall, named: str, label: str) -> str:
        """The agent a consult rings: the named one if ready, else whom the rules choose now."""
        state = self.ctx.state
        if named:
            if state.status(named).state is not AgentState.READY:
                raise TransferError(
                    f"agent {named} is {state.status(named).state}: a consult needs a ready agent (or "
                    "transfer blind: the caller then waits for them)", to=label,
                )  # fmt: skip
            return named
        decision = decide(moved, state.snapshot, state.rules, self.ctx.clock())
        if decision.outcome is not Outcome.OFFER or decision.agent_id is None:
            raise TransferError(
                f"no agent is free for {label} now ({decision.reason}); transfer blind to let the "
                "caller wait",
                to=label,
            )
        return decision.agent_id

    async def complete_transfer(self, call_id: str) -> CaseInfo:
        async with self.lock:
            self.ctx.executor.started()
            active = self._consulting(call_id)
            if (
                not active.facts.agent_channel
                or self.ctx.state.status(active.facts.agent_id).state is not AgentState.BUSY
            ):
                raise TransferError(
                    f"agent {active.facts.agent_id} has not answered the consult yet: wait, or cancel",
                    call_id=call_id,
                )
            await self.flow.step(call_id, ev.ConsultCompleted(self.ctx.clock()))
            return self._case_now(call_id)

    async def cancel_transfer(self, call_id: str) -> CaseInfo:
        async with self.lock:
            self.ctx.executor.started()
            self._consulting(call_id)
            await self.flow.step(call_id, ev.ConsultCancelled(self.ctx.clock()))
            return self._case_now(call_id)

    def _consulting(self, call_id: str) -> ActiveCall:
        active = self.ctx.state.calls.get(call_id)
        if active is None or active.state is not CallState.CONSULTING:
            raise TransferError(f"call {call_id!r} has no consult under way", call_id=call_id)
        return active

    def _case_now(self, call_id: str) -> CaseInfo:
        active = self.ctx.state.calls.get(call_id)
        if active is None:
            raise NotFoundError(f"call {call_id!r} ended meanwhile", call_id=call_id)
        return case_info(active, self.ctx.state)

    async def put_customer(self, number: str, record: Mapping[str, str]) -> str:
        """Store the CRM's record of a customer (by number, any format); returns the E.164 form."""
        e164 = normalize(number, self.ctx.state.rules.default_region)
        await self.ctx.store.put_crm_record(e164, {str(k): str(v) for k, v in record.items()})
        return e164

    # -- rules ------------------------------------------------------------------------------
    async def reclassify(self) -> None:
        """Under new rules: agents from routing.yaml again, and every caller not yet talking classified
        again (tier, priority, needs; their place by waiting time is kept). Call with the lock held."""
        ctx, now = self.ctx, self.ctx.clock()
        state = ctx.state
        try:
            await ctx.store.seed_profiles(state.rules.agents)
        except StoreUnavailableError as exc:
            self.dispatcher.store_failed(exc)  # the rewrite after Redis is back seeds them
        for spec in state.rules.agents:
            if state.sources.get(spec.id) != SOURCE_API:
                state.set_profile(spec, SOURCE_RULES, now)
        changed = [c for a in state.calls.values() if (c := self._classified(a)) is not None]
        await self.dispatcher.commit(Change(calls=changed))
        state.rebuild(now)

    def _classified(self, active: ActiveCall) -> ActiveCall | None:
        if active.state is CallState.CONNECTED or active.call.outbound:
            return None
        facts = active.facts
        try:
            found = classify(
                facts.caller or None,
                active.call.queue,
                self.ctx.state.rules,
                dialled=facts.dialled or None,
                ivr_choice=facts.ivr or None,
                crm_record=facts.crm or None,
            )
        except NotFoundError:
            return None  # its queue is gone: the next decision sends it to the exit
        call = replace(active.call, tier=found.tier, priority=found.priority, needs=found.needs)
        return ActiveCall(call, replace(facts, matched=found.matched))
