"""The console's HTTP side: its pages and assets, sign-in and sign-out, the wallboard and
rules-status reads. `install(app, reloader=...)` adds all of it (and the push stream) to the
engine's app; nothing else is needed, no other web server, no CDN.

Sign-in takes an API token as JSON (a cross-site form cannot send JSON without a CORS
preflight, which this server never grants: no login CSRF) and answers with the CSRF token the
page sends back in `X-CSRF-Token`. Pages carry a strict Content-Security-Policy (own origin
only, no inline script) and may not be framed.
"""

from __future__ import annotations

import hmac
import ipaddress
import time
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.middleware.base import RequestResponseEndpoint

from core.clock import Clock
from dialer.paging import Cursor, page_in_memory
from routing.acd import AcdService
from switchboard.api.acd_api import get_acd
from switchboard.api.auth import AUTH_RESPONSES, require_role
from switchboard.api.dialer_access import get_stores
from switchboard.api.errors import (
    AuthenticationError,
    NotReadyError,
    PermissionDeniedError,
    TooManyRequestsError,
)
from switchboard.api.paging import CursorQuery, LimitQuery, Page, page_of
from switchboard.api.state import get_state
from switchboard.console import stream
from switchboard.console.login_throttle import LoginThrottle, ThrottleSettings
from switchboard.console.session import CLOCK_ATTR, CSRF_HEADER, current_session, end_session, start_session
from switchboard.reload import RulesReloader

STATIC = Path(__file__).resolve().parent / "static"
LANGUAGES = ("en", "hu", "pl")
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
_RELOADER_ATTR = "console_reloader"
_THROTTLE_ATTR = "console_login_throttle"

pages = APIRouter(prefix="/console", tags=["console"], include_in_schema=False)
reads = APIRouter(prefix="/api/v1", tags=["console"])
Staff = Annotated[Any, Depends(require_role("supervisor", "admin"))]


class LoginIn(BaseModel):
    token: str = Field(min_length=1, max_length=512)


class SessionOut(BaseModel):
    name: str
    role: str
    csrf: str
    timezone: str
    languages: list[str]


def install(app: FastAPI, *, reloader: RulesReloader | None = None, clock: Clock = time.time) -> None:
    """Serve the console on `app` (pages under /console/, reads and the stream under /api/v1);
    `clock` times the sign-in throttle and the sessions' expiry."""
    setattr(app.state, _RELOADER_ATTR, reloader)
    console = app.state.switchboard.settings.console
    limits = ThrottleSettings(
        free_failures=console.login_free_failures,
        max_delay_s=console.login_max_lockout_seconds,
        forget_after_s=max(3600.0, 4 * console.login_max_lockout_seconds),
    )
    setattr(app.state, _THROTTLE_ATTR, LoginThrottle(clock, limits))
    setattr(app.state, CLOCK_ATTR, clock)  # session expiry
    app.include_router(pages)
    app.include_router(reads)
    app.include_router(stream.router)
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")

    @app.middleware("http")
    async def console_headers(request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        if request.url.path.startswith("/console"):
            response.headers["Content-Security-Policy"] = CSP
            response.headers["X-Frame-Options"] = "DENY"
            response.headers["X-Content-Type-Options"] = "nosniff"
            response.headers["Referrer-Policy"] = "no-referrer"
        return response


def _session_out(request: Request, name: str, role: str, csrf: str) -> SessionOut:
    zone = get_state(request).settings.timezone
    return SessionOut(name=name, role=role, csrf=csrf, timezone=zone, languages=list(LANGUAGES))


@pages.get("")
async def console_root() -> RedirectResponse:
    return RedirectResponse("/console/")


@pages.get("/")
async def console_page() -> FileResponse:
    return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})


def client_key(request: Request) -> str:
    """Whom the sign-in throttle counts: the peer's address; behind a proxy on this machine (a
    loopback peer), the first address of its X-Forwarded-For."""
    peer = request.client.host if request.client else "unknown"
    forwarded = request.headers.get("x-forwarded-for", "").split(",")[0].strip()
    try:
        local = ipaddress.ip_address(peer).is_loopback
    except ValueError:
        local = False
    return forwarded if local and forwarded else peer


TOO_MANY: dict[int | str, dict[str, Any]] = {429: {"description": "too many failed sign-ins"}}


@pages.post("/api/login", response_model=SessionOut, responses=TOO_MANY)
async def login(request: Request, body: LoginIn, response: Response) -> SessionOut:
    """Sign in with an API token; sets the session cookie. Repeated failures from one client lock
    it out for a doubling time (429 with Retry-After)."""
    if not request.headers.get("content-type", "").startswith("application/json"):
        raise PermissionDeniedError("sign in with a JSON body from the console page")
    throttle: LoginThrottle = getattr(request.app.state, _THROTTLE_ATTR)
    client = client_key(request)
    wait = throttle.retry_after(client)
    if wait:
        raise TooManyRequestsError(f"too many failed sign-ins; try again in {wait} s", retry_after=wait)
    started = start_session(request, response, body.token.strip())
    if started is None:
        locked = throttle.failed(client)
        raise AuthenticationError("unknown or revoked API token", retry_after=locked)
    throttle.succeeded(client)
    session, principal = started
    return _session_out(request, principal.name, principal.role, session.csrf)


@pages.get("/api/session", response_model=SessionOut, responses=AUTH_RESPONSES)
async def session(request: Request) -> SessionOut:
    """Who is signed in (and the CSRF token to send with changes)."""
    found = current_session(request)
    if found is None:
        raise AuthenticationError("not signed in")
    return _session_out(request, found[1].name, found[1].role, found[0].csrf)


@pages.post("/api/logout", status_code=204)
async def logout(request: Request) -> Response:
    found = current_session(request)
    sent = request.headers.get(CSRF_HEADER, "").encode()
    if found is not None and not hmac.compare_digest(sent, found[0].csrf.encode()):
        raise PermissionDeniedError(f"missing or wrong {CSRF_HEADER} header for this console session")
    response = Response(status_code=204)
    end_session(request, response)
    return response


@reads.get("/wallboard", responses=AUTH_RESPONSES)
async def get_wallboard(
    request: Request, who: Staff, acd: Annotated[AcdService, Depends(get_acd)]
) -> JSONResponse:
    """Per queue: waiting, oldest wait, service level now vs target, answered and abandoned today,
    agents per state; per tier waits; campaigns with dial level, abandon rates and leads left."""
    return JSONResponse(await stream.wallboard_reader(request, acd)())


@reads.get("/rules/status", responses=AUTH_RESPONSES)
async def rules_status(
    request: Request, who: Staff, cursor: CursorQuery = None, limit: LimitQuery = 100
) -> Page[dict[str, Any]]:
    """Each rule file by kind: the version in force (hash, when applied), the last refused edit and
    its problems."""
    reloader = getattr(request.app.state, _RELOADER_ATTR, None)
    if not isinstance(reloader, RulesReloader):
        raise NotReadyError("rule files are not watched in this engine")
    files, after = page_in_memory(reloader.status(), lambda f: str(f["kind"]), Cursor.decode(cursor), limit)
    return page_of(files, after)


@reads.get("/disposition-codes", responses=AUTH_RESPONSES)
async def disposition_codes(
    request: Request,
    who: Annotated[Any, Depends(require_role("advisor", "supervisor", "admin", "crm"))],
    cursor: CursorQuery = None,
    limit: LimitQuery = 100,
) -> Page[dict[str, str]]:
    """The disposition codes in force (dispositions.yaml) by code, with the label advisors see."""
    rules = get_stores(request).dispositions.rules
    codes = [{"code": r.code, "label": r.label or r.code} for r in rules.dispositions]
    taken, after = page_in_memory(codes, lambda c: c["code"], Cursor.decode(cursor), limit)
    return page_of(taken, after)


@reads.get("/blacklist/lists", responses=AUTH_RESPONSES)
async def blacklist_lists(
    request: Request, who: Annotated[Any, Depends(require_role("supervisor", "admin"))]
) -> dict[str, Any]:
    """The internal list's size, and each imported list (national, campaign) with its count and
    the metadata of its last import (when, from which file, by whom)."""
    stores = get_stores(request)
    lists = []
    for name in await stores.packed.names():
        info = await stores.packed.info(name)
        lists.append(
            {"name": info.name, "count": info.count, "generation": info.generation, "meta": info.meta}
        )
    return {"internal": await stores.internal.count(), "lists": lists}
