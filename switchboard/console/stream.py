"""The push stream for screens and the CRM: `GET /api/v1/stream`, Server-Sent Events.

Owned here: what each role receives and how a client resumes. Built on the ACD's Redis event
stream (routing/acd/events.py): every frame of an ACD event carries its stream id as the SSE
`id`, so a client that reconnects (EventSource does it by itself) sends `Last-Event-ID` and
gets every event published since, none lost across a short disconnect. The first frame
(`hello`) carries the starting id, so even a client that saw no event yet resumes exactly.
- advisor: only the events of their own calls, plus `me` (their agent record and any preview
  offer) whenever it changes;
- supervisor, admin: every event, plus `wallboard` (wallboard.py) whenever it changes;
- crm: every event.
A comment line every `HEARTBEAT_S` keeps proxies from closing an idle stream. The stream ends
when the HTTP server stops, so a shutdown does not wait for open screens.
Cost in Redis: the events come from the engine's one reader of the stream (routing/acd/
event_feed.py), no connection held per screen; the snapshots (`me`, `wallboard`) of all screens
take at most `SNAPSHOT_READS` connections at once (an event wakes every screen together).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse
from redis.exceptions import RedisError

from core.cancellation import raise_if_cancelling
from core.errors import NotFoundError, SwitchboardError
from dialer.leads.model import Lead
from routing.acd import AcdService
from routing.acd.events import AcdEvent, check_since
from switchboard.api.acd_api import AgentOut, get_acd
from switchboard.api.auth import AUTH_RESPONSES, require_role
from switchboard.api.campaigns_api import get_service
from switchboard.api.dialer_access import get_stores
from switchboard.api.errors import NotReadyError
from switchboard.api.state import get_state
from switchboard.api.tokens import Principal
from switchboard.console.offers import BOARD_ATTR, OfferBoard
from switchboard.console.wallboard import wallboard

HEARTBEAT_S = 15.0
TICK_S = 1.0
SNAPSHOT_READS = 16
OFFER_FRESH_S = 0.25  # the advisors' offers, read for all screens: at most 4 reads a second (offers.py)
Snapshot = Callable[[], Awaitable[tuple[str, Any] | None]]

router = APIRouter(prefix="/api/v1", tags=["stream"])
Viewer = Annotated[Principal, Depends(require_role("advisor", "supervisor", "admin", "crm"))]


def frame(event: str, data: str, event_id: str | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {data}\n\n"


def visible(event: AcdEvent, who: Principal) -> bool:
    return who.role != "advisor" or event.agent_id == who.name


def _payload(event: AcdEvent) -> str:
    return json.dumps({"id": event.id, "type": event.type, "agent_id": event.agent_id, "data": event.data})


def _stopping(request: Request) -> bool:
    server = getattr(request.app.state, "http_server", None)
    return bool(getattr(server, "should_exit", False))


async def _bounded(request: Request, snapshot: Snapshot) -> tuple[str, Any] | None:
    """The snapshot, with at most SNAPSHOT_READS of this engine's screens in Redis at once."""
    reads = getattr(request.app.state, "console_snapshot_reads", None)
    if reads is None:
        reads = request.app.state.console_snapshot_reads = asyncio.Semaphore(SNAPSHOT_READS)
    async with reads:
        return await snapshot()


async def frames(
    request: Request, who: Principal, acd: AcdService, since: str, snapshot: Snapshot | None
) -> AsyncIterator[str]:
    loop = asyncio.get_running_loop()
    yield "retry: 1000\n" + frame("hello", json.dumps({"since": since, "role": who.role}), since)
    shown, beat = "", loop.time()
    screen = offer_board(request).screen(who.name) if who.role == "advisor" else contextlib.nullcontext()
    with screen:  # read with the other screens' offers while it is open (offers.py)
        while not _stopping(request):
            try:
                # first: a new screen fills now
                found = await _bounded(request, snapshot) if snapshot else None
                if found is not None:
                    text = json.dumps(found[1], sort_keys=True, default=str)
                    if text != shown:
                        shown = text
                        yield frame(found[0], text)
                for event in await acd.events.read(since, count=100, wait_s=TICK_S):
                    since = event.id
                    if visible(event, who):
                        yield frame(event.type, _payload(event), event.id)
            except (SwitchboardError, RedisError, OSError) as exc:  # Redis down: say so, end; it resumes
                error = exc.error_id if isinstance(exc, SwitchboardError) else "store-unavailable"
                yield frame("problem", json.dumps({"error": error, "message": str(exc)}))
                return
            raise_if_cancelling()  # a client gone (its task cancelled) ends the stream, even if Redis lost it
            if loop.time() - beat >= HEARTBEAT_S:
                beat = loop.time()
                yield ": ping\n\n"


def offer_board(request: Request) -> OfferBoard:
    """The preview offers of this engine's advisor screens, read for all of them at once (offers.py)."""
    board: OfferBoard | None = getattr(request.app.state, BOARD_ATTR, None)
    if board is None:
        stores = get_stores(request)

        async def read(advisors: Sequence[str]) -> dict[str, Lead | None]:
            return await stores.leads.current_offers(advisors, now=stores.clock())

        board = OfferBoard(read, fresh_s=OFFER_FRESH_S)
        setattr(request.app.state, BOARD_ATTR, board)
    return board


def _advisor_snapshot(request: Request, acd: AcdService, who: Principal) -> Snapshot:
    board = offer_board(request)

    async def me() -> tuple[str, Any]:
        try:
            agent: dict[str, Any] | None = AgentOut.model_validate(acd.agent(who.name)).model_dump()
        except NotFoundError:
            agent = None
        lead = await board.offer(who.name)
        return "me", {"agent": agent, "offer": lead.as_dict() if lead else None}

    return me


def wallboard_reader(request: Request, acd: AcdService) -> Callable[[], Awaitable[dict[str, Any]]]:
    """The wallboard, computed at most once a second for all screens of this engine."""
    zone = get_state(request).settings.zone
    try:
        dialer = get_service(request)
    except NotReadyError:
        dialer = None

    async def read() -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        cached = getattr(request.app.state, "console_wallboard", None)
        if cached is not None and loop.time() - cached[0] < TICK_S * 0.9:
            return dict(cached[1])
        data = await wallboard(acd, dialer, zone)
        request.app.state.console_wallboard = (loop.time(), data)
        return data

    return read


def _snapshot_for(request: Request, acd: AcdService, who: Principal) -> Snapshot | None:
    if who.role == "advisor":
        return _advisor_snapshot(request, acd, who)
    if who.role in ("supervisor", "admin"):
        read = wallboard_reader(request, acd)

        async def board() -> tuple[str, Any]:
            return "wallboard", await read()

        return board
    return None


@router.get("/stream", responses=AUTH_RESPONSES, response_class=StreamingResponse)
async def stream(
    request: Request,
    who: Viewer,
    acd: Annotated[AcdService, Depends(get_acd)],
    last_event_id: Annotated[str | None, Header(description="sent by EventSource on reconnect")] = None,
    since: Annotated[str | None, Query(description="a stream id to resume after (else: from now)")] = None,
) -> StreamingResponse:
    """Server-Sent Events: ACD events (each with its stream id), `me` for advisors, `wallboard`
    for supervisors; resume with `Last-Event-ID` (or `since`) and miss nothing."""
    start = check_since(last_event_id or since or "$")
    if start == "$":
        start = await acd.events.last_id()
    body = frames(request, who, acd, start, _snapshot_for(request, acd, who))
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(body, media_type="text/event-stream", headers=headers)
