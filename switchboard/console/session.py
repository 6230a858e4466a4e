"""The console's session: a signed cookie that stands for an API token, and its CSRF token.

Owned here: the cookie format and every check on it. The cookie holds the token's SHA-256
(never the token), a random CSRF token and an expiry, signed with HMAC-SHA256 under
`console.session_secret` (a random per-process secret when unset). Each request maps the
digest back through the tokens file in force, so a token removed from the file ends its
sessions; the role is always the file's, never the cookie's. The cookie is HttpOnly,
SameSite=Strict, Path=/ and Secure over TLS. A state-changing request (anything but GET,
HEAD, OPTIONS) must also carry the CSRF token in the `X-CSRF-Token` header: a page of
another site can neither read it nor set that header without a CORS preflight we never allow.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from fastapi import Request, Response

from switchboard.api.errors import PermissionDeniedError
from switchboard.api.state import get_state
from switchboard.api.tokens import Principal, hash_token

COOKIE = "sb_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_SECRET_ATTR = "console_session_secret"
CLOCK_ATTR = "console_clock"


@dataclass(frozen=True)
class Session:
    digest: str
    csrf: str
    expires: float


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode(session: Session, secret: bytes) -> str:
    payload = json.dumps({"d": session.digest, "c": session.csrf, "e": session.expires}).encode()
    signature = hmac.new(secret, payload, hashlib.sha256).digest()
    return f"{_b64(payload)}.{_b64(signature)}"


def decode(value: str, secret: bytes, now: float) -> Session | None:
    """The session in a cookie value, or None when it is malformed, forged or expired."""
    payload_text, _, signature_text = value.partition(".")
    try:
        payload, signature = _unb64(payload_text), _unb64(signature_text)
    except (ValueError, TypeError):
        return None
    if not hmac.compare_digest(hmac.new(secret, payload, hashlib.sha256).digest(), signature):
        return None
    try:
        data = json.loads(payload)
        session = Session(str(data["d"]), str(data["c"]), float(data["e"]))
    except (ValueError, KeyError, TypeError):
        return None
    return session if session.expires > now else None


def secret_of(request: Request) -> bytes:
    """The signing key: the configured one, else a random one kept for this app's lifetime."""
    configured = get_state(request).settings.console.session_secret
    if configured is not None:
        return configured.get_secret_value().encode("utf-8")
    secret = getattr(request.app.state, _SECRET_ATTR, None)
    if not isinstance(secret, bytes):
        secret = secrets.token_bytes(32)
        setattr(request.app.state, _SECRET_ATTR, secret)
    return secret


def _now(request: Request) -> float:
    """The app's clock (console.routes.install sets it; the wall clock for an app without one)."""
    clock = getattr(request.app.state, CLOCK_ATTR, None)
    return float(clock()) if callable(clock) else time.time()


def current_session(request: Request) -> tuple[Session, Principal] | None:
    """The request's valid session and whom it stands for (per the tokens file in force)."""
    value = request.cookies.get(COOKIE)
    if not value:
        return None
    session = decode(value, secret_of(request), _now(request))
    if session is None:
        return None
    principal = get_state(request).tokens.by_digest(session.digest)
    return (session, principal) if principal is not None else None


def session_principal(request: Request) -> Principal | None:
    """For the API's auth: who the cookie stands for; a state change without the CSRF header is 403."""
    found = current_session(request)
    if found is None:
        return None
    session, principal = found
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), session.csrf.encode()):
            raise PermissionDeniedError(f"missing or wrong {CSRF_HEADER} header for this console session")
    return principal


def start_session(request: Request, response: Response, token: str) -> tuple[Session, Principal] | None:
    """Sign in with an API token: set the cookie; None when the token is unknown."""
    state = get_state(request)
    principal = state.tokens.authenticate(token)
    if principal is None:
        return None
    hours = state.settings.console.session_hours
    session = Session(hash_token(token), secrets.token_urlsafe(24), _now(request) + hours * 3600)
    response.set_cookie(
        COOKIE,
        encode(session, secret_of(request)),
        max_age=int(hours * 3600),
        path="/",
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )
    return session, principal


def end_session(request: Request, response: Response) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict", secure=_secure(request))


def _secure(request: Request) -> bool:
    mode = get_state(request).settings.console.secure_cookie
    if mode != "auto":
        return mode == "always"
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or forwarded == "https"
