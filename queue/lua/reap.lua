-- ARGV: prefix, limit. Expired leases go back to the head of the queue, or to the dead
-- letters when the shard has used all its attempts (a shard that kills its workers).
-- Returns {requeued, dead}.
local now = now_ms()
local expired = redis.call('ZRANGEBYSCORE', p .. ':queue:leases', '-inf', s(now), 'LIMIT', 0, tonumber(ARGV[2]))
local requeued, dead = 0, 0
for _, member in ipairs(expired) do
  redis.call('ZREM', p .. ':queue:leases', member)
  local job, shard = split(member)
  local skey = shard_key(job, shard)
  local v = redis.call('HMGET', skey, 'state', 'attempts', 'worker')
  local jstate = redis.call('HGET', job_key(job), 'state')
  if v[1] == 'leased' and (is_active(jstate) or jstate == 'paused') then
    local max = tonumber(redis.call('HGET', job_key(job), 'max_attempts')) or 3
    if tonumber(v[2]) >= max then
      dead_letter(job, shard, member, 'lease expired ' .. v[2] .. ' times (last worker ' .. v[3] .. ' died or hung)')
      dead = dead + 1
    else
      redis.call('HSET', skey, 'state', 'pending', 'worker', '')
      enqueue(job, member, true)
      requeued = requeued + 1
    end
  elseif v[1] == 'leased' then
    redis.call('HSET', skey, 'state', 'pending', 'worker', '')
  end
end
return {requeued, dead}
