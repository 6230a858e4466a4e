"""The Lua scripts of the lead store: every multi-key change of a lead is one atomic script.

Why Lua: a lead is "claimed" by removing it from its campaign's ready ZSET and marking its HASH in
one step, so no two engines (or tasks) sharing a Redis can ever get the same lead. Every script
takes ARGV[1] = key prefix (its place kept; the scripts read it from KEYS), ARGV[2] = now (epoch ms,
from the caller's clock), ARGV[3] = now (ISO 8601), then its own arguments. Its KEYS are its own keys
(the audit stream first when it writes one), then LeadKeys.script_tail: the fixed keys LIB reads, last
LeadKeys.prefix (with its `{dial}` hash tag). Only the keys of the leads a script discovers as it runs
(and of the campaign or customer such a lead names) are built from that prefix, exactly as LeadKeys
builds them, so on a Redis Cluster they are in the slot the script was sent to.

Lead statuses: new (no campaign) -> queued (in `ready` or, until its next attempt, in `retry`)
-> claimed (by an engine, leased) -> dialing -> queued again / done / closed; excluded (the
customer is on the Robinson list: never queued or claimed again); held (a disposition asked a
supervisor to review a Robinson-list request: neither dialed nor closed until the decision; an
approval excludes it, a rejection queues it again).
Ready rank = (99 - priority) * 1e13 + insertion sequence: higher priority first, then older.
"""

from __future__ import annotations

from dialer.audit import AUDIT_LUA
from dialer.leads.transition_scripts import TRANSITIONS

LIB = """
local NOW, ISO, LIB_KEYS = tonumber(ARGV[2]), ARGV[3], 6
local SEQ, CUSTOMER_IDS, CLAIMED, OFFERS, EXCLUDED, P = unpack(KEYS, #KEYS - LIB_KEYS + 1, #KEYS)
local function lkey(id) return P .. 'lead:' .. id end
local function ready(c) return P .. 'leads:ready:' .. c end
local function retry(c) return P .. 'leads:retry:' .. c end
local function set(v) return v and v ~= '' end
local function is_excluded(customer)
  return set(customer) and redis.call('HEXISTS', EXCLUDED, customer) == 1
end
local function unqueue(id, campaign)
  if set(campaign) then
    redis.call('ZREM', ready(campaign), id)
    redis.call('ZREM', retry(campaign), id)
  end
end
local function drop_offer(key, id)
  local advisor = redis.call('HGET', key, 'offered_to')
  if set(advisor) then
    local okey = P .. 'leads:offer:' .. advisor
    if redis.call('GET', okey) == id then redis.call('DEL', okey) end
  end
  redis.call('ZREM', OFFERS, id)
  redis.call('HDEL', key, 'offered_to', 'offer_expires')
end
local function unhold(key, id)
  redis.call('ZREM', CLAIMED, id)
  drop_offer(key, id)
  redis.call('HDEL', key, 'claimed_by', 'claimed_at')
end
local function enqueue(key, id, campaign)
  if not set(campaign) then
    redis.call('HSET', key, 'status', 'new', 'updated_at', ISO)
    return 'new'
  end
  local f = redis.call('HMGET', key, 'rank', 'next_attempt_ms')
  local due = tonumber(f[2] or '0') or 0
  if due > NOW then
    redis.call('ZADD', retry(campaign), due, id)
  else
    redis.call('ZADD', ready(campaign), f[1], id)
  end
  redis.call('HSET', key, 'status', 'queued', 'updated_at', ISO)
  return 'queued'
end
local function exclude(key, id, campaign, request)
  unqueue(id, campaign)
  unhold(key, id)
  redis.call('HSET', key, 'status', 'excluded', 'excluded_by', request, 'updated_at', ISO)
end
"""

# ARGV[4] reopen ('1'/'0'), ARGV[5] JSON list of {id, customer_id, campaign_id, priority, digest, fields}
UPSERT = (
    LIB
    + """
local REOPEN = ARGV[4] == '1'
local function finished(status) return status == 'done' or status == 'closed' end
local function upsert(item)
  local id, key = item.id, lkey(item.id)
  local old = redis.call('HMGET', key, 'status', 'campaign_id', 'customer_id', 'digest', 'seq')
  local status, ocamp, ocust, seq = old[1], old[2] or '', old[3] or '', old[5]
  local result = 'updated'
  if not status then
    seq = redis.call('INCR', SEQ)
    redis.call('HSET', key, 'lead_id', id, 'seq', seq, 'attempts', 0, 'created_at', ISO, 'status', 'new')
    status, result = 'new', 'created'
  elseif old[4] == item.digest and not (REOPEN and finished(status)) then
    return {id, 'unchanged', status}
  end
  local rank = string.format('%.0f', (99 - item.priority) * 1e13 + tonumber(seq))
  local fields = {'digest', item.digest, 'rank', rank, 'customer_id', item.customer_id,
                  'campaign_id', item.campaign_id, 'priority', item.priority, 'updated_at', ISO}
  for k, v in pairs(item.fields) do fields[#fields + 1] = k; fields[#fields + 1] = v end
  redis.call('HSET', key, unpack(fields))
  if ocust ~= item.customer_id then
    if ocust ~= '' then redis.call('SREM', P .. 'leads:customer:' .. ocust, id) end
    redis.call('SADD', P .. 'leads:customer:' .. item.customer_id, id)
    redis.call('HSET', CUSTOMER_IDS, string.lower(item.customer_id), item.customer_id)
  end
  if status == 'excluded' or is_excluded(item.customer_id) then
    unqueue(id, ocamp)
    local by = redis.call('HGET', EXCLUDED, item.customer_id) or redis.call('HGET', key, 'excluded_by') or ''
    exclude(key, id, item.campaign_id, by)
    return {id, result, 'excluded'}
  end
  if status == 'new' or status == 'queued' or (REOPEN and finished(status)) then
    if finished(status) then
      redis.call('HSET', key, 'attempts', 0)
      redis.call('HDEL', key, 'next_attempt_ms', 'closed_reason', 'closed_at')
    end
    unqueue(id, ocamp)
    status = enqueue(key, id, item.campaign_id)
  end
  return {id, result, status}
end
local out = {}
for _, item in ipairs(cjson.decode(ARGV[5])) do out[#out + 1] = upsert(item) end
return out
"""
)

# KEYS[1] the campaign's ready ZSET, KEYS[2] its retry ZSET. ARGV[4] campaign, ARGV[5] owner,
# ARGV[6] lease ms, ARGV[7] how many, ARGV[8] scan limit
# Returns {claimed ids, 1 if the scan limit stopped it early else 0, each claimed lead's hash as it is
# now (a flat list, as HGETALL gives it): the caller needs no read of its own}.
CLAIM = (
    LIB
    + """
local campaign, owner = ARGV[4], ARGV[5]
local lease, want, limit = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local rq, tq = KEYS[1], KEYS[2]
for _, id in ipairs(redis.call('ZRANGEBYSCORE', tq, '-inf', NOW, 'LIMIT', 0, 1000)) do
  redis.call('ZREM', tq, id)
  local rank = redis.call('HGET', lkey(id), 'rank')
  if rank then redis.call('ZADD', rq, rank, id) end
end
local got, rows, scanned = {}, {}, 0
while #got < want do
  if scanned >= limit then return {got, 1, rows} end
  local top = redis.call('ZPOPMIN', rq)  -- the best ready lead, taken off the queue
  if #top == 0 then break end
  local id = top[1]
  local key = lkey(id)
  scanned = scanned + 1
  local h, raw = {}, redis.call('HGETALL', key)
  for i = 1, #raw, 2 do h[raw[i]] = raw[i + 1] end
  if h.status == 'queued' and h.campaign_id == campaign then
    if is_excluded(h.customer_id) then
      exclude(key, id, campaign, redis.call('HGET', EXCLUDED, h.customer_id))
    else
      redis.call('HSET', key, 'status', 'claimed', 'claimed_by', owner, 'claimed_at', ISO, 'updated_at', ISO)
      redis.call('ZADD', CLAIMED, NOW + lease, id)
      h.status, h.claimed_by, h.claimed_at, h.updated_at = 'claimed', owner, ISO, ISO
      local row = {}
      for name, value in pairs(h) do row[#row + 1] = name; row[#row + 1] = value end
      got[#got + 1], rows[#rows + 1] = id, row
    end
  end
end
return {got, 0, rows}
"""
)


# ARGV[4] lead id, ARGV[5] owner ('' = whoever holds it), ARGV[6] next attempt ms ('' = none)
RELEASE = AUDIT_LUA + LIB + TRANSITIONS + "return release_lead(ARGV[4], ARGV[5], ARGV[6])"

# ARGV[4] lead id, ARGV[5] owner
MARK_DIALING = AUDIT_LUA + LIB + TRANSITIONS + "return mark_dialing(ARGV[4], ARGV[5])"

# KEYS[1] audit stream. ARGV[4] lead id, ARGV[5] owner ('' = any holder or none), ARGV[6] done|closed,
# ARGV[7] reason, ARGV[8] actor, ARGV[9] audit maxlen
FINISH = (
    AUDIT_LUA
    + LIB
    + TRANSITIONS
    + "return finish_lead(KEYS[1], ARGV[9], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8])"
)

# Held leads (seed 000: nothing about the Robinson list is decided without a supervisor).
# release_held(stream, maxlen, customer, request, actor): the customer's leads held for `request` go
# back to distribution (a rejection); returns their ids.
HELD = """
local function release_held(stream, maxlen, customer, request, actor)
  local out = {}
  for _, id in ipairs(redis.call('SMEMBERS', P .. 'leads:customer:' .. customer)) do
    local key = lkey(id)
    local f = redis.call('HMGET', key, 'status', 'held_for', 'campaign_id')
    if f[1] == 'held' and f[2] == request then
      redis.call('HDEL', key, 'held_for', 'held_reason', 'held_at')
      local status = enqueue(key, id, f[3])
      audit(stream, maxlen, {'action', 'released', 'lead', id, 'request', request, 'status', status,
                             'actor', actor, 'at', ISO})
      out[#out + 1] = id
    end
  end
  return out
end
local function attach_held(customer, request)
  for _, id in ipairs(redis.call('SMEMBERS', P .. 'leads:customer:' .. customer)) do
    local key = lkey(id)
    local f = redis.call('HMGET', key, 'status', 'held_for')
    if f[1] == 'held' and not set(f[2]) then redis.call('HSET', key, 'held_for', request) end
  end
end
"""

# KEYS[1] audit stream. ARGV[4] lead id, ARGV[5] request id ('' = a request still to be filed by hand),
# ARGV[6] reason, ARGV[7] actor, ARGV[8] audit maxlen. {1, 'held'} or {0, the status that refused it}.
HOLD = (
    AUDIT_LUA
    + LIB
    + """
local id, key = ARGV[4], lkey(ARGV[4])
local f = redis.call('HMGET', key, 'status', 'campaign_id', 'customer_id')
if not f[1] or f[1] == 'excluded' or f[1] == 'closed' then return {0, f[1] or 'missing'} end
if is_excluded(f[3]) then
  exclude(key, id, f[2], redis.call('HGET', EXCLUDED, f[3]))
  return {0, 'excluded'}
end
unqueue(id, f[2])
unhold(key, id)
redis.call('HSET', key, 'status', 'held', 'held_for', ARGV[5], 'held_reason', ARGV[6], 'held_at', ISO,
           'updated_at', ISO)
audit(KEYS[1], ARGV[8], {'action', 'held', 'lead', id, 'request', ARGV[5], 'reason', ARGV[6],
                         'actor', ARGV[7], 'previous', f[1], 'at', ISO})
return {1, 'held'}
"""
)

# ARGV[4] lead id, ARGV[5] next attempt ms
SCHEDULE = (
    LIB
    + """
local id, key = ARGV[4], lkey(ARGV[4])
local f = redis.call('HMGET', key, 'status', 'campaign_id')
if not f[1] or f[1] == 'closed' or f[1] == 'excluded' then return {0, f[1] or 'missing'} end
redis.call('HSET', key, 'next_attempt_ms', ARGV[5], 'updated_at', ISO)
if f[1] == 'queued' or f[1] == 'done' or f[1] == 'new' then
  unqueue(id, f[2])
  return {1, enqueue(key, id, f[2])}
end
return {1, f[1]}
"""
)

# Returns the ids whose claim lease ran out before NOW, put back in their queues.
REQUEUE_EXPIRED = (
    LIB
    + """
local out = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', CLAIMED, '-inf', NOW, 'LIMIT', 0, 1000)) do
  local key = lkey(id)
  local f = redis.call('HMGET', key, 'status', 'campaign_id', 'customer_id')
  unhold(key, id)
  if f[1] == 'claimed' or f[1] == 'dialing' then
    if is_excluded(f[3]) then exclude(key, id, f[2], redis.call('HGET', EXCLUDED, f[3]))
    else enqueue(key, id, f[2]) end
    out[#out + 1] = id
  end
end
return out
"""
)

# KEYS[1] the advisor's offer key. ARGV[4] lead id, ARGV[5] owner, ARGV[6] advisor, ARGV[7] timeout ms
OFFER = (
    LIB
    + """
local id, key, advisor = ARGV[4], lkey(ARGV[4]), ARGV[6]
local f = redis.call('HMGET', key, 'status', 'claimed_by', 'offered_to', 'offer_expires')
if f[1] ~= 'claimed' or f[2] ~= ARGV[5] then return {0, 'not-claimed'} end
if set(f[3]) and (tonumber(f[4]) or 0) > NOW then return {0, 'already-offered'} end
local okey = KEYS[1]
local current = redis.call('GET', okey)
if current and current ~= id then
  local o = redis.call('HMGET', lkey(current), 'offered_to', 'offer_expires')
  if o[1] == advisor and (tonumber(o[2]) or 0) > NOW then return {0, 'advisor-busy'} end
end
drop_offer(key, id)
local expires = NOW + tonumber(ARGV[7])
redis.call('HSET', key, 'offered_to', advisor, 'offer_expires', expires, 'offer_state', 'offered',
           'updated_at', ISO)
redis.call('SET', okey, id)
redis.call('ZADD', OFFERS, expires, id)
return {1, 'offered'}
"""
)

# ARGV[4] lead id, ARGV[5] advisor, ARGV[6] accepted|declined
ANSWER_OFFER = (
    LIB
    + """
local id, key = ARGV[4], lkey(ARGV[4])
local f = redis.call('HMGET', key, 'offered_to', 'offer_expires')
if f[1] ~= ARGV[5] then return {0, 'not-offered'} end
if (tonumber(f[2]) or 0) <= NOW then return {0, 'expired'} end
drop_offer(key, id)
redis.call('HSET', key, 'offer_state', ARGV[6], 'offer_answered_by', ARGV[5], 'updated_at', ISO)
return {1, ARGV[6]}
"""
)

# Returns the ids whose preview offer timed out before NOW (the leads stay claimed by their owner).
EXPIRE_OFFERS = (
    LIB
    + """
local out = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', OFFERS, '-inf', NOW, 'LIMIT', 0, 1000)) do
  local key = lkey(id)
  drop_offer(key, id)
  redis.call('HSET', key, 'offer_state', 'expired', 'updated_at', ISO)
  out[#out + 1] = id
end
return out
"""
)

# Lua fragment for dialer/leads/robinson.py: take a customer out of lead distribution.
# exclude_customer(customer, request) -> the `phones` JSON of each of the customer's leads.
EXCLUDE_CUSTOMER = """
local function exclude_customer(customer, request)
  redis.call('HSET', EXCLUDED, customer, request)
  local phones = {}
  for _, id in ipairs(redis.call('SMEMBERS', P .. 'leads:customer:' .. customer)) do
    local key = lkey(id)
    local f = redis.call('HMGET', key, 'status', 'campaign_id', 'phones')
    if f[1] and f[1] ~= 'excluded' then exclude(key, id, f[2], request) end
    if f[3] then phones[#phones + 1] = f[3] end
  end
  return phones
end
"""
