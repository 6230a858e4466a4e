"""The Lua scripts of dial intents (dialer/calls/intents.py): each step of a placed call's record is one
atomic script, so a crash or a cut between two writes can never leave half of it.

Common ARGV: [1] key prefix (its place kept), [2] now (epoch ms), [3] now (ISO 8601), as the lead
scripts take them. Every key comes through KEYS, in this order: [1] the call's hash `dial:call:{id}`,
[2] the open intents ZSET, [3] the campaign's stats HASH, [4] the dial-attempts audit stream, [5] the
number's dial lock, [6] the leads' audit stream, [7..] the attempt ZSETs (the number's, then the
lead's), last the lead LIB's keys (LeadKeys.script_tail, ending with the prefix the lead transitions
build the lead's own keys from; all in the `{dial}` slot).
"""

from __future__ import annotations

from dialer.audit import AUDIT_LUA
from dialer.leads.scripts import LIB
from dialer.leads.transition_scripts import TRANSITIONS

_KEYS = """
local CALL, INTENTS, STATS, TRAIL, LOCK, LEAD_TRAIL = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local FIRST_ATTEMPTS, LAST_ATTEMPTS = 7, #KEYS - LIB_KEYS
-- the lead's `dial:lead` ZSET was written: its hash (if it exists) says so, and the caps read it
local function zset_written(lead)
  local key = lkey(lead)
  if redis.call('EXISTS', key) == 1 then redis.call('HSET', key, 'dial_zset', '1') end
end
"""

# ARGV[4] call id, [5] pending member, [6] retention cutoff ms, [7] keep ms, [8] stats field (dials),
# [9] lead id ('' none), [10] lead holder ('' = the lead is not marked), [11] lock token,
# [12] lock hold ms, [13] audit maxlen, [14] JSON flat list of the intent's fields, [15] JSON flat
# list of the audit record, [16] which attempt ZSETs hold entries past the retention, one character
# per ZSET in KEYS order ('0': none, as the caps' read of it just saw; anything else or missing:
# trim it). Returns {1, 'open'}, or {0, why} with nothing written: 'exists' (the call id), 'lock-lost'
# (the number's lock [11] is no longer this token: it ran out, and may be another dialer's now), or
# the lead's refusal (no longer held by [10]). No token ('') means no lock is checked or held.
# The attempt's score goes into the intent (`attempt_ms`), so SETTLE finds its pending entry at once;
# a held lead's attempt goes into the lead's hash, and the intent's `lead_log` ('1') says so.
OPEN = (
    AUDIT_LUA
    + LIB
    + TRANSITIONS
    + _KEYS
    + """
if redis.call('EXISTS', CALL) == 1 then return {0, 'exists'} end
-- the number's lock must still be ours, checked before anything is written: if it ran out, another
-- dialer may have read the caps without this attempt and dial the number too (theirs is left as is)
if ARGV[11] ~= '' and redis.call('GET', LOCK) ~= ARGV[11] then return {0, 'lock-lost'} end
local lead, holder, last, logged = ARGV[9], ARGV[10], LAST_ATTEMPTS, '0'
if lead ~= '' and holder ~= '' then
  -- a lead its holder dials keeps the attempt in its own hash (attempt_log), written with the lead's
  -- status: its `dial:lead` ZSET (the last attempt key) is only trimmed, as the caps' read asks
  local log = {add = ARGV[5], score = ARGV[2], cutoff = tonumber(ARGV[6])}
  local marked = mark_dialing(lead, holder, log)
  if marked[1] == 0 then return marked end
  last, logged = LAST_ATTEMPTS - 1, '1'
end
local stale = ARGV[16] or ''
for i = FIRST_ATTEMPTS, LAST_ATTEMPTS do
  local at = i - FIRST_ATTEMPTS + 1
  if i <= last then redis.call('ZADD', KEYS[i], NOW, ARGV[5]) end
  if string.sub(stale, at, at) ~= '0' then redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', ARGV[6]) end
  if i <= last then redis.call('PEXPIRE', KEYS[i], ARGV[7]) end
end
if lead ~= '' and last == LAST_ATTEMPTS then zset_written(lead) end  -- not held (a callback)
redis.call('HINCRBY', STATS, ARGV[8], 1)
redis.call('HSET', CALL, 'attempt_ms', ARGV[2], 'lead_log', logged, unpack(cjson.decode(ARGV[14])))
redis.call('ZADD', INTENTS, NOW, ARGV[4])
if ARGV[11] ~= '' then redis.call('PEXPIRE', LOCK, ARGV[12]) end  -- ours, held for the call
audit(TRAIL, ARGV[13], cjson.decode(ARGV[15]))
return {1, 'open'}
"""
)

# The Originate never left (or Asterisk refused it): undo OPEN. ARGV[4] call id, [5] pending member,
# [6] stats field (dials), [7] lead id, [8] holder, [9] audit maxlen, [10] JSON audit record.
# Returns 1, or 0 when there was no open intent.
CANCEL = (
    AUDIT_LUA
    + LIB
    + TRANSITIONS
    + _KEYS
    + """
local call = redis.call('HMGET', CALL, 'state', 'settled', 'lead_log')
if call[1] ~= 'open' or call[2] then return 0 end
local last = LAST_ATTEMPTS
if call[3] == '1' then last = LAST_ATTEMPTS - 1 end  -- the lead's attempt is in its hash (OPEN)
for i = FIRST_ATTEMPTS, last do redis.call('ZREM', KEYS[i], ARGV[5]) end
redis.call('HINCRBY', STATS, ARGV[6], -1)
local lead, holder = ARGV[7], ARGV[8]
if lead ~= '' then
  local key = lkey(lead)
  local f = redis.call('HMGET', key, 'status', 'claimed_by', 'dial_attempts')
  local fields = {}
  if call[3] == '1' and f[1] then
    fields = {'dial_attempts', attempt_log(f[3], {drop = ARGV[5], cutoff = 0})}
  end
  if holder ~= '' and f[1] == 'dialing' and f[2] == holder then
    fields[#fields + 1], fields[#fields + 2] = 'status', 'claimed'
    fields[#fields + 1], fields[#fields + 2] = 'updated_at', ISO
    redis.call('HINCRBY', key, 'attempts', -1)
  end
  if #fields > 0 then redis.call('HSET', key, unpack(fields)) end
end
redis.call('DEL', CALL)
redis.call('ZREM', INTENTS, ARGV[4])
audit(TRAIL, ARGV[9], cjson.decode(ARGV[10]))
return 1
"""
)

# The call's one settlement. ARGV[4] call id, [5] settled member, [6] score if the attempt is
# missing, [7] retention cutoff ms, [8] result, [9] JSON flat list of stats fields and amounts,
# [10] lock token ('' none), [11] lead id ('' = no lead step), [12] holder, [13] lead step
# (release | done | closed), [14] next attempt ms, [15] reason, [16] actor, [17] audit maxlen,
# [18] JSON audit record, [19] how long the settled record is kept (ms), [20] the pending member,
# [21] the attempts' retention (ms: an attempt ZSET it writes expires that long after), [22] the
# settling engine (kept as `settled_by`).
# Returns {1, the lead's status after (or '')} when settled now, {0, result, the engine that settled
# it} if settled before.
# The pending entry OPEN wrote is replaced where the intent says it is (`attempt_ms`); an intent
# without it (written before it was recorded), or an entry not found there, is looked for by call id
# (and the ZSET trimmed then, as before; OPEN trims it otherwise). An intent marked `lead_log` has
# the lead's entry in the lead's hash: settled there with the lead's step, or apart if that was
# refused (another holder now); an intent an older version wrote settles in the lead's ZSET.
SETTLE = (
    AUDIT_LUA
    + LIB
    + TRANSITIONS
    + _KEYS
    + """
local call = redis.call('HMGET', CALL, 'settled', 'attempt_ms', 'lead_log', 'lead', 'settled_by')
if call[1] then return {0, call[1], call[5] or ''} end
local prefix = ARGV[4] .. '|'
local last, log = LAST_ATTEMPTS, nil
if call[3] == '1' then  -- the lead's attempt is in its hash (OPEN): settled there
  last = LAST_ATTEMPTS - 1
  log = {drop = ARGV[20], add = ARGV[5], score = call[2], fallback = ARGV[6], cutoff = tonumber(ARGV[7])}
end
for i = FIRST_ATTEMPTS, last do
  local key, score, found = KEYS[i], ARGV[6], false
  if call[2] and ARGV[20] then
    -- the settled entry goes in before the pending one goes out: the ZSET is never empty, so it
    -- keeps the TTL OPEN gave it (a ZSET emptied is deleted, and the ZADD after would make it anew
    -- without one)
    redis.call('ZADD', key, call[2], ARGV[5])
    found = redis.call('ZREM', key, ARGV[20]) == 1
  end
  if not found then
    local members = redis.call('ZRANGE', key, 0, -1, 'WITHSCORES')
    for j = 1, #members, 2 do
      if string.sub(members[j], 1, #prefix) == prefix and members[j] ~= ARGV[5] then
        score = members[j + 1]
        redis.call('ZREM', key, members[j])
      end
    end
    redis.call('ZADD', key, score, ARGV[5])
    redis.call('ZREMRANGEBYSCORE', key, '-inf', ARGV[7])
    redis.call('PEXPIRE', key, ARGV[21])  -- it may have been emptied, or made anew, here
  end
end
local lead_id = set(call[4]) and call[4] or ARGV[11]
if last == LAST_ATTEMPTS and LAST_ATTEMPTS > FIRST_ATTEMPTS and lead_id ~= '' then zset_written(lead_id) end
local counts = cjson.decode(ARGV[9])
for i = 1, #counts, 2 do redis.call('HINCRBY', STATS, counts[i], counts[i + 1]) end
if ARGV[10] ~= '' and redis.call('GET', LOCK) == ARGV[10] then redis.call('DEL', LOCK) end
local lead, step, after = ARGV[11], ARGV[13], ''
if lead ~= '' and step ~= '' then
  local moved
  if step == 'release' then
    moved = release_lead(lead, ARGV[12], ARGV[14], log)
  else
    moved = finish_lead(LEAD_TRAIL, ARGV[17], lead, ARGV[12], step, ARGV[15], ARGV[16], log)
  end
  after = moved[2]
  if moved[1] == 1 then log = nil end  -- written with the lead's step
end
if log and set(call[4]) then  -- no step, or it was refused (the lead has another holder now)
  local key = lkey(call[4])
  local f = redis.call('HMGET', key, 'status', 'dial_attempts')
  if f[1] then redis.call('HSET', key, 'dial_attempts', attempt_log(f[2], log)) end
end
-- the settled marker goes into the intent's hash, which expires with it (no DEL first: one command
-- fewer per dial for about 200 B more per call of the last `settled_ttl`)
redis.call('HSET', CALL, 'state', 'settled', 'settled', ARGV[8], 'settled_at', ISO, 'lead_after', after,
  'settled_by', ARGV[22])
redis.call('PEXPIRE', CALL, ARGV[19])
redis.call('ZREM', INTENTS, ARGV[4])
audit(TRAIL, ARGV[17], cjson.decode(ARGV[18]))
return {1, after}
"""
)

# KEYS[1] the call's hash; ARGV[1] the moment (epoch ms), ARGV[2] the field: `connected_ms` when the
# customer was bridged, `answered_ms` when they answered, `bridge_ms` when the desk sent a Bridge,
# `bridge_refused_ms` when Asterisk refused one; ARGV[3] 'latest': an earlier moment never replaces
# a later one (a retried mark may land after the next one), ARGV[4] the engine writing it. Only an
# open intent is marked: a settled call (or one whose record expired) is left as it is. Returns 1
# if marked (or already later).
# A 'latest' mark also stores who wrote it (`<field>_by`) and its place in the call's order of
# marks (`<field>_seq`, from `mark_seq`): one engine's moments order its own marks, retried ones
# landing in any order; two engines' clocks may differ, so another engine's mark replaces the
# stored one whatever its moment, and the two fields are compared by their order then.
MARK = """
if redis.call('HGET', KEYS[1], 'state') ~= 'open' or redis.call('HEXISTS', KEYS[1], 'settled') == 1 then
  return 0
end
if ARGV[3] ~= 'latest' then
  redis.call('HSET', KEYS[1], ARGV[2], ARGV[1])
  return 1
end
local base = string.sub(ARGV[2], 1, -4)
local f = redis.call('HMGET', KEYS[1], ARGV[2], base .. '_by')
if (f[2] or '') == (ARGV[4] or '') and tonumber(f[1] or '0') >= tonumber(ARGV[1]) then return 1 end
local seq = redis.call('HINCRBY', KEYS[1], 'mark_seq', 1)
redis.call('HSET', KEYS[1], ARGV[2], ARGV[1], base .. '_by', ARGV[4] or '', base .. '_seq', seq)
return 1
"""
