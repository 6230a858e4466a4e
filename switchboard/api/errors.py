"""The one error format of the HTTP API, for every failure:

    {"error": "<stable-id>", "message": "<for a person>", "details": {...}}

Owns the translation at the HTTP boundary: SwitchboardError subclasses map to
a status through their error_id (walking up the class tree, so a feature's
`FooNotFoundError(NotFoundError)` is a 404 without registering anything);
FastAPI's request validation becomes `validation-failed` with the field paths;
Starlette's HTTP errors (unknown path, wrong method) and unexpected exceptions
get ids too. Rejected input values are never echoed (they may be personal data).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from core.config.error_messages import render_loc
from core.errors import SwitchboardError

log = logging.getLogger(__name__)


class AuthenticationError(SwitchboardError):
    """No token, or a token that is not in the tokens file."""

    error_id = "unauthorized"


class PermissionDeniedError(SwitchboardError):
    """A valid token whose role may not use this endpoint."""

    error_id = "forbidden"


class NotReadyError(SwitchboardError):
    """The engine is up but cannot serve yet (AMI not logged in, Redis not reachable)."""

    error_id = "not-ready"


class UnhealthyError(SwitchboardError):
    """The process is wedged: AMI has been down longer than ami.max_disconnected (restart it)."""

    error_id = "unhealthy"


class TooManyRequestsError(SwitchboardError):
    """The client must wait: details carry `retry_after` (seconds), sent as Retry-After too."""

    error_id = "too-many-requests"


STATUS_BY_ERROR_ID: Mapping[str, int] = {
    "unauthorized": 401,
    "forbidden": 403,
    "not-found": 404,
    "validation-failed": 422,
    "config-invalid": 422,
    "too-many-requests": 429,
    "ami-encode-invalid": 422,
    "ami-action-failed": 502,
    "ami-error": 502,
    "ami-connection-lost": 503,
    "ami-login-failed": 503,
    "store-unavailable": 503,
    "not-ready": 503,
    "unhealthy": 503,
    "not-owner": 503,
    "ami-fenced": 503,
    "ami-timeout": 504,
}
_HTTP_ERROR_IDS = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    413: "payload-too-large",
    415: "unsupported-media-type",
    429: "too-many-requests",
}


class ErrorBody(BaseModel):
    """Schema of every error response (for the OpenAPI document)."""

    error: str
    message: str
    details: dict[str, Any] = {}


ERROR_BODY_REF = "#/components/schemas/ErrorBody"


def error_doc(description: str | None = None) -> dict[str, Any]:
    """An error response of a route's `responses`, for the OpenAPI document: ErrorBody by reference
    (create_app adds its schema). `{"model": ErrorBody}` would have FastAPI build a validator per
    route and status, at import and again at the first request: ~330 of them, 0.1 s of every start."""
    doc: dict[str, Any] = {"description": description} if description else {}
    return doc | {"content": {"application/json": {"schema": {"$ref": ERROR_BODY_REF}}}}


def document_error_body(app: FastAPI) -> None:
    """Put ErrorBody in the app's OpenAPI components, where `error_doc` responses refer to it."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = build()  # kept by FastAPI as app.openapi_schema: made once
        components = document.setdefault("components", {})
        schemas = {**components.get("schemas", {}), "ErrorBody": _error_body_schema()}
        components["schemas"] = dict(sorted(schemas.items()))  # in FastAPI's order
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def _error_body_schema() -> dict[str, Any]:
    """ErrorBody's schema exactly as FastAPI writes a model's (one throwaway route, built when the
    document is)."""
    route = APIRoute("/", _no_endpoint, response_model=ErrorBody)
    document = get_openapi(title="", version="", routes=[route])
    schema: dict[str, Any] = document["components"]["schemas"]["ErrorBody"]
    return schema


def _no_endpoint() -> None:
    """The throwaway route's endpoint (never called)."""


def error_response(
    status: int,
    error_id: str,
    message: str,
    details: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = {"error": error_id, "message": message, "details": jsonable_encoder(dict(details or {}))}
    return JSONResponse(body, status_code=status, headers=dict(headers) if headers else None)


ECHO_KEYS = ("input", "value")
"""Details that carry the value a client sent (e.g. a phone number): never sent back."""


def redact(message: str, details: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """`message` and `details` without the rejected input: it may be personal data (a phone
    number), and the client has it already. The message names the field instead."""
    kept = {k: v for k, v in details.items() if k not in ECHO_KEYS}
    for key in ECHO_KEYS:
        value = details.get(key)
        if isinstance(value, str) and value:
            message = message.replace(f": {value!r}", "").replace(repr(value), "the value sent")
    return message, kept


def status_for(exc: SwitchboardError, table: Mapping[str, int] = STATUS_BY_ERROR_ID) -> int:
    for cls in type(exc).__mro__:
        error_id = getattr(cls, "error_id", None)
        if isinstance(error_id, str) and error_id in table:
            return table[error_id]
    return 500


def install_error_handlers(app: FastAPI, status_overrides: Mapping[str, int] | None = None) -> None:
    """Make every error response of `app` use the one format."""
    table = {**STATUS_BY_ERROR_ID, **(status_overrides or {})}

    async def on_switchboard_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, SwitchboardError)
        status = status_for(exc, table)
        if status >= 500 and not isinstance(exc, NotReadyError):  # probes poll /readyz: no log spam
            extra = {"error": exc.error_id, "path": request.url.path}
            log.warning("request failed: %s", exc.message, extra=extra)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        if status == 429 and isinstance(exc.details.get("retry_after"), int):
            headers = {"Retry-After": str(exc.details["retry_after"])}
        message, details = redact(exc.message, exc.details)
        return error_response(status, exc.error_id, message, details, headers)

    app.add_exception_handler(SwitchboardError, on_switchboard_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected_error)


async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "field": render_loc(item.get("loc", ())),
            "message": str(item.get("msg")),
            "type": item.get("type"),
            **_limits(item.get("ctx")),
        }
        for item in exc.errors()
    ]
    fields = ", ".join(f"{item['field']}: {item['message']}" for item in errors[:5])
    return error_response(422, "validation-failed", f"invalid request: {fields}", {"errors": errors})


def _limits(ctx: object) -> dict[str, Any]:
    """A validation error's bounds (max_length, ge, expected ...) for the console's translated
    sentence; never the input, nor an exception object."""
    if not isinstance(ctx, Mapping):
        return {}
    kept = {k: v for k, v in ctx.items() if isinstance(v, int | float | str) and k not in ECHO_KEYS}
    return {"ctx": kept} if kept else {}


_BODY_PARSE_FAILED = "There was an error parsing the body"  # FastAPI's 400, e.g. for bytes not UTF-8


async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and exc.detail == _BODY_PARSE_FAILED:
        why = "is not JSON text in UTF-8"
        errors = [{"field": "body", "message": why, "type": "json_invalid"}]
        return error_response(422, "validation-failed", f"invalid request: body: {why}", {"errors": errors})
    error_id = _HTTP_ERROR_IDS.get(exc.status_code, f"http-{exc.status_code}")
    message = exc.detail if isinstance(exc.detail, str) else error_id.replace("-", " ")
    headers = exc.headers
    if exc.status_code == 405:
        headers = {**(exc.headers or {}), "Allow": _allowed(request)}
    return error_response(exc.status_code, error_id, message, {}, headers)


def _allowed(request: Request) -> str:
    """Every method of every route at this path: Starlette's 405 names only the first route's
    (GET and DELETE of one path are two routes)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return ", ".join(sorted(methods))


async def on_unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    # Starlette re-raises after this response is sent, so the server logs the traceback once.
    return error_response(500, "internal-error", "internal error; the engine log has the details")
