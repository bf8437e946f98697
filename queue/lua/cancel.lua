local jkey = job_key(ARGV[2])
local state = redis.call('HGET', jkey, 'state')
if not state then return -1 end
if not (is_active(state) or state == 'paused') then return 0 end
set_state(jkey, 'cancelled', 'finished_ms', s(now_ms()), 'error', 'cancelled')
redis.call('DEL', jkey .. ':parked')
return 1
