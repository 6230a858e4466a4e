"""The lease's Lua scripts (core/lease.py): take, take back, give up, and the fence of a write."""

# KEYS: lease, meta hash. ARGV: engine id, ttl ms, the value this engine held last ('' if none):
# still in the key, nobody took the lease since, so it is renewed with the same token.
# Returns {1, value, previous holder} when this engine holds the lease now, else {0, holder's value}.
ACQUIRE = """
local held = redis.call('GET', KEYS[1])
if held then
  if held == ARGV[3] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return {1, held, ARGV[1]}
  end
  return {0, held}
end
local token = redis.call('HINCRBY', KEYS[2], 'token', 1)
local previous = redis.call('HGET', KEYS[2], 'holder') or ''
local value = token .. ':' .. ARGV[1]
redis.call('SET', KEYS[1], value, 'PX', ARGV[2])
redis.call('HSET', KEYS[2], 'holder', ARGV[1])
return {1, value, previous}
"""

# KEYS: lease, meta hash. ARGV: engine id, ttl ms. This engine's previous run (provably dead,
# core/engine_run.py) holds the lease: taken with the next token, so that run's writes are refused.
# Returns {1, value, previous holder}, else {0, holder's value or ''}.
TAKE_BACK = """
local held = redis.call('GET', KEYS[1])
if not held then return {0, ''} end
local colon = string.find(held, ':', 1, true)
if not colon or string.sub(held, colon + 1) ~= ARGV[1] then return {0, held} end
local token = redis.call('HINCRBY', KEYS[2], 'token', 1)
local value = token .. ':' .. ARGV[1]
redis.call('SET', KEYS[1], value, 'PX', ARGV[2])
redis.call('HSET', KEYS[2], 'holder', ARGV[1])
return {1, value, ARGV[1]}
"""

RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

FENCE_CHECK = "if redis.call('GET', KEYS[#KEYS]) ~= ARGV[#ARGV] then return -1 end\n"
"""Prefix of a fenced script: -1 (nothing written) unless the lease (last KEY) holds the value (last ARG)."""

# KEYS: the ops' keys in order, then the lease. ARGV: (command, key count, arg count, args...)*,
# then the holder's value.
BATCH = """
local k, i, last = 1, 1, #ARGV - 1
while i <= last do
  local cmd, nk, na = ARGV[i], tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])
  local call = {}
  for _ = 1, nk do call[#call + 1] = KEYS[k]; k = k + 1 end
  for j = 1, na do call[#call + 1] = ARGV[i + 2 + j] end
  redis.call(cmd, unpack(call))
  i = i + 3 + na
end
return 1
"""
