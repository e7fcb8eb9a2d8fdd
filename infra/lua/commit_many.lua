-- The last check before a batch's files are written: each task cancelled meanwhile is dropped
-- (1: write nothing; lib/drop_cancelled.lua); each other one is marked as writing (0), after
-- which a cancel is refused (infra/lua/cancel_task.lua).
-- uses: set_if_owner, add_event, note_task, drop_cancelled
-- KEYS: status, processing, cancelled, events, history
-- ARGV: history_kept, at (ISO time), consumer, then for each task: payload as taken, pet_id,
--       task_id, writing_entry
local cancelled = {}
for t = 0, (#ARGV - 3) / 4 - 1 do
  local a = 3 + t * 4
  local raw, pet_id, task_id, entry = ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4]
  if redis.call('ZSCORE', KEYS[3], task_id) then
    local note = cjson.encode({task_id = task_id, at = ARGV[2], consumer = ARGV[3]})
    drop_cancelled(KEYS[1], KEYS[2], KEYS[4], KEYS[5], ARGV[1], raw, pet_id, task_id, entry, note)
    cancelled[t + 1] = 1
  else
    set_if_owner(KEYS[1], pet_id, task_id, entry)
    cancelled[t + 1] = 0
  end
end
return cancelled
