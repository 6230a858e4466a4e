"""The consent register's rules in Lua, for the dial gate's one script (dialer/lists/gate.py).

dialer/consent/validity.py keeps the same rules in Python; the gate cannot call Python between reading
the register and writing the dial's evidence, so the check runs inside its script.
"""

from __future__ import annotations

# The consent register (dialer/consent/validity.py keeps the same rules in Python): the state of the
# number's consent for a purpose at `now` (ms), for one customer ('' = any customer), and its record.
CONSENT_LUA = """
local RANK = {missing = 0, ['not-yet'] = 1, expired = 2, withdrawn = 3}
local function consent_state(r, now)
  if (tonumber(r.withdrawn_ms) or 0) > 0 then return 'withdrawn' end
  if tonumber(r.given_ms) > now then return 'not-yet' end
  local expires = tonumber(r.expires_ms) or 0
  if expires > 0 and expires <= now then return 'expired' end
  return 'valid'
end
local function consent(key, purpose, customer, now)
  if customer ~= '' then
    local raw = redis.call('HGET', key, purpose .. '|' .. customer)
    if not raw then return 'missing', nil end
    local r = cjson.decode(raw)
    return consent_state(r, now), r
  end
  local best, found = 'missing', nil
  local head = purpose .. '|'
  local all = redis.call('HGETALL', key)
  for i = 1, #all, 2 do
    if string.sub(all[i], 1, #head) == head then
      local r = cjson.decode(all[i + 1])
      local state = consent_state(r, now)
      if state == 'valid' then return state, r end
      if RANK[state] > RANK[best] then best, found = state, r end
    end
  end
  return best, found
end
"""
