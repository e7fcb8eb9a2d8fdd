-- The API's create or update in one atomic step: the task onto its priority's list with a wake-up
-- token, its id into the outbox's delivered markers (scored with the server's time, so the relay
-- can drop old ones), its pet's state, the known list counts and the live event.
-- uses: wake, adjust_known, add_event
-- KEYS: task_list, wake, delivered, status, counts, events
-- ARGV: payload, task_id, pet_id, status_entry, event_type ('' for none), event_data, then
--       signature, delta pairs for the counts
redis.call('RPUSH', KEYS[1], ARGV[1])
wake(KEYS[2])
redis.call('ZADD', KEYS[3], redis.call('TIME')[1], ARGV[2])
redis.call('HSET', KEYS[4], ARGV[3], ARGV[4])
for i = 7, #ARGV, 2 do adjust_known(KEYS[5], ARGV[i], ARGV[i + 1]) end
if ARGV[5] ~= '' then add_event(KEYS[6], ARGV[5], ARGV[6]) end
