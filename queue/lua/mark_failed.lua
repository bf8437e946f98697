-- ARGV: prefix, job, error. Nothing for a job that no longer exists (deleted while it
-- was being finalized): writing its state would leave a stray job hash, counted by
-- sf:stats:jobs_by_state but listed nowhere.
local jkey = job_key(ARGV[2])
if redis.call('EXISTS', jkey) == 1 then
  set_state(jkey, 'failed', 'error', ARGV[3], 'finished_ms', s(now_ms()))
end
redis.call('LREM', p .. ':queue:finalize', 0, ARGV[2])
redis.call('DEL', jkey .. ':finalizer')
return 1
