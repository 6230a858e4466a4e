"""The simulated PBX's own inbound capacity, for figure 4: the least an engine can do, in its own process.

It answers each `UserEvent SwitchboardInbound` with an Originate of a phone of its own (a new
one per call, so none is ever busy: no agent state, no Redis, no routing) and, on the agent's
`UserEvent SwitchboardAgentAnswered`, Bridges the two: the same AMI work the engine does per
call, nothing else. Figure 4 runs its inbound ladder against it on the same simulated PBX after
the engine's, and divides: the engine's rates as a share of what the simulator (and this
machine) can carry at all.

It also dials, for the originate ratio: `outbound on` keeps `--window` customer Originates in
flight (a new one as soon as one's OriginateResponse arrives; the engine's campaign has that many
agents, each holding one dial), `outbound off` stops. No pacing, no lead, no Redis: the simulator's
own originate capacity on this machine.

Speaks bench/engine_proc.py's line protocol on stdin / stdout (`{"ready": true}`, `stats`,
`outbound on` / `outbound off`, `quit`), so bench/bench_engine.py drives it like the engine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import resource
import sys
from typing import Any

from bench.engine_proc import memory_kib, reply
from pbx.client import AmiClient, AmiSettings
from pbx.codec import Event

USER, SECRET = "bench", "bench-secret"


class NullEngine:
    def __init__(self, port: int, window: int = 200) -> None:
        self.window = window
        self.dials: dict[str, asyncio.Event] = {}  # ActionID of a customer Originate -> set on its response
        self.dialing: asyncio.Task[None] | None = None
        self.agent_extensions = itertools.count(7_000_000)  # the simulator answers any PJSIP phone
        self.callers: dict[str, str] = {}  # call id -> the caller's channel
        self.tasks: set[asyncio.Task[Any]] = set()
        self.client = AmiClient(
            AmiSettings(host="127.0.0.1", port=port, username=USER, secret=SECRET), on_event=self.on_event
        )

    def on_event(self, event: Event) -> None:
        if event.name == "OriginateResponse":
            if (done := self.dials.pop(event.get("ActionID") or "", None)) is not None:
                done.set()
            return
        if event.name != "UserEvent":
            return
        kind, call_id, channel = event.get("UserEvent"), event.get("CallID") or "", event.get("Channel") or ""
        if kind == "SwitchboardInbound" and call_id:
            self.callers[call_id] = channel
            self._spawn(self.ring(call_id))
        elif kind == "SwitchboardAgentAnswered" and call_id in self.callers:
            self._spawn(
                self.client.send("Bridge", {"Channel1": self.callers.pop(call_id), "Channel2": channel})
            )

    def _spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def ring(self, call_id: str) -> None:
        fields = {
            "Channel": f"PJSIP/{next(self.agent_extensions)}", "Context": "switchboard-agent", "Exten": "s",
            "Priority": "1", "Timeout": "10000", "Async": "true",
            "Variable": f"SWITCHBOARD_CALL_ID={call_id}",
        }  # fmt: skip
        await self.client.send("Originate", fields)

    def dial(self, on: bool) -> None:
        """Start (`on`) or stop the customer Originates."""
        if self.dialing is not None:
            self.dialing.cancel()
            self.dialing = None
        if on:
            self.dialing = asyncio.create_task(self._dial_forever())

    async def _dial_forever(self) -> None:
        slots, numbers = asyncio.Semaphore(self.window), itertools.count()
        while True:
            await slots.acquire()
            self._spawn(self._one_dial(next(numbers), slots))

    async def _one_dial(self, index: int, slots: asyncio.Semaphore) -> None:
        action_id, done = f"null-dial-{index}", asyncio.Event()
        self.dials[action_id] = done
        fields = {
            "Channel": f"PJSIP/+3631{index:07d}@trunk", "Context": "switchboard-outbound", "Exten": "s",
            "Priority": "1", "Timeout": "20000", "Async": "true",
        }  # fmt: skip
        try:
            result = await self.client.send("Originate", fields, action_id=action_id)
            if result.response.ok:
                with contextlib.suppress(TimeoutError):  # a lost response frees its slot after 30 s
                    await asyncio.wait_for(done.wait(), 30.0)
        finally:
            self.dials.pop(action_id, None)
            slots.release()


def stats() -> dict[str, Any]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    no_redis = {"redis_commands": 0, "redis_round_trips": 0}
    return {"cpu_s": usage.ru_utime + usage.ru_stime, **memory_kib(), "decisions": {}, **no_redis}


async def main_async(args: argparse.Namespace) -> None:
    engine = NullEngine(args.ami_port, args.window)
    await engine.client.connect()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    reply({"ready": True, "pid": os.getpid(), **stats()})
    try:
        while line := (await reader.readline()).decode().strip():
            if line == "quit":
                return
            if line in ("outbound on", "outbound off"):
                engine.dial(line.endswith("on"))
                reply({"ok": True})
            else:
                reply(stats() if line == "stats" else {"error": f"unknown command {line!r}"})
    finally:
        engine.dial(False)
        await engine.client.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--ami-port", type=int, required=True)
    parser.add_argument("--window", type=int, default=200, help="customer Originates in flight (outbound on)")
    asyncio.run(main_async(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
