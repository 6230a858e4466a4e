"""Adopting the callers Asterisk holds but the engine never heard of (the shell of held.py).

Runs inside every resync, after the known calls were reconciled and before
anything is routed: the CoreShowChannels listing the tracker kept (`shown`)
names the callers in the holding context; each one the ACD does not know is
classified and stored as a waiting call with its original arrival time, so it
keeps its place; the resync's `dispatch_all` then serves everyone in order.

Rules it keeps (Asterisk is the truth about what exists, Redis about what was decided):
- Only a caller the tracker still has is adopted: one that hung up since the
  listing is not brought back; and only a caller of this engine's ACD shard (its
  SWITCHBOARD_SHARD, asked with Getvar when the listing lacks it).
- Redis is asked first. A live record the ACD does not hold in memory is
  another engine's call: left alone. An ended record whose caller still holds
  means a decision was not carried out: a caller routed out is sent to its exit
  again; any other is taken on again under its old case number, counted once
  more as offered (it was waiting again), logged as odd.
- Variables the listing lacks (a manager.conf without the channelvars) are
  asked with Getvar, once per caller; a failure leaves them empty, except the
  shard: a caller whose SWITCHBOARD_SHARD Asterisk did not tell is not adopted
  (it may be another shard's, whose engine adopts it too: two ACDs would route
  it), but counted and logged, and asked again at the next resync.
"""

from __future__ import annotations

import logging

from core.errors import AmiError, StoreUnavailableError, ValidationFailedError
from pbx.tracker import CallTracker
from routing.acd.callflow import CallFlow
from routing.acd.calls import ActiveCall
from routing.acd.context import Ctx
from routing.acd.dispatcher import Dispatcher
from routing.acd.held import SHARD, HeldCaller, held_callers

log = logging.getLogger("switchboard.acd")

HOLDING_CONTEXT = "switchboard-inbound"


class Adoption:
    def __init__(
        self, ctx: Ctx, dispatcher: Dispatcher, flow: CallFlow, holding_context: str = HOLDING_CONTEXT
    ):
        self.ctx = ctx
        self.d = dispatcher
        self.flow = flow
        self.holding_context = holding_context
        self.adopted = 0  # callers taken on from a listing since start (tests, logs)

    async def adopt(self, tracker: CallTracker) -> None:
        now, calls = self.ctx.clock(), self.ctx.state.calls
        found = held_callers(tracker.shown, self.holding_context, now)
        fresh = [c for c in found if c.call_id not in calls and tracker.channel(c.uniqueid) is not None]
        taken = 0
        for held in fresh:
            try:
                taken += await self._adopt_one(held)
            except Exception:  # one odd caller must not keep the others waiting
                log.exception("could not adopt held caller %s", held.call_id, extra={"call_id": held.call_id})
        if taken:
            log.warning("adopted %d caller(s) Asterisk held while the engine was away", taken)

    def _other_shard(self, held: HeldCaller) -> bool:
        """A caller another shard's engines take (SWITCHBOARD_SHARD names another ACD)."""
        return SHARD not in held.missing and held.shard != self.ctx.options.shard

    async def _adopt_one(self, held: HeldCaller) -> bool:
        """Whether the caller was taken on (not another shard's or another engine's)."""
        if self._other_shard(held):
            return False
        record = await self._record(held.call_id)
        case_id = ""
        if record is not None:
            outcome = record.facts.outcome
            if not outcome:
                log.info("call %s is held by another engine; not adopted", held.call_id)
                return False
            if outcome == "routed_out":
                await self._exit_again(record, held)
                return False
            log.warning("call %s ended (%s) but its caller still holds; taking it on again", held.call_id,
                        outcome, extra={"call_id": held.call_id})  # fmt: skip
            case_id = record.facts.case_id
        if held.missing:
            held = held.described(await self._ask(held), self.ctx.clock())
            if not held.shard_known:
                self._shard_unknown(held)
                return False
            if held.shard != self.ctx.options.shard:
                return False
        facts = await self.flow.admit(held, case_id, "adopted")
        self.adopted += 1
        if facts.channel and not case_id:
            await self.ctx.executor.set_case(facts.channel, facts.case_id)
        return True

    def _shard_unknown(self, held: HeldCaller) -> None:
        self.ctx.metrics.adoption_deferred()
        log.warning(
            "held caller %s: Asterisk did not tell its ACD shard (SWITCHBOARD_SHARD: not in the listing, "
            "Getvar unanswered); not adopted, asked again at the next resync (add SWITCHBOARD_SHARD to "
            "manager.conf's channelvars)", held.call_id, extra={"call_id": held.call_id},
        )  # fmt: skip

    async def _record(self, call_id: str) -> ActiveCall | None:
        """What Redis decided about this call, if anything (nothing known while Redis fails)."""
        if self.d.dirty:
            return None
        try:
            return await self.ctx.store.call(call_id)
        except StoreUnavailableError as exc:
            self.d.store_failed(exc)
        except ValidationFailedError as exc:
            log.error("call %s: unreadable record, adopting afresh: %s", call_id, exc.message)
        return None

    async def _exit_again(self, record: ActiveCall, held: HeldCaller) -> None:
        exten = record.facts.exit_to or self.ctx.options.default_exit
        log.warning("call %s: routed out to %s, but still held; sending it again", held.call_id, exten,
                    extra={"call_id": held.call_id})  # fmt: skip
        await self.ctx.executor.redirect(held.channel, exten)

    async def _ask(self, held: HeldCaller) -> dict[str, str]:
        values: dict[str, str] = {}
        for name in held.missing:
            fields = {"Channel": held.channel, "Variable": name}
            try:
                timeout = self.ctx.options.action_timeout_s
                result = await self.ctx.executor.sender.send("Getvar", fields, timeout=timeout)
            except AmiError as exc:
                log.warning("Getvar %s on %s failed: %s", name, held.channel, exc.message)
                continue
            if result.response.ok:
                values[name] = result.response.get("Value") or ""
        return values
