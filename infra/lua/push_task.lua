-- Queue one task onto its priority's list, with a consumer's wake-up token.
-- uses: wake
-- KEYS: task_list, wake
-- ARGV: payload
redis.call('RPUSH', KEYS[1], ARGV[1])
wake(KEYS[2])
