"""The few CLI commands the AMI `Command` action can run on the simulator.

Output is formatted as main/cli.c formats it (`core show channels` uses
"%-64.64s %-32.32s %-7.7s %-30.30s"); anything else answers as Asterisk does
for an unknown command, with Response: Error.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pbx.sim.core import PbxCore


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _version(core: PbxCore) -> list[str]:
    built = datetime.fromtimestamp(core.started_at, UTC).strftime("%Y-%m-%d %H:%M:%S")
    return [
        f"Asterisk {core.config.asterisk_version} built by switchboard @ simulated-pbx on a x86_64 "
        f"running Linux on {built} UTC"
    ]


def _channels(core: PbxCore) -> list[str]:
    row = "{:<64.64} {:<32.32} {:<7.7} {:<30.30}"
    lines = [row.format("Channel", "Location", "State", "Application(Data)")]
    for channel in core.channels:
        location = f"{channel.exten}@{channel.context}:{channel.priority}"[:39]
        app = f"{channel.app}({channel.app_data})"[:39] if channel.app else "(None)"
        lines.append(row.format(channel.name, location, channel.state_desc, app))
    calls = sum(1 for channel in core.channels if channel.half != 2)
    lines += [
        _plural(len(core.channels), "active channel"),
        _plural(calls, "active call"),
        _plural(core.processed_calls, "call") + " processed",
    ]
    return lines


def _uptime(core: PbxCore) -> list[str]:
    seconds = int(core.clock.now() - core.started_at)
    return [f"System uptime: {_plural(seconds, 'second')}", f"Last reload: {_plural(seconds, 'second')}"]


COMMANDS = {
    "core show version": _version,
    "core show channels": _channels,
    "core show uptime": _uptime,
}


def run_cli(core: PbxCore, command: str) -> tuple[bool, list[str]]:
    """(succeeded, output lines) for one CLI command line."""
    normalized = " ".join(command.split()).lower()
    handler = COMMANDS.get(normalized)
    if handler is None:
        hint = f"(type 'core show help {command}' for other possible commands)"
        return False, [f"No such command '{command}' {hint}"]
    return True, handler(core)
