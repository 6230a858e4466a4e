"""Call caps, abandon quarantine, retry delays and lead limits: table tests with an injected `now`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from dialer.compliance.caps import (
    Attempt,
    CallResult,
    CapReason,
    CapsPolicy,
    attempts_in_window,
    lead_retry,
    next_attempt,
    number_block,
    retry_delay,
)

NOW = datetime(2026, 6, 2, 12, 0, tzinfo=UTC)
POLICY = CapsPolicy()
AM = CallResult.ANSWERING_MACHINE
ANSWERED = CallResult.ANSWERED


def ago(
    hours: float = 0,
    minutes: float = 0,
    result: CallResult = CallResult.NO_ANSWER,
    disposition: str | None = None,
) -> Attempt:
    at = NOW - timedelta(hours=hours, minutes=minutes)
    return Attempt(at=at, result=result, disposition=disposition)


def test_attempts_in_window_counts_the_last_24_hours_only() -> None:
    attempts = [ago(24), ago(23, 59), ago(1), ago(0)]
    assert attempts_in_window(attempts, NOW, timedelta(hours=24)) == 3


@pytest.mark.parametrize(
    ("attempts", "allowed", "reason", "next_at"),
    [
        ([], True, CapReason.ALLOWED, NOW),
        ([ago(23), ago(10)], True, CapReason.ALLOWED, NOW),
        # three in the window: the oldest of them leaves it 24 h after it was made
        ([ago(23), ago(10), ago(1)], False, CapReason.NUMBER_CAP, NOW + timedelta(hours=1)),
        ([ago(1), ago(23), ago(10)], False, CapReason.NUMBER_CAP, NOW + timedelta(hours=1)),
        # four in the window: the third most recent must leave
        ([ago(23), ago(20), ago(10), ago(1)], False, CapReason.NUMBER_CAP, NOW + timedelta(hours=4)),
        # an attempt exactly 24 h ago no longer counts
        ([ago(24), ago(10), ago(1)], True, CapReason.ALLOWED, NOW),
        # abandoned 71 h ago: held for one more hour, whatever the cap says
        ([ago(71, result=CallResult.ABANDONED)], False, CapReason.QUARANTINE, NOW + timedelta(hours=1)),
        ([ago(72, result=CallResult.ABANDONED)], True, CapReason.ALLOWED, NOW),
        # cap clears in 1 h but the quarantine lasts 60 h: the later one wins
        (
            [ago(23), ago(10), ago(12, result=CallResult.ABANDONED)],
            False,
            CapReason.QUARANTINE,
            NOW + timedelta(hours=60),
        ),
        # quarantine over in 1 h, cap in 4 h
        (
            [ago(71, result=CallResult.ABANDONED), ago(20), ago(10), ago(1)],
            False,
            CapReason.NUMBER_CAP,
            NOW + timedelta(hours=4),
        ),
    ],
)
def test_number_block(attempts: list[Attempt], allowed: bool, reason: CapReason, next_at: datetime) -> None:
    decision = number_block(attempts, POLICY, NOW)
    assert (decision.allowed, decision.reason, decision.next_attempt_at) == (allowed, reason, next_at)


def test_number_cap_and_quarantine_are_configurable() -> None:
    policy = CapsPolicy.model_validate(
        {"max_attempts_per_number": 1, "cap_window": "12h", "abandon_quarantine": "1d"}
    )
    assert number_block([ago(11)], policy, NOW).next_attempt_at == NOW + timedelta(hours=1)
    quarantined = number_block([ago(13, result=CallResult.ABANDONED)], policy, NOW)
    assert quarantined.next_attempt_at == NOW + timedelta(hours=11)


@pytest.mark.parametrize(
    ("result", "delay"),
    [
        (CallResult.BUSY, timedelta(minutes=10)),
        (CallResult.NO_ANSWER, timedelta(hours=2)),
        (CallResult.CONGESTION, timedelta(minutes=5)),
        (CallResult.ANSWERING_MACHINE, timedelta(hours=4)),
        (CallResult.ABANDONED, timedelta(hours=72)),
        (CallResult.FAILED, timedelta(minutes=30)),
        (CallResult.UNKNOWN, timedelta(hours=2)),
        (CallResult.ANSWERED, None),
    ],
)
def test_default_retry_delays(result: CallResult, delay: timedelta | None) -> None:
    assert retry_delay(ago(0, result=result), POLICY) == delay


@pytest.mark.parametrize(
    ("retry_after", "delay"),
    [
        ({"failed": "1m", "no_answer": "2h"}, timedelta(hours=2)),
        ({"failed": "3h", "no_answer": "2h"}, timedelta(hours=3)),
        ({"failed": "1m", "no_answer": None}, timedelta(minutes=1)),
        ({"failed": None, "no_answer": None}, None),
        ({"failed": "1m", "unknown": "10m"}, timedelta(minutes=10)),
    ],
)
def test_an_unknown_outcome_without_its_own_rule_waits_the_longer_of_no_answer_and_failed(
    retry_after: dict[str, object], delay: timedelta | None
) -> None:
    """A dial in doubt may have rung: never retried sooner than either result would be."""
    policy = CapsPolicy.model_validate({"retry_after": retry_after})
    assert retry_delay(ago(0, result=CallResult.UNKNOWN), policy) == delay


POLICY_WITH_DISPOSITIONS = CapsPolicy.model_validate(
    {
        "retry_after": {"busy": "5m", "no_answer": "PT1H", "answering_machine": 7200},
        "retry_after_disposition": {"call_back_later": "1d", "not_interested": None},
        "max_attempts_per_lead": 3,
    }
)


@pytest.mark.parametrize(
    ("attempts", "allowed", "reason", "next_at"),
    [
        ([], True, CapReason.ALLOWED, NOW),
        ([ago(minutes=4, result=CallResult.BUSY)], False, CapReason.RETRY_DELAY, NOW + timedelta(minutes=1)),
        ([ago(minutes=5, result=CallResult.BUSY)], True, CapReason.ALLOWED, NOW),
        ([ago(1, result=AM)], False, CapReason.RETRY_DELAY, NOW + timedelta(hours=1)),
        # a result the policy doesn't list closes the lead (congestion was not configured here)
        ([ago(5, result=CallResult.CONGESTION)], False, CapReason.LEAD_CLOSED, None),
        # the last attempt's disposition beats its result
        (
            [ago(2, result=CallResult.ANSWERED, disposition="call_back_later")],
            False,
            CapReason.RETRY_DELAY,
            NOW + timedelta(hours=22),
        ),
        ([ago(2, result=ANSWERED, disposition="not_interested")], False, CapReason.LEAD_CLOSED, None),
        # an unknown disposition falls back to the result
        ([ago(2, result=CallResult.NO_ANSWER, disposition="odd")], True, CapReason.ALLOWED, NOW),
        # only the latest attempt matters for the delay
        (
            [ago(30, result=CallResult.BUSY), ago(minutes=1, result=CallResult.BUSY)],
            False,
            CapReason.RETRY_DELAY,
            NOW + timedelta(minutes=4),
        ),
        ([ago(50), ago(40), ago(30)], False, CapReason.LEAD_EXHAUSTED, None),
    ],
)
def test_lead_retry(
    attempts: list[Attempt], allowed: bool, reason: CapReason, next_at: datetime | None
) -> None:
    decision = lead_retry(attempts, POLICY_WITH_DISPOSITIONS, NOW)
    assert (decision.allowed, decision.reason, decision.next_attempt_at) == (allowed, reason, next_at)


@pytest.mark.parametrize(
    ("number_attempts", "lead_attempts", "reason", "next_at"),
    [
        ([], [], CapReason.ALLOWED, NOW),
        # another campaign used up the number's cap; this lead's own delay is shorter
        (
            [ago(23), ago(10), ago(minutes=30, result=CallResult.BUSY)],
            [ago(minutes=30, result=CallResult.BUSY)],
            CapReason.NUMBER_CAP,
            NOW + timedelta(hours=1),
        ),
        # the lead's delay is the later one
        ([ago(1)], [ago(1)], CapReason.RETRY_DELAY, NOW + timedelta(hours=1)),
        # a closed lead stays closed even if the number is free
        ([], [ago(1, result=CallResult.ANSWERED)], CapReason.LEAD_CLOSED, None),
        # quarantine from another campaign's abandoned call
        ([ago(2, result=CallResult.ABANDONED)], [], CapReason.QUARANTINE, NOW + timedelta(hours=70)),
    ],
)
def test_next_attempt_takes_the_stricter_rule(
    number_attempts: list[Attempt], lead_attempts: list[Attempt], reason: CapReason, next_at: datetime | None
) -> None:
    decision = next_attempt(number_attempts, lead_attempts, POLICY, NOW)
    assert (decision.reason, decision.next_attempt_at) == (reason, next_at)
    assert decision.allowed is (reason is CapReason.ALLOWED)


def test_detail_says_why() -> None:
    attempt = ago(2, result=ANSWERED, disposition="not_interested")
    decision = lead_retry([attempt], POLICY_WITH_DISPOSITIONS, NOW)
    assert "not_interested" in decision.detail


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("1h30m", timedelta(minutes=90)),
        ("3d", timedelta(days=3)),
        ("1w", timedelta(days=7)),
        ("PT10M", timedelta(minutes=10)),
        (600, timedelta(minutes=10)),
    ],
)
def test_duration_formats(text: object, expected: timedelta) -> None:
    assert CapsPolicy.model_validate({"cap_window": text}).cap_window == expected


@pytest.mark.parametrize(
    "data",
    [
        {"cap_window": "ten parsecs"},
        {"max_attempts_per_number": 0},
        {"retry_after": {"voicemail_party": "1h"}},
        {"unknown": 1},
    ],
)
def test_policy_validation(data: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        CapsPolicy.model_validate(data)


def test_attempt_needs_an_aware_time() -> None:
    with pytest.raises(ValidationError):
        Attempt(at=datetime(2026, 6, 2, 12, 0), result=CallResult.BUSY)
