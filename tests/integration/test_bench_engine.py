"""Figure 4 (the whole engine against the simulated PBX) still runs end to end; speed not judged."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bench import bench_engine, engine_cpu, redis_client_cost
from bench.bench_engine import Step, best_rates, cpu_per_call_rows

TINY = bench_engine.Plan(
    rates=(5,), step_s=0.4, min_calls=0, agents=4, outbound_agents=2, outbound_s=0.3, leads=20,
    deadline_s=5.0, ramp_s=0.6,
)
SUFFIX = " (short run: 0.4 s steps)"


@pytest.mark.integration
def test_engine_bench_routes_calls_and_reports_rows() -> None:
    rows = bench_engine.run(quick=True, plan=TINY)
    assert all(row["name"].endswith(SUFFIX) for row in rows)
    by_name = {row["name"].removesuffix(SUFFIX): row for row in rows}
    step = by_name["engine inbound step 5 calls/s: routing p99"]
    assert "0 not routed" in step["detail"], step["detail"]
    assert by_name["engine RSS after the run"]["value"] > 0
    dialed = re.search(r"; ([\d,]+) originates", by_name["engine outbound: originates per second"]["detail"])
    assert dialed and int(dialed[1].replace(",", "")) > 0  # a pacing round (every 0.5 s) dialed
    alone = by_name["simulated PBX alone: customer originates per second"]["value"]
    assert alone > 0  # the null engine's dialer kept customer Originates in flight
    ratio = by_name["engine originate rate / the simulator's"]
    assert ratio["peer"] == {"name": "simulated PBX alone", "value": alone}
    for row in rows:
        assert {"name", "value", "unit", "target", "peer", "ratio", "met", "detail"} == set(row)


@pytest.mark.integration
def test_engine_timing_says_where_an_inbound_events_time_went(tmp_path: Path) -> None:
    timing = tmp_path / "timing.json"
    bench_engine.run(quick=True, plan=TINY, engine_args=["--timing", str(timing)])
    found = json.loads(timing.read_text(encoding="utf-8"))
    arrivals = found["UserEvent"]  # the callers' SwitchboardInbound and the agents' answers
    assert arrivals["count"] >= 2 * 2  # 5 calls/s for 0.4 s: two calls, two UserEvents each
    assert arrivals["handle_ms"] > 0 and arrivals["ami_ms"] > 0  # each sent an action (Originate, Bridge)
    assert found["(redis)"]["count"] > 0 and found["(ami)"]["count"] > 0


@pytest.mark.integration
def test_engine_cpu_reports_cpu_log_records_and_redis_per_call(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--calls-per-s", "5", "--seconds", "0.4", "--outbound-s", "0.3", "--outbound-agents", "2",
            "--leads", "20", "--json"]  # fmt: skip
    assert engine_cpu.main(args) == 0
    found = json.loads(capsys.readouterr().out.splitlines()[-1])
    calls = found["inbound"]
    assert calls["calls"] == calls["routed"] == 2
    assert calls["cpu_s"] > 0 and calls["log_records"] > 0 and calls["redis_commands"] > 0
    assert calls["sim_cpu_s"] > 0  # the simulated PBX's own share, this process
    assert found["outbound"]["originates"] > 0  # a pacing round (every 0.5 s) dialed
    null = found["null"]  # the same load against the AMI-only responder, on the same simulator
    assert null["calls"] == null["routed"] == 2 and null["cpu_s"] > 0
    assert "null engine (AMI work only, same load)" in "\n".join(engine_cpu.report(found))


def step(rate: int, fast: bool, kept_up: bool = True) -> Step:
    return Step(rate, 100, latencies_ms=[1.0 if fast else 50.0] * 100, bridged=100 if kept_up else 10)


@pytest.mark.parametrize(
    ("steps", "best", "ended", "sustained"),
    [
        ([step(10, True), step(20, True)], 20, None, 20),
        ([step(10, False), step(10, False)], None, 10, 10),
        (
            [step(10, False), step(10, True), step(20, True), step(40, False), step(40, False),
             step(60, False), step(80, False, kept_up=False)],
            20, 40, 60,
        ),
    ],
)
def test_the_ladder_ends_at_the_second_failure_of_a_rate(
    steps: list[Step], best: int | None, ended: int | None, sustained: int
) -> None:
    found = best_rates(steps)
    assert [None if s is None else s.rate for s in found] == [best, ended, sustained]


def test_the_cpu_per_call_is_read_at_the_highest_sustained_step_and_judged_at_the_simulators_rate() -> None:
    """The CPU target (<= 50 % of a core at the simulator's sustained rate) is judged even when the
    engine never reaches that rate: its CPU per call where it kept up, times the simulator's rate."""
    kept = [step(20, True), step(100, False), step(150, False, kept_up=False)]
    kept[0].cpu, kept[1].cpu = 0.10, 0.60  # 5 and 6 ms a call
    (found,) = cpu_per_call_rows(kept, 300)
    assert found["value"] == pytest.approx(6.0)  # the 100 calls/s step: the highest kept up
    assert found["met"] is False  # 6 ms x 300 calls/s = 180 % of a core
    cheap = [step(100, True)]
    cheap[0].cpu = 0.15  # 1.5 ms a call: 45 % of a core at 300 calls/s
    assert cpu_per_call_rows(cheap, 300)[0]["met"] is True
    assert cpu_per_call_rows([step(10, False, kept_up=False)], 300) == []


@pytest.mark.integration
def test_redis_client_cost_times_the_engines_client_against_a_bare_stream(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert redis_client_cost.main(["--round-trips", "40", "--concurrency", "1", "4", "--repeat", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(" at once")[0] for line in lines] == ["1", "4"]
    for line in lines:
        costs = dict(re.findall(r"(redis-py \w+|bare stream \w+) (\d+)", line))
        assert set(costs) == {"redis-py EVALSHA", "bare stream EVALSHA", "redis-py PING", "bare stream PING"}
        assert all(int(value) > 0 for value in costs.values())
