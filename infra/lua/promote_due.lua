-- Move every due retry back to the tail of its list, atomically (several consumers may run it),
-- and return the due time of the earliest retry still waiting ('-1': none).
-- uses: wake, queue_of
-- KEYS: delayed, high, normal, low, wake
-- ARGV: now, limit
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, member in ipairs(due) do
  redis.call('ZREM', KEYS[1], member)
  redis.call('RPUSH', queue_of(member, KEYS[2], KEYS[3], KEYS[4]), member)
end
if #due > 0 then wake(KEYS[5]) end
local earliest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #earliest == 0 then return '-1' end
return earliest[2]
