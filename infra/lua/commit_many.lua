-- The last check before a batch's files are written: each task cancelled meanwhile leaves the
-- processing list with its state cancelled (1: write nothing); each other one is marked as
-- writing (0), after which a cancel is refused (infra/lua/cancel_task.lua).
-- uses: set_if_owner, add_event, note_task
-- KEYS: status, processing, cancelled, events, history
-- ARGV: history_kept, then for each task: payload as taken, pet_id, task_id, cancelled_entry,
--       writing_entry, dropped_note, cancelled_event_data
local cancelled = {}
for t = 0, (#ARGV - 1) / 7 - 1 do
  local a = 1 + t * 7
  if redis.call('ZSCORE', KEYS[3], ARGV[a + 3]) then
    redis.call('LREM', KEYS[2], 1, ARGV[a + 1])
    set_if_owner(KEYS[1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4])
    add_event(KEYS[4], '$TASK_CANCELLED', ARGV[a + 7])
    note_task(KEYS[5], ARGV[a + 6], ARGV[1])
    cancelled[t + 1] = 1
  else
    set_if_owner(KEYS[1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 5])
    cancelled[t + 1] = 0
  end
end
return cancelled
