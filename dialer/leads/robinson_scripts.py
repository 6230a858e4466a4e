"""The Lua scripts of Robinson-list requests (dialer/leads/robinson.py): filing, approving and rejecting
a request are each one atomic script with the lead transitions they cause (dialer/leads/scripts.py)."""

from __future__ import annotations

from dialer.audit import AUDIT_LUA
from dialer.leads import scripts as leads_scripts

# KEYS[1] audit, [2] the request counter, [3] the pending requests, [4] the customer's pending
# requests, [5] the requester's requests, then the leads LIB's keys (LeadKeys.script_tail). ARGV[4]
# fields JSON, ARGV[5] audit maxlen, ARGV[6] '1' = skip if pending/excluded
FILE = (
    AUDIT_LUA
    + leads_scripts.LIB
    + leads_scripts.HELD
    + """
local fields = cjson.decode(ARGV[4])
local customer = fields.customer_id
local open = KEYS[4]
if ARGV[6] == '1' then
  local pending = redis.call('SRANDMEMBER', open)
  if pending then return {0, pending} end
  local approved = redis.call('HGET', EXCLUDED, customer)
  if approved then return {0, approved} end
end
local id = 'rr-' .. redis.call('INCR', KEYS[2])
local args = {'request_id', id, 'status', 'pending', 'requested_at', ISO}
for k, v in pairs(fields) do args[#args + 1] = k; args[#args + 1] = v end
redis.call('HSET', P .. 'robinson:req:' .. id, unpack(args))
redis.call('ZADD', KEYS[3], NOW, id)
redis.call('ZADD', KEYS[5], NOW, id)
redis.call('SADD', open, id)
attach_held(customer, id)
audit(KEYS[1], ARGV[5], {'action', 'filed', 'request', id, 'customer', customer, 'number', fields.phone_e164,
                         'actor', fields.requested_by, 'source', fields.source,
                         'justification', fields.justification, 'at', ISO})
return {1, id}
"""
)

# KEYS[1] the Robinson audit, [2] the leads' audit, [3] the request, [4] the pending requests, [5] the
# requests of the status decided, then the leads LIB's keys (LeadKeys.script_tail).
DECIDE = """
local id, who, note = ARGV[4], ARGV[5], ARGV[6]
local key = KEYS[3]
local f = redis.call('HMGET', key, 'status', 'customer_id')
if not f[1] then return {0, 'missing'} end
local function decide(status)
  redis.call('HSET', key, 'status', status, 'decided_by', who, 'decided_at', ISO, 'note', note)
  redis.call('ZREM', KEYS[4], id)
  redis.call('ZADD', KEYS[5], NOW, id)
  redis.call('SREM', P .. 'robinson:pending:' .. f[2], id)
  audit(KEYS[1], ARGV[7], {'action', status, 'request', id, 'customer', f[2], 'actor', who,
                           'note', note, 'at', ISO})
end
"""

# KEYS as DECIDE. ARGV[4] id, ARGV[5] supervisor, ARGV[6] note,
# ARGV[7] audit maxlen
# Returns {1 approved now | 2 already approved | 0 refused, status or phones JSON}.
APPROVE = (
    AUDIT_LUA
    + leads_scripts.LIB
    + leads_scripts.EXCLUDE_CUSTOMER
    + DECIDE
    + """
if f[1] ~= 'pending' and f[1] ~= 'approved' then return {0, f[1]} end
local first = f[1] == 'pending'
if first then decide('approved') end
local phones = exclude_customer(f[2], id)
return {first and 1 or 2, cjson.encode(phones)}
"""
)

# KEYS as DECIDE (KEYS[2] the leads' audit stream), ARGV[8] its maxlen: the leads held for the request
# go back to distribution.
REJECT = (
    AUDIT_LUA
    + leads_scripts.LIB
    + leads_scripts.HELD
    + DECIDE
    + """
if f[1] ~= 'pending' then return {0, f[1]} end
decide('rejected')
local released = release_held(KEYS[2], ARGV[8], f[2], id, who)
return {1, 'rejected'}
"""
)
