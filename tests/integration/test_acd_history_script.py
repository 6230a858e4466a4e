"""The agent history's Lua half (routing/acd/history.py), as the reservation and hold scripts run it."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from routing.acd.history import LUA_PUSH_HISTORY, HistoryWrite

pytestmark = pytest.mark.integration
KEY = "test:history"


async def push(redis_client: aioredis.Redis, write: HistoryWrite) -> list[bytes]:
    script = redis_client.register_script(LUA_PUSH_HISTORY + "push_history(KEYS[1], 1)\nreturn 1")
    await script(keys=[KEY], args=list(write.args()))
    return list(await redis_client.lrange(KEY, 0, -1))


async def test_the_list_keeps_the_last_entries_whether_or_not_it_outgrew_the_window(
    redis_client: aioredis.Redis,
) -> None:
    assert await push(redis_client, HistoryWrite(True, ("1 ready", "2 busy", "3 ready"), 3)) == [
        b"1 ready", b"2 busy", b"3 ready",
    ]  # fmt: skip
    # appended within the window: nothing trimmed
    assert await push(redis_client, HistoryWrite(False, ("4 busy",), 4)) == [
        b"1 ready", b"2 busy", b"3 ready", b"4 busy",
    ]  # fmt: skip
    # the window dropped the two oldest: trimmed to the last `keep`
    trimmed = await push(redis_client, HistoryWrite(False, ("5 ready",), 3))
    assert trimmed == [b"3 ready", b"4 busy", b"5 ready"]
    # nothing new, a smaller window: still trimmed
    assert await push(redis_client, HistoryWrite(False, (), 1)) == [b"5 ready"]
    # an empty window: the list is gone
    assert await push(redis_client, HistoryWrite(False, (), 0)) == []
