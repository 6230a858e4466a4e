"""The soak bench (scripts/bench --soak) still runs end to end; its growth arithmetic is right."""

from __future__ import annotations

import asyncio

import pytest

from bench.bench_soak import Sample, Soak, half_slope, pattern, per_call, rows_of, slope, soak, summary


def sample(at: float, calls: int, rss: float) -> Sample:
    return Sample(at, calls, rss, cpu_s=calls * 0.005, redis_mib=1.0, keys=10, commands=calls * 40,
                  round_trips=calls * 10, net_in=calls * 2048)  # fmt: skip


def test_growth_per_minute_skips_the_first_minute() -> None:
    later = [sample(60 * m, 600 * m, 90.0 + m) for m in (1, 2, 3)]
    samples = [sample(0, 0, 80.0), sample(30, 300, 90.0), *later]
    assert slope(samples, "rss_mib") == pytest.approx(1.0)
    assert per_call(samples, "commands") == pytest.approx(40)
    assert per_call(samples, "net_in") == pytest.approx(2048)


@pytest.mark.parametrize(
    ("key", "group"),
    [(b"sb:routing:call:1733-42", "sb:routing:call:*"), (b"sb:routing:events", "sb:routing:events"),
     (b"sb:routing:agent:1001:history", "sb:routing:agent:*:history")],
)  # fmt: skip
def test_keys_are_grouped_by_pattern(key: bytes, group: str) -> None:
    assert pattern(key) == group


@pytest.mark.integration
def test_a_tiny_soak_places_calls_and_samples() -> None:
    result = asyncio.run(soak(Soak(rate=5, minutes=0.05, agents=4, sample_s=1.0), ["--log-level", "WARNING"]))
    assert result.samples[-1].calls == 15
    assert result.samples[-1].keys > 0 and result.samples[-1].round_trips > 0
    names = [row["name"] for row in rows_of(result)]
    assert "soak: Redis commands per inbound call" in names


def test_per_dial_and_last_half_slope() -> None:
    samples = [Sample(60 * m, 0, 90.0 + (m if m < 3 else 2), 0, 1.0, 10, 30 * m, 6 * m, 0, dials=10 * m)
               for m in range(7)]  # fmt: skip
    assert per_call(samples, "round_trips", "dials") == pytest.approx(0.6)
    assert slope(samples, "rss_mib") > 0.1
    assert half_slope(samples, "rss_mib") == pytest.approx(0.0)


@pytest.mark.integration
def test_a_tiny_soak_with_outbound_dials_each_lead_once() -> None:
    plan = Soak(rate=2, minutes=0.2, agents=3, sample_s=2.0, outbound_agents=2, leads=60, ended_call_ttl=120)
    result = asyncio.run(soak(plan, ["--log-level", "WARNING"]))
    out = result.outbound
    assert out["dials"] > 0 and out["dialled_twice"] == 0
    assert out["unbridged"] == 0 and out["channels_left"] == 0
    names = [row["name"] for row in rows_of(result)]
    assert "soak: Redis round trips per call handled (inbound call or outbound dial)" in names
    assert summary(result)["inbound_calls"] == 24
