-- Cancel a pet's pending enrichment, or (mode 'delete') forget a deleted pet's state and cancel
-- every task of it still pending (its current one, and older ones its history knows).
-- A waiting task is removed from its list or the delayed set (its history keeps its payload while
-- it waits). Its id also goes into the cancelled set, which consumers check when they take a task
-- and again before they write its result (start_many.lua, commit_many.lua): a task being taken
-- right now, one whose history is gone, or one running, is dropped there. The set keeps each id
-- `keep_seconds`. Returns {outcome, task_id} for the current task: 'cancelled' (it was queued or
-- waiting for a retry), 'cancelling' (a consumer has it: stopped before it writes), or why nothing
-- was done: 'none' (no task known), 'done', 'dead', 'cancelled_before', 'writing', 'superseded'
-- (the pet's current task is not the one the caller named).
-- uses: add_event, note_task, queue_of
-- KEYS: status, cancelled, events, history, delayed, high, normal, low
-- ARGV: pet_id, mode ('cancel' or 'delete'), at (ISO time), keep_seconds, history_kept, note
--       (the step as note_task takes it, without the task id, completed here), staged_task_id
--       (the task saved with the pet that the outbox relay has not sent yet; '' for none),
--       expected_task_id (cancel only if this is the pet's current task; '' for whichever it is)
local pet_id, deleting, at, expected = ARGV[1], ARGV[2] == 'delete', ARGV[3], ARGV[8] or ''
local now = tonumber(redis.call('TIME')[1])

-- Cancel one pending task in `state` (queued, retrying or processing); its outcome.
local function cancel(task_id, state)
  redis.call('ZADD', KEYS[2], now, task_id)
  local note = cjson.decode(ARGV[6])
  note.task_id = task_id
  if state == 'processing' then
    note.event = 'cancel_requested'
    note_task(KEYS[4], cjson.encode(note), ARGV[5])
    return 'cancelling'
  end
  local known = redis.call('HGET', KEYS[4], task_id)
  local waiting = known and cjson.decode(known).payload
  if type(waiting) == 'string' then
    -- a retry that came due waits in its list again (its state still says retrying)
    if state ~= 'retrying' or redis.call('ZREM', KEYS[5], waiting) == 0 then
      redis.call('LREM', queue_of(waiting, KEYS[6], KEYS[7], KEYS[8]), 1, waiting)
    end
  end
  note.event, note.state = 'cancelled', 'cancelled'
  note_task(KEYS[4], cjson.encode(note), ARGV[5])
  return 'cancelled'
end

local raw = redis.call('HGET', KEYS[1], pet_id)
local current = raw and cjson.decode(raw) or nil
if (not current or not current.task_id) and ARGV[7] ~= '' then
  current = {task_id = ARGV[7], state = 'queued'}
end
local outcome, task_id = 'none', ''
if current and current.task_id then
  task_id = current.task_id
  local state = current.state
  if expected ~= '' and expected ~= task_id then
    outcome = 'superseded'
  elseif state == 'done' or state == 'dead' then
    outcome = state
  elseif state == 'cancelled' then
    outcome = 'cancelled_before'
  elseif state == 'processing' and current.writing then
    outcome = 'writing'
  else
    outcome = cancel(task_id, state)
    if outcome == 'cancelled' and not deleting then
      local entry = {state = 'cancelled', task_id = task_id, at = at, attempt = current.attempt}
      redis.call('HSET', KEYS[1], pet_id, cjson.encode(entry))
      add_event(KEYS[3], '$TASK_CANCELLED', cjson.encode({pet_id = pet_id, task_id = task_id}))
    end
  end
end
if deleting then
  redis.call('HDEL', KEYS[1], pet_id)
  for _, older in ipairs(redis.call('ZRANGE', history_index('pet', pet_id), 0, -1)) do
    local known = redis.call('HGET', KEYS[4], older)
    local state = known and cjson.decode(known).state
    if older ~= task_id and (state == 'queued' or state == 'retrying' or state == 'processing') then
      cancel(older, state)
    end
  end
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[4]))
return {outcome, task_id}
