"""The service-level ratio over a sliding window, counted in buckets: bounded memory, same answers."""

from __future__ import annotations

import pytest

from routing.acd.acd_metrics import ServiceLevel

T0 = 1_750_000_000.0  # a multiple of 10: bucket edges fall on T0 + 10 k


@pytest.mark.parametrize(
    ("outcomes", "now", "expected"),
    [
        ([], T0, None),
        ([(T0, 5, True)], T0 + 1, 1.0),
        ([(T0, 25, True)], T0 + 1, 0.0),  # answered after the 20 s target
        ([(T0, 5, False)], T0 + 1, None),  # hung up before the target: not counted
        ([(T0, 30, False)], T0 + 1, 0.0),  # hung up after it: a failure
        ([(T0, 5, True), (T0 + 3, 25, True), (T0 + 12, 1, True), (T0 + 50, 40, False)], T0 + 60, 0.5),
        ([(T0, 5, True), (T0 + 100, 25, True)], T0 + 3609, 0.5),  # T0's bucket still inside
        ([(T0, 5, True), (T0 + 100, 25, True)], T0 + 3610, 0.0),  # ... and out once it has ended
        ([(T0, 5, True)], T0 + 3700, None),
    ],
)
def test_ratio(outcomes: list[tuple[float, float, bool]], now: float, expected: float | None) -> None:
    level = ServiceLevel(window_s=3600, bucket_s=10)
    for at, waited, answered in outcomes:
        level.record("support", at, waited=waited, answered=answered, target_s=20)
    assert level.ratio("support", now) == expected


def test_memory_does_not_grow_with_the_call_rate() -> None:
    level = ServiceLevel(window_s=3600, bucket_s=10)
    for n in range(180_000):  # an hour at 50 calls/s
        level.record("support", T0 + n / 50, waited=n % 30, answered=True, target_s=20)
    assert level.ratio("support", T0 + 3600) == pytest.approx(21 / 30, abs=0.001)
    assert len(level._buckets["support"]) <= 361
