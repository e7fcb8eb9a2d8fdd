-- Put everything in a processing list back at the head of its priority's list, in its order,
-- atomically; returns how many.
-- uses: wake, queue_of
-- KEYS: processing, high, normal, low, wake
-- ARGV: (none)
local count = 0
while true do
  local raw = redis.call('RPOP', KEYS[1])
  if not raw then break end
  redis.call('LPUSH', queue_of(raw, KEYS[2], KEYS[3], KEYS[4]), raw)
  count = count + 1
end
if count > 0 then wake(KEYS[5]) end
return count
