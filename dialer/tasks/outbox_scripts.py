"""The Lua scripts of the task outbox queues (dialer/tasks/notifications.py): the webhook's customer
notifications (`tasks:notify:*`) and the e-mails (`tasks:mail:*`) share one mechanism, so claiming a
batch and settling a delivery are each one atomic script.

KEYS = TaskKeys.outbox_queue(queue): the queue's outbox ZSET, payload HASH, tries HASH, sent ZSET,
failed HASH (all in the `{dial}` slot). ARGV[1] = TaskKeys.prefix (its place kept), [2] now (epoch
ms), [3] now (ISO 8601), [4] '' (its place kept), [5] the queue's name (`tasks:notify`, `tasks:mail`),
then the script's own arguments.
"""

from __future__ import annotations

QUEUE = """
local NOW = tonumber(ARGV[2])
local OUTBOX, PAYLOAD, TRIES, SENT, FAILED = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
"""

# ARGV[6] most entries, [7] lease ms. Returns a flat list: message id, payload, tries, ...
CLAIM_OUTBOX = (
    QUEUE
    + """
local out = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', OUTBOX, '-inf', NOW, 'LIMIT', 0, tonumber(ARGV[6]))) do
  local payload = redis.call('HGET', PAYLOAD, id)
  if payload then
    redis.call('ZADD', OUTBOX, NOW + tonumber(ARGV[7]), id)
    out[#out + 1] = id
    out[#out + 1] = payload
    out[#out + 1] = redis.call('HGET', TRIES, id) or '0'
  else
    redis.call('ZREM', OUTBOX, id)
  end
end
return out
"""
)

# ARGV[6] message id, [7] the payload delivered / tried, [8] outcome: sent | retry | failed,
# [9] idempotency key, [10] retry at ms (retry), [11] tries so far, [12] failure JSON (failed).
# A newer version queued meanwhile (another payload) stays queued.
SETTLE_OUTBOX = (
    QUEUE
    + """
local id = ARGV[6]
local current = redis.call('HGET', PAYLOAD, id)
if ARGV[8] == 'sent' then redis.call('ZADD', SENT, NOW, ARGV[9]) end
if current ~= ARGV[7] then return 0 end
if ARGV[8] == 'retry' then
  redis.call('HSET', TRIES, id, ARGV[11])
  redis.call('ZADD', OUTBOX, tonumber(ARGV[10]), id)
  return 1
end
if ARGV[8] == 'failed' then redis.call('HSET', FAILED, id, ARGV[12]) end
redis.call('ZREM', OUTBOX, id)
redis.call('HDEL', PAYLOAD, id)
redis.call('HDEL', TRIES, id)
return 1
"""
)
