"""The consent register's validity rules (dialer/consent/validity.py) and input checks (model.py), pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.clock import Clock, utc
from core.errors import ValidationFailedError
from dialer.consent.model import prepare
from dialer.consent.validity import (
    ConsentRecord,
    ConsentState,
    decide,
    grant_refusal,
    state_of,
)

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
NUMBER = "+36301234567"


def clock_at(moment: datetime) -> Clock:
    return moment.timestamp


def record(
    *,
    purpose: str = "marketing",
    customer: str = "C1",
    given: timedelta = timedelta(days=-10),
    expires: timedelta | None = None,
    withdrawn: timedelta | None = None,
) -> ConsentRecord:
    return ConsentRecord(
        number=NUMBER,
        purpose=purpose,
        customer_id=customer,
        source="web-form",
        given_at=NOW + given,
        expires_at=NOW + expires if expires is not None else None,
        withdrawn_at=NOW + withdrawn if withdrawn is not None else None,
    )


@pytest.mark.parametrize(
    ("consent", "expected"),
    [
        (None, ConsentState.MISSING),
        (record(), ConsentState.VALID),
        (record(given=timedelta(0)), ConsentState.VALID),  # given this instant: valid from it
        (record(given=timedelta(seconds=1)), ConsentState.NOT_YET),
        (record(expires=timedelta(seconds=1)), ConsentState.VALID),
        (
            record(expires=timedelta(0)),
            ConsentState.EXPIRED,
        ),  # expires_at is the first instant it does not hold
        (record(expires=timedelta(days=-1)), ConsentState.EXPIRED),
        (record(withdrawn=timedelta(days=-1)), ConsentState.WITHDRAWN),
        (record(withdrawn=timedelta(days=-1), expires=timedelta(days=-2)), ConsentState.WITHDRAWN),
    ],
)
def test_state_of_a_consent_at_now(consent: ConsentRecord | None, expected: ConsentState) -> None:
    assert state_of(consent, NOW) is expected


def test_the_state_moves_with_the_injected_clock() -> None:
    consent = record(given=timedelta(hours=1), expires=timedelta(days=30))
    for offset, expected in [
        (timedelta(0), ConsentState.NOT_YET),
        (timedelta(hours=1), ConsentState.VALID),
        (timedelta(days=29, hours=23), ConsentState.VALID),
        (timedelta(days=30), ConsentState.EXPIRED),
    ]:
        clock = clock_at(NOW + offset)
        assert state_of(consent, utc(clock())) is expected, offset


@pytest.mark.parametrize(
    ("records", "purpose", "customer", "expected"),
    [
        ([], "marketing", "C1", ConsentState.MISSING),
        ([record(purpose="service")], "marketing", "C1", ConsentState.MISSING),  # wrong purpose
        ([record(customer="C2")], "marketing", "C1", ConsentState.MISSING),  # another customer's
        ([record(customer="C2")], "marketing", None, ConsentState.VALID),  # no lead: anyone's counts
        (
            [record(customer="c1")],
            "marketing",
            "C1",
            ConsentState.VALID,
        ),  # ids compare ASCII-case-insensitively
        (
            [record(customer="C2", withdrawn=timedelta(days=-1)), record(customer="C3")],
            "marketing",
            None,
            ConsentState.VALID,
        ),
        (
            [
                record(customer="C2", expires=timedelta(days=-1)),
                record(customer="C3", withdrawn=timedelta(-1)),
            ],
            "marketing",
            None,
            ConsentState.WITHDRAWN,  # the most telling reason
        ),
        (
            [record(given=timedelta(days=1), customer="C2"), record(expires=timedelta(days=-1))],
            "marketing",
            None,
            ConsentState.EXPIRED,
        ),
    ],
)
def test_decide_for_a_purpose_and_customer(
    records: list[ConsentRecord], purpose: str, customer: str | None, expected: ConsentState
) -> None:
    decision = decide(records, purpose, customer, NOW)
    assert decision.state is expected
    assert decision.allowed is (expected is ConsentState.VALID)


def test_a_withdrawn_consent_is_revived_only_by_a_consent_given_after_the_withdrawal() -> None:
    withdrawn = record(withdrawn=timedelta(days=-1))
    resent = record()  # the CRM re-sends the old grant
    why = grant_refusal(withdrawn, resent)
    assert why is not None and "withdrawn at 2026-03-01T10:00:00+00:00" in why
    assert grant_refusal(withdrawn, record(given=timedelta(hours=-1))) is None  # a new consent
    assert grant_refusal(record(), record(given=timedelta(days=-3))) is None  # a correction
    assert grant_refusal(None, resent) is None


def test_the_stored_form_round_trips() -> None:
    consent = record(expires=timedelta(days=365), withdrawn=timedelta(hours=-2))
    assert ConsentRecord.from_json(NUMBER, consent.to_json()) == consent


def _good(**changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "customer_id": "C1",
        "number": "06 30 123 4567",
        "purpose": "marketing",
        "source": "web-form",
        "given_at": "2026-03-01T09:30:00+01:00",
    }
    data.update(changes)
    return data


def test_prepare_normalizes_the_number_and_keeps_who_recorded_it() -> None:
    consent = prepare(_good(expires_at="2027-03-01T00:00:00Z"), default_region="HU", now=NOW, actor="crm")
    assert consent.number == NUMBER
    assert consent.given_at == datetime(2026, 3, 1, 8, 30, tzinfo=UTC)
    assert consent.recorded_by == "crm" and consent.recorded_at == NOW


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"given_at": "tomorrow"}, "given_at: must be an ISO 8601 date and time with a zone"),
        ({"given_at": "2026-03-01T09:30:00"}, "given_at: must be an ISO 8601 date and time with a zone"),
        ({"given_at": "2026-03-03T09:30:00Z"}, "given_at: is in the future"),
        (
            {"given_at": 1740821400},
            "given_at: must be an ISO 8601 date and time with a zone",
        ),  # not epoch seconds
        ({"expires_at": "2026-02-01T00:00:00Z"}, "expires_at: must be after given_at"),
        ({"purpose": "Marketing!"}, "purpose: must be a lowercase word like marketing or service"),
        ({"number": "12"}, "number: "),
        ({"source": ""}, "source: "),
        ({"customer_id": "a b"}, "customer_id: must be 1-128 characters without spaces"),
        ({"color": "red"}, "color: is not a consent field"),
    ],
)
def test_prepare_names_the_field_and_value_that_is_wrong(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationFailedError) as caught:
        prepare(_good(**changes), default_region="HU", now=NOW, actor="crm")
    assert message in caught.value.message
    if "given_at" in changes and "future" not in message:
        assert repr(changes["given_at"]) in caught.value.message
