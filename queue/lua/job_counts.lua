-- ARGV: prefix. The jobs per state: HGETALL of sf:stats:jobs_by_state, O(states). Counts
-- the job hashes first if the counters do not exist yet (a Redis from before them).
ensure_jobs_by_state()
return redis.call('HGETALL', jobs_by_state)
