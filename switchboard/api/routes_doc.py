"""Who may call what, read from the routes themselves: the one source of truth for roles.

`docs/api-roles.md` is generated from here (`python -m switchboard.api.routes_doc > docs/api-roles.md`)
and a test fails when it is stale, so the documented roles are the ones the code admits.
"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from switchboard.api import (
    acd_api,
    audit_api,
    auth,
    campaigns_api,
    consent_api,
    dialer_api,
    health,
    tasks_api,
)
from switchboard.console import routes as console_routes
from switchboard.console import stream as console_stream

ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    auth.router,
    acd_api.router,
    dialer_api.router,
    consent_api.router,
    audit_api.router,
    campaigns_api.router,
    tasks_api.router,
    console_routes.reads,
    console_stream.router,
)
HEADER = """\
# HTTP API: who may call what

Generated from the routes (`python -m switchboard.api.routes_doc > docs/api-roles.md`);
`tests/unit/test_api_roles.py` fails when this file is stale. "none" needs no token; every other
endpoint needs a token of one of the roles listed (docs/operations.md, Tokens and roles).

| method | path | roles |
|---|---|---|
"""


def roles_of(dependant: Dependant) -> tuple[str, ...] | None:
    """The roles the route's own `require_role` dependency admits (a router-wide one, listed
    first, only authenticates); None for a public route."""
    found: tuple[str, ...] | None = None
    for dependency in dependant.dependencies:
        roles = getattr(dependency.call, "roles", None)
        nested = roles_of(dependency)
        found = tuple(roles) if roles is not None else (nested if nested is not None else found)
    return found


def routes() -> Iterator[tuple[str, str, tuple[str, ...] | None]]:
    """(method, path, roles) of every endpoint, sorted by path then method."""
    rows = []
    for router in ROUTERS:
        for route in router.routes:
            if isinstance(route, APIRoute):
                rows += [
                    (method, route.path, roles_of(route.dependant)) for method in sorted(route.methods or ())
                ]
    yield from sorted(rows, key=lambda row: (row[1], row[0]))


def roles_markdown() -> str:
    lines = [f"| {m} | `{p}` | {', '.join(r) if r is not None else 'none'} |" for m, p, r in routes()]
    return HEADER + "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(roles_markdown(), end="")
