"""What one Redis round trip costs the engine's process in CPU (issue 15, figure 4): a measuring tool,
not a figure.

The engine talks to Redis through redis-py asyncio with hiredis, built by `switchboard.redis_conn.
connect_redis` (a blocking pool, socket timeouts, health checks). This times, in this process's CPU
(getrusage user + system), one round trip through that client against a private redis-server,
and the same bytes through a bare asyncio stream (the request packed and the reply parsed by
hiredis, nothing else): the floor any Python client on asyncio pays for the loop's turn and the
loopback socket. The command is an EVALSHA shaped like the engine's average round trip (about 31
encoded arguments: its scripts' keys and ARGV), and a PING. With `--concurrency N`, N coroutines
send at once, as the engine's events and tasks do under load.

    python -m bench.redis_client_cost [--round-trips 10000] [--concurrency 1 8] [--repeat 3]

Multiply by the engine's round trips per call (`python -m bench.engine_cpu` prints them) for the
share of its CPU per call that is its Redis client.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
from collections.abc import Awaitable, Callable

import hiredis

from bench.bench_engine import cpu_s
from switchboard.private_redis import PrivateRedis
from switchboard.redis_conn import connect_redis

SCRIPT = "return #ARGV"
KEYS = ("acd:{q}:call:1", "acd:{q}:agent:1", "acd:{q}:lease")
ARGS = tuple(f"field-{index:02d}" for index in range(28))  # with the 3 keys: 31 encoded arguments

RoundTrip = Callable[[], Awaitable[object]]


async def cost_us(round_trip: RoundTrip, count: int, concurrency: int) -> float:
    """CPU microseconds per round trip over `count` of them, `concurrency` at a time."""
    await round_trip()  # connections opened, the script cached: not measured

    async def sender(share: int) -> None:
        for _ in range(share):
            await round_trip()

    started = cpu_s()
    await asyncio.gather(*(sender(count // concurrency) for _ in range(concurrency)))
    return 1e6 * (cpu_s() - started) / (count // concurrency * concurrency)


class BareStream:
    """One asyncio stream per sender: hiredis packs each request and parses each reply."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.free: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, hiredis.Reader]] = []

    async def call(self, *args: str) -> object:
        if self.free:
            reader, writer, parser = self.free.pop()
        else:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
            parser = hiredis.Reader()
        writer.write(hiredis.pack_command(args))  # type: ignore[arg-type]  # its stub declares a 1-tuple
        while (reply := parser.gets()) is False:
            parser.feed(await reader.read(65536))
        self.free.append((reader, writer, parser))
        return reply

    def close(self) -> None:
        for _, writer, _ in self.free:
            writer.close()


async def measure(url: str, port: int, count: int, concurrency: int) -> dict[str, float]:
    client = await connect_redis(url)
    bare = BareStream(port)
    try:
        script = client.register_script(SCRIPT)
        sha = str(await client.script_load(SCRIPT))
        evalsha = ("EVALSHA", sha, str(len(KEYS)), *KEYS, *ARGS)
        return {
            "redis-py EVALSHA": await cost_us(lambda: script(keys=KEYS, args=ARGS), count, concurrency),
            "bare stream EVALSHA": await cost_us(lambda: bare.call(*evalsha), count, concurrency),
            "redis-py PING": await cost_us(client.ping, count, concurrency),
            "bare stream PING": await cost_us(lambda: bare.call("PING"), count, concurrency),
        }
    finally:
        bare.close()
        await client.aclose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--round-trips", type=int, default=10_000, help="round trips per measure")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8], help="senders at once")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the median is printed")
    args = parser.parse_args(argv)
    with PrivateRedis() as server:
        for concurrency in args.concurrency:
            runs = [
                asyncio.run(measure(server.url, server.port, args.round_trips, concurrency))
                for _ in range(args.repeat)
            ]
            medians = {name: statistics.median(run[name] for run in runs) for name in runs[0]}
            shown = ", ".join(f"{name} {value:.0f}" for name, value in medians.items())
            extra = medians["redis-py EVALSHA"] - medians["bare stream EVALSHA"]
            print(f"{concurrency} at once, us CPU per round trip: {shown}; redis-py above the bare stream: "
                  f"{extra:.0f} us an EVALSHA")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
