"""The Lua of the ACD store (routing/acd/store.py): taking an agent for a call is one compare-and-set.

`RESERVE` and `HOLD` run fenced (core.lease.FencedScript: only while this engine's lease token is the
current one) and append the agent's history in the same step (routing/acd/history.py); `ARRIVAL`
reads what a call needs before routing in one round trip. Every key comes through KEYS, from AcdKeys.
"""

from __future__ import annotations

from routing.acd.history import LUA_PUSH_HISTORY

# KEYS: agent status, queue zset, call record, calls set, timers hash, agent history list
# ARGV: call id, new status, call record, timer field, timer value, held ('1': the agent must be
# held for this call, else ready), hold timer field (deleted when held), arrived ('1': the call
# has just arrived and was never stored waiting, so it is admitted and offered in this one write,
# without the queue check), then HistoryWrite.args()
RESERVE = (
    LUA_PUSH_HISTORY
    + """
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local ok, status = pcall(cjson.decode, raw)
if not ok then return 0 end
if ARGV[6] == '1' then
  if status['state'] ~= 'reserved' or status['call_id'] ~= ARGV[1] then return 0 end
elseif status['state'] ~= 'ready' then return 0 end
local arrived = ARGV[8] == '1'
if not arrived and not redis.call('ZSCORE', KEYS[2], ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('SET', KEYS[3], ARGV[3])
redis.call('SADD', KEYS[4], ARGV[1])
if not arrived then redis.call('ZREM', KEYS[2], ARGV[1]) end
redis.call('HSET', KEYS[5], ARGV[4], ARGV[5])
if ARGV[6] == '1' then redis.call('HDEL', KEYS[5], ARGV[7]) end
push_history(KEYS[6], 9)
return 1
"""
)

# KEYS: the caller's CRM record hash (the case counter again when there is no number), case counter.
# ARGV: '1' when there is a number. What a call needs before routing, in one round trip.
ARRIVAL = """
local record = {}
if ARGV[1] == '1' then record = redis.call('HGETALL', KEYS[1]) end
return {record, redis.call('INCR', KEYS[2])}
"""


# KEYS: agent status, timers hash, agent history list.
# ARGV: new status, timer field, timer value, then HistoryWrite.args().
HOLD = (
    LUA_PUSH_HISTORY
    + """
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local ok, status = pcall(cjson.decode, raw)
if not ok or status['state'] ~= 'ready' then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
push_history(KEYS[3], 4)
return 1
"""
)
