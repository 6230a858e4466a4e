"""Schemathesis against the engine's own /openapi.json: the spec is true to what the API does.

The whole engine as `switchboard run` builds it (tests/support/console_harness.py): its ACD and
dialer speak real AMI over TCP to the simulated PBX, on a private Redis. Before the run an
advisor is on a call and an outage is declared, and their ids are handed to Schemathesis (with
the agents' and the campaign's), so the case, transfer, outage and campaign routes are reached
beyond their 404s. A bounded run (a time cap, few examples per operation, a fixed seed) per
role, over real HTTP: no server error, every status code and body documented, invalid requests
refused, valid ones accepted, `Allow` headers right.

The supervisor's run takes every operation (those they may not use answer 403); the advisor's
and the CRM's take the operations their role may use. SWITCHBOARD_FUZZ_SECONDS is the time of
all runs together, shared by their number of operations.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from routing.agent_events import AgentState
from routing.outages import OutageSpec, Segment
from switchboard.api import routes_doc
from switchboard.private_redis import PrivateRedis
from tests.support.acd_harness import Observer
from tests.support.console_harness import AGENT_OF, TOKENS, Engine, running_engine

pytestmark = pytest.mark.integration
TOTAL_S = int(os.environ.get("SWITCHBOARD_FUZZ_SECONDS", "120"))
CONFIG = Path(__file__).resolve().parents[1] / "schemathesis.toml"
# /readyz answers 503 while AMI resyncs, which is its job; /api/v1/stream never ends (an event stream).
NOT_FUZZED = {("GET", "/readyz"), ("GET", "/api/v1/stream")}
WHO = {"supervisor": "sue", "advisor": "ann", "crm": "crm"}
OUTAGE_ID = "fuzz-outage"


def operations(role: str) -> list[str]:
    """`METHOD /path` of the operations fuzzed with `role`'s token (routes_doc reads the roles)."""
    return [
        f"{method} {path}"
        for method, path, roles in routes_doc.routes()
        if (method, path) not in NOT_FUZZED and (role == "supervisor" or role in (roles or ()))
    ]


def seconds_for(role: str) -> int:
    total = sum(len(operations(r)) for r in WHO)
    return max(10, TOTAL_S * len(operations(role)) // total)


async def live_call(engine: Engine, observer: Observer) -> str:
    """Advisor 1001 (ann) talking to a caller of the support queue; the call's id. Agent 1004
    (tech 5) is ready too: the queue keeps its best agent for key callers."""
    acd = engine.parts.acd
    await acd.login("1004")
    await acd.login(AGENT_OF["ann"])
    await engine.sim.inbound_call("+36305550009", queue="support", patience_s=600, talk_s=600)
    async with asyncio.timeout(10), observer.changed:
        await observer.changed.wait_for(lambda: acd.agent(AGENT_OF["ann"]).state == AgentState.BUSY)
    return acd.agent(AGENT_OF["ann"]).call_id


async def declare_outage(engine: Engine) -> None:
    now = datetime.now(UTC)
    spec = OutageSpec(
        id=OUTAGE_ID, title="Fibre cut in Debrecen", segment=Segment(prefixes=("+3652",)),
        text="We know about the outage in Debrecen.", starts_at=now.timestamp(),
        ends_at=(now + timedelta(hours=2)).timestamp(),
    )  # fmt: skip
    await engine.parts.acd.declare_outage(spec, by="sue")


def config_with(ids: dict[str, Sequence[str]], workdir: Path) -> Path:
    """tests/schemathesis.toml plus the live ids: drawn for the path parameters half the time."""
    lines = [CONFIG.read_text(encoding="utf-8"), "[parameters]"]
    lines += [f'"path.{name}" = {{ dictionary = "{name}", probability = 0.5 }}' for name in ids]
    for name, values in ids.items():
        lines += [f"[dictionaries.{name}]", f"values = {json.dumps(list(values))}"]
    config = workdir / "schemathesis.toml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


async def run_schemathesis(port: int, role: str, config: Path, workdir: Path) -> tuple[int, str]:
    st = Path(sys.executable).parent / "st"
    names = [arg for op in operations(role) for arg in ("--include-name", op)]
    argv = [
        str(st), "--config-file", str(config), "run", f"http://127.0.0.1:{port}/openapi.json", *names,
        "-H", f"Authorization: Bearer {TOKENS[WHO[role]]}",
        "--checks", "all", "--exclude-checks", "use_after_free,ensure_resource_availability",
        "--max-time", str(seconds_for(role)), "--max-examples", "8", "--seed", "1", "--workers", "1",
        "--phases", "examples,coverage,fuzzing", "--request-timeout", "10",
        "--suppress-health-check", "all", "--generation-database", ":memory:", "--no-color",
    ]  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=workdir
    )
    output, _ = await process.communicate()
    return process.returncode or 0, output.decode(errors="replace")


@pytest.mark.timeout(TOTAL_S + 180)
@pytest.mark.parametrize("role", list(WHO))
async def test_the_openapi_spec_is_true_to_the_api(
    redis_server: PrivateRedis, redis_client: aioredis.Redis, tmp_path: Path, role: str
) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    async with running_engine(redis_server, rules) as engine:
        observer = Observer()
        engine.parts.engine.services.append(observer)
        call_id = await live_call(engine, observer)
        await declare_outage(engine)
        ids = {
            "agent_id": [*AGENT_OF.values(), "1004"],
            "call_id": [call_id],
            "outage_id": [OUTAGE_ID],
            "campaign_id": ["renewals"],
        }
        code, output = await run_schemathesis(
            engine.runtime.http_port or 0, role, config_with(ids, tmp_path), tmp_path
        )
    assert code == 0, output[-20000:]
