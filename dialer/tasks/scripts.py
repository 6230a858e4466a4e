"""The Lua scripts of the task store: every change of a task and its indexes is one atomic script.

Why Lua: a task moves between indexes (open, due for dialing, expired, per lead, per owner) and
its state changes in the same step, so two engines sweeping expiry, an advisor closing the task
and the dialer marking it dialed can never leave it half moved or count an expiry twice. Every
script takes KEYS = TaskKeys.script_keys (the prefix with its `{dial}` hash tag, then every fixed key
LIB reads), then its own keys; ARGV[1] = the prefix (its place kept), ARGV[2] = now (epoch ms),
ARGV[3] = now (ISO 8601), ARGV[4] = audit stream MAXLEN ('' = keep all), then its own arguments.
Only the keys of a task and of the lead, owner or campaign it names are built from the prefix, exactly
as dialer.dialer_keys.TaskKeys builds them, so on a Redis Cluster they are all in its slot.
The reminder and digest e-mails are dialer/tasks/reminder_scripts.py, the outbox queues
dialer/tasks/outbox_scripts.py.

States: open -> done (closed before expiry) | expired (the sweep, or closed at/after expiry; each
expiry is counted once, in `tasks:expired-count` by rule kind). Archiving removes a done or expired
task from the lists; an open task cannot be archived.
"""

from __future__ import annotations

from dialer.audit import AUDIT_LUA

LIB = (
    AUDIT_LUA
    + """
local NOW, ISO, MAXLEN, LIB_KEYS = tonumber(ARGV[2]), ARGV[3], ARGV[4], 20
local P, OPEN, OWN, ALL, EXPIRED, ACTIVITY, ARCHIVED, COUNT, AUDIT, SEQ, SOURCES, NOTIFY, OUTBOX, PAYLOAD,
      TRIES, REMIND, MAIL_OUTBOX, MAIL_PAYLOAD, MAIL_TRIES, MAIL_SENT = unpack(KEYS, 1, LIB_KEYS)
local function tkey(id) return P .. 'task:' .. id end
local function dial(c) return P .. 'tasks:dial:' .. c end
local function by_lead(l) return P .. 'tasks:lead:' .. l end
local function by_owner(o) return P .. 'tasks:owner:' .. o end
local function by_campaign(c) return P .. 'tasks:campaign:' .. c end
local function set(v) return v and v ~= '' end
local FIELDS = {'state', 'kind', 'lead_id', 'campaign_id', 'owner', 'callback', 'expires_ms', 'own_ms',
                'own_at', 'own_version', 'archived_ms', 'answered_ms'}
local function load(id)
  local values = redis.call('HMGET', tkey(id), unpack(FIELDS))
  if not values[1] then return nil end
  local t = {id = id}
  for i, name in ipairs(FIELDS) do t[name] = values[i] or '' end
  return t
end
-- an e-mail into the mail outbox under message id `id` (a newer one replaces a pending older one);
-- nothing when its idempotency key was sent already. Returns 1 when queued.
local function queue_mail(id, key, payload)
  if redis.call('ZSCORE', MAIL_SENT, key) then return 0 end
  redis.call('HSET', MAIL_PAYLOAD, id, payload)
  redis.call('HDEL', MAIL_TRIES, id)
  redis.call('ZADD', MAIL_OUTBOX, NOW, id)
  return 1
end
local function unopen(t)
  redis.call('ZREM', OPEN, t.id)
  redis.call('ZREM', OWN, t.id)
  redis.call('ZREM', REMIND, t.id)
  redis.call('HDEL', tkey(t.id), 'remind_ms')
  if set(t.campaign_id) then redis.call('ZREM', dial(t.campaign_id), t.id) end
  if set(t.lead_id) then redis.call('ZREM', by_lead(t.lead_id), t.id) end
end
local function expire(t, actor)
  redis.call('HSET', tkey(t.id), 'state', 'expired', 'expired_ms', t.expires_ms)
  unopen(t)
  redis.call('ZADD', EXPIRED, t.expires_ms, t.id)
  redis.call('HINCRBY', COUNT, t.kind, 1)
  audit(AUDIT, MAXLEN, {'action', 'expired', 'task', t.id, 'kind', t.kind, 'lead', t.lead_id,
                        'owner', t.owner, 'actor', actor, 'at', ISO})
end
"""
)

# ARGV[5] source ref ('' = none), ARGV[6] JSON object of the fields (strings), ARGV[7] dial score ('' = none),
# ARGV[8] reminder due ms ('' = none; the fields carry its offset and anchor)
# ARGV[9] '1': only if the lead has no open task; KEYS[LIB_KEYS + 1] the lead's open tasks (`tasks:lead:`).
# Returns {1, id, the new task's hash as written (a flat list)}, {0, the id the source created before},
# or {2, the lead's open task ids} (ARGV[9] '1', nothing written).
CREATE = (
    LIB
    + """
local f, LEAD_TASKS = cjson.decode(ARGV[6]), KEYS[LIB_KEYS + 1]
if ARGV[9] == '1' then
  local open = redis.call('ZRANGE', LEAD_TASKS, 0, -1)
  if #open > 0 then return {2, open} end
end
local id = 't-' .. redis.call('INCR', SEQ)
-- once per source: the new id takes the source's entry (HSETNX) before anything else is written;
-- a replay finds it taken and gets that task back (the id it drew is left unused)
if set(ARGV[5]) and redis.call('HSETNX', SOURCES, ARGV[5], id) == 0 then
  return {0, redis.call('HGET', SOURCES, ARGV[5])}
end
local args = {'task_id', id, 'state', 'open', 'own_version', '0', 'dials', '0', 'activity_ms', ARGV[2]}
for name, value in pairs(f) do args[#args + 1] = name; args[#args + 1] = value end
if set(ARGV[8]) then args[#args + 1] = 'remind_ms'; args[#args + 1] = ARGV[8] end
redis.call('HSET', tkey(id), unpack(args))
local expires = tonumber(f.expires_ms)
redis.call('ZADD', OPEN, expires, id)
redis.call('ZADD', ALL, expires, id)
redis.call('ZADD', LEAD_TASKS, expires, id)
if set(f.owner) then redis.call('ZADD', by_owner(f.owner), expires, id) end
if set(f.campaign_id) then redis.call('ZADD', by_campaign(f.campaign_id), expires, id) end
if set(ARGV[7]) then redis.call('ZADD', dial(f.campaign_id), tonumber(ARGV[7]), id) end
if set(ARGV[8]) then redis.call('ZADD', REMIND, tonumber(ARGV[8]), id) end
if f.callback == '1' then redis.call('ZADD', ACTIVITY, NOW, id) end
audit(AUDIT, MAXLEN, {'action', 'created', 'task', id, 'kind', f.kind, 'lead', f.lead_id,
                      'owner', f.owner or '', 'source', f.source or '', 'deadline', f.deadline,
                      'actor', f.created_by, 'at', ISO})
return {1, id, args}
"""
)

# ARGV[5] task id, [6] own time ms, [7] own time ISO, [8] actor, [9] notification JSON ('' = none),
# [10] '1' = queue the notification for the webhook, [11] the reminder's new due ms ('' = unchanged),
# [12] the customer's e-mail JSON ('' = none; its key is set here).
# Returns {1, 'set'|'changed'|'unchanged', version} or {0, why}.
SET_OWN = (
    LIB
    + """
local t = load(ARGV[5])
if not t then return {0, 'missing'} end
if t.state ~= 'open' then return {0, t.state} end
local own, expires = tonumber(ARGV[6]), tonumber(t.expires_ms)
if NOW >= expires then return {0, 'expired'} end
if own >= expires then return {0, 'after-deadline'} end
if t.own_ms == ARGV[6] then return {1, 'unchanged', tonumber(t.own_version)} end
local version = redis.call('HINCRBY', tkey(t.id), 'own_version', 1)
redis.call('HSET', tkey(t.id), 'own_ms', ARGV[6], 'own_at', ARGV[7], 'own_set_by', ARGV[8],
           'activity_ms', NOW)
redis.call('ZADD', OWN, own, t.id)
if set(ARGV[11]) then
  redis.call('ZADD', REMIND, tonumber(ARGV[11]), t.id)
  redis.call('HSET', tkey(t.id), 'remind_ms', ARGV[11])
end
if set(ARGV[12]) then
  local m = cjson.decode(ARGV[12])
  m.idempotency_key = 'own:' .. t.id .. ':v' .. version
  queue_mail('own:' .. t.id, m.idempotency_key, cjson.encode(m))
end
if t.callback == '1' then
  if set(t.campaign_id) then redis.call('ZADD', dial(t.campaign_id), own, t.id) end
  redis.call('ZADD', ACTIVITY, NOW, t.id)
end
local change = set(t.own_ms) and 'changed' or 'set'
if set(ARGV[9]) then
  local n = cjson.decode(ARGV[9])
  n.event = 'own-time-' .. change
  n.version = tostring(version)
  n.idempotency_key = t.id .. ':v' .. version
  n.previous = t.own_at
  local fields = {}
  for name, value in pairs(n) do fields[#fields + 1] = name; fields[#fields + 1] = value end
  audit(NOTIFY, MAXLEN, fields)
  if ARGV[10] == '1' then
    redis.call('HSET', PAYLOAD, t.id, cjson.encode(n))
    redis.call('HDEL', TRIES, t.id)
    redis.call('ZADD', OUTBOX, NOW, t.id)
  end
end
audit(AUDIT, MAXLEN, {'action', 'own-time', 'task', t.id, 'own_time', ARGV[7], 'previous', t.own_at,
                      'version', tostring(version), 'actor', ARGV[8], 'at', ISO})
return {1, change, version}
"""
)

# ARGV[5] task id, [6] code, [7] disposition id, [8] actor. Returns {1, 'done'|'expired', kind} or {0, why}.
CLOSE = (
    LIB
    + """
local t = load(ARGV[5])
if not t then return {0, 'missing'} end
if t.state ~= 'open' then return {0, t.state} end
redis.call('HSET', tkey(t.id), 'closed_ms', NOW, 'closed_by', ARGV[8], 'close_code', ARGV[6],
           'disposition_id', ARGV[7], 'activity_ms', NOW)
redis.call('ZREM', ACTIVITY, t.id)
local state = 'done'
local answered = set(t.answered_ms) and tonumber(t.answered_ms) < tonumber(t.expires_ms)
if NOW >= tonumber(t.expires_ms) and not answered then
  expire(t, ARGV[8])
  state = 'expired'
else
  redis.call('HSET', tkey(t.id), 'state', 'done')
  unopen(t)
end
audit(AUDIT, MAXLEN, {'action', 'closed', 'task', t.id, 'state', state, 'code', ARGV[6],
                      'disposition', ARGV[7], 'actor', ARGV[8], 'at', ISO})
return {1, state, t.kind}
"""
)

# ARGV[5] most tasks to expire. Returns a flat list: task id, kind, task id, kind, ...
EXPIRE = (
    LIB
    + """
local out = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', OPEN, '-inf', NOW, 'LIMIT', 0, tonumber(ARGV[5]))) do
  local t = load(id)
  if t and t.state == 'open' and set(t.answered_ms) and tonumber(t.answered_ms) < tonumber(t.expires_ms) then
    redis.call('ZREM', OPEN, id)  -- answered on time: handled, its disposition may come later
  elseif t and t.state == 'open' then
    expire(t, 'sweep')
    out[#out + 1] = id
    out[#out + 1] = t.kind
  else
    redis.call('ZREM', OPEN, id)
  end
end
return out
"""
)

# ARGV[5] task id, [6] actor. Returns {1, state} or {0, why}.
ARCHIVE = (
    LIB
    + """
local t = load(ARGV[5])
if not t then return {0, 'missing'} end
if set(t.archived_ms) then return {0, 'archived'} end
if t.state == 'open' then return {0, 'open'} end
redis.call('HSET', tkey(t.id), 'archived_ms', NOW, 'archived_by', ARGV[6])
redis.call('ZREM', ALL, t.id)
redis.call('ZREM', EXPIRED, t.id)
redis.call('ZREM', ACTIVITY, t.id)
if set(t.owner) then redis.call('ZREM', by_owner(t.owner), t.id) end
if set(t.campaign_id) then redis.call('ZREM', by_campaign(t.campaign_id), t.id) end
redis.call('ZADD', ARCHIVED, NOW, t.id)
audit(AUDIT, MAXLEN, {'action', 'archived', 'task', t.id, 'state', t.state, 'actor', ARGV[6], 'at', ISO})
return {1, t.state}
"""
)

# KEYS[LIB_KEYS + 1] the call's task key (TaskKeys.call). ARGV[5] task id, [6] dialed at ms, [7] '1' on
# time / '0' late, [8] call id, [9] redial at ms, [10] agent.
DIALED = (
    LIB
    + """
local t = load(ARGV[5])
if not t then return {0, 'missing'} end
if t.state ~= 'open' then return {0, t.state} end
local key = tkey(t.id)
redis.call('HINCRBY', key, 'dials', 1)
redis.call('HINCRBY', key, ARGV[7] == '1' and 'dialed_on_time' or 'dialed_late', 1)
redis.call('HSET', key, 'dialed_ms', ARGV[6], 'call_id', ARGV[8], 'dialed_by', ARGV[10], 'activity_ms', NOW)
if set(t.campaign_id) then redis.call('ZADD', dial(t.campaign_id), tonumber(ARGV[9]), t.id) end
if t.callback == '1' then redis.call('ZADD', ACTIVITY, NOW, t.id) end
if set(ARGV[8]) then redis.call('SET', KEYS[LIB_KEYS + 1], t.id, 'PX', 172800000) end
audit(AUDIT, MAXLEN, {'action', 'dialed', 'task', t.id, 'call', ARGV[8], 'agent', ARGV[10],
                      'on_time', ARGV[7], 'actor', 'dialer', 'at', ISO})
return {1, 'dialed'}
"""
)

# ARGV[5] task id, [6] next dial ms ('' = not dialed automatically any more), [7] reason.
DEFER = (
    LIB
    + """
local t = load(ARGV[5])
if not t then return {0, 'missing'} end
if t.state ~= 'open' or not set(t.campaign_id) then return {0, t.state} end
if set(ARGV[6]) then
  redis.call('ZADD', dial(t.campaign_id), tonumber(ARGV[6]), t.id)
else
  redis.call('ZREM', dial(t.campaign_id), t.id)
end
audit(AUDIT, MAXLEN, {'action', 'deferred', 'task', t.id, 'until', ARGV[6], 'reason', ARGV[7],
                      'actor', 'dialer', 'at', ISO})
return {1, 'deferred'}
"""
)

# ARGV[5] old task id, [6] new task id, [7] actor. The old task leaves the stale report.
REACTIVATED = (
    LIB
    + """
if not load(ARGV[5]) then return {0, 'missing'} end
redis.call('HSET', tkey(ARGV[5]), 'reactivated_to', ARGV[6])
redis.call('ZREM', ACTIVITY, ARGV[5])
audit(AUDIT, MAXLEN, {'action', 'reactivated', 'task', ARGV[5], 'new_task', ARGV[6], 'actor', ARGV[7],
                      'at', ISO})
return {1, 'reactivated'}
"""
)

# ARGV[5] task id, [6] answered at ms. The callback was answered: handled (never overdue, at risk or
# expired when answered before expiry); not redialed, no reminder. Returns {1, 'answered'} or {0, why}.
ANSWERED = (
    LIB
    + """
local t = load(ARGV[5])
if not t then return {0, 'missing'} end
if t.state ~= 'open' then return {0, t.state} end
if set(t.answered_ms) then return {1, 'unchanged'} end
redis.call('HSET', tkey(t.id), 'answered_ms', ARGV[6], 'activity_ms', NOW)
if set(t.campaign_id) then redis.call('ZREM', dial(t.campaign_id), t.id) end
redis.call('ZREM', REMIND, t.id)
redis.call('HDEL', tkey(t.id), 'remind_ms')
if tonumber(ARGV[6]) < tonumber(t.expires_ms) then redis.call('ZREM', OPEN, t.id) end
audit(AUDIT, MAXLEN, {'action', 'answered', 'task', t.id, 'at_ms', ARGV[6], 'actor', 'dialer', 'at', ISO})
return {1, 'answered'}
"""
)

# ARGV[5] task id, [6] seconds before, [7] anchor (own_time | deadline), [8] due ms, [9] actor.
# Returns {1, 'set'} or {0, why}.
SET_REMINDER = (
    LIB
    + """
local t = load(ARGV[5])
if not t then return {0, 'missing'} end
if t.state ~= 'open' then return {0, t.state} end
if NOW >= tonumber(t.expires_ms) then return {0, 'expired'} end
redis.call('HSET', tkey(t.id), 'remind_before_s', ARGV[6], 'remind_of', ARGV[7], 'remind_ms', ARGV[8])
redis.call('ZADD', REMIND, tonumber(ARGV[8]), t.id)
audit(AUDIT, MAXLEN, {'action', 'reminder', 'task', t.id, 'before_s', ARGV[6], 'of', ARGV[7],
                      'due_ms', ARGV[8], 'actor', ARGV[9], 'at', ISO})
return {1, 'set'}
"""
)
