-- Start a batch of tasks: for each, 1 if its done marker exists (a redelivery of a finished task),
-- 2 if it was cancelled (dropped at once: lib/drop_cancelled.lua), else 0: marked processing
-- (unless a newer task owns the pet) and noted as taken.
-- uses: set_if_owner, add_event, note_task, drop_cancelled
-- KEYS: status, processing, cancelled, events, history, then each task's done marker
-- ARGV: history_kept, then for each task: pet_id, task_id, processing_entry, payload as taken,
--       taken_note
local started = {}
for i = 6, #KEYS do
  local a = 1 + (i - 6) * 5
  local pet_id, task_id, entry, raw, note = ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4], ARGV[a + 5]
  if redis.call('EXISTS', KEYS[i]) == 1 then
    started[i - 5] = 1
  elseif redis.call('ZSCORE', KEYS[3], task_id) then
    drop_cancelled(KEYS[1], KEYS[2], KEYS[4], KEYS[5], ARGV[1], raw, pet_id, task_id, entry, note)
    started[i - 5] = 2
  else
    set_if_owner(KEYS[1], pet_id, task_id, entry)
    note_task(KEYS[5], note, ARGV[1])
    started[i - 5] = 0
  end
end
return started
