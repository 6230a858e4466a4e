"""The FastAPI app factory: one app per engine, built from an AppState.

`create_app(state)` installs the common error format, the operational
endpoints and /api/v1/whoami. Feature routers are added by the caller:

    app = create_app(state)
    app.include_router(build_robinson_router(store), prefix="/api/v1")

OpenAPI is served at /openapi.json (interactive docs at /docs and /redoc, offline).
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import FastAPI

from switchboard import __version__
from switchboard.api import auth, health
from switchboard.api.body_guard import BodyGuard
from switchboard.api.docs_pages import install_docs
from switchboard.api.errors import document_error_body, install_error_handlers
from switchboard.api.state import AppState

DESCRIPTION = """\
Switchboard call-center engine.

Every endpoint under /api/v1 needs `Authorization: Bearer <token>`; tokens and
their roles (advisor, supervisor, admin, crm) are listed in the tokens file.
Errors always have the form `{"error": "<id>", "message": "...", "details": {...}}`.
"""


def create_app(state: AppState, *, status_overrides: Mapping[str, int] | None = None) -> FastAPI:
    """The HTTP API of one engine; `status_overrides` maps extra error ids to HTTP statuses."""
    app = FastAPI(
        title="Switchboard",
        version=__version__,
        description=DESCRIPTION,
        openapi_url="/openapi.json",
        docs_url=None,  # served by docs_pages, without a CDN
        redoc_url=None,
    )
    install_docs(app, "Switchboard")
    app.state.switchboard = state
    app.add_middleware(BodyGuard, state=state)  # bodies: token first, bounded size
    install_error_handlers(app, status_overrides)
    document_error_body(app)
    app.include_router(health.router)
    app.include_router(auth.router)
    return app
