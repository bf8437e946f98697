-- ARGV: prefix, job, error.
local jkey = job_key(ARGV[2])
redis.call('HSET', jkey, 'state', 'failed', 'error', ARGV[3], 'finished_ms', s(now_ms()))
redis.call('LREM', p .. ':queue:finalize', 0, ARGV[2])
return 1
