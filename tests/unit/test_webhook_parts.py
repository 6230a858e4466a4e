"""The pure parts of the CRM webhooks: the settings section, signatures, retry spacing, and which
stream record becomes which event."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from pathlib import Path

import pytest

from core.errors import ConfigError
from switchboard.settings import load_settings
from switchboard.webhooks.catalog import EVENT_TYPES, entry_time, from_record
from switchboard.webhooks.signing import permanent, retry_delay, signature, verify

HOOK_SECRET = "0123456789abcdef-crm"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("SWITCHBOARD_"):
            monkeypatch.delenv(name)


def test_webhooks_from_the_settings_file(tmp_path: Path) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text(
        "webhooks:\n"
        "  - name: crm\n"
        "    url: https://crm.example.net/hooks\n"
        f"    secret: {HOOK_SECRET}\n"
        "    events: [call.*, disposition.recorded]\n"
        "    max_age: 3600\n"
    )
    settings = load_settings(path)
    (hook,) = settings.webhooks
    assert (hook.name, hook.max_age, hook.backoff_min, hook.backoff_max) == ("crm", 3600, 1.0, 300.0)
    assert hook.wants("call.offered") and hook.wants("disposition.recorded")
    assert not hook.wants("task.created") and not hook.wants("robinson.approved")
    assert HOOK_SECRET in settings.secrets(), "the log filter hides it"
    assert HOOK_SECRET not in repr(settings)


def test_webhooks_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    hooks = [{"name": "crm", "url": "http://crm:8000/h", "secret": HOOK_SECRET}]
    monkeypatch.setenv("SWITCHBOARD_WEBHOOKS", json.dumps(hooks))
    (hook,) = load_settings().webhooks
    assert hook.events == ("*",) and all(hook.wants(kind) for kind in EVENT_TYPES)


def test_every_bad_webhook_value_is_named_with_its_place(tmp_path: Path) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text(
        "webhooks:\n"
        "  - name: CRM main\n"
        "    url: ftp://crm\n"
        "    secret: short-one\n"
        "    events: [call.answerd]\n"
        "    backoff_min: 60\n"
        "    backoff_max: 10\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    message = caught.value.message
    for key in ("webhooks[0].name", "webhooks[0].url", "webhooks[0].secret", "webhooks[0].events"):
        assert key in message, message
    assert "unknown event 'call.answerd'" in message and "ftp://crm" in message
    assert "short-one" not in message, "a secret is never echoed"


def test_webhook_names_are_unique(monkeypatch: pytest.MonkeyPatch) -> None:
    hook = {"name": "crm", "url": "http://crm/h", "secret": HOOK_SECRET}
    monkeypatch.setenv("SWITCHBOARD_WEBHOOKS", json.dumps([hook, hook]))
    with pytest.raises(ConfigError, match="repeated: crm"):
        load_settings()


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    body = b'{"id":"acd-1-0"}'
    expected = hmac.new(b"k" * 16, b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signature("k" * 16, 1700000000, body) == f"v1={expected}"


@pytest.mark.parametrize(
    ("secret", "stamp", "body", "now", "ok"),
    [
        ("k" * 16, "1700000000", b"{}", 1700000010, True),
        ("k" * 16, "1700000000", b"{ }", 1700000010, False),  # body changed
        ("x" * 16, "1700000000", b"{}", 1700000010, False),  # other secret
        ("k" * 16, "1700000000", b"{}", 1700000400, False),  # too old: a replay
        ("k" * 16, "soon", b"{}", 1700000010, False),
    ],
)
def test_verify(secret: str, stamp: str, body: bytes, now: float, ok: bool) -> None:
    header = signature("k" * 16, 1700000000, b"{}")
    assert verify(secret, stamp, body, header, now=now) is ok


@pytest.mark.parametrize(
    ("tries", "rand", "delay"),
    [(1, 1.0, 2.0), (1, 0.0, 1.0), (2, 1.0, 4.0), (3, 1.0, 8.0), (5, 1.0, 30.0), (50, 0.5, 22.5)],
)
def test_retry_delay_doubles_up_to_the_cap_with_jitter_in_the_upper_half(
    tries: int, rand: float, delay: float
) -> None:
    assert retry_delay(tries, low=2.0, high=30.0, rand=lambda: rand) == delay


@pytest.mark.parametrize(
    ("status", "final"),
    [(400, True), (401, True), (404, True), (410, True), (408, False), (429, False), (500, False)],
)
def test_which_refusals_are_final(status: int, final: bool) -> None:
    assert permanent(status) is final


@pytest.mark.parametrize(
    ("source", "fields", "kind"),
    [
        ("acd", {"type": "handover", "agent_id": "1008", "data": '{"call_id": "c1"}'}, "call.answered"),
        ("acd", {"type": "abandoned", "agent_id": "", "data": "{}"}, "call.abandoned"),
        ("acd", {"type": "ended", "agent_id": "1", "data": "{}"}, "call.ended"),
        ("acd", {"type": "routed_out", "agent_id": "", "data": "{}"}, "call.routed_out"),
        ("acd-east", {"type": "ended", "agent_id": "1", "data": "{}"}, "call.ended"),  # an ACD shard's
        ("acd", {"type": "something_new", "data": "{}"}, None),
        ("dispositions", {"action": "disposition", "disposition": "d-1"}, "disposition.recorded"),
        ("robinson", {"action": "filed", "request": "rr-1"}, "robinson.filed"),
        ("robinson", {"action": "approved", "request": "rr-1"}, "robinson.approved"),
        ("robinson", {"action": "rejected", "request": "rr-1"}, "robinson.rejected"),
        ("robinson", {"action": "numbers-blacklisted", "request": "rr-1"}, None),
        ("tasks", {"action": "own-time", "task": "t-1"}, "task.own_time"),
        ("tasks", {"action": "expired", "task": "t-1"}, "task.expired"),
        ("tasks", {"action": "reactivated", "task": "t-1"}, "task.reactivated"),
        ("leads", {"action": "closed"}, None),
    ],
)
def test_which_record_is_which_event(source: str, fields: dict[str, str], kind: str | None) -> None:
    event = from_record(source, "1718000000123-4", fields)
    assert (event.type if event else None) == kind
    if event is not None:
        assert event.id == f"{source}-1718000000123-4" and "action" not in event.data
        assert event.occurred_at == "2024-06-10T06:13:20.123+00:00"


def test_a_broken_acd_record_still_makes_an_event_with_its_raw_data() -> None:
    event = from_record("acd", "1-0", {"type": "ended", "agent_id": "7", "data": "{not json"})
    assert event is not None and event.data == {"raw": "{not json", "agent_id": "7"}
    assert entry_time("0-1") == "1970-01-01T00:00:00.000+00:00"
