-- ARGV: prefix, job, shard, token. Returns 1 released, 0 stale.
local job, shard = ARGV[2], ARGV[3]
local skey = shard_key(job, shard)
local v = redis.call('HMGET', skey, 'state', 'token')
if v[1] ~= 'leased' or v[2] ~= ARGV[4] then return 0 end
redis.call('HSET', skey, 'state', 'pending', 'worker', '')
redis.call('HINCRBY', skey, 'attempts', -1)
local member = job .. '/' .. shard
redis.call('ZREM', p .. ':queue:leases', member)
enqueue(job, member, true)
return 1
