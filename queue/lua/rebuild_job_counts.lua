-- ARGV: prefix, 'missing' (only if there are no counters yet) or 'always'. Recounts
-- sf:stats:jobs_by_state from the job hashes, O(jobs), in place of what it held: the
-- script is atomic, so no transition can interleave and run twice it gives the same
-- numbers. Returns the jobs counted, or -1 when 'missing' found the counters there.
if ARGV[2] == 'missing' and redis.call('EXISTS', jobs_by_state) == 1 then return -1 end
return recount_jobs_by_state()
