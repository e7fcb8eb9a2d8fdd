-- wake(key): one wake-up token per push, so an idle consumer blocked on the wake list takes the
-- task at once; the list is trimmed, since a backlog of tokens only wakes consumers for nothing.
local function wake(key)
  redis.call('RPUSH', key, '1')
  redis.call('LTRIM', key, -$WAKE_TOKENS_KEPT, -1)
end
