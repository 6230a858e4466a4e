"""The Lua scripts of the advisors' reminder and digest e-mails (dialer/tasks/advisor_mail.py): queueing
one is one atomic script with the task's change, on the task scripts' LIB (dialer/tasks/scripts.py:
the same KEYS and common ARGV, then the script's own)."""

from __future__ import annotations

from dialer.tasks.scripts import LIB

# ARGV[5] task id, [6] the due ms it was read with, [7] e-mail JSON ('' = the owner has no address).
# Once per reminder: only while the task still waits with that due time (another engine or a change
# since the read wins). Returns {1, 'queued'|'no-address'|'sent-before'} or {0, why}.
QUEUE_REMINDER = (
    LIB
    + """
local t = load(ARGV[5])
if not t then
  redis.call('ZREM', REMIND, ARGV[5])
  return {0, 'missing'}
end
local due = redis.call('ZSCORE', REMIND, ARGV[5])
if not due or tonumber(due) ~= tonumber(ARGV[6]) then return {0, 'changed'} end
redis.call('ZREM', REMIND, t.id)
redis.call('HSET', tkey(t.id), 'reminded_ms', NOW)
redis.call('HDEL', tkey(t.id), 'remind_ms')
local outcome = 'no-address'
if set(ARGV[7]) then
  local key = 'remind:' .. t.id .. ':' .. ARGV[6]
  local m = cjson.decode(ARGV[7])
  m.idempotency_key = key
  outcome = queue_mail('remind:' .. t.id, key, cjson.encode(m)) == 1 and 'queued' or 'sent-before'
end
audit(AUDIT, MAXLEN, {'action', 'reminded', 'task', t.id, 'outcome', outcome, 'owner', t.owner,
                      'actor', 'reminders', 'at', ISO})
return {1, outcome}
"""
)

# KEYS[LIB_KEYS + 1] the date's digest marks (TaskKeys.digest). ARGV[5] local date, [6] advisor,
# [7] e-mail JSON ('' = nothing to send). Once per advisor and date.
# Returns 1 queued, 0 not.
QUEUE_DIGEST = (
    LIB
    + """
local marks = KEYS[LIB_KEYS + 1]
if redis.call('HSETNX', marks, ARGV[6], NOW) == 0 then return 0 end
redis.call('PEXPIRE', marks, 172800000)
if ARGV[7] == '' then return 0 end  -- nothing to do today: marked, no e-mail
local id = 'digest:' .. ARGV[6] .. ':' .. ARGV[5]
local m = cjson.decode(ARGV[7])
m.idempotency_key = id
return queue_mail(id, id, cjson.encode(m))
"""
)
