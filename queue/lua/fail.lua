-- ARGV: prefix, job, shard, token, error, worker, backoff base ms, tail of the worker's log.
-- Returns 'retry', 'dead' or 'stale'.
local job, shard, worker = ARGV[2], ARGV[3], ARGV[6]
local jkey = job_key(job)
local skey = shard_key(job, shard)
local v = redis.call('HMGET', skey, 'state', 'token', 'attempts')
if v[1] ~= 'leased' or v[2] ~= ARGV[4] then return 'stale' end
local member = job .. '/' .. shard
redis.call('ZREM', p .. ':queue:leases', member)
redis.call('HSET', skey, 'log_tail', ARGV[8] or '')
-- A worker that fails three shards of a job takes no more of that job. Why is kept beside
-- the blocklist, for the dashboard: the failure that tipped it over, as
-- "<shard>\t<time ms>\t<failures>\t<error>". The blocklist itself stays a SET, so claim
-- and older readers are unchanged.
local failures = redis.call('HINCRBY', jkey .. ':failures', worker, 1)
if failures >= 3 and redis.call('SADD', jkey .. ':blocklist', worker) == 1 then
  redis.call('HSET', jkey .. ':blocklist_reasons', worker,
             shard .. '\t' .. s(now_ms()) .. '\t' .. s(failures) .. '\t' .. ARGV[5])
end
local attempts = tonumber(v[3])
local max = tonumber(redis.call('HGET', jkey, 'max_attempts')) or 3
if attempts >= max then
  dead_letter(job, shard, member, 'failed ' .. attempts .. ' times, last: ' .. ARGV[5])
  return 'dead'
end
redis.call('HSET', skey, 'state', 'pending', 'last_error', ARGV[5], 'worker', '')
local backoff = math.min(60000, tonumber(ARGV[7]) * 2 ^ (attempts - 1))
redis.call('ZADD', p .. ':queue:delayed', s(now_ms() + backoff), member)
return 'retry'
