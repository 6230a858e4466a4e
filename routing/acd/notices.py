"""Outage notices at arrival: the shell around routing/outages.py (runs under the ACD's lock),
and declaring and ending an outage.

An arriving caller whom an outage in force concerns (routing.outages.notice_for) is not queued
yet: the engine sets SWITCHBOARD_NOTICE (the recording), SWITCHBOARD_NOTICE_TEXT,
SWITCHBOARD_OUTAGE and SWITCHBOARD_NOTICE_LEAVE on the channel and redirects it to
`[switchboard-notice]` (extensions_switchboard.conf): the message, a few seconds to hang up,
then back to `[switchboard-inbound]`, whose second SwitchboardInbound UserEvent queues the
caller (no second notice). A caller who hangs up in between was served by the notice: counted
`left`, never offered to a queue, so never abandoned. A notice that cannot be sent (AMI down,
Redis down) never strands a caller: they are queued at once.

The outages are read from Redis at most every `refresh_s` (and at once after a declaration
through this engine), so the hot path of an arrival without outages costs nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from core.errors import StoreUnavailableError, ValidationFailedError
from routing.acd.context import Ctx
from routing.acd.held import HeldCaller
from routing.acd.outage_store import OutageRecord, OutageStore
from routing.outages import Caller, OutageSpec, check_numbers, notice_for

log = logging.getLogger("switchboard.acd")

NOTICE_CONTEXT = "switchboard-notice"
STALE_NOTICE_S = 3600.0  # a notice record older than this belongs to a caller long gone
Classifier = Callable[[HeldCaller], Awaitable[Caller]]


class Notices:
    def __init__(self, ctx: Ctx, store: OutageStore, classify: Classifier, *, refresh_s: float = 1.0) -> None:
        self.ctx = ctx
        self.store = store
        self.classify = classify
        self.refresh_s = refresh_s
        self.outages: list[OutageSpec] = []
        self.playing: dict[str, str] = {}  # call id -> outage id, while the caller hears it
        self._next_refresh = 0.0

    async def load(self) -> None:
        """After a (re)start or takeover: the outages, and the callers hearing a notice."""
        self._next_refresh = 0.0
        await self.refresh(self.ctx.clock())
        try:
            found = await self.store.notices()
            now = self.ctx.clock()
            for call_id, (_, since) in found.items():
                if since < now - STALE_NOTICE_S:  # hung up while no engine ran: nobody will tell
                    await self.store.forget_notice(call_id)
            self.playing = {
                call: outage for call, (outage, since) in found.items() if since >= now - STALE_NOTICE_S
            }
        except StoreUnavailableError as exc:
            log.warning("outage notices in progress not read: %s", exc.message)

    async def declare(self, spec: OutageSpec, by: str) -> OutageRecord:
        """Declare an outage (refused: numbers that are not numbers, an end already past); callers
        it concerns hear its notice from its start, in this engine at once, in others within 1 s."""
        now = self.ctx.clock()
        problems = check_numbers(spec, self.ctx.state.rules.default_region)
        if spec.ends_at <= now:
            problems.append("ends_at is already past: the outage would never be announced")
        if problems:
            raise ValidationFailedError("outage not declared: " + "; ".join(problems), problems=problems)
        record = await self.store.declare(spec, by, now)
        await self.refresh(now, force=True)
        return record

    async def end(self, outage_id: str) -> OutageRecord:
        """End an outage now: nobody hears its notice from now on (its counters stay)."""
        now = self.ctx.clock()
        record = await self.store.end(outage_id, now)
        await self.refresh(now, force=True)
        return record

    async def refresh(self, now: float, *, force: bool = False) -> None:
        if not force and now < self._next_refresh:
            return
        self._next_refresh = now + self.refresh_s
        try:
            records = await self.store.all()
        except StoreUnavailableError as exc:
            log.warning("outages not refreshed (the last ones read stay in force): %s", exc.message)
            return
        self.outages = [r.effective for r in records if r.effective.ends_at > now]

    async def on_arrival(self, held: HeldCaller) -> bool:
        """True when the caller was sent to a notice (do not queue them now)."""
        outage_id = self.playing.pop(held.call_id, None)
        if outage_id is not None:  # back from the notice: queue them
            self.ctx.metrics.notice(outage_id, "queued")
            await self._ended(held.call_id, outage_id, left=False)
            return False
        now = self.ctx.clock()
        if not held.channel or not any(o.in_force(now) for o in self.outages):
            return False
        caller = await self.classify(held)
        spec = notice_for(self.outages, caller, now, self.ctx.state.rules.default_region)
        if spec is None:
            return False
        try:
            await self.store.notice_started(held.call_id, spec.id, now)
        except StoreUnavailableError as exc:
            log.warning("notice of outage %s not played to %s: %s", spec.id, held.call_id, exc.message)
            return False
        variables = {
            "SWITCHBOARD_OUTAGE": spec.id,
            "SWITCHBOARD_NOTICE": spec.recording or "",
            "SWITCHBOARD_NOTICE_TEXT": spec.text or "",
            "SWITCHBOARD_NOTICE_LEAVE": f"{spec.leave_window_s:g}",
        }
        exten = "recording" if spec.recording else "text"
        if not await self.ctx.executor.play_notice(held.channel, variables, NOTICE_CONTEXT, exten):
            await self._ended(held.call_id, spec.id, left=False)
            return False
        self.playing[held.call_id] = spec.id
        self.ctx.metrics.notice(spec.id, "played")
        log.info("call %s hears the notice of outage %s", held.call_id, spec.id,
                 extra={"call_id": held.call_id, "outage": spec.id})  # fmt: skip
        return True

    async def on_gone(self, call_id: str) -> bool:
        """True when the caller who hung up was hearing a notice: served by it."""
        outage_id = self.playing.pop(call_id, None)
        if outage_id is None:
            return False
        self.ctx.metrics.notice(outage_id, "left")
        await self._ended(call_id, outage_id, left=True)
        log.info("call %s left after the notice of outage %s", call_id, outage_id,
                 extra={"call_id": call_id, "outage": outage_id})  # fmt: skip
        return True

    async def on_unheard(self, call_id: str, outage_id: str, status: str) -> None:
        """Asterisk could not read the notice out (no text-to-speech): counted `unheard`, not
        served by it. The caller stays marked, so their return queues them without a new try."""
        if self.playing.get(call_id) != outage_id:
            return
        self.ctx.metrics.notice(outage_id, "unheard")
        try:
            await self.store.notice_unheard(outage_id)
        except StoreUnavailableError as exc:
            log.warning("unheard notice of %s not counted: %s", outage_id, exc.message)
        log.warning("call %s: the notice of outage %s could not be played (%s); queued without it",
                    call_id, outage_id, status or "unknown",
                    extra={"call_id": call_id, "outage": outage_id, "status": status})  # fmt: skip

    async def _ended(self, call_id: str, outage_id: str, *, left: bool) -> None:
        try:
            await self.store.notice_ended(call_id, outage_id, left=left)
        except StoreUnavailableError as exc:
            log.warning("end of the notice to %s not recorded: %s", call_id, exc.message)
