"""The roles documented are the roles the routes admit, and every endpoint the README names exists."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_origin

import httpx

from switchboard.api import AppState, TokenStore, create_app
from switchboard.api.acd_api import router as acd_router
from switchboard.api.routes_doc import api_routes, readme_table, roles_markdown, routes
from switchboard.metrics import create_metrics
from switchboard.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
METHODS = r"(?:GET|POST|PUT|DELETE|PATCH)"


def test_docs_api_roles_is_generated_from_the_routes() -> None:
    written = (ROOT / "docs" / "api-roles.md").read_text(encoding="utf-8")
    assert written == roles_markdown(), (
        "docs/api-roles.md is stale: run `python -m switchboard.api.routes_doc > docs/api-roles.md`"
    )


def _expand(path: str) -> list[str]:
    """`/a[/{id}]` -> `/a`, `/a/{id}`; `/x/{id}/start\\|stop` -> both; query strings dropped."""
    path = path.split("?", maxsplit=1)[0]
    optional = re.fullmatch(r"(.*)\[(.*)\]", path)
    if optional:
        return _expand(optional[1]) + _expand(optional[1] + optional[2])
    head, _, last = path.rpartition("/")
    return [f"{head}/{choice}" for choice in last.split("\\|")]


def _shape(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def test_every_endpoint_the_readme_names_answers_that_method() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    served = {(method, _shape(path)) for method, path, _ in routes()}
    named = re.findall(rf"`({METHODS}(?:\\\|{METHODS})*) (/api/v1/[^`\s]+)`", readme)
    assert len(named) > 10
    missing = [
        f"{method} {path}"
        for methods, raw in named
        for method in methods.split("\\|")
        for path in _expand(raw)
        if (method, _shape(path)) not in served
    ]
    assert missing == []


async def test_an_acd_request_without_a_token_is_401_even_where_no_acd_runs() -> None:
    metrics = create_metrics(process=False)
    app = create_app(AppState(settings=Settings(), tokens=TokenStore.from_tokens([]), metrics=metrics))
    app.include_router(acd_router)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x") as http:
        for method, path in (("GET", "/api/v1/acd/queues"), ("POST", "/api/v1/acd/agents/a1/login")):
            response = await http.request(method, path)
            assert response.status_code == 401, (method, path, response.text)


def test_the_readme_roles_table_is_generated_from_the_routes() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme_table() in readme, (
        "README.md's roles table is stale: replace the block between its roles-table markers "
        "with `python -m switchboard.api.routes_doc --readme`"
    )


def test_every_list_an_endpoint_reads_out_is_a_page() -> None:
    """One list envelope: no GET answers a bare JSON list (a bulk action's per-item results may)."""
    bare = [
        f"{method} {route.path}"
        for method, route in api_routes()
        if method == "GET" and get_origin(route.response_model) in {list, tuple}
    ]
    assert bare == []
