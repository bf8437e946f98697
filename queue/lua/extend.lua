-- ARGV: prefix, job, shard, token, lease ms. Returns the new deadline, or 0 if the lease
-- is not ours any more, or the job was cancelled or deleted.
local skey = shard_key(ARGV[2], ARGV[3])
local v = redis.call('HMGET', skey, 'state', 'token')
if v[1] ~= 'leased' or v[2] ~= ARGV[4] then return 0 end
local jstate = redis.call('HGET', job_key(ARGV[2]), 'state')
if jstate ~= 'running' and jstate ~= 'paused' then return 0 end
local deadline = now_ms() + tonumber(ARGV[5])
redis.call('HSET', skey, 'deadline_ms', s(deadline))
redis.call('ZADD', p .. ':queue:leases', s(deadline), ARGV[2] .. '/' .. ARGV[3])
return deadline
