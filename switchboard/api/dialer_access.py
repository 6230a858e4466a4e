"""How the dialer's data endpoints reach their data and who may call them.

Owned here: the stores the endpoints use (the engine's, attached by the runtime; else built once
from AppState.redis), the roles of the dialer's endpoints (from the tokens file), the answers
they share in the OpenAPI spec, and the HTTP status of the dialer's error ids. The endpoints
themselves are one module per area: leads_api.py, dispositions_api.py, blacklist_api.py,
robinson_api.py.

    app = create_app(state, status_overrides=STATUS_OVERRIDES)
    attach_dialer(app, stores)          # optional: else built from AppState.redis on first use
    app.include_router(leads_api.router)  # and the other areas'

Roles: the CRM pushes leads and reads dispositions; advisors file Robinson-list requests, set
dispositions and read leads; supervisors decide requests and edit the internal list. `admin` is
listed only where it belongs (bulk leads, reads). Advisors see only their own requests.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI, Request

from dialer.stores import DialerStores
from switchboard.api.auth import AUTH_RESPONSES, require_role
from switchboard.api.errors import NotReadyError, error_doc
from switchboard.api.state import get_state
from switchboard.api.tokens import Principal

STATUS_OVERRIDES = {
    "robinson-request-not-pending": 409,
    "lead-not-claimed": 409,
    "lead-offer-refused": 409,
    "blacklist-list-busy": 409,
    "blacklist-list-conflict": 409,
}
"""Error ids of the dialer that are not 4xx/5xx by their base class: pass to create_app."""

_STORES_ATTR = "dialer_stores"
ERRORS: dict[int | str, dict[str, object]] = {
    **AUTH_RESPONSES,
    422: error_doc("invalid input; details name every field"),
    503: error_doc("Redis unavailable"),
}
"""What every dialer endpoint may answer besides its success (the routers' `responses`)."""
NOT_FOUND: dict[int | str, dict[str, object]] = {404: error_doc("no such lead / request")}
CONFLICT: dict[int | str, dict[str, object]] = {
    409: error_doc("already decided / not offered to you / list busy")
}


def attach_dialer(app: FastAPI, stores: DialerStores) -> None:
    """Serve `stores` (the engine's, sharing its gate and metrics) from this app's dialer endpoints."""
    setattr(app.state, _STORES_ATTR, stores)


def get_stores(request: Request) -> DialerStores:
    """The attached stores; without, stores over AppState.redis, built once (gate metrics on its registry)."""
    stores = getattr(request.app.state, _STORES_ATTR, None)
    if isinstance(stores, DialerStores):
        return stores
    state = get_state(request)
    if state.redis is None:
        raise NotReadyError("the dialer needs Redis (redis.url) and it is not configured")
    region = state.settings.default_region
    stores = DialerStores.build(state.redis, default_region=region, registry=state.registry)
    attach_dialer(request.app, stores)
    return stores


Stores = Annotated[DialerStores, Depends(get_stores)]
Crm = Annotated[Principal, Depends(require_role("crm", "admin"))]
Reader = Annotated[Principal, Depends(require_role("advisor", "supervisor", "admin", "crm"))]
Advisor = Annotated[Principal, Depends(require_role("advisor", "supervisor"))]
DispositionReader = Annotated[Principal, Depends(require_role("crm", "supervisor", "admin"))]
Supervisor = Annotated[Principal, Depends(require_role("supervisor"))]
