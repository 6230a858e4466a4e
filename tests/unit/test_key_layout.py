"""Old key names to the hash-tagged layout (switchboard/key_layout.py): one row per kind of key."""

from __future__ import annotations

import pytest

from dialer.dialer_keys import ConsentKeys, DialerKeys, DialKeys, LeadKeys, TaskKeys
from routing.acd.acd_keys import AcdKeys
from switchboard.key_layout import new_name
from switchboard.webhooks.outbox import PREFIX as OUTBOX

D, C, L, K, T, A = DialerKeys(), ConsentKeys(), LeadKeys(), DialKeys(), TaskKeys(), AcdKeys()


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("sb:dialer:bl:internal", D.blacklist_internal),
        ("sb:dialer:bl:list:hu-robinson", D.blacklist_list("hu-robinson")),
        ("sb:dialer:bl:meta:campaign:7", D.blacklist_meta("campaign:7")),
        ("sb:dialer:audit:dial-blocked", D.audit_dial_blocked),
        ("sb:dialer:audit:blacklist", D.audit_blacklist),
        ("sb:dialer:consent:num:+36301234567", C.number("+36301234567")),
        ("sb:dialer:audit:consent", C.audit),
        ("sb:dialer:lead:L1", L.lead("L1")),
        ("sb:dialer:leads:ready:c1", L.ready("c1")),
        ("sb:dialer:audit:leads", L.audit_leads),
        ("sb:dialer:dial:call:sbo-1", K.call("sbo-1")),
        ("sb:dialer:dial:num:+36301234567", K.number_attempts("+36301234567")),
        ("sb:dialer:audit:dial-attempts", K.audit_attempts),
        ("sb:dialer:task:t-1", T.task("t-1")),
        ("sb:routing:agent:a1:status", A.agent_status("a1")),
        ("sb:routing:queue:support", A.queue("support")),
        ("sb:routing:owner", A.owner),
        ("sb:routing:owner:meta", A.owner + ":meta"),
        ("sb:routing:engine:e1", ""),  # a live run's record: dropped, written again at start
        ("sb:webhooks:crm:due", OUTBOX + "crm:due"),
        (D.blacklist_internal, None),  # already moved
        (L.lead("L1"), None),
        (A.agents, None),
        (AcdKeys.of_shard("east").owner, None),  # an ACD shard's keys are tagged from the start
        (AcdKeys.of_shard("east").agent_status("a1"), None),
        (OUTBOX + "cursor", None),
        ("sb:rules:last:routing", None),  # never had to move
    ],
)
def test_each_old_key_gets_the_name_the_key_modules_build(old: str, new: str | None) -> None:
    assert new_name(old) == new
