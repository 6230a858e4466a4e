"""A tiny run of bench/bench_blacklist.py, so the benchmark does not rot (figures are not judged)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = pytest.mark.integration
BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_blacklist.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_blacklist", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_bench_runs_and_answers_exactly() -> None:
    bench = _bench()
    rows = await bench.measure(4_000, 500, 2_000)
    by_name = {row["name"].split(" (")[0]: row for row in rows}
    assert by_name["blacklist wrong answers"]["value"] == 0 and by_name["blacklist wrong answers"]["met"]
    for row in rows:
        assert set(row) >= {"name", "value", "unit", "target", "peer", "ratio", "met"}
        assert row["value"] >= 0
    assert by_name["blacklist exact batch check"]["peer"]["name"].startswith("SMISMEMBER")


def test_generated_numbers_are_distinct() -> None:
    bench = _bench()
    numbers = [bench.e164_at(i) for i in range(50_000)]
    assert len(set(numbers)) == len(numbers)
    assert all(len(n) == 12 and n.startswith("+36") for n in numbers)
