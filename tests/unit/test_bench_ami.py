"""The AMI ingest benchmark still runs and reports well-formed rows (its speed is not judged here)."""

from __future__ import annotations

import logging

from bench import bench_ami

KEYS = {"name", "value", "unit", "target", "peer", "ratio", "met", "detail"}


def test_ami_bench_rows_have_the_report_shape() -> None:
    rows = bench_ami.run(quick=True, events=100)  # one copy of the recording: ~750 events
    assert [row["name"] for row in rows] == [
        "ami_ingest",
        "ami_ingest_client_path",
        "ami_decode_only",
        "ami_ingest_peak_memory",
        "ami_tracker_retained_memory",
    ]
    for row in rows:
        assert set(row) == KEYS
        assert isinstance(row["value"], float) and row["value"] > 0
        assert isinstance(row["unit"], str) and row["unit"]
        assert row["met"] in (True, False, None)
        if row["peer"] is None:
            assert row["ratio"] is None
        else:
            assert set(row["peer"]) == {"name", "value"} and row["peer"]["value"] > 0
            assert row["ratio"] > 0
    ingest, *_, retained = rows
    assert ingest["target"] and isinstance(ingest["met"], bool)
    assert retained["met"] is True  # every call in the stream ends: nothing may stay behind


def test_ami_bench_restores_logging() -> None:
    before = logging.root.manager.disable
    bench_ami.run(quick=True, events=100)
    assert logging.root.manager.disable == before
