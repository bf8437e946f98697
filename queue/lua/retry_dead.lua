-- Dead shards of the job go back to the queue with fresh attempts. Returns how many.
local job = ARGV[2]
local jkey = job_key(job)
local state = redis.call('HGET', jkey, 'state')
if not state then return -1 end
if state == 'cancelled' or state == 'finalizing' then return 0 end
local members = redis.call('LRANGE', p .. ':queue:dead', 0, -1)
local n = 0
for _, member in ipairs(members) do
  local j, shard = split(member)
  if j == job then
    redis.call('LREM', p .. ':queue:dead', 0, member)
    redis.call('HSET', shard_key(job, shard), 'state', 'pending', 'attempts', 0, 'worker', '')
    enqueue(job, member, false)
    n = n + 1
  end
end
if n > 0 then
  redis.call('HINCRBY', jkey, 'shards_dead', -n)
  redis.call('DEL', jkey .. ':blocklist', jkey .. ':blocklist_reasons', jkey .. ':failures')
  -- A new dataset will be written when these shards end: with its own finalized time.
  redis.call('HDEL', jkey, 'finalized_ms')
  local started = tonumber(redis.call('HGET', jkey, 'started_ms')) or 0
  set_state(jkey, started > 0 and 'running' or 'queued', 'error', '', 'finished_ms', 0)
end
return n
