-- ARGV: prefix, worker id, lease ms. Returns {job, shard, token, deadline} or nil.
local worker, lease = ARGV[2], tonumber(ARGV[3])
local now = now_ms()
-- Retries whose backoff has passed join the tail of their priority.
local due = redis.call('ZRANGEBYSCORE', p .. ':queue:delayed', '-inf', s(now), 'LIMIT', 0, 100)
for _, member in ipairs(due) do
  redis.call('ZREM', p .. ':queue:delayed', member)
  local job = split(member)
  enqueue(job, member, false)
end
local skipped = {}
local result = false
for _ = 1, 1000 do
  local popped = redis.call('ZPOPMIN', p .. ':queue:pending')
  if #popped == 0 then break end
  local member, score = popped[1], popped[2]
  local job, shard = split(member)
  if job then
    local jkey = job_key(job)
    local jstate = redis.call('HGET', jkey, 'state')
    if jstate == 'paused' then
      redis.call('ZADD', jkey .. ':parked', score, member)
    elseif is_active(jstate) then
      local skey = shard_key(job, shard)
      local sstate = redis.call('HGET', skey, 'state')
      if redis.call('SISMEMBER', jkey .. ':blocklist', worker) == 1 then
        skipped[#skipped + 1] = score
        skipped[#skipped + 1] = member
      elseif not sstate or sstate == 'pending' then
        local token = redis.call('INCR', p .. ':seq:token')
        local deadline = now + lease
        redis.call('HSET', skey, 'state', 'leased', 'worker', worker, 'token', s(token),
                   'deadline_ms', s(deadline), 'claimed_ms', s(now))
        redis.call('HINCRBY', skey, 'attempts', 1)
        redis.call('ZADD', p .. ':queue:leases', s(deadline), member)
        if jstate == 'queued' then
          set_state(jkey, 'running', 'started_ms', s(now))
        end
        result = {job, shard, s(token), s(deadline)}
        break
      end
    end
    -- Members of ended, cancelled or deleted jobs, and duplicates, are dropped here.
  end
end
if #skipped > 0 then redis.call('ZADD', p .. ':queue:pending', unpack(skipped)) end
return result
