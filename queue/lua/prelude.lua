-- Every script takes the key prefix as ARGV[1] and builds its keys from it (the queue is
-- one Redis, not a cluster, so undeclared keys are fine). Numbers are written with %d so
-- Lua never turns a millisecond timestamp into 1.7e+12.
--
-- Pending shards sit in a ZSET scored (1000 - priority) * 1e10 + sequence: ZPOPMIN hands
-- out the highest priority first and FIFO within a priority; a shard put back at the
-- head (release, reap) gets a negative sequence, ahead of its priority band.
local p = ARGV[1]
local function s(n) return string.format('%d', n) end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function job_key(job) return p .. ':job:' .. job end
local function shard_key(job, shard) return p .. ':job:' .. job .. ':shard:' .. shard end
local function split(member) return string.match(member, '^(.+)/(%d+)$') end
-- Jobs per state (HASH state -> jobs), kept in step with every change of a job's state by
-- set_state and forget_state below, so /metrics and the dashboard read one small hash
-- instead of every job hash. A Redis whose jobs predate the counters has no such hash:
-- the first script that needs it counts the job hashes first (O(jobs), once), inside the
-- same atomic script, so no transition is lost or counted twice.
local jobs_by_state = p .. ':stats:jobs_by_state'
-- Replaces the counters with a count of the job hashes listed in sf:jobs; returns how
-- many jobs it counted.
local function recount_jobs_by_state()
  redis.call('DEL', jobs_by_state)
  local counts, jobs = {}, 0
  for _, job in ipairs(redis.call('ZRANGE', p .. ':jobs', 0, -1)) do
    local state = redis.call('HGET', job_key(job), 'state')
    if state then
      counts[state] = (counts[state] or 0) + 1
      jobs = jobs + 1
    end
  end
  for state, n in pairs(counts) do redis.call('HSET', jobs_by_state, state, s(n)) end
  return jobs
end
local function ensure_jobs_by_state()
  if redis.call('EXISTS', jobs_by_state) == 0 then recount_jobs_by_state() end
end
-- The one way to change a job's state: moves the job between the counters and sets the
-- state, with any more field/value pairs, in the job hash.
local function set_state(jkey, new, ...)
  ensure_jobs_by_state()
  local old = redis.call('HGET', jkey, 'state')
  if old ~= new then
    if old then redis.call('HINCRBY', jobs_by_state, old, -1) end
    redis.call('HINCRBY', jobs_by_state, new, 1)
  end
  redis.call('HSET', jkey, 'state', new, ...)
end
-- Before a job hash is deleted: takes the job off its state's counter.
local function forget_state(jkey)
  ensure_jobs_by_state()
  local old = redis.call('HGET', jkey, 'state')
  if old then redis.call('HINCRBY', jobs_by_state, old, -1) end
end
-- The pending ZSET of a task: render shards in :queue:pending, the others in
-- :queue:pending:<task>, so that a worker claims only what it can run without stepping over
-- shards it cannot.
local function task_pending_key(task)
  if not task or task == '' or task == 'render' then return p .. ':queue:pending' end
  return p .. ':queue:pending:' .. task
end
local function pending_key(job) return task_pending_key(redis.call('HGET', job_key(job), 'task')) end
local function enqueue(job, member, head)
  local prio = tonumber(redis.call('HGET', job_key(job), 'priority')) or 0
  local seq = redis.call('INCR', p .. ':seq:enqueue')
  if head then seq = -seq end
  redis.call('ZADD', pending_key(job), s((1000 - prio) * 1e10 + seq), member)
end
-- After a shard ends (done or dead): when every shard has ended, hand the job to the
-- finalizer, which writes manifest.json of the completed shards.
local function check_end(job)
  local jkey = job_key(job)
  local v = redis.call('HMGET', jkey, 'state', 'shards_done', 'shards_dead', 'shards_total')
  if (v[1] == 'running' or v[1] == 'paused') and
     tonumber(v[2]) + tonumber(v[3]) >= tonumber(v[4]) then
    set_state(jkey, 'finalizing')
    redis.call('LPUSH', p .. ':queue:finalize', job)
  end
end
local function dead_letter(job, shard, member, err)
  local jkey = job_key(job)
  redis.call('HSET', shard_key(job, shard), 'state', 'dead', 'last_error', err, 'worker', '', 'dead_ms', s(now_ms()))
  redis.call('LPUSH', p .. ':queue:dead', member)
  redis.call('HINCRBY', jkey, 'shards_dead', 1)
  if redis.call('HGET', jkey, 'error') == '' then
    redis.call('HSET', jkey, 'error', 'shard ' .. shard .. ' dead-lettered: ' .. err)
  end
  check_end(job)
end
local function is_active(state) return state == 'queued' or state == 'running' end
-- Adds the sample renders one lease stored to the job's `renders` counter, once per fencing
-- token (tokens are unique per claim), so a call retried after a lost reply, or a
-- completion and a later report of the same lease, add nothing more. Nothing for a job
-- that is gone. The job's `:renders` hash (token -> renders) remembers what was added.
local function add_renders(job, token, n)
  n = tonumber(n) or 0
  local jkey = job_key(job)
  if n <= 0 or redis.call('EXISTS', jkey) == 0 then return 0 end
  if redis.call('HSETNX', jkey .. ':renders', token, s(n)) == 0 then return 0 end
  redis.call('HINCRBY', jkey, 'renders', n)
  return n
end
