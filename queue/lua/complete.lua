-- ARGV: prefix, job, shard, token, samples in shard, renders this lease stored, then for a
-- fit_people shard the sum of its units' mean residuals (pixels) and how many. Returns 1
-- accepted, 0 stale token, -1 job cancelled or deleted. The renders count whether or not
-- the completion is accepted (they were stored either way), once per token.
local job, shard = ARGV[2], ARGV[3]
add_renders(job, ARGV[4], ARGV[6])
local jkey = job_key(job)
local skey = shard_key(job, shard)
local v = redis.call('HMGET', skey, 'state', 'token')
if v[1] ~= 'leased' or v[2] ~= ARGV[4] then return 0 end
local member = job .. '/' .. shard
redis.call('ZREM', p .. ':queue:leases', member)
local jstate = redis.call('HGET', jkey, 'state')
if jstate ~= 'running' and jstate ~= 'paused' then
  redis.call('HSET', skey, 'state', 'pending', 'worker', '')
  return -1
end
redis.call('HSET', skey, 'state', 'done', 'done_ms', s(now_ms()))
redis.call('HINCRBY', jkey, 'samples_done', tonumber(ARGV[5]))
redis.call('INCRBY', p .. ':stats:samples_rendered', tonumber(ARGV[5]))
redis.call('HINCRBY', jkey, 'shards_done', 1)
if ARGV[8] and tonumber(ARGV[8]) > 0 then
  redis.call('HINCRBYFLOAT', jkey, 'residual_sum_px', ARGV[7])
  redis.call('HINCRBY', jkey, 'residual_units', tonumber(ARGV[8]))
end
check_end(job)
return 1
