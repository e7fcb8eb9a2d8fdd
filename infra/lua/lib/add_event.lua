-- add_event(key, kind, data): one live event on the capped stream.
local function add_event(key, kind, data)
  redis.call('XADD', key, 'MAXLEN', '~', $EVENTS_MAX_LEN, '*', 'type', kind, 'data', data)
end
