-- Start a batch of tasks: for each, 1 if its done marker exists (a redelivery of a finished task),
-- 2 if it was cancelled (dropped from the processing list at once, its pet's state cancelled),
-- else 0: marked processing (unless a newer task owns the pet) and noted as taken.
-- uses: set_if_owner, add_event, note_task
-- KEYS: status, processing, cancelled, events, history, then each task's done marker
-- ARGV: history_kept, then for each task: pet_id, task_id, processing_entry, cancelled_entry,
--       payload as taken, taken_note, dropped_note, cancelled_event_data
local started = {}
for i = 6, #KEYS do
  local a = 1 + (i - 6) * 8
  if redis.call('EXISTS', KEYS[i]) == 1 then
    started[i - 5] = 1
  elseif redis.call('ZSCORE', KEYS[3], ARGV[a + 2]) then
    redis.call('LREM', KEYS[2], 1, ARGV[a + 5])
    if set_if_owner(KEYS[1], ARGV[a + 1], ARGV[a + 2], ARGV[a + 4]) == 1 then
      add_event(KEYS[4], '$TASK_CANCELLED', ARGV[a + 8])
    end
    note_task(KEYS[5], ARGV[a + 7], ARGV[1])
    started[i - 5] = 2
  else
    set_if_owner(KEYS[1], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3])
    note_task(KEYS[5], ARGV[a + 6], ARGV[1])
    started[i - 5] = 0
  end
end
return started
