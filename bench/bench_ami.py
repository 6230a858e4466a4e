"""Figure 1 of the benchmarks: AMI ingest, Switchboard's codec + call tracker against panoramisk.

Both sides get the same synthesized Asterisk 22 event stream (bench/ami_stream.py)
in the same 64 KiB chunks, in one process, taking turns every 16 chunks, best of
3 repetitions:
- ours: `AmiDecoder.feed`, then `CallTracker.apply` on every Event (the client's
  path without the ResponseAssembler: unsolicited events carry no ActionID);
- panoramisk 1.4: its own `AMIProtocol.data_received` with a dummy transport and
  a factory whose `dispatch` only counts.
Logging is disabled for both while timing (panoramisk logs every message at debug
level; formatting is skipped but the calls are its own cost). Absolute rates are
reported but only the ratio, measured side by side, is judged (target >= 3x).
Memory is measured apart (tracemalloc slows everything): the peak while ingesting
and what the tracker still holds afterwards; finished calls must be released.

Run: `python -m bench.bench_ami [--quick] [--json PATH]` from the repository root.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import logging
import sys
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from panoramisk.ami_protocol import AMIProtocol
from rich.console import Console
from rich.table import Table

from bench.ami_stream import synthesize
from pbx.codec import AmiDecoder, Event, Response, ResponseAssembler
from pbx.tracker import RECENT_HANGUPS, CallTracker

CHUNK = 64 * 1024
QUICK_EVENTS = 20_000
FULL_EVENTS = 200_000
REPETITIONS = 3
TARGET_RATIO = 3.0
VARIABLE = "ENGINE_CALL_ID"  # the recording's manager.conf `channelvars`
PEER = "panoramisk 1.4 AMIProtocol"

BLOCK = 16  # chunks (about 2,000 events) each side ingests before the next one's turn

Row = dict[str, Any]


class Side(Protocol):
    count: int  # events seen so far

    def __init__(self) -> None: ...

    def feed(self, chunks: list[bytes]) -> None: ...


def chunks_of(stream: bytes, size: int = CHUNK) -> list[bytes]:
    return [stream[i : i + size] for i in range(0, len(stream), size)]


class Ours:
    """Switchboard: decode every chunk, apply every event to the tracker."""

    def __init__(self) -> None:
        self.decoder = AmiDecoder()
        self.tracker = CallTracker(VARIABLE)
        self.count = 0

    def feed(self, chunks: list[bytes]) -> None:
        decode, apply = self.decoder.feed, self.tracker.apply
        for chunk in chunks:
            for item in decode(chunk):
                if isinstance(item, Event):
                    apply(item)
                    self.count += 1


class OursClientPath(Ours):
    """Switchboard as pbx.client runs it: every Event and Response goes through the assembler."""

    def __init__(self) -> None:
        super().__init__()
        self.assembler = ResponseAssembler()

    def feed(self, chunks: list[bytes]) -> None:
        decode, assemble, apply = self.decoder.feed, self.assembler.feed, self.tracker.apply
        for chunk in chunks:
            for item in decode(chunk):
                if isinstance(item, Event | Response):
                    event = assemble(item)[1]
                    if event is not None:
                        apply(event)
                        self.count += 1


class DecodeOnly(Ours):
    def feed(self, chunks: list[bytes]) -> None:
        decode = self.decoder.feed
        self.count += sum(isinstance(item, Event) for chunk in chunks for item in decode(chunk))


class _Transport:
    def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        pass


class Panoramisk:
    """panoramisk's own protocol; its factory (a Manager in real use) only counts events."""

    def __init__(self) -> None:
        self.protocol = AMIProtocol()
        self.protocol.connection_made(_Transport())
        self.protocol.factory = self
        self.count = 0

    def dispatch(self, message: object) -> None:
        self.count += 1

    def feed(self, chunks: list[bytes]) -> None:
        received = self.protocol.data_received
        for chunk in chunks:
            received(chunk)


@contextlib.contextmanager
def logging_off() -> Iterator[None]:
    previous = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    try:
        yield
    finally:
        logging.disable(previous)


def best_rates(sides: dict[str, type[Side]], chunks: list[bytes], events: int) -> dict[str, float]:
    """Events per second of each side, best of REPETITIONS.

    The sides take turns every BLOCK chunks, so a burst of load from elsewhere on
    the machine slows them alike instead of whichever happened to be running.
    """
    best = dict.fromkeys(sides, float("inf"))
    for _ in range(REPETITIONS):
        running = {name: side() for name, side in sides.items()}
        elapsed = dict.fromkeys(sides, 0.0)
        gc.collect()
        for first in range(0, len(chunks), BLOCK):
            block = chunks[first : first + BLOCK]
            for name, side in running.items():
                started = time.perf_counter()
                side.feed(block)
                elapsed[name] += time.perf_counter() - started
        for name, side in running.items():
            if side.count != events:
                raise RuntimeError(f"{name} saw {side.count} events, the stream has {events}")
            best[name] = min(best[name], elapsed[name])
    return {name: events / seconds for name, seconds in best.items()}


def memory(chunks: list[bytes]) -> tuple[int, int, dict[str, int]]:
    """(peak bytes while ingesting, bytes the tracker holds after, tracker sizes)."""
    gc.collect()
    already_tracing = tracemalloc.is_tracing()  # e.g. python -X tracemalloc: leave it running
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        baseline = tracemalloc.get_traced_memory()[0]
        ours = Ours()
        ours.feed(chunks)
        tracker = ours.tracker
        del ours  # the decoder holds at most a partial message; the tracker is what stays
        gc.collect()
        current, peak = tracemalloc.get_traced_memory()
    finally:
        if not already_tracing:
            tracemalloc.stop()
    return peak - baseline, current - baseline, tracker.sizes()


def row(
    name: str, value: float, unit: str, *,
    target: str | None, peer: float | None, met: bool | None, detail: str,
) -> Row:
    return {
        "name": name,
        "value": round(value, 1),
        "unit": unit,
        "target": target,
        "peer": None if peer is None else {"name": PEER, "value": round(peer, 1)},
        "ratio": None if peer is None else round(value / peer, 2),
        "met": met,
        "detail": detail,
    }


def run(quick: bool, events: int | None = None) -> list[Row]:
    """All rows of figure 1; `events` overrides the stream size (the smoke test uses a tiny one)."""
    stream, count = synthesize(events or (QUICK_EVENTS if quick else FULL_EVENTS))
    chunks = chunks_of(stream)
    sides: dict[str, type[Side]] = {
        "ours": Ours, "panoramisk": Panoramisk, "decode": DecodeOnly, "client": OursClientPath,
    }  # fmt: skip
    with logging_off():
        rates = best_rates(sides, chunks, count)
    peak, retained, sizes = memory(chunks)
    pano = rates["panoramisk"]
    ratio = rates["ours"] / pano
    live = {key: size for key, size in sizes.items() if key != "recent_hangups" and size}
    stream_note = f"{count:,} events, {len(stream) / 2**20:.1f} MiB in {len(chunks)} chunks of 64 KiB"
    return [
        row("ami_ingest", rates["ours"], "events/s", target=f">= {TARGET_RATIO:g}x peer", peer=pano,
            met=ratio >= TARGET_RATIO, detail=f"codec + tracker; {stream_note}; best of {REPETITIONS}"),
        row("ami_ingest_client_path", rates["client"], "events/s", target=None, peer=pano, met=None,
            detail="informational: codec + ResponseAssembler + tracker, as pbx.client runs it"),
        row("ami_decode_only", rates["decode"], "events/s", target=None, peer=pano, met=None,
            detail="informational: AmiDecoder.feed alone"),
        row("ami_ingest_peak_memory", peak / count, "B/event", target=None, peer=None, met=None,
            detail=f"tracemalloc peak {peak / 2**20:.2f} MiB while ingesting (chunk-bound, not per event)"),
        row("ami_tracker_retained_memory", retained / count, "B/event",
            target="bounded: finished calls released", peer=None,
            met=not live and sizes["recent_hangups"] <= RECENT_HANGUPS,
            detail=f"{retained / 1024:.0f} KiB held after the stream; tracker sizes {sizes}"),
    ]  # fmt: skip


def print_table(rows: list[Row]) -> None:
    table = Table(title="Figure 1: AMI ingest, measured side by side in one run", caption=f"peer: {PEER}")
    for column in ("figure", "value", "unit", "target", "peer", "ratio", "met"):
        table.add_column(column, justify="right" if column in ("value", "peer", "ratio") else "left")
    for item in rows:
        peer, ratio = item["peer"], item["ratio"]
        table.add_row(
            item["name"],
            f"{item['value']:,.1f}",
            item["unit"],
            item["target"] or "-",
            f"{peer['value']:,.0f}" if peer else "-",
            f"{ratio:.2f}x" if ratio is not None else "-",
            {True: "yes", False: "NO", None: "-"}[item["met"]],
        )
    console = Console() if sys.stdout.isatty() else Console(width=120)  # no tty: no wrapping at 80
    console.print(table)
    for item in rows:
        console.print(f"{item['name']}: {item['detail']}", style="dim")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_EVENTS:,} events, not {FULL_EVENTS:,}")
    parser.add_argument("--json", type=Path, help="also write the rows to this file")
    args = parser.parse_args(argv)
    rows = run(args.quick)
    print_table(rows)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0  # a missed target is reported in the table, not as a failed run


if __name__ == "__main__":
    raise SystemExit(main())
