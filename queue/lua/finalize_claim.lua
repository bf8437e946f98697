-- ARGV: prefix, job, owner, ttl_ms. Before a coordinator finalizes a job: with several
-- coordinators on one Redis, one at a time writes a job's dataset. Takes (or renews) the
-- job's finalizer lock for owner and returns the job's finalized_ms, set once, at the
-- first claim, so that every attempt (by another coordinator after this one died, or by
-- this one after a failed write) writes manifest.json with the same bytes. Returns nil
-- while another owner's lock lasts, or while any shard of the job is leased (manifest.json
-- is the last write of a dataset: it waits until no worker may hold a lease on it).
local jkey = job_key(ARGV[2])
local mine = ARGV[2] .. '/'
for _, member in ipairs(redis.call('ZRANGE', p .. ':queue:leases', 0, -1)) do
  if string.sub(member, 1, #mine) == mine then return false end
end
local lock = jkey .. ':finalizer'
local holder = redis.call('GET', lock)
if holder and holder ~= ARGV[3] then return false end
redis.call('SET', lock, ARGV[3], 'PX', ARGV[4])
redis.call('HSETNX', jkey, 'finalized_ms', s(now_ms()))
return redis.call('HGET', jkey, 'finalized_ms')
