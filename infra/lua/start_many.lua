-- Mark a batch of tasks processing, unless a newer task owns the pet; returns, for each, 1 if its
-- done marker exists (a redelivery of a finished task).
-- uses: set_if_owner
-- KEYS: status, then each task's done marker
-- ARGV: pet_id, task_id, status_entry for each task
local done_before = {}
for i = 2, #KEYS do
  local a = (i - 2) * 3
  done_before[i - 1] = redis.call('EXISTS', KEYS[i])
  set_if_owner(KEYS[1], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3])
end
return done_before
