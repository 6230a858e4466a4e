"""Operational endpoints, open without a token: /healthz, /readyz, /metrics.

- /healthz: the process is alive and not wedged (Docker HEALTHCHECK, liveness probe):
  503 once the engine has not been connected and resynchronised to AMI for longer
  than `ami.max_disconnected` seconds (0 turns that off), so a restart can cure it.
  A Redis outage never fails it: the engine rides those out by itself.
- /readyz: the engine can do its job now: logged in to AMI with the resync finished,
  and Redis answers PING. 503 in the common error format, naming each failing check.
  `warnings` names each rule file that is invalid on disk while the engine runs its
  last applied version (the engine still serves: a warning, not a failing check).
- /metrics: Prometheus text from the engine's own registry. `switchboard_redis_up`
  is refreshed by a PING at scrape time so it is never stale.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from switchboard import __version__
from switchboard.api.errors import NotReadyError, UnhealthyError, error_doc
from switchboard.api.state import AppState, get_state
from switchboard.redis_conn import ping

OK = "ok"
router = APIRouter(tags=["operations"])
State = Annotated[AppState, Depends(get_state)]


class Health(BaseModel):
    status: str
    version: str


class Readiness(BaseModel):
    status: str
    checks: dict[str, str]
    warnings: dict[str, str] = {}


@router.get("/healthz", response_model=Health, responses={503: error_doc()})
async def healthz(state: State) -> Health:
    """The process is alive, and AMI has not been down longer than ami.max_disconnected."""
    limit = state.settings.ami.max_disconnected
    down = ami_down_for(state)
    if limit > 0 and down > limit:
        raise UnhealthyError(
            f"not connected to Asterisk AMI for {down:.0f}s (more than ami.max_disconnected={limit:g}s)",
            ami_down_seconds=round(down, 1), max_disconnected=limit,
        )  # fmt: skip
    return Health(status=OK, version=__version__)


@router.get(
    "/readyz",
    response_model=Readiness,
    response_model_exclude_defaults=True,  # `warnings` only when there are some
    responses={503: error_doc()},
)
async def readyz(state: State) -> Readiness:
    """Ready when logged in to Asterisk AMI and Redis answers PING."""
    checks = await readiness_checks(state)
    warnings = rules_warnings(state)
    failing = {name: result for name, result in checks.items() if result != OK}
    if failing:
        summary = "; ".join(f"{name}: {result}" for name, result in failing.items())
        details = {"checks": checks, "failing": sorted(failing), "warnings": warnings}
        raise NotReadyError(f"not ready: {summary}", **details)
    return Readiness(status="ready", checks=checks, warnings=warnings)


def rules_warnings(state: AppState) -> dict[str, str]:
    """`rules.routing: file invalid, running the last applied version: ...` for each such file."""
    try:
        invalid = state.rules_invalid()
    except Exception as exc:  # a broken probe must not break /readyz
        return {"rules": f"check failed: {type(exc).__name__}"}
    prefix = "file invalid, running the last applied version"
    return {f"rules.{kind}": f"{prefix}: {why}" for kind, why in invalid.items()}


@router.get("/metrics", response_class=Response)
async def metrics(state: State) -> Response:
    """Prometheus text exposition of the engine's metrics."""
    await redis_check(state)
    return Response(generate_latest(state.registry), media_type=CONTENT_TYPE_LATEST)


async def readiness_checks(state: AppState) -> dict[str, str]:
    return {"ami": ami_check(state), "redis": await redis_check(state)}


def ami_check(state: AppState) -> str:
    try:
        return OK if state.ami_ready() else "not logged in to Asterisk AMI"
    except Exception as exc:  # a broken probe must not break /readyz
        return f"check failed: {type(exc).__name__}"


def ami_down_for(state: AppState) -> float:
    try:
        return state.ami_down_for()
    except Exception:  # a broken probe must not get a working engine restarted
        return 0.0


async def redis_check(state: AppState) -> str:
    if state.redis is None:
        state.metrics.redis_up.set(0)
        return "not configured"
    failure = await ping(state.redis, state.redis_ping_s)
    state.metrics.redis_up.set(0 if failure else 1)
    return OK if failure is None else f"unreachable: {failure}"
