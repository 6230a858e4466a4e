"""/healthz, /readyz (AMI and a real Redis), /metrics from the app's own registry, and connect_redis."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest
import redis.asyncio as aioredis
from prometheus_client import REGISTRY, Counter

from core.errors import StoreUnavailableError
from switchboard import __version__
from switchboard.api import AppState, TokenStore, create_app
from switchboard.metrics import EngineMetrics, create_metrics
from switchboard.private_redis import PrivateRedis, free_port
from switchboard.redis_conn import connect_redis
from switchboard.settings import Settings

AppFactory = Callable[..., httpx.AsyncClient]


class AmiProbe:
    """Stands for the AMI client's `ready` flag."""

    def __init__(self, ready: bool) -> None:
        self.ready = ready

    def __call__(self) -> bool:
        return self.ready


@pytest.fixture
def metrics() -> EngineMetrics:
    return create_metrics()


@pytest.fixture
async def make_client(metrics: EngineMetrics) -> AsyncIterator[AppFactory]:
    clients: list[httpx.AsyncClient] = []

    def make(redis: aioredis.Redis | None, ami: Callable[[], bool]) -> httpx.AsyncClient:
        state = AppState(Settings(), TokenStore(), metrics, redis=redis, ami_ready=ami, redis_ping_s=2.0)
        transport = httpx.ASGITransport(app=create_app(state))
        client = httpx.AsyncClient(transport=transport, base_url="http://switchboard")
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


def sample(metrics: EngineMetrics, name: str) -> float | None:
    return metrics.registry.get_sample_value(name)


async def test_healthz(make_client: AppFactory) -> None:
    response = await make_client(None, AmiProbe(False)).get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": __version__}


async def test_ready_when_ami_logged_in_and_redis_answers(
    make_client: AppFactory, redis_client: aioredis.Redis, metrics: EngineMetrics
) -> None:
    response = await make_client(redis_client, AmiProbe(True)).get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"ami": "ok", "redis": "ok"}}
    assert sample(metrics, "switchboard_redis_up") == 1.0


async def test_not_ready_while_ami_is_not_logged_in(
    make_client: AppFactory, redis_client: aioredis.Redis
) -> None:
    probe = AmiProbe(False)
    client = make_client(redis_client, probe)
    response = await client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["error"] == "not-ready"
    assert body["details"]["failing"] == ["ami"]
    assert body["details"]["checks"] == {"ami": "not logged in to Asterisk AMI", "redis": "ok"}
    assert "ami: not logged in" in body["message"]
    probe.ready = True
    assert (await client.get("/readyz")).status_code == 200


async def test_not_ready_when_redis_is_down(make_client: AppFactory, metrics: EngineMetrics) -> None:
    private = PrivateRedis().start()
    redis = await connect_redis(private.url)
    try:
        client = make_client(redis, AmiProbe(True))
        assert (await client.get("/readyz")).status_code == 200
        private.stop()
        response = await client.get("/readyz")
        assert response.status_code == 503
        body = response.json()
        assert body["details"]["failing"] == ["redis"]
        assert body["details"]["checks"]["redis"].startswith("unreachable: ")
        assert sample(metrics, "switchboard_redis_up") == 0.0
    finally:
        private.stop()
        await redis.aclose()


async def test_not_ready_without_redis_or_with_a_broken_probe(make_client: AppFactory) -> None:
    def broken() -> bool:
        raise RuntimeError("probe crashed")

    response = await make_client(None, broken).get("/readyz")
    assert response.status_code == 503
    assert response.json()["details"]["checks"] == {
        "ami": "check failed: RuntimeError",
        "redis": "not configured",
    }


async def test_metrics_come_from_the_apps_registry(
    make_client: AppFactory, redis_client: aioredis.Redis, metrics: EngineMetrics
) -> None:
    global_only = Counter("switchboard_test_global_only", "registered on the global registry")
    try:
        metrics.ami_connected.set(1)
        metrics.ami_events.inc(3)
        metrics.record_action("Originate", "success", 0.02)
        metrics.record_action("Originate", "timeout")
        response = await make_client(redis_client, AmiProbe(True)).get("/metrics")
    finally:
        REGISTRY.unregister(global_only)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert "switchboard_test_global_only" not in text
    for line in (
        "switchboard_ami_connected 1.0",
        "switchboard_ami_events_total 3.0",
        'switchboard_ami_actions_total{action="Originate",result="success"} 1.0',
        'switchboard_ami_actions_total{action="Originate",result="timeout"} 1.0',
        'switchboard_ami_action_seconds_count{action="Originate"} 1.0',
        "switchboard_ami_reconnects_total 0.0",
        "switchboard_ami_malformed_total 0.0",
        "switchboard_redis_up 1.0",
    ):
        assert line in text.splitlines(), line
    assert 'switchboard_build_info{python="' in text and f'version="{__version__}"' in text
    assert "process_" in text or "python_info" in text


def test_each_engine_gets_its_own_registry() -> None:
    first, second = create_metrics(process=False), create_metrics(process=False)
    first.ami_reconnects.inc()
    assert first.registry.get_sample_value("switchboard_ami_reconnects_total") == 1.0
    assert second.registry.get_sample_value("switchboard_ami_reconnects_total") == 0.0
    names = {metric.name for metric in first.registry.collect()}
    assert all(name.startswith("switchboard_") for name in names), names


async def test_connect_redis_checks_reachability(redis_server: PrivateRedis) -> None:
    client = await connect_redis(redis_server.url)
    try:
        assert await client.ping()
    finally:
        await client.aclose()


async def test_connect_redis_names_the_url_without_password() -> None:
    url = f"redis://:hunter2-password@127.0.0.1:{free_port()}/0"
    with pytest.raises(StoreUnavailableError) as exc:
        await connect_redis(url, wait_s=2)
    assert "hunter2-password" not in exc.value.message
    assert exc.value.details["url"] == url.replace("hunter2-password", "***")
    assert f"Redis at {exc.value.details['url']} is not reachable" in exc.value.message


async def test_connect_redis_rejects_a_bad_url() -> None:
    with pytest.raises(StoreUnavailableError, match="invalid Redis URL"):
        await connect_redis("http://not-redis/0")


async def test_connect_redis_reports_a_wrong_password() -> None:
    with PrivateRedis() as private:
        admin = aioredis.Redis.from_url(private.url)
        await admin.config_set("requirepass", "right-password")
        await admin.aclose()
        wrong = private.url.replace("redis://", "redis://:wrong-password@")
        with pytest.raises(StoreUnavailableError, match="authentication failed") as exc:
            await connect_redis(wrong)
        assert "wrong-password" not in exc.value.message


async def test_not_ready_when_redis_hangs(metrics: EngineMetrics) -> None:
    with PrivateRedis() as private:
        redis = await connect_redis(private.url)
        state = AppState(
            Settings(), TokenStore(), metrics, redis=redis, ami_ready=AmiProbe(True), redis_ping_s=0.3
        )
        transport = httpx.ASGITransport(app=create_app(state))
        async with httpx.AsyncClient(transport=transport, base_url="http://switchboard") as client:
            private.pause()
            try:
                response = await client.get("/readyz")
            finally:
                private.resume()
            await redis.aclose()
    assert response.status_code == 503
    assert response.json()["details"]["checks"]["redis"] == "unreachable: no answer within 0.3 s"
