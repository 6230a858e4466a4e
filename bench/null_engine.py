"""The simulated PBX's own inbound capacity, for figure 4: the least an engine can do, in its own process.

It answers each `UserEvent SwitchboardInbound` with an Originate of a phone of its own (a new
one per call, so none is ever busy: no agent state, no Redis, no routing) and, on the agent's
`UserEvent SwitchboardAgentAnswered`, Bridges the two: the same AMI work the engine does per
call, nothing else. Figure 4 runs its inbound ladder against it on the same simulated PBX after
the engine's, and divides: the engine's rates as a share of what the simulator (and this
machine) can carry at all.

Speaks bench/engine_proc.py's line protocol on stdin / stdout (`{"ready": true}`, `stats`,
`quit`), so bench/bench_engine.py drives it like the engine.
"""

from __future__ import annotations

import argparse
import asyncio
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
    def __init__(self, port: int) -> None:
        self.agent_extensions = itertools.count(7_000_000)  # the simulator answers any PJSIP phone
        self.callers: dict[str, str] = {}  # call id -> the caller's channel
        self.tasks: set[asyncio.Task[Any]] = set()
        self.client = AmiClient(
            AmiSettings(host="127.0.0.1", port=port, username=USER, secret=SECRET), on_event=self.on_event
        )

    def on_event(self, event: Event) -> None:
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


def stats() -> dict[str, Any]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"cpu_s": usage.ru_utime + usage.ru_stime, **memory_kib(), "decisions": {}, "redis_commands": 0}


async def main_async(args: argparse.Namespace) -> None:
    engine = NullEngine(args.ami_port)
    await engine.client.connect()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    reply({"ready": True, "pid": os.getpid(), **stats()})
    try:
        while line := (await reader.readline()).decode().strip():
            if line == "quit":
                return
            reply(stats() if line == "stats" else {"error": f"unknown command {line!r}"})
    finally:
        await engine.client.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--ami-port", type=int, required=True)
    asyncio.run(main_async(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
