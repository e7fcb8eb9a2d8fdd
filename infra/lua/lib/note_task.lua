-- note_task(entries, note, kept): one step of a task's life (contracts/history.py) into its
-- history entry, the entry into its search indexes, and the oldest tasks past `kept` forgotten
-- (kept '0': none, for a caller that does not know the setting).
local HISTORY_ALL = '$HISTORY_INDEX_PREFIX' .. 'all'

local function history_index(kind, value)
  return '$HISTORY_INDEX_PREFIX' .. kind .. ':' .. value
end

local function forget_task(entries, task_id)
  local raw = redis.call('HGET', entries, task_id)
  redis.call('HDEL', entries, task_id)
  redis.call('ZREM', HISTORY_ALL, task_id)
  if not raw then return end
  local ok, e = pcall(cjson.decode, raw)
  if not ok or type(e) ~= 'table' then return end
  redis.call('ZREM', history_index('pet', e.pet_id), task_id)
  redis.call('ZREM', history_index('name', e.name_key), task_id)
  redis.call('ZREM', history_index('species', e.species_key), task_id)
  if e.state then redis.call('ZREM', history_index('state', e.state), task_id) end
  for _, consumer in ipairs(e.consumers or {}) do
    redis.call('ZREM', history_index('consumer', consumer), task_id)
  end
end

local function note_task(entries, note, kept)
  local n = cjson.decode(note)
  local id = n.task_id
  local raw = redis.call('HGET', entries, id)
  local e = raw and cjson.decode(raw) or nil
  local created = not e
  if created then
    if not n.pet_id then return end -- a step of a task we know nothing of: nothing to note
    e = {task_id = id, pet_id = n.pet_id, name = n.name, name_key = n.name_key, species = n.species,
         species_key = n.species_key, priority = n.priority, reason = n.reason, score = n.score,
         queued_at = n.queued_at, consumers = {}, events = {}}
    redis.call('ZADD', HISTORY_ALL, e.score, id)
    redis.call('ZADD', history_index('pet', e.pet_id), e.score, id)
    redis.call('ZADD', history_index('name', e.name_key), e.score, id)
    redis.call('ZADD', history_index('species', e.species_key), e.score, id)
  end
  if n.state and n.state ~= e.state then
    if e.state then redis.call('ZREM', history_index('state', e.state), id) end
    redis.call('ZADD', history_index('state', n.state), e.score, id)
    e.state = n.state
  end
  local step = {at = n.at, event = n.event}
  for _, detail in ipairs({'consumer', 'by', 'error', 'file', 'next_attempt_at'}) do
    if n[detail] then step[detail] = n[detail] end
  end
  if n.consumer then
    local seen = false
    for _, consumer in ipairs(e.consumers) do seen = seen or consumer == n.consumer end
    if not seen then
      table.insert(e.consumers, n.consumer)
      redis.call('ZADD', history_index('consumer', n.consumer), e.score, id)
    end
  end
  -- A waiting task's payload, as it sits in its list or the delayed set, for a cancel to remove it
  if n.payload then
    e.payload = n.payload
  elseif n.state and n.state ~= 'queued' and n.state ~= 'retrying' then
    e.payload = nil
  end
  if n.file then e.file = n.file end
  if n.error then e.error = n.error end
  if n.attempts then e.attempts = n.attempts end
  e.updated_at = n.at
  table.insert(e.events, step)
  while #e.events > $EVENTS_PER_TASK do table.remove(e.events, 1) end
  redis.call('HSET', entries, id, cjson.encode(e))
  if created and tonumber(kept) > 0 then -- only a new task makes the history longer
    local over = redis.call('ZCARD', HISTORY_ALL) - tonumber(kept)
    if over > 0 then
      for _, old in ipairs(redis.call('ZRANGE', HISTORY_ALL, 0, over - 1)) do forget_task(entries, old) end
    end
  end
end
