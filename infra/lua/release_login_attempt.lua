-- Uncount an attempt that did not fail a password check (it succeeded, or was malformed).
-- KEYS: per_client, per_user
-- ARGV: (none)
for _, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') > 0 then redis.call('DECR', key) end
end
