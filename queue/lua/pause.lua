-- Job control: ARGV prefix, job. Return 1 when the state changed, 0 when the job is
-- not in a state the action applies to, -1 when there is no such job.
local jkey = job_key(ARGV[2])
local state = redis.call('HGET', jkey, 'state')
if not state then return -1 end
if not is_active(state) then return 0 end
set_state(jkey, 'paused', 'paused_from', state)
return 1
