-- Finish a batch atomically: for each task its done marker, out of the processing list, its
-- state, its task.done event and its history.
-- uses: set_if_owner, add_event, note_task
-- KEYS: processing, status, events, history, then each task's done marker
-- ARGV: the marker's lifetime in seconds, history_kept, then for each task: payload as taken,
--       file, pet_id, task_id, status_entry, event_data, done_note
for i = 5, #KEYS do
  local a = 2 + (i - 5) * 7
  redis.call('SET', KEYS[i], ARGV[a + 2], 'EX', ARGV[1])
  redis.call('LREM', KEYS[1], 1, ARGV[a + 1])
  set_if_owner(KEYS[2], ARGV[a + 3], ARGV[a + 4], ARGV[a + 5])
  add_event(KEYS[3], '$TASK_DONE', ARGV[a + 6])
  note_task(KEYS[4], ARGV[a + 7], ARGV[2])
end
