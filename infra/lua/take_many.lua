-- Move up to ARGV[1] tasks from the heads of three lists, in order, into a processing list, its
-- consumer (ARGV[2]) in the consumers set while it holds any; once all three are empty, drop the
-- wake tokens (idle consumers then block instead of waking for nothing). Returns the payloads taken.
-- KEYS: first, second, third, processing, wake, consumers
-- ARGV: limit, consumer
local taken = {}
local source = 1
while #taken < tonumber(ARGV[1]) and source <= 3 do
  local raw = redis.call('LMOVE', KEYS[source], KEYS[4], 'LEFT', 'LEFT')
  if raw then taken[#taken + 1] = raw else source = source + 1 end
end
if #taken > 0 then redis.call('SADD', KEYS[6], ARGV[2]) end
if source > 3 then redis.call('DEL', KEYS[5]) end
return taken
