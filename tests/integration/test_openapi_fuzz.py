"""Schemathesis against the engine's own /openapi.json: the spec is true to what the API does.

A bounded run (a time cap, few examples per operation) of every operation with a supervisor's
and a CRM's token, over real HTTP to the app on a private Redis: no server error, every status
code and body documented, invalid requests refused, valid ones accepted, `Allow` headers right.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

from dialer.stores import DialerStores
from switchboard.api import AppState, TokenStore, audit_api, campaigns_api, consent_api, create_app, tasks_api
from switchboard.api.acd_api import STATUS_OVERRIDES as ACD_OVERRIDES
from switchboard.api.acd_api import router as acd_router
from switchboard.api.dialer_api import STATUS_OVERRIDES, attach_dialer
from switchboard.api.dialer_api import router as dialer_router
from switchboard.api.server import serve_http, stop_http
from switchboard.metrics import create_metrics
from switchboard.settings import Settings

pytestmark = pytest.mark.integration
TOKENS = {"supervisor": "supervisor-token-fuzz-1", "crm": "crm-token-fuzz-000001"}
MAX_TIME_S = int(os.environ.get("SWITCHBOARD_FUZZ_SECONDS", "45"))


def build(redis: aioredis.Redis) -> object:
    tokens = TokenStore.from_tokens([(token, f"fuzz-{role}", role) for role, token in TOKENS.items()])  # type: ignore[misc]
    state = AppState(settings=Settings(), tokens=tokens, metrics=create_metrics(process=False), redis=redis)
    overrides = {**STATUS_OVERRIDES, **ACD_OVERRIDES, **tasks_api.STATUS_OVERRIDES}
    app = create_app(state, status_overrides=overrides)
    attach_dialer(app, DialerStores.build(redis, default_region="HU", registry=CollectorRegistry()))
    routers = (
        acd_router,
        dialer_router,
        consent_api.router,
        audit_api.router,
        campaigns_api.router,
        tasks_api.router,
    )
    for router in routers:
        app.include_router(router)
    return app


async def run_schemathesis(port: int, role: str, workdir: Path) -> tuple[int, str]:
    st = Path(sys.executable).parent / "st"
    config = Path(__file__).resolve().parents[1] / "schemathesis.toml"
    argv = [
        str(st), "--config-file", str(config), "run", f"http://127.0.0.1:{port}/openapi.json",
        # The ACD and campaign control need a PBX and the dialer (tests/integration/test_acd_api.py
        # and test_campaigns_api.py); here they would only answer 503 not-ready.
        "--exclude-path-regex", "^/(api/v1/acd/|api/v1/campaigns|readyz)",
        "-H", f"Authorization: Bearer {TOKENS[role]}",
        "--checks", "all", "--exclude-checks", "use_after_free,ensure_resource_availability",
        "--max-time", str(MAX_TIME_S), "--max-examples", "8", "--seed", "1", "--workers", "1",
        "--phases", "examples,coverage,fuzzing", "--request-timeout", "10",
        "--suppress-health-check", "all", "--generation-database", ":memory:", "--no-color",
    ]  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=workdir
    )
    output, _ = await process.communicate()
    return process.returncode or 0, output.decode(errors="replace")


@pytest.mark.timeout(MAX_TIME_S * 2 + 120)
@pytest.mark.parametrize("role", ["supervisor", "crm"])
async def test_the_openapi_spec_is_true_to_the_api(
    redis_client: aioredis.Redis, tmp_path: Path, role: str
) -> None:
    server, task = await serve_http(build(redis_client), "127.0.0.1", 0)  # type: ignore[arg-type]
    try:
        port = server.servers[0].sockets[0].getsockname()[1]
        code, output = await run_schemathesis(port, role, tmp_path)
    finally:
        await stop_http(server, task, grace_s=1)
    assert code == 0, output[-20000:]
