"""A fault-injecting TCP proxy for the AMI link, between an AMI client (the engine) and Asterisk.

The chaos suite (scripts/chaos) puts it between the engine and pbx.sim; it works in front of a
real Asterisk too. Bytes pass through unchanged unless a fault is armed:

- `cut_after(action)`: the next action of that name (case-insensitive) is forwarded to the PBX,
  then both sockets are closed before its response can reach the client: an action in doubt.
- `stall(seconds)`: nothing is forwarded either way for that long (sockets stay open, new
  connections stall too): a frozen network or PBX, which only a keepalive notices. What was sent
  meanwhile is delivered when it ends, as TCP does, even on a connection its client has dropped.
  `stall_at(action, seconds)` starts one when the next such action passes (held with the rest).
- `inject(data)`: raw bytes into the client-bound stream, at the next message boundary, so the
  real messages around them stay whole.
- `reorder(probability)`: two adjacent events of one call (same Linkedid) from different channels
  are swapped, as Asterisk's per-channel threads may deliver them; a held event goes out after at
  most `hold_s` if no partner comes. Responses and list events (with an ActionID) never move.
- `drop()`: every connection closed now (a network cut).

Framing is pure (`AmiFramer`, `Reorderer`): bytes in, whole messages out, no I/O. Messages end
with an empty line; the server's banner is one line. (`Response: Follows` of Asterisk before 14
is not framed specially: Asterisk 20/22 no longer sends it.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger("pbx.sim.faultproxy")

# The actions Switchboard sends whose answer a cut can lose (the chaos suite cuts after each).
ENGINE_ACTIONS = ("Originate", "Bridge", "Redirect", "Hangup", "Login")
END = b"\r\n\r\n"
BANNER = b"Asterisk Call Manager/"
CHUNK = 65536


class AmiFramer:
    """Splits one direction of an AMI stream into whole messages, bytes kept exactly."""

    def __init__(self, *, banner: bool = False) -> None:
        self._buffer = b""
        self._banner = banner

    @property
    def pending(self) -> int:
        """Bytes of a message not yet complete (0: the stream is at a message boundary)."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        frames: list[bytes] = []
        if self._banner and self._buffer:
            if not BANNER.startswith(self._buffer[: len(BANNER)]):
                self._banner = False  # no banner on this stream
            elif b"\r\n" in self._buffer:
                line, _, self._buffer = self._buffer.partition(b"\r\n")
                frames.append(line + b"\r\n")
                self._banner = False
            else:
                return frames
        while (end := self._buffer.find(END)) >= 0:
            frames.append(self._buffer[: end + len(END)])
            self._buffer = self._buffer[end + len(END) :]
        return frames


def frame_fields(frame: bytes) -> dict[str, str]:
    """The first value of each header, keys lower-cased (`action`, `event`, `linkedid`, ...)."""
    fields: dict[str, str] = {}
    for line in frame.decode("utf-8", "replace").split("\r\n"):
        key, sep, value = line.partition(":")
        if sep and key.strip():
            fields.setdefault(key.strip().lower(), value.strip())
    return fields


class Reorderer:
    """Swaps adjacent events of one call from different channels, with a given probability."""

    def __init__(self, probability: float, rng: random.Random) -> None:
        self.probability = probability
        self._rng = rng
        self._held: tuple[bytes, str, str] | None = None  # frame, linkedid, uniqueid
        self.swaps = 0

    @property
    def holding(self) -> bool:
        return self._held is not None

    def feed(self, frame: bytes) -> list[bytes]:
        """Frames to send now, in the order to send them."""
        fields = frame_fields(frame)
        linked, unique = fields.get("linkedid", ""), fields.get("uniqueid", "")
        movable = "event" in fields and "actionid" not in fields and linked and unique
        held, self._held = self._held, None
        if held is not None:
            if movable and linked == held[1] and unique != held[2]:
                self.swaps += 1
                return [frame, held[0]]
            out = [held[0]]
        else:
            out = []
        if movable and self.probability > 0 and self._rng.random() < self.probability:
            self._held = (frame, linked, unique)
            return out
        return [*out, frame]

    def flush(self) -> list[bytes]:
        held, self._held = self._held, None
        return [held[0]] if held is not None else []


@dataclass
class ProxyStats:
    connections: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    cuts: Counter[str] = field(default_factory=Counter)
    stalls: int = 0
    injected: int = 0
    swaps: int = 0
    drops: int = 0


class _Link:
    """One client connection and its upstream connection."""

    def __init__(self, proxy: FaultProxy, client: tuple[asyncio.StreamReader, asyncio.StreamWriter]) -> None:
        self.proxy = proxy
        self.client_reader, self.client_writer = client
        self.up_writer: asyncio.StreamWriter | None = None
        self.down = AmiFramer(banner=True)
        self.reorder: Reorderer | None = None
        self.garbage: list[bytes] = []
        self.closed = False

    async def run(self, host: str, port: int) -> None:
        try:
            await self.proxy.gate()
            up_reader, self.up_writer = await asyncio.open_connection(host, port)
        except OSError as exc:
            log.warning("fault proxy: upstream %s:%d unreachable: %s", host, port, exc)
            self.close()
            return
        pumps = [asyncio.create_task(self._upward()), asyncio.create_task(self._downward(up_reader))]
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.close()
            for pump in pumps:
                pump.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)

    async def _upward(self) -> None:
        framer = AmiFramer()
        while data := await self.client_reader.read(CHUNK):
            await self.proxy.gate()
            for frame in framer.feed(data):
                if self.closed or self.up_writer is None or self.up_writer.is_closing():
                    return
                name = frame_fields(frame).get("action", "").lower()
                if name and self.proxy.take_stall(name):
                    # the stall starts with this action, which waits in the network like the rest
                    # and reaches the PBX when the stall ends, even if its client gave up meanwhile
                    await self.proxy.stall(self.proxy.stall_at_s)
                    if self.up_writer.is_closing():
                        return
                self.up_writer.write(frame)
                if name:
                    self.proxy.stats.actions[name] += 1
                if name and self.proxy.take_cut(name):
                    await self.up_writer.drain()
                    self.proxy.stats.cuts[name] += 1
                    log.info("fault proxy: cut after %s", name)
                    self.proxy.stall_after_cut()
                    return
            if self.up_writer is not None:
                await self.up_writer.drain()

    async def _downward(self, reader: asyncio.StreamReader) -> None:
        while True:
            wait = self.proxy.hold_s if self.reorder is not None and self.reorder.holding else None
            try:
                data = await asyncio.wait_for(reader.read(CHUNK), wait)
            except TimeoutError:
                data = None
            if data == b"":
                return
            await self.proxy.gate()
            if self.closed or self.client_writer.is_closing():
                return
            frames = self._order(self.down.feed(data)) if data else self._flush()
            for frame in frames:
                self.client_writer.write(frame)
            self._write_garbage()
            await self.client_writer.drain()

    def _order(self, frames: list[bytes]) -> list[bytes]:
        probability = self.proxy.reorder_probability
        if probability <= 0 and self.reorder is None:
            return frames
        if self.reorder is None:
            self.reorder = Reorderer(probability, self.proxy.rng)
        self.reorder.probability = probability
        out: list[bytes] = []
        for frame in frames:
            before = self.reorder.swaps
            out += self.reorder.feed(frame)
            self.proxy.stats.swaps += self.reorder.swaps - before
        return out

    def _flush(self) -> list[bytes]:
        return self.reorder.flush() if self.reorder is not None else []

    def inject(self, data: bytes) -> None:
        self.garbage.append(data)
        self._write_garbage()

    def _write_garbage(self) -> None:
        if self.closed or self.client_writer.is_closing() or self.down.pending or not self.garbage:
            return
        for data in self.garbage:
            self.client_writer.write(data)
            self.proxy.stats.injected += 1
        self.garbage.clear()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for writer in (self.client_writer, self.up_writer):
            if writer is not None:
                with contextlib.suppress(Exception):
                    writer.close()


class FaultProxy:
    """Listens on a port, forwards each connection to `upstream`, injects the armed faults."""

    def __init__(
        self, upstream_host: str, upstream_port: int, *, seed: int | None = None, hold_s: float = 0.05
    ) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.rng = random.Random(seed)
        self.hold_s = hold_s
        self.stats = ProxyStats()
        self.reorder_probability = 0.0
        self._cuts: Counter[str] = Counter()
        self._stall_at, self.stall_at_s = "", 0.0
        self.cut_stall_s = 0.0
        self._reopen: asyncio.TimerHandle | None = None
        self._open = asyncio.Event()
        self._open.set()
        self._server: asyncio.Server | None = None
        self._links: set[_Link] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._changed = asyncio.Event()
        self.port = 0

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        self._server = await asyncio.start_server(self._serve, host, port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        if self._reopen is not None:
            self._reopen.cancel()
        self._open.set()
        await self.drop(count=False)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5.0)
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        link = _Link(self, (reader, writer))
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self._links.add(link)
        self.stats.connections += 1
        self._notify()
        try:
            await link.run(*self.upstream)
        finally:
            self._links.discard(link)
            if task is not None:
                self._tasks.discard(task)
            self._notify()

    # -- faults ----------------------------------------------------------------------------------
    def cut_after(self, action: str, count: int = 1, *, then_stall_s: float = 0.0) -> None:
        """The next `count` actions named `action` are forwarded, then their connection is cut; with
        `then_stall_s`, nothing passes for that long from the cut on (no reconnect meanwhile): the
        action executes while its sender sees nothing of it or of what follows."""
        self._cuts[action.lower()] += count
        self.cut_stall_s = then_stall_s

    def stall_after_cut(self) -> None:
        """Close the gate at once (before any reconnect can pass), reopen it after `cut_stall_s`."""
        if self.cut_stall_s <= 0:
            return
        self.stats.stalls += 1
        self._open.clear()
        self._reopen = asyncio.get_running_loop().call_later(self.cut_stall_s, self._open.set)

    def take_cut(self, name: str) -> bool:
        if self._cuts[name] <= 0:
            return False
        self._cuts[name] -= 1
        self._notify()
        return True

    def stall_at(self, action: str, seconds: float) -> None:
        """The next action named `action` starts a stall of `seconds` (see `stall`); the action itself
        is held with the other bytes and reaches the PBX when the stall ends, as over a frozen TCP
        path: an action its sender timed out on (and whose connection it dropped) still executes."""
        self._stall_at = action.lower()
        self.stall_at_s = seconds

    def take_stall(self, name: str) -> bool:
        if self._stall_at != name:
            return False
        self._stall_at = ""
        return True

    def disarm(self) -> None:
        self._cuts.clear()
        self._stall_at = ""

    async def stall(self, seconds: float) -> None:
        """Forward nothing, either way, for `seconds`; returns when the stall is over."""
        self.stats.stalls += 1
        self._open.clear()
        try:
            await asyncio.sleep(seconds)  # the fault's duration itself, not a synchronisation
        finally:
            self._open.set()

    async def gate(self) -> None:
        await self._open.wait()

    def inject(self, data: bytes) -> None:
        """Raw bytes to every connected client, each at its next message boundary."""
        for link in list(self._links):
            link.inject(data)

    def reorder(self, probability: float) -> None:
        """From now on, hold an event with this probability and swap it with its call's next one."""
        self.reorder_probability = probability

    async def drop(self, *, count: bool = True) -> None:
        """Close every connection now (a network cut); the proxy keeps listening."""
        if count:
            self.stats.drops += 1
        for link in list(self._links):
            link.close()
        tasks = [task for task in self._tasks if task is not asyncio.current_task()]
        if tasks:
            await asyncio.wait(tasks, timeout=5.0)

    # -- observing -------------------------------------------------------------------------------
    @property
    def connected(self) -> int:
        return len(self._links)

    def _notify(self) -> None:
        self._changed.set()

    async def wait_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait until `predicate()` holds (checked on each connection or cut); False on timeout."""
        deadline = time.monotonic() + timeout
        while not predicate():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(left, 0.5))
        return True
