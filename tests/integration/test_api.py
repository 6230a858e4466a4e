"""HTTP API: bearer tokens and roles, and one error format for every failure."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated

import httpx
import pytest
from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from core.errors import (
    ConfigError,
    NotFoundError,
    StoreUnavailableError,
    SwitchboardError,
    ValidationFailedError,
)
from switchboard.api import AppState, Principal, TokenStore, create_app, require_role
from switchboard.api.tokens import hash_token
from switchboard.metrics import create_metrics
from switchboard.runtime import Runtime
from switchboard.settings import Settings

TOKENS = {
    "advisor": "advisor-token-000000001",
    "supervisor": "supervisor-token-00001",
    "admin": "admin-token-00000000001",
    "crm": "crm-token-0000000000001",
}


class LeadIn(BaseModel):
    phone: str = Field(min_length=3)
    priority: int = Field(ge=0, le=9)


class ShelfEmptyError(NotFoundError):
    error_id = "shelf-empty"


class SpecialError(SwitchboardError):
    error_id = "special-case"


def feature_router() -> APIRouter:
    """Stands for a router a later feature adds with include_router."""
    router = APIRouter(prefix="/api/v1/test")

    @router.post("/leads")
    async def push_lead(
        lead: LeadIn, who: Annotated[Principal, Depends(require_role("crm", "admin"))]
    ) -> dict[str, str]:
        return {"phone": lead.phone, "by": who.name}

    @router.get("/supervise")
    async def supervise(who: Annotated[Principal, Depends(require_role("supervisor"))]) -> dict[str, str]:
        return {"by": who.name}

    @router.get("/fail/{kind}")
    async def fail(kind: str) -> None:
        errors: dict[str, Exception] = {
            "not-found": ShelfEmptyError("no lead on the shelf", campaign="c1"),
            "store": StoreUnavailableError(
                "Redis at redis://h:6379/0 is not reachable", url="redis://h:6379/0"
            ),
            "invalid": ValidationFailedError("phone is not a number", field="phone", row=7),
            "special": SpecialError("odd", why="because"),
            "bug": RuntimeError("a bug"),
        }
        raise errors[kind]

    return router


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    tokens = TokenStore.from_tokens([(token, f"{role}-user", role) for role, token in TOKENS.items()])  # type: ignore[misc]
    state = AppState(settings=Settings(), tokens=tokens, metrics=create_metrics(process=False))
    app = create_app(state, status_overrides={"special-case": 409})
    app.include_router(feature_router())
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://switchboard") as http:
        yield http


def bearer(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[role]}"}


def assert_error(response: httpx.Response, status: int, error_id: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    body: dict[str, object] = response.json()
    assert set(body) == {"error", "message", "details"}
    assert body["error"] == error_id
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["details"], dict)
    return body


@pytest.mark.parametrize("role", sorted(TOKENS))
async def test_whoami_for_every_role(client: httpx.AsyncClient, role: str) -> None:
    response = await client.get("/api/v1/whoami", headers=bearer(role))
    assert response.status_code == 200
    assert response.json() == {"name": f"{role}-user", "role": role}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer not-a-known-token"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer "},
    ],
)
async def test_missing_or_unknown_token_is_401(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    response = await client.get("/api/v1/whoami", headers=headers)
    assert_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(
    ("role", "status"), [("advisor", 403), ("supervisor", 200), ("admin", 403), ("crm", 403)]
)
async def test_role_is_checked(client: httpx.AsyncClient, role: str, status: int) -> None:
    response = await client.get("/api/v1/test/supervise", headers=bearer(role))
    assert response.status_code == status
    if status == 403:
        body = assert_error(response, 403, "forbidden")
        assert body["details"] == {"role": role, "allowed": ["supervisor"]}


async def test_several_roles(client: httpx.AsyncClient) -> None:
    lead = {"phone": "+36301234567", "priority": 1}
    assert (await client.post("/api/v1/test/leads", json=lead, headers=bearer("crm"))).json()[
        "by"
    ] == "crm-user"
    assert (await client.post("/api/v1/test/leads", json=lead, headers=bearer("admin"))).status_code == 200
    assert_error(
        await client.post("/api/v1/test/leads", json=lead, headers=bearer("advisor")), 403, "forbidden"
    )


async def test_auth_comes_before_body_validation(client: httpx.AsyncClient) -> None:
    assert_error(await client.post("/api/v1/test/leads", json={}), 401, "unauthorized")


async def test_validation_error_lists_field_paths(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/test/leads", json={"phone": "1", "priority": 12, "secret": "x"}, headers=bearer("crm")
    )
    body = assert_error(response, 422, "validation-failed")
    errors = body["details"]["errors"]  # type: ignore[index]
    assert [error["field"] for error in errors] == ["body.phone", "body.priority"]
    assert all(set(error) == {"field", "message", "type", "ctx"} for error in errors), "never the input"
    assert [error["ctx"] for error in errors] == [{"min_length": 3}, {"le": 9}], "the bounds, for the console"
    assert "body.phone" in str(body["message"])


async def test_malformed_json_is_a_validation_error(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/test/leads",
        content=b"{not json",
        headers={**bearer("crm"), "Content-Type": "application/json"},
    )
    assert_error(response, 422, "validation-failed")


@pytest.mark.parametrize(
    ("kind", "status", "error_id", "details"),
    [
        ("not-found", 404, "shelf-empty", {"campaign": "c1"}),
        ("store", 503, "store-unavailable", {"url": "redis://h:6379/0"}),
        ("invalid", 422, "validation-failed", {"field": "phone", "row": 7}),
        ("special", 409, "special-case", {"why": "because"}),
    ],
)
async def test_switchboard_errors_map_to_statuses(
    client: httpx.AsyncClient, kind: str, status: int, error_id: str, details: dict[str, object]
) -> None:
    body = assert_error(await client.get(f"/api/v1/test/fail/{kind}"), status, error_id)
    assert body["details"] == details


async def test_unexpected_exception_is_a_500_without_internals(client: httpx.AsyncClient) -> None:
    body = assert_error(await client.get("/api/v1/test/fail/bug"), 500, "internal-error")
    assert "a bug" not in str(body)


async def test_unknown_path_and_wrong_method(client: httpx.AsyncClient) -> None:
    assert_error(await client.get("/api/v1/nothing-here"), 404, "not-found")
    assert_error(await client.delete("/healthz"), 405, "method-not-allowed")


async def test_openapi_documents_endpoints_and_bearer_auth(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    for path in ("/healthz", "/readyz", "/metrics", "/api/v1/whoami"):
        assert path in spec["paths"]
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    whoami = spec["paths"]["/api/v1/whoami"]["get"]
    assert {"401", "403"} <= set(whoami["responses"])


async def test_openapi_documents_the_error_format(client: httpx.AsyncClient) -> None:
    """Every documented error response has the one error body, and its schema is in the document."""
    spec = (await client.get("/openapi.json")).json()
    unauthorized = spec["paths"]["/api/v1/whoami"]["get"]["responses"]["401"]
    assert unauthorized["description"] == "missing or unknown token"
    assert unauthorized["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorBody"}
    not_ready = spec["paths"]["/readyz"]["get"]["responses"]["503"]
    assert not_ready["description"] == "Service Unavailable"
    assert not_ready["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorBody"}
    error_body = spec["components"]["schemas"]["ErrorBody"]
    assert error_body["required"] == ["error", "message"]
    assert set(error_body["properties"]) == {"error", "message", "details"}


def test_require_role_rejects_unknown_roles() -> None:
    with pytest.raises(ValueError, match="unknown roles"):
        require_role("superuser")  # type: ignore[arg-type]


def test_token_store_from_a_file(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    tokens = tmp_path / "api-tokens.yaml"
    tokens.write_text(
        f"- name: sam.supervisor\n  role: supervisor\n  token_sha256: {hash_token('sam-own-token-000001')}\n"
        "- name: crm-sync\n  role: crm\n  token: crm-own-token-000001\n"
    )
    store = TokenStore.load(tokens)
    assert len(store) == 2
    assert store.authenticate("sam-own-token-000001") == Principal("sam.supervisor", "supervisor")
    assert store.authenticate("sam-own-token-000002") is None
    assert store.authenticate("") is None
    with caplog.at_level(logging.WARNING):
        assert len(TokenStore.load(None)) == 0
    assert "every /api/ request will be refused with 401" in caplog.text


def test_the_published_example_tokens_are_refused() -> None:
    example = Path(__file__).resolve().parents[2] / "config/api-tokens.example.yaml"
    with pytest.raises(ConfigError) as exc:
        TokenStore.load(example)
    problems = exc.value.details["errors"]
    assert [p["key"] for p in problems] == ["[0]", "[1]", "[2]", "[3]"]
    assert all("published example token" in p["message"] and p["line"] for p in problems)
    assert "example-admin-token-0001" not in example.read_text(), "the plaintext is no longer printed"
    with pytest.raises(ConfigError, match="published example token"):
        TokenStore.from_tokens([("example-admin-token-0001", "ops", "admin")])


async def test_the_engine_refuses_to_start_with_the_example_tokens() -> None:
    root = Path(__file__).resolve().parents[2]
    settings = Settings.model_validate({
        "redis": {"url": "redis://127.0.0.1:1/0"}, "ami": {"secret": "x"},
        "http": {"host": "0.0.0.0", "tokens_file": str(root / "config/api-tokens.example.yaml")},
        "rules": {"routing": str(root / "config/routing.yaml")},
    })  # fmt: skip
    with pytest.raises(ConfigError, match="published example token"):
        await Runtime(settings).start()  # before it connects to anything: Redis here is not running
