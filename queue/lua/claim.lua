-- ARGV: prefix, worker id, lease ms, then the tasks the worker runs (none: render only).
-- Returns {job, shard, token, deadline} or nil. The next shard is the lowest score at the
-- head of the worker's tasks' pending ZSETs: priority first, FIFO within a priority,
-- whatever the task.
local worker, lease = ARGV[2], tonumber(ARGV[3])
local queues = {}
for i = 4, #ARGV do queues[#queues + 1] = task_pending_key(ARGV[i]) end
if #queues == 0 then queues[1] = task_pending_key('render') end
local now = now_ms()
-- Retries whose backoff has passed join the tail of their priority.
local due = redis.call('ZRANGEBYSCORE', p .. ':queue:delayed', '-inf', s(now), 'LIMIT', 0, 100)
for _, member in ipairs(due) do
  redis.call('ZREM', p .. ':queue:delayed', member)
  local job = split(member)
  enqueue(job, member, false)
end
-- The queue whose head comes first, or nil when all are empty.
local function next_queue()
  local best, best_score = nil, nil
  for _, key in ipairs(queues) do
    local head = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    if #head > 0 and (not best_score or tonumber(head[2]) < best_score) then
      best, best_score = key, tonumber(head[2])
    end
  end
  return best
end
local skipped = {}  -- {key, score, member} triples, put back at the end
local result = false
for _ = 1, 1000 do
  local key = next_queue()
  if not key then break end
  local popped = redis.call('ZPOPMIN', key)
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
        skipped[#skipped + 1] = {key, score, member}
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
for _, entry in ipairs(skipped) do redis.call('ZADD', entry[1], entry[2], entry[3]) end
return result
