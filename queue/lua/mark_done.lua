-- ARGV: prefix, job. After manifest.json is written. Idempotent.
local jkey = job_key(ARGV[2])
local v = redis.call('HMGET', jkey, 'state', 'shards_dead', 'on_dead_shards')
if v[1] == 'finalizing' then
  local ended = 'done'
  if (tonumber(v[2]) or 0) > 0 then ended = v[3] == 'partial' and 'partial' or 'failed' end
  set_state(jkey, ended, 'finished_ms', s(now_ms()))
end
redis.call('LREM', p .. ':queue:finalize', 0, ARGV[2])
redis.call('DEL', jkey .. ':finalizer')
return 1
