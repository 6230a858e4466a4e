"""The lead transitions of a dial, in Lua: shared by the lead scripts (dialer/leads/scripts.py) and the
dial-intent scripts (dialer/calls/intent_scripts.py), after dialer.leads.scripts.LIB, whose keys and
helpers they use. Each moves one lead and returns {1, new status} or {0, the status that refused it}.
"""

from __future__ import annotations

TRANSITIONS = """
local function held(f, owner)
  return (f[1] == 'claimed' or f[1] == 'dialing') and (owner == '' or f[2] == owner)
end
-- A lead's attempts, kept in its hash by the dials of its holder (`dial_attempts`: JSON of attempt
-- member -> epoch ms, the members of the `dial:lead` ZSET it replaces): the transitions below read
-- and write it with the lead's own fields, so it costs no command. `log`: {drop = a member to take
-- out, add = a member to put in at `score` (else at the dropped one's, else at `fallback`), cutoff =
-- epoch ms before which entries are dropped}.
local function attempt_log(raw, log)
  local out, kept, dropped = {}, false, nil
  if set(raw) then
    for m, at in pairs(cjson.decode(raw)) do
      if m == log.drop then dropped = at
      elseif (tonumber(at) or 0) >= log.cutoff then out[m], kept = at, true end
    end
  end
  if log.add then out[log.add], kept = log.score or dropped or log.fallback, true end
  if not kept then return '' end
  return cjson.encode(out)
end
-- The two transitions of every dial read the lead once (its offer and counters with its status):
-- an offer is dropped only when the lead names one (OFFER and drop_offer write the field and the
-- OFFERS entry together; EXPIRE_OFFERS clears any entry left without its field).
local function mark_dialing(id, owner, log)
  local key = lkey(id)
  local f = redis.call('HMGET', key, 'status', 'claimed_by', 'offered_to', 'attempts', 'dial_attempts')
  if f[1] ~= 'claimed' or f[2] ~= owner then return {0, f[1] or 'missing'} end
  if set(f[3]) then drop_offer(key, id) end
  local attempts = string.format('%d', (tonumber(f[4] or '0') or 0) + 1)
  local fields = {'status', 'dialing', 'last_attempt_at', ISO, 'updated_at', ISO, 'attempts', attempts}
  if log then fields[#fields + 1], fields[#fields + 2] = 'dial_attempts', attempt_log(f[5], log) end
  redis.call('HSET', key, unpack(fields))
  return {1, 'dialing'}
end
local function release_lead(id, owner, next_ms, log)
  local key = lkey(id)
  local f = redis.call('HMGET', key, 'status', 'claimed_by', 'campaign_id', 'customer_id', 'next_attempt_ms',
                       'offered_to', 'rank', 'dial_attempts')
  if not held(f, owner) then return {0, f[1] or 'missing'} end
  redis.call('ZREM', CLAIMED, id)
  if set(f[6]) then drop_offer(key, id) end
  local fields = {}
  if log then fields = {'dial_attempts', attempt_log(f[8], log)} end
  -- no Robinson-list check here: an approval excludes the customer's leads, held or not
  -- (exclude_customer in scripts.py), and every claim checks the list before a lead is dialed
  local want, due = tonumber(next_ms) or 0, tonumber(f[5] or '0') or 0
  if want > due then
    due = want
    fields[#fields + 1], fields[#fields + 2] = 'next_attempt_ms', string.format('%.0f', want)
  end
  local status = 'new'
  if set(f[3]) then  -- enqueue, with the rank and next attempt read above
    status = 'queued'
    if due > NOW then redis.call('ZADD', retry(f[3]), due, id)
    else redis.call('ZADD', ready(f[3]), f[7], id) end
  end
  -- the claim is cleared by the same write ('' reads as unset, as no field: `set`, Lead.from_hash)
  redis.call('HSET', key, 'status', status, 'updated_at', ISO, 'claimed_by', '', 'claimed_at', '',
             unpack(fields))
  return {1, status}
end
local function finish_lead(stream, maxlen, id, owner, status, reason, actor, log)
  local key = lkey(id)
  local f = redis.call('HMGET', key, 'status', 'claimed_by', 'campaign_id', 'dial_attempts')
  if not f[1] or f[1] == 'excluded' then return {0, f[1] or 'missing'} end
  if owner ~= '' and not held(f, owner) then return {0, f[1]} end
  unqueue(id, f[3])
  unhold(key, id)
  local fields = {'status', status, 'closed_reason', reason, 'closed_at', ISO, 'updated_at', ISO}
  if log then fields[#fields + 1], fields[#fields + 2] = 'dial_attempts', attempt_log(f[4], log) end
  redis.call('HSET', key, unpack(fields))
  audit(stream, maxlen, {'action', status, 'lead', id, 'reason', reason, 'actor', actor,
                         'previous', f[1], 'at', ISO})
  return {1, status}
end
"""
