"""How far the ACD got in connecting an outbound customer (routing.acd.outbound.bridge_state): what
the dialer's grace and resync ask before they play the abandon message."""

from __future__ import annotations

import pytest

from routing.acd.calls import ActiveCall, CallState
from routing.acd.executor import SentBridge
from routing.acd.outbound import BridgeState, bridge_state
from tests.unit.test_acd_lifecycle import CALLER, LEG, OFFERED, RUNG, TALKING, WAITING

CONSULTING = TALKING.with_facts(state=CallState.CONSULTING)
IN_DOUBT = RUNG.with_facts(bridge_in_doubt=True)
NOT_ANSWERED = {CALLER: SentBridge(LEG, None)}  # the Bridge's answer was none (before its Save)
EARLIER_OFFER = {CALLER: SentBridge("PJSIP/1002-00000001", None)}  # another agent's, long ago


@pytest.mark.parametrize(
    ("name", "call", "bridging", "sent", "state"),
    [
        ("not the ACD's (or ended)", None, (), {}, BridgeState.NONE),
        ("waiting for an agent", WAITING, (), {}, BridgeState.NONE),
        ("ringing an agent", OFFERED, (), {}, BridgeState.NONE),
        ("the agent answered, no Bridge yet", RUNG, (), {}, BridgeState.NONE),
        ("the Bridge awaits its answer", RUNG, {CALLER}, NOT_ANSWERED, BridgeState.PENDING),
        ("the Bridge got no answer, its doubt not yet saved", RUNG, (), NOT_ANSWERED, BridgeState.PENDING),
        ("the Bridge in doubt", IN_DOUBT, (), {}, BridgeState.PENDING),
        ("an earlier offer's Bridge, not this leg's", RUNG, (), EARLIER_OFFER, BridgeState.NONE),
        ("talking", TALKING, (), {}, BridgeState.CONNECTED),
        ("in a consult: has talked", CONSULTING, (), {}, BridgeState.CONNECTED),
    ],
)  # fmt: skip
def test_bridge_state(
    name: str, call: ActiveCall | None, bridging: set[str], sent: dict[str, SentBridge], state: BridgeState
) -> None:
    assert bridge_state(call, bridging, sent) is state, name
