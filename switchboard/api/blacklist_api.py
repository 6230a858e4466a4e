"""HTTP API of the blacklist: checking numbers against every list, and the engine's own
(internal) list, edited by supervisors with a reason (audited with their name).

Roles and stores: dialer_access.py. The gate (dialer/lists/gate.py) answers the checks.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, status

from core.errors import NotFoundError, ValidationFailedError
from core.phone_numbers import normalize
from dialer.lists.fast_numbers import try_normalize
from dialer.lists.gate import BatchVerdict
from switchboard.api.dialer_access import CONFLICT, ERRORS, Reader, Stores, Supervisor
from switchboard.api.dialer_models import (
    CheckIn,
    CheckOut,
    CheckResult,
    InternalAddIn,
    InternalEntryOut,
    InternalRemoveIn,
)

router = APIRouter(prefix="/api/v1", tags=["dialer"], responses=ERRORS)


@router.post("/blacklist/check", response_model=CheckOut)
async def check_numbers(body: CheckIn, who: Reader, stores: Stores) -> CheckOut:
    """Per number: its E.164 form, whether it is blocked now, and by which lists."""
    region = stores.gate.default_region
    e164s = [try_normalize(number, region) for number in body.numbers]
    valid = [e164 for e164 in e164s if e164 is not None]
    verdicts = iter(await stores.gate.check_many(valid, body.campaign_id) if valid else [])
    results = []
    for raw, e164 in zip(body.numbers, e164s, strict=True):
        if e164 is None:
            results.append(
                CheckResult(input=raw, e164=None, blocked=None, sources=[], error="not a phone number")
            )
            continue
        verdict: BatchVerdict = next(verdicts)
        results.append(
            CheckResult(input=raw, e164=e164, blocked=verdict.blocked, sources=list(verdict.sources))
        )
    return CheckOut(results=results)


@router.post(
    "/blacklist/internal",
    response_model=InternalEntryOut,
    status_code=status.HTTP_201_CREATED,
    responses=CONFLICT,
)
async def add_internal(body: InternalAddIn, who: Supervisor, stores: Stores) -> InternalEntryOut:
    """Put a number on the engine's own list (reason mandatory; audited with your name)."""
    number = normalize(body.number, stores.default_region)
    added = await stores.internal.add(number, reason=body.reason, actor=who.name, now=stores.clock())
    entry = await stores.internal.get(number)
    return InternalEntryOut(
        number=number,
        on_list=entry is not None,
        changed=added,
        reason=entry.reason if entry else None,
        actor=entry.actor if entry else None,
        at=entry.at if entry else None,
    )


@router.get("/blacklist/internal/{number}", response_model=InternalEntryOut)
async def get_internal(number: str, who: Supervisor, stores: Stores) -> InternalEntryOut:
    """Whether a number is on the internal list, and who put it there, when and why."""
    e164 = normalize(number, stores.default_region)
    entry = await stores.internal.get(e164)
    if entry is None:
        raise NotFoundError(f"{e164} is not on the internal list", number=e164)
    return InternalEntryOut(
        number=e164, on_list=True, changed=False, reason=entry.reason, actor=entry.actor, at=entry.at
    )


@router.delete("/blacklist/internal/{number}", response_model=InternalEntryOut, responses=CONFLICT)
async def remove_internal(
    number: str,
    who: Supervisor,
    stores: Stores,
    reason: Annotated[str | None, Query(max_length=500, description="or in the body")] = None,
    body: Annotated[InternalRemoveIn | None, Body()] = None,
) -> InternalEntryOut:
    """Take a number off the internal list (reason mandatory, in the query or the body; audited)."""
    why = (reason or (body.reason if body else "")).strip()
    if not why:
        raise ValidationFailedError(
            'removing a number needs a reason (?reason=... or {"reason": ...})', missing=["reason"]
        )
    e164 = normalize(number, stores.default_region)
    removed = await stores.internal.remove(e164, reason=why, actor=who.name, now=stores.clock())
    return InternalEntryOut(number=e164, on_list=False, changed=removed, reason=why, actor=who.name)
