"""Who an arriving caller is, for the call flow and the outage notices: the queue they asked for
(the `Queue` header, else the dialled number's queue, else the default), their CRM record in Redis
(none while the store is failing), and what an outage segment looks at.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from core.errors import StoreUnavailableError
from core.phone_numbers import try_normalize
from routing.acd.context import Ctx
from routing.acd.dispatcher import Dispatcher
from routing.acd.held import HeldCaller
from routing.classify import classify
from routing.outages import Caller

log = logging.getLogger("switchboard.acd")


class Callers:
    def __init__(self, ctx: Ctx, dispatcher: Dispatcher) -> None:
        self.ctx = ctx
        self.d = dispatcher
        self._dialled: dict[str, str] | None = None

    async def caller_of(self, held: HeldCaller) -> Caller:
        """What an outage segment looks at: the caller's number, line, tier and CRM record."""
        rules = self.ctx.state.rules
        number = try_normalize(held.caller or None, rules.default_region)
        crm = await self.crm(number)
        found = classify(
            held.caller or None,
            self.queue_for(held.queue, held.dialled),
            rules,
            dialled=held.dialled or None,
            ivr_choice=held.ivr or None,
            crm_record=crm,
        )
        return Caller(number, held.dialled or None, found.tier, crm)

    def queue_for(self, named: str, dialled: str) -> str:
        """The `Queue` header if it names a queue, else the dialled number's queue, else the default."""
        queues = self.ctx.state.rules.index.queues
        if named in queues:
            return named
        if named:
            log.warning("inbound call names queue %r, which is not in the routing rules", named)
        options, region = self.ctx.options, self.ctx.state.rules.default_region
        if self._dialled is None:
            self._dialled = {try_normalize(n, region) or n: q for n, q in options.queues_by_dialled.items()}
        by_number = self._dialled.get(try_normalize(dialled or None, region) or dialled)
        if by_number is not None and by_number in queues:
            return by_number
        if options.default_queue is not None and options.default_queue in queues:
            return options.default_queue
        return self.ctx.state.rules.queues[0].name

    def forget_queue_map(self) -> None:
        """The rules changed: normalise the dialled numbers again (the default region may differ)."""
        self._dialled = None

    async def crm(self, number: str | None) -> Mapping[str, str] | None:
        if number is None or self.d.dirty:
            return None
        try:
            return await self.ctx.store.crm_record(number)
        except StoreUnavailableError as exc:
            self.d.store_failed(exc)
            return None

    async def arrival(
        self, number: str | None, call_id: str, case_id: str
    ) -> tuple[Mapping[str, str] | None, str]:
        """The caller's CRM record and the call's case id (a new one unless it has one): one round trip."""
        if case_id:
            return await self.crm(number), case_id
        if not self.d.dirty:
            try:
                return await self.ctx.store.arrival(number, self.ctx.clock())
            except StoreUnavailableError as exc:
                self.d.store_failed(exc)
        return None, f"call-{call_id}"  # still unique while Redis is down
