"""Agent histories in Redis, written incrementally: a LIST per agent beside its status record.

Owned here: what one write of an agent's status does to its history list. The
status JSON no longer carries the history (it grew to 54 KB and was rewritten
on every change); the list gets the new entries (RPUSH) and is trimmed to the
length of the pruned history in memory (LTRIM), so a change costs a few dozen
bytes and the list never outgrows the occupancy window.
Rules it keeps:
- Memory is the model; the list mirrors it. The writer remembers the last entry
  it knows to be stored per agent; if that entry is no longer in the history
  (pruned away, or unknown after a restart), the list is written whole once.
- `written` is called only after Redis confirmed the write; a failed write leaves
  the old tail, so the next write repeats what may be missing (or the store's
  whole rewrite after an outage resets every list).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from routing.acd.store_records import dump_change
from routing.agent_events import AgentState
from routing.agents import AgentStatus, History

Entry = tuple[float, AgentState]


@dataclass(frozen=True, slots=True)
class HistoryWrite:
    """What to do to one agent's list: DEL it first (`reset`), RPUSH `entries`, keep the last `keep`."""

    reset: bool
    entries: tuple[str, ...]
    keep: int

    def args(self) -> list[str]:
        """For the Lua scripts: reset flag, keep, entry count, entries (counted, so a fenced script
        may append its own arguments after them)."""
        return ["1" if self.reset else "0", str(self.keep), str(len(self.entries)), *self.entries]


# The Lua half of a HistoryWrite: ARGV from `first` on are HistoryWrite.args(); `key` is the list.
# RPUSH answers the list's length: no LTRIM when the list is not longer than it should be.
LUA_PUSH_HISTORY = """
local function push_history(key, first)
  if ARGV[first] == '1' then redis.call('DEL', key) end
  local keep, count, length = tonumber(ARGV[first + 1]), tonumber(ARGV[first + 2]), -1
  if count > 0 then length = redis.call('RPUSH', key, unpack(ARGV, first + 3, first + 2 + count)) end
  if keep == 0 then redis.call('DEL', key)
  elseif length < 0 or length > keep then redis.call('LTRIM', key, -keep, -1) end
end
"""


class HistoryWriter:
    def __init__(self) -> None:
        self._tails: dict[str, Entry | None] = {}

    def plan(self, status: AgentStatus) -> HistoryWrite:
        history = status.history
        tail = self._tails.get(status.agent_id)
        start = _after(history, tail)
        if start is None:
            return HistoryWrite(True, tuple(dump_change(c) for c in history), len(history))
        return HistoryWrite(False, tuple(dump_change(c) for c in history[start:]), len(history))

    def queue(self, pipe: Any, key: str, write: HistoryWrite) -> None:
        """Add `write` to a redis-py pipeline."""
        if write.reset or write.keep == 0:
            pipe.delete(key)
        if write.entries:
            pipe.rpush(key, *write.entries)
        if write.keep and not write.reset:
            pipe.ltrim(key, -write.keep, -1)

    def written(self, status: AgentStatus) -> None:
        """Redis now holds `status.history`."""
        self._tails[status.agent_id] = status.history[-1] if status.history else None

    def forget(self, agent_id: str) -> None:
        """The next write of this agent's history writes it whole."""
        self._tails.pop(agent_id, None)

    def loaded(self, agent_id: str, history: History, *, from_list: bool) -> None:
        """What `load` found; a history from an old status record (not the list) is written whole."""
        if from_list and history:
            self._tails[agent_id] = history[-1]
        else:
            self.forget(agent_id)


def _after(history: History, tail: Entry | None) -> int | None:
    """The position just after `tail` in `history` (searched from the end), or None if not there."""
    if tail is None:
        return None if history else 0
    for position in range(len(history) - 1, -1, -1):
        if history[position] == tail:
            return position + 1
    return None
