"""The Lua scripts of the blacklist store (dialer/lists/store.py): each change of a list is one atomic
script, and every key it touches comes in KEYS (from DialerKeys: all in the `{gate}` slot)."""

from __future__ import annotations

from dialer.lists import packed

AUDIT_LUA = """
local function audit(stream, maxlen, fields)
  local args = {stream}
  if maxlen ~= '' then
    args[#args + 1] = 'MAXLEN'; args[#args + 1] = '~'; args[#args + 1] = maxlen
  end
  args[#args + 1] = '*'
  for _, v in ipairs(fields) do args[#args + 1] = v end
  return redis.call('XADD', unpack(args))
end
"""

# KEYS: internal hash, audit stream. ARGV: number, entry json, reason, actor, at, maxlen, action
INTERNAL = (
    AUDIT_LUA
    + """
local changed
if ARGV[7] == 'add' then
  changed = redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
else
  changed = redis.call('HDEL', KEYS[1], ARGV[1])
end
if changed == 1 then
  audit(KEYS[2], ARGV[6], {'action', ARGV[7], 'list', 'internal', 'number', ARGV[1],
                           'reason', ARGV[3], 'actor', ARGV[4], 'at', ARGV[5]})
end
return changed
"""
)

# KEYS: build, live, retired, meta, registry. ARGV: name, buckets, count, then meta field/value pairs
SWAP = """
if redis.call('HLEN', KEYS[1]) ~= tonumber(ARGV[2]) then
  return redis.error_reply('build incomplete: refusing to swap')
end
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('RENAME', KEYS[2], KEYS[3]) end
redis.call('RENAME', KEYS[1], KEYS[2])
redis.call('PERSIST', KEYS[2])
redis.call('HSET', KEYS[4], 'count', ARGV[3])
for i = 4, #ARGV, 2 do redis.call('HSET', KEYS[4], ARGV[i], ARGV[i + 1]) end
redis.call('SADD', KEYS[5], ARGV[1])
return redis.call('HINCRBY', KEYS[4], 'generation', 1)
"""

# KEYS: live, meta, registry. ARGV: name, then (bucket, expected or '', new or '') triples
CAS = """
local conflicts = {}
local delta = 0
for i = 2, #ARGV, 3 do
  local current = redis.call('HGET', KEYS[1], ARGV[i]) or ''
  if current == ARGV[i + 1] then
    if ARGV[i + 2] == '' then redis.call('HDEL', KEYS[1], ARGV[i])
    else redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 2]) end
    delta = delta + (#ARGV[i + 2] - #current) / 4
  else
    conflicts[#conflicts + 1] = ARGV[i]
  end
end
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('HINCRBY', KEYS[2], 'count', delta)
return {delta, conflicts}
"""

# KEYS: live, retired, meta, registry. ARGV: name
DROP = """
local existed = redis.call('SREM', KEYS[4], ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('RENAME', KEYS[1], KEYS[2]) end
redis.call('DEL', KEYS[3])
return existed
"""

# KEYS: live list. ARGV: lookup_blob. Returns one byte a number: "1" member, "0" not.
CONTAINS = (
    packed.LUA_LOOKUP
    + """
local fields, rems = unpair(ARGV[1])
if #fields == 0 then return '' end
local values = redis.call('HMGET', KEYS[1], unpack(fields))
local out = {}
for i = 1, #fields do out[i] = has(values[i], rems[i]) and '1' or '0' end
return table.concat(out)
"""
)

UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
RELOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
