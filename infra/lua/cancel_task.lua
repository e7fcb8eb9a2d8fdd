-- Cancel a pet's pending enrichment, or (mode 'delete') forget a deleted pet's state, cancelling
-- its task. A waiting task is removed from its list or the delayed set (its history keeps its
-- payload while it waits). The task's id also goes into the cancelled set, which consumers check
-- when they take a task and again before they write its result (start_many.lua,
-- commit_many.lua): a task being taken right now, or one whose history is gone, is dropped there.
-- The set keeps each id `keep_seconds`. Returns {outcome, task_id}: outcome 'cancelled' (it was
-- queued or waiting for a retry), 'cancelling' (a consumer has it: stopped before it writes), or
-- why nothing was done: 'none' (no task known), 'done', 'dead', 'cancelled_before', 'writing'.
-- uses: add_event, note_task, queue_of
-- KEYS: status, cancelled, events, history, delayed, high, normal, low
-- ARGV: pet_id, mode ('cancel' or 'delete'), at (ISO time), keep_seconds, history_kept, note
--       (the step as note_task takes it, without the task id, completed here), staged_task_id
--       (the task saved with the pet that the outbox relay has not sent yet; '' for none)
local raw = redis.call('HGET', KEYS[1], ARGV[1])
local current = raw and cjson.decode(raw) or nil
if ARGV[2] == 'delete' then redis.call('HDEL', KEYS[1], ARGV[1]) end
if (not current or not current.task_id) and ARGV[7] ~= '' then
  current = {task_id = ARGV[7], state = 'queued'}
end
if not current or not current.task_id then return {'none', ''} end
local task_id = current.task_id
local state = current.state
if state == 'done' or state == 'dead' then return {state, task_id} end
if state == 'cancelled' then return {'cancelled_before', task_id} end
if state == 'processing' and current.writing then return {'writing', task_id} end

local now = tonumber(redis.call('TIME')[1])
redis.call('ZADD', KEYS[2], now, task_id)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[4]))

local note = cjson.decode(ARGV[6])
note.task_id = task_id
local outcome = 'cancelling'
note.event = 'cancel_requested'
if state ~= 'processing' then
  local known = redis.call('HGET', KEYS[4], task_id)
  local waiting = known and cjson.decode(known).payload
  if type(waiting) == 'string' then
    -- a retry that came due waits in its list again (its state still says retrying)
    if state ~= 'retrying' or redis.call('ZREM', KEYS[5], waiting) == 0 then
      redis.call('LREM', queue_of(waiting, KEYS[6], KEYS[7], KEYS[8]), 1, waiting)
    end
  end
  outcome = 'cancelled'
  note.event = 'cancelled'
  note.state = 'cancelled'
  if ARGV[2] ~= 'delete' then
    local entry = {state = 'cancelled', task_id = task_id, at = ARGV[3], attempt = current.attempt}
    redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(entry))
    add_event(KEYS[3], '$TASK_CANCELLED', cjson.encode({pet_id = ARGV[1], task_id = task_id}))
  end
end
note_task(KEYS[4], cjson.encode(note), ARGV[5])
return {outcome, task_id}
