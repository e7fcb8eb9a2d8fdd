-- Check both login-failure counters and, only if neither is at its limit, count this attempt in
-- both: one atomic step, so N parallel wrong passwords get at most `limit` password checks.
-- Returns the seconds to wait (0: go ahead).
-- KEYS: per_client, per_user
-- ARGV: client_limit, user_limit, window_seconds
local wait = 0
for i, key in ipairs(KEYS) do
  local count = tonumber(redis.call('GET', key) or '0')
  if count >= tonumber(ARGV[i]) then
    wait = math.max(wait, redis.call('TTL', key), 1)
  end
end
if wait > 0 then return wait end
for _, key in ipairs(KEYS) do
  redis.call('INCR', key)
  redis.call('EXPIRE', key, ARGV[#KEYS + 1], 'NX')
end
return 0
