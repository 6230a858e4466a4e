"""What the HTTP endpoints may use, handed over once when the app is built.

The engine builds one AppState (settings, Redis client, metrics registry, the
AMI readiness check, the token store) and passes it to `create_app`; endpoints
reach it through the `get_state` dependency, never through module globals.
Routers added by later features take their own collaborators as arguments of
their builder functions (`app.include_router(build_x_router(store))`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import redis.asyncio as aioredis
from fastapi import Request
from prometheus_client import CollectorRegistry

from switchboard.api.tokens import TokenStore
from switchboard.metrics import EngineMetrics
from switchboard.settings import Settings


def _not_connected() -> bool:
    return False


def _never_down() -> float:
    return 0.0


def _no_invalid_rules() -> dict[str, str]:
    return {}


@dataclass
class AppState:
    settings: Settings
    tokens: TokenStore
    metrics: EngineMetrics
    redis: aioredis.Redis | None = None
    ami_ready: Callable[[], bool] = _not_connected
    """True while the AMI client is logged in (and resynchronised) to Asterisk."""
    ami_down_for: Callable[[], float] = _never_down
    """Seconds the engine has not been connected and resynchronised (0 while it is)."""
    redis_ping_s: float = 1.0
    rules_invalid: Callable[[], dict[str, str]] = _no_invalid_rules
    """kind -> why its rule file on disk is refused while the engine runs an earlier version."""

    @property
    def registry(self) -> CollectorRegistry:
        return self.metrics.registry


def get_state(request: Request) -> AppState:
    state = request.app.state.switchboard
    if not isinstance(state, AppState):
        raise TypeError("the app was not built by switchboard.api.create_app")
    return state
