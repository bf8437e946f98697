-- Removes the job and every queue entry of it (pending members are dropped lazily by
-- claim). Its objects in storage stay.
local job = ARGV[2]
local jkey = job_key(job)
local total = tonumber(redis.call('HGET', jkey, 'shards_total'))
if not total then return -1 end
for n = 0, total - 1 do
  local member = job .. '/' .. n
  redis.call('ZREM', p .. ':queue:leases', member)
  redis.call('ZREM', p .. ':queue:delayed', member)
  redis.call('LREM', p .. ':queue:dead', 0, member)
  redis.call('DEL', shard_key(job, n))
end
forget_state(jkey)
redis.call('DEL', jkey, jkey .. ':spec', jkey .. ':parked', jkey .. ':blocklist', jkey .. ':blocklist_reasons',
           jkey .. ':failures', jkey .. ':finalizer', jkey .. ':renders')
redis.call('ZREM', p .. ':jobs', job)
redis.call('LREM', p .. ':queue:finalize', 0, job)
return 1
