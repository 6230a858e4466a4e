"""campaigns.yaml: the shipped example loads, its schema is current, and mistakes are explained with paths."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.config.loader import check_file, content_hash
from core.errors import ConfigError
from dialer.calls.dialing import dial_target
from dialer.campaigns.rules import Campaign, Campaigns, load_campaigns, parse_campaigns, schema_text
from dialer.compliance.calling_hours import CallingWindow
from dialer.compliance.caps import CallResult
from dialer.pacing.decision import DialMode

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "campaigns.yaml"
SCHEMA = ROOT / "config" / "schema" / "campaigns.schema.json"


def issues(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_campaigns(text, "campaigns.yaml")
    return [issue["text"] for issue in caught.value.details["issues"]]


def test_the_shipped_example_loads_with_every_mode() -> None:
    config = load_campaigns(EXAMPLE)
    modes = {campaign.id: campaign.mode for campaign in config.campaigns}
    assert modes == {
        "winter-sale": DialMode.PREDICTIVE,
        "contract-renewal": DialMode.PROGRESSIVE,
        "key-accounts": DialMode.PREVIEW,
    }
    sale = config.get("winter-sale")
    assert sale is not None
    assert sale.params.mode is DialMode.PREDICTIVE and sale.params.abandon_target == 0.03
    assert sale.caps.retry_after[CallResult.BUSY].total_seconds() == 600
    assert sale.caps.abandon_quarantine.total_seconds() == 72 * 3600
    assert [str(r) for r in sale.calling_hours.friday] == ["08:00-20:00"]
    assert sale.answering_machine.action == "message"
    assert sale.needs == (("hungarian", 1), ("sales", 2))
    assert check_file(EXAMPLE, Campaigns) == []


def test_committed_schema_is_current() -> None:
    """Regenerate with: python -m dialer.campaigns.rules config/schema/campaigns.schema.json"""
    assert SCHEMA.read_text(encoding="utf-8") == schema_text()


def test_calling_hours_ranges_are_text_in_the_schema() -> None:
    assert '"a range like 08:00-21:00"' in schema_text()


def test_defaults_are_a_compliant_progressive_campaign() -> None:
    campaign = Campaign.model_validate({"id": "c1", "name": "C", "queue": "sales"})
    assert campaign.mode is DialMode.PROGRESSIVE
    assert campaign.dial_string == "PJSIP/{number}@trunk"
    assert campaign.calling_hours == CallingWindow()
    assert campaign.caps.max_attempts_per_number == 3 and campaign.caps.cap_window.total_seconds() == 86400
    assert campaign.pacing.abandon_target == 0.03 and campaign.pacing.abandon_grace_s == 2.0
    assert campaign.answering_machine.action == "hangup"
    assert (campaign.abandon.context, campaign.abandon.exten) == ("switchboard-abandon", "s")
    assert dial_target(campaign, "+36301234567") == "PJSIP/+36301234567@trunk"


CROSSED = """\
version: 1
campaigns:
  - id: sale
    name: Sale
    mode: predictive
    queue: sales
  - id: sale
    name: Sale again
    mode: predictive
    pacing: {mode: progressive}
"""

BROKEN = """\
version: 1
campaigns:
  - id: bad
    name: Bad
    dial_string: "PJSIP/{number}@trunk&PJSIP/1001"
    queue: Sales Team
    calling_hours:
      monday: ["21:00-08:00"]
    caps:
      cap_window: soon
"""


def test_every_field_mistake_is_reported_with_its_line_and_path() -> None:
    found = issues(BROKEN)
    assert len(found) == 4
    assert found[0].startswith("campaigns.yaml:5:5: campaigns[0].dial_string must be a dial string template")
    assert found[1] == (
        "campaigns.yaml:6:5: campaigns[0].queue must be a queue or skill name of routing.yaml, "
        "got 'Sales Team'"
    )
    assert (
        found[2]
        == "campaigns.yaml:8:16: campaigns[0].calling_hours.monday[0] range 21:00-08:00 ends before it starts"
    )
    assert found[3].startswith(
        "campaigns.yaml:10:7: campaigns[0].caps.cap_window input should be a valid timedelta"
    )


def test_cross_checks_name_the_campaign_and_field() -> None:
    assert issues(CROSSED) == [
        "campaigns.yaml:7:5: campaigns[1].id repeats the id 'sale' of campaigns[0]",
        "campaigns.yaml:7:5: campaigns[1].queue is needed: "
        "a predictive campaign hands answered calls to a queue's agents",
        "campaigns.yaml:10:14: campaigns[1].pacing.mode is progressive "
        "but the campaign's mode is predictive; set only `mode`",
    ]


@pytest.mark.parametrize(
    ("dial_string", "ok"),
    [
        ("PJSIP/{number}@trunk", True),
        ("Local/{number}@outbound", True),
        ("SIP/trunk/{number}", True),
        ("PJSIP/trunk", False),  # no number
        ("PJSIP/{number}@trunk/{number}", False),  # two numbers
        ("PJSIP/{number}@trunk,30", False),  # Dial options do not belong here
        ("PJSIP/{number}@trunk\r\nAction: Hangup", False),  # header injection
        ("PJSIP/{lead}@trunk", False),
    ],
)
def test_dial_strings(dial_string: str, ok: bool) -> None:
    data: dict[str, Any] = {"id": "c", "name": "C", "queue": "q", "dial_string": dial_string}
    if ok:
        assert Campaign.model_validate(data).dial_string == dial_string
    else:
        with pytest.raises(ValueError, match="dial string template"):
            Campaign.model_validate(data)


def test_a_preview_campaign_needs_no_queue_and_the_caller_id_is_one_line() -> None:
    Campaign.model_validate({"id": "p", "name": "P", "mode": "preview"})
    with pytest.raises(ValueError, match="one line"):
        Campaign.model_validate({"id": "p", "name": "P", "mode": "preview", "caller_id": "A\r\nB"})


@pytest.mark.parametrize(
    ("crm", "given", "expected"),
    [
        ({"segment": "Gold"}, 10, 90),  # case-insensitive
        ({"segment": "silver", "region": "budapest"}, 10, 60),
        ({"segment": "silver", "region": "debrecen"}, 10, 10),  # every field must match
        ({}, 42, 42),
    ],
)
def test_lead_priority_rules(crm: dict[str, str], given: int, expected: int) -> None:
    campaign = load_campaigns(EXAMPLE).get("winter-sale")
    assert campaign is not None
    assert campaign.priority_for(crm, given) == expected


def test_the_content_hash_identifies_the_applied_campaigns() -> None:
    first = load_campaigns(EXAMPLE)
    again = parse_campaigns(EXAMPLE.read_text(encoding="utf-8"))
    assert content_hash(first) == content_hash(again)
    assert first.get("nope") is None and first.model_copy().get("winter-sale") is not None
