-- Put everything in a processing list back at the head of its priority's list, in its order,
-- atomically, each task's history saying who requeued it (tasks it knows); returns how many.
-- A list's consumer whose heartbeat is gone leaves the consumers set with it (one that starts
-- again joins with its first beat).
-- uses: wake, queue_of, note_task
-- KEYS: processing, high, normal, low, wake, history, heartbeat, consumers
-- ARGV: at (ISO time), by (who requeues: "Consumer-2, Consumer-1's heartbeat lapsed"), consumer
local count = 0
while true do
  local raw = redis.call('RPOP', KEYS[1])
  if not raw then break end
  redis.call('LPUSH', queue_of(raw, KEYS[2], KEYS[3], KEYS[4]), raw)
  local ok, task = pcall(cjson.decode, raw)
  if ok and type(task) == 'table' and type(task.task_id) == 'string' then
    local note = {task_id = task.task_id, at = ARGV[1], event = 'requeued', by = ARGV[2], state = 'queued',
                  payload = raw}
    note_task(KEYS[6], cjson.encode(note), 0)
  end
  count = count + 1
end
if count > 0 then wake(KEYS[5]) end
if redis.call('EXISTS', KEYS[7]) == 0 then redis.call('SREM', KEYS[8], ARGV[3]) end
return count
