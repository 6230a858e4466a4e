"""The Lua of the ACD store (routing/acd/store.py): taking an agent for a call is one compare-and-set.

`RESERVE` and `HOLD` run fenced (core.lease.FencedScript: only while this engine's lease token is the
current one) and append the agent's history in the same step (routing/acd/history.py); `ARRIVAL`
reads what a call needs before routing in one round trip; `ARRIVE_OFFER` (routing/acd/store_arrival.py)
reads it and stores the call with its agent's reservation, fenced, in the same round trip. Every key
comes through KEYS, from AcdKeys.
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


# An arriving caller offered at once, in one round trip (routing/acd/store_arrival.py): the CRM
# record read, the CRM rules evaluated, the case numbered, and the offer of the tier the record
# gives stored with its agent's reservation (a compare-and-set, fenced when ARGV[2] is '1').
# KEYS: CRM record hash (the case counter again when there is no number), case counter, call record,
# calls set, timers hash, then per alternative its agent's status and history list; the lease last
# when fenced.
# ARGV: 1 '1' when there is a number, 2 '1' when fenced (the holder's value last), 3 the case id's
# prefix, 4 call id, 5 the alternative without a CRM match (0: none), 6 its matched rule, 7 its
# evidence's priority ('': none, any CRM match wins), 8 the CRM rule count, then per rule: field,
# priority, alternative (0: none), matched rule, value count, values (casefolded); then the
# alternative count and where each one's arguments start; an alternative's arguments: agent status,
# ring timer field, timer value, the three holes' names of the call record (case, matched, crm, in
# their order), its four parts around them, then HistoryWrite.args().
# Returns {record, case counter, the alternative written (0: none), matched rule, outcome}: outcome
# 'offered', 'waits' (no alternative for that tier), 'unicode' (a rule's field holds a non-ASCII
# value: Lua's lower() is not Python's casefold), 'taken' (the agent is not ready) or 'refused'.
ARRIVE_OFFER = (
    LUA_PUSH_HISTORY
    + """
local record = {}
if ARGV[1] == '1' then record = redis.call('HGETALL', KEYS[1]) end
-- The case is numbered once the answer is known, after the fence's check when there is one:
-- nothing is written before it. Every answer has a case id, a refused one too: the caller is kept
-- in memory (ahead of Redis, written back once this engine owns again) and needs its case; the
-- counter is not owner state (store.py), a stale owner's number is only a gap.
local function answer(alt, matched, outcome)
  return {record, redis.call('INCR', KEYS[2]), alt, matched, outcome}
end
local fields = {}
for i = 1, #record, 2 do fields[record[i]] = record[i + 1] end
local alt, matched, best = tonumber(ARGV[5]), ARGV[6], tonumber(ARGV[7])
local at = 9
for _ = 1, tonumber(ARGV[8]) do
  local value, priority, count = fields[ARGV[at]], tonumber(ARGV[at + 1]), tonumber(ARGV[at + 4])
  if value and string.find(value, '[\\128-\\255]') then return answer(0, '', 'unicode') end
  if value and (best == nil or priority > best) then
    local lowered = string.lower(value)
    for v = at + 5, at + 4 + count do
      if ARGV[v] == lowered then
        alt, matched, best = tonumber(ARGV[at + 2]), ARGV[at + 3], priority
        break
      end
    end
  end
  at = at + 5 + count
end
if alt == 0 then return answer(0, matched, 'waits') end
local status_key, history_key = KEYS[4 + 2 * alt], KEYS[5 + 2 * alt]
local raw
if ARGV[2] == '1' then
  local got = redis.call('MGET', KEYS[#KEYS], status_key)  -- the fence and the agent in one read
  if got[1] ~= ARGV[#ARGV] then return answer(0, matched, 'refused') end
  raw = got[2]
else
  raw = redis.call('GET', status_key)
end
local ok, status = pcall(cjson.decode, raw or '')
if not ok or status['state'] ~= 'ready' then return answer(0, matched, 'taken') end
local case = redis.call('INCR', KEYS[2])
local s = tonumber(ARGV[at + alt])
local fill = {
  case = cjson.encode(ARGV[3] .. string.format('%06d', case)),
  matched = cjson.encode(matched),
  crm = cjson.encode(fields),
}
local call = ARGV[s + 6] .. fill[ARGV[s + 3]] .. ARGV[s + 7] .. fill[ARGV[s + 4]] .. ARGV[s + 8]
  .. fill[ARGV[s + 5]] .. ARGV[s + 9]
redis.call('MSET', status_key, ARGV[s], KEYS[3], call)
redis.call('SADD', KEYS[4], ARGV[4])
redis.call('HSET', KEYS[5], ARGV[s + 1], ARGV[s + 2])
push_history(history_key, s + 10)
return {record, case, alt, matched, 'offered'}
"""
)
