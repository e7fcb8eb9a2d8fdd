-- The API's create or update in one atomic step: the task onto its priority's list with a wake-up
-- token, its id into the outbox's delivered markers (scored with the server's time, so the relay
-- can drop old ones), its pet's state, the known list counts, the live event and its history.
-- A task cancelled before it reached Redis (the relay sends it late) is only marked delivered.
-- Returns 1 if queued, 0 if cancelled.
-- uses: wake, adjust_known, add_event, note_task
-- KEYS: task_list, wake, delivered, status, counts, events, cancelled, history
-- ARGV: payload, task_id, pet_id, status_entry, event_type ('' for none), event_data, note,
--       history_kept, then signature, delta pairs for the counts
redis.call('ZADD', KEYS[3], redis.call('TIME')[1], ARGV[2])
for i = 9, #ARGV, 2 do adjust_known(KEYS[5], ARGV[i], ARGV[i + 1]) end
if ARGV[5] ~= '' then add_event(KEYS[6], ARGV[5], ARGV[6]) end
if redis.call('ZSCORE', KEYS[7], ARGV[2]) then return 0 end
redis.call('RPUSH', KEYS[1], ARGV[1])
wake(KEYS[2])
redis.call('HSET', KEYS[4], ARGV[3], ARGV[4])
note_task(KEYS[8], ARGV[7], ARGV[8])
return 1
