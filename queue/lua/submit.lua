-- ARGV: prefix, job id, shards, then the job hash's field/value pairs (spec_json among them;
-- not the state, which the script sets: every state change goes through set_state).
-- Creates the job and queues every shard atomically.
local job, shards = ARGV[2], tonumber(ARGV[3])
local jkey = job_key(job)
if redis.call('EXISTS', jkey) == 1 then return 0 end
local fields = {}
for i = 4, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', jkey, unpack(fields))
set_state(jkey, 'queued')
redis.call('ZADD', p .. ':jobs', redis.call('HGET', jkey, 'created_ms'), job)
local prio = tonumber(redis.call('HGET', jkey, 'priority')) or 0
local first = redis.call('INCRBY', p .. ':seq:enqueue', shards) - shards
local pending = pending_key(job)
local batch = {}
for n = 0, shards - 1 do
  batch[#batch + 1] = s((1000 - prio) * 1e10 + first + n + 1)
  batch[#batch + 1] = job .. '/' .. n
  if #batch >= 1000 or n == shards - 1 then
    redis.call('ZADD', pending, unpack(batch))
    batch = {}
  end
end
return 1
