"""A simulated Asterisk that speaks real AMI over TCP, for the demo and the integration tests.

`SimulatedPbx(SimConfig(...), seed=1)`; `port = await sim.start()`; point an AMI
client at it; `await sim.stop()`. See docs/sim.md for behaviour and the
dialplan contract it shares with config/asterisk/extensions_switchboard.conf.
"""

from pbx.sim.channels import Channel
from pbx.sim.clock import Clock, ManualClock, ScaledClock
from pbx.sim.config import (
    AgentPhone,
    CustomerProfile,
    CustomerScript,
    EventOrder,
    SimConfig,
    TierPool,
    TrafficConfig,
)
from pbx.sim.core import CallRecord
from pbx.sim.pbx import SimulatedPbx
from pbx.sim.waiters import SimTimeoutError

__all__ = [
    "AgentPhone",
    "CallRecord",
    "Channel",
    "Clock",
    "CustomerProfile",
    "CustomerScript",
    "EventOrder",
    "ManualClock",
    "ScaledClock",
    "SimConfig",
    "SimTimeoutError",
    "SimulatedPbx",
    "TierPool",
    "TrafficConfig",
]
