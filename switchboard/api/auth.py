"""Bearer-token authentication and role checks for every non-public endpoint.

Endpoints declare who may call them with a dependency:

    @router.post("/robinson/{id}/approve")
    async def approve(principal: Annotated[Principal, Depends(require_role("supervisor", "admin"))]): ...

No `Authorization: Bearer <token>` header, or a token not in the tokens file:
401 with `WWW-Authenticate: Bearer`. Without the header, the web console's session
cookie is accepted instead (switchboard/console/session.py: same tokens and roles,
a CSRF header on every state-changing request). A known token whose role is not listed:
403. Roles are explicit: `admin` is not a wildcard, list it where it belongs.
`require_role()` with no roles admits any valid token.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from switchboard.api.errors import AuthenticationError, PermissionDeniedError, error_doc
from switchboard.api.state import get_state
from switchboard.api.tokens import ROLES, Principal, Role
from switchboard.console import session as console_session

_bearer = HTTPBearer(auto_error=False, description="An API token from the tokens file (docs/operations.md)")

AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: error_doc("missing or unknown token"),
    403: error_doc("the token's role may not use this endpoint"),
}


def require_role(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency that admits a valid token whose role is one of `roles` (any role if none given)."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}; roles are {', '.join(ROLES)}")
    allowed = tuple(roles) or ROLES

    async def authenticated(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
    ) -> Principal:
        if credentials is None:
            principal = console_session.session_principal(request)  # the web console's cookie (CSRF-checked)
            if principal is None:
                raise AuthenticationError(
                    "missing bearer token: send the header 'Authorization: Bearer <token>'"
                )
        else:
            principal = get_state(request).tokens.authenticate(credentials.credentials)
        if principal is None:
            raise AuthenticationError("unknown or revoked API token")
        if principal.role not in allowed:
            raise PermissionDeniedError(
                f"role {principal.role!r} may not use this endpoint; allowed: {', '.join(allowed)}",
                role=principal.role,
                allowed=list(allowed),
            )
        request.state.principal = principal
        return principal

    authenticated.roles = allowed  # type: ignore[attr-defined]  # read by switchboard/api/routes_doc.py
    return authenticated


class WhoAmI(BaseModel):
    name: str
    role: str


router = APIRouter(prefix="/api/v1", tags=["auth"])


@router.get("/whoami", response_model=WhoAmI, responses=AUTH_RESPONSES)
async def whoami(principal: Annotated[Principal, Depends(require_role())]) -> WhoAmI:
    """Who the presented token belongs to, and its role."""
    return WhoAmI(name=principal.name, role=principal.role)
