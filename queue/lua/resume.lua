local jkey = job_key(ARGV[2])
local v = redis.call('HMGET', jkey, 'state', 'paused_from')
if not v[1] then return -1 end
if v[1] ~= 'paused' then return 0 end
set_state(jkey, v[2] or 'running')
local parked = jkey .. ':parked'
if redis.call('EXISTS', parked) == 1 then
  local pending = pending_key(ARGV[2])
  redis.call('ZUNIONSTORE', pending, 2, pending, parked)
  redis.call('DEL', parked)
end
check_end(ARGV[2])
return 1
