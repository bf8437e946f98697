#include "protocol/queue.h"

#include <fmt/format.h>

#include <algorithm>


namespace synthfarm::protocol {
namespace {

// Every script takes the key prefix as ARGV[1] and builds its keys from it (the queue is
// one Redis, not a cluster, so undeclared keys are fine). Numbers are written with %d so
// Lua never turns a millisecond timestamp into 1.7e+12.
//
// Pending shards sit in a ZSET scored (1000 - priority) * 1e10 + sequence: ZPOPMIN hands
// out the highest priority first and FIFO within a priority; a shard put back at the
// head (release, reap) gets a negative sequence, ahead of its priority band.
const std::string kPrelude = R"lua(
local p = ARGV[1]
local function s(n) return string.format('%d', n) end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function job_key(job) return p .. ':job:' .. job end
local function shard_key(job, shard) return p .. ':job:' .. job .. ':shard:' .. shard end
local function split(member) return string.match(member, '^(.+)/(%d+)$') end
local function enqueue(job, member, head)
  local prio = tonumber(redis.call('HGET', job_key(job), 'priority')) or 0
  local seq = redis.call('INCR', p .. ':seq:enqueue')
  if head then seq = -seq end
  redis.call('ZADD', p .. ':queue:pending', s((1000 - prio) * 1e10 + seq), member)
end
-- After a shard ends (done or dead): when every shard has ended, hand the job to the
-- finalizer, which writes manifest.json of the completed shards.
local function check_end(job)
  local jkey = job_key(job)
  local v = redis.call('HMGET', jkey, 'state', 'shards_done', 'shards_dead', 'shards_total')
  if (v[1] == 'running' or v[1] == 'paused') and
     tonumber(v[2]) + tonumber(v[3]) >= tonumber(v[4]) then
    redis.call('HSET', jkey, 'state', 'finalizing')
    redis.call('LPUSH', p .. ':queue:finalize', job)
  end
end
local function dead_letter(job, shard, member, err)
  local jkey = job_key(job)
  redis.call('HSET', shard_key(job, shard), 'state', 'dead', 'last_error', err, 'worker', '')
  redis.call('LPUSH', p .. ':queue:dead', member)
  redis.call('HINCRBY', jkey, 'shards_dead', 1)
  if redis.call('HGET', jkey, 'error') == '' then
    redis.call('HSET', jkey, 'error', 'shard ' .. shard .. ' dead-lettered: ' .. err)
  end
  check_end(job)
end
local function is_active(state) return state == 'queued' or state == 'running' end
)lua";

// ARGV: prefix, job id, shards, then the job hash's field/value pairs (spec_json among them).
// Creates the job and queues every shard atomically.
const std::string kSubmit = kPrelude + R"lua(
local job, shards = ARGV[2], tonumber(ARGV[3])
local jkey = job_key(job)
if redis.call('EXISTS', jkey) == 1 then return 0 end
local fields = {}
for i = 4, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', jkey, unpack(fields))
redis.call('ZADD', p .. ':jobs', redis.call('HGET', jkey, 'created_ms'), job)
local prio = tonumber(redis.call('HGET', jkey, 'priority')) or 0
local first = redis.call('INCRBY', p .. ':seq:enqueue', shards) - shards
local batch = {}
for n = 0, shards - 1 do
  batch[#batch + 1] = s((1000 - prio) * 1e10 + first + n + 1)
  batch[#batch + 1] = job .. '/' .. n
  if #batch >= 1000 or n == shards - 1 then
    redis.call('ZADD', p .. ':queue:pending', unpack(batch))
    batch = {}
  end
end
return 1
)lua";

// ARGV: prefix, worker id, lease ms. Returns {job, shard, token, deadline} or nil.
const std::string kClaim = kPrelude + R"lua(
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
          redis.call('HSET', jkey, 'state', 'running', 'started_ms', s(now))
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
)lua";

// ARGV: prefix, job, shard, token, lease ms. Returns the new deadline, or 0 if the lease
// is not ours any more, or the job was cancelled or deleted.
const std::string kExtend = kPrelude + R"lua(
local skey = shard_key(ARGV[2], ARGV[3])
local v = redis.call('HMGET', skey, 'state', 'token')
if v[1] ~= 'leased' or v[2] ~= ARGV[4] then return 0 end
local jstate = redis.call('HGET', job_key(ARGV[2]), 'state')
if jstate ~= 'running' and jstate ~= 'paused' then return 0 end
local deadline = now_ms() + tonumber(ARGV[5])
redis.call('HSET', skey, 'deadline_ms', s(deadline))
redis.call('ZADD', p .. ':queue:leases', s(deadline), ARGV[2] .. '/' .. ARGV[3])
return deadline
)lua";

// ARGV: prefix, job, shard, token, samples in shard. Returns 1 accepted, 0 stale token,
// -1 job cancelled or deleted.
const std::string kComplete = kPrelude + R"lua(
local job, shard = ARGV[2], ARGV[3]
local jkey = job_key(job)
local skey = shard_key(job, shard)
local v = redis.call('HMGET', skey, 'state', 'token')
if v[1] ~= 'leased' or v[2] ~= ARGV[4] then return 0 end
local member = job .. '/' .. shard
redis.call('ZREM', p .. ':queue:leases', member)
local jstate = redis.call('HGET', jkey, 'state')
if jstate ~= 'running' and jstate ~= 'paused' then
  redis.call('HSET', skey, 'state', 'pending', 'worker', '')
  return -1
end
redis.call('HSET', skey, 'state', 'done', 'done_ms', s(now_ms()))
redis.call('HINCRBY', jkey, 'samples_done', tonumber(ARGV[5]))
redis.call('INCRBY', p .. ':stats:samples_rendered', tonumber(ARGV[5]))
redis.call('HINCRBY', jkey, 'shards_done', 1)
check_end(job)
return 1
)lua";

// ARGV: prefix, job, shard, token. Returns 1 released, 0 stale.
const std::string kRelease = kPrelude + R"lua(
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
)lua";

// ARGV: prefix, job, shard, token, error, worker, backoff base ms, tail of the worker's log.
// Returns 'retry', 'dead' or 'stale'.
const std::string kFail = kPrelude + R"lua(
local job, shard, worker = ARGV[2], ARGV[3], ARGV[6]
local jkey = job_key(job)
local skey = shard_key(job, shard)
local v = redis.call('HMGET', skey, 'state', 'token', 'attempts')
if v[1] ~= 'leased' or v[2] ~= ARGV[4] then return 'stale' end
local member = job .. '/' .. shard
redis.call('ZREM', p .. ':queue:leases', member)
redis.call('HSET', skey, 'log_tail', ARGV[8] or '')
-- A worker that fails three shards of a job takes no more of that job.
if redis.call('HINCRBY', jkey .. ':failures', worker, 1) >= 3 then
  redis.call('SADD', jkey .. ':blocklist', worker)
end
local attempts = tonumber(v[3])
local max = tonumber(redis.call('HGET', jkey, 'max_attempts')) or 3
if attempts >= max then
  dead_letter(job, shard, member, 'failed ' .. attempts .. ' times, last: ' .. ARGV[5])
  return 'dead'
end
redis.call('HSET', skey, 'state', 'pending', 'last_error', ARGV[5], 'worker', '')
local backoff = math.min(60000, tonumber(ARGV[7]) * 2 ^ (attempts - 1))
redis.call('ZADD', p .. ':queue:delayed', s(now_ms() + backoff), member)
return 'retry'
)lua";

// ARGV: prefix, limit. Expired leases go back to the head of the queue, or to the dead
// letters when the shard has used all its attempts (a shard that kills its workers).
// Returns {requeued, dead}.
const std::string kReap = kPrelude + R"lua(
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
)lua";

// ARGV: prefix, job. After manifest.json is written. Idempotent.
const std::string kMarkDone = kPrelude + R"lua(
local jkey = job_key(ARGV[2])
local v = redis.call('HMGET', jkey, 'state', 'shards_dead', 'on_dead_shards')
if v[1] == 'finalizing' then
  local ended = 'done'
  if (tonumber(v[2]) or 0) > 0 then ended = v[3] == 'partial' and 'partial' or 'failed' end
  redis.call('HSET', jkey, 'state', ended, 'finished_ms', s(now_ms()))
end
redis.call('LREM', p .. ':queue:finalize', 0, ARGV[2])
return 1
)lua";

// ARGV: prefix, job, error.
const std::string kMarkFailed = kPrelude + R"lua(
local jkey = job_key(ARGV[2])
redis.call('HSET', jkey, 'state', 'failed', 'error', ARGV[3], 'finished_ms', s(now_ms()))
redis.call('LREM', p .. ':queue:finalize', 0, ARGV[2])
return 1
)lua";

// ---- job control: ARGV prefix, job. Return 1 when the state changed, 0 when the job is
// not in a state the action applies to, -1 when there is no such job.
const std::string kPause = kPrelude + R"lua(
local jkey = job_key(ARGV[2])
local state = redis.call('HGET', jkey, 'state')
if not state then return -1 end
if not is_active(state) then return 0 end
redis.call('HSET', jkey, 'state', 'paused', 'paused_from', state)
return 1
)lua";

const std::string kResume = kPrelude + R"lua(
local jkey = job_key(ARGV[2])
local v = redis.call('HMGET', jkey, 'state', 'paused_from')
if not v[1] then return -1 end
if v[1] ~= 'paused' then return 0 end
redis.call('HSET', jkey, 'state', v[2] or 'running')
local parked = jkey .. ':parked'
if redis.call('EXISTS', parked) == 1 then
  redis.call('ZUNIONSTORE', p .. ':queue:pending', 2, p .. ':queue:pending', parked)
  redis.call('DEL', parked)
end
check_end(ARGV[2])
return 1
)lua";

const std::string kCancel = kPrelude + R"lua(
local jkey = job_key(ARGV[2])
local state = redis.call('HGET', jkey, 'state')
if not state then return -1 end
if not (is_active(state) or state == 'paused') then return 0 end
redis.call('HSET', jkey, 'state', 'cancelled', 'finished_ms', s(now_ms()), 'error', 'cancelled')
redis.call('DEL', jkey .. ':parked')
return 1
)lua";

// Dead shards of the job go back to the queue with fresh attempts. Returns how many.
const std::string kRetryDead = kPrelude + R"lua(
local job = ARGV[2]
local jkey = job_key(job)
local state = redis.call('HGET', jkey, 'state')
if not state then return -1 end
if state == 'cancelled' or state == 'finalizing' then return 0 end
local members = redis.call('LRANGE', p .. ':queue:dead', 0, -1)
local n = 0
for _, member in ipairs(members) do
  local j, shard = split(member)
  if j == job then
    redis.call('LREM', p .. ':queue:dead', 0, member)
    redis.call('HSET', shard_key(job, shard), 'state', 'pending', 'attempts', 0, 'worker', '')
    enqueue(job, member, false)
    n = n + 1
  end
end
if n > 0 then
  redis.call('HINCRBY', jkey, 'shards_dead', -n)
  redis.call('DEL', jkey .. ':blocklist', jkey .. ':failures')
  local started = tonumber(redis.call('HGET', jkey, 'started_ms')) or 0
  redis.call('HSET', jkey, 'state', started > 0 and 'running' or 'queued', 'error', '', 'finished_ms', 0)
end
return n
)lua";

// Removes the job and every queue entry of it (pending members are dropped lazily by
// claim). Its objects in storage stay.
const std::string kDelete = kPrelude + R"lua(
local job = ARGV[2]
local jkey = job_key(job)
local total = tonumber(redis.call('HGET', jkey, 'shards_total'))
if not total then return -1 end
for n = 0, total - 1 do
  local member = job .. '/' .. n
  redis.call('ZREM', p .. ':queue:leases', member)
  redis.call('ZREM', p .. ':queue:delayed', member)
  redis.call('LREM', p .. ':queue:dead', 0, member)
  redis.call('DEL', shard_key(job, n))
end
redis.call('DEL', jkey, jkey .. ':spec', jkey .. ':parked', jkey .. ':blocklist', jkey .. ':failures')
redis.call('ZREM', p .. ':jobs', job)
redis.call('LREM', p .. ':queue:finalize', 0, job)
return 1
)lua";

std::string str(int64_t v) { return std::to_string(v); }

}  // namespace

RedisResult<void> Queue::submit(const std::string& job_id, const JobSubmission& job, int64_t now_ms) {
  std::vector<std::string> args = {
      keys_.prefix, job_id, str(job.shards),
      "name", job.name, "state", "queued", "priority", str(job.priority), "samples", str(job.samples),
      "shard_size", str(job.shard_size), "shards_total", str(job.shards), "shards_done", "0", "shards_dead", "0",
      "samples_done", "0", "renders", "0", "created_ms", str(now_ms), "started_ms", "0", "finished_ms", "0",
      "max_attempts", str(job.max_attempts), "on_dead_shards", job.on_dead_shards, "storage", job.storage, "error", "",
      "spec_json", job.spec_json};
  auto reply = redis_.eval(kSubmit, {}, args);
  if (!reply) return tl::unexpected(reply.error());
  if (reply->as_int() != 1) return tl::unexpected(RedisError{false, "job " + job_id + " exists already"});
  return {};
}

RedisResult<std::optional<Lease>> Queue::claim(const std::string& worker_id, int64_t lease_ms) {
  auto reply = redis_.eval(kClaim, {}, {keys_.prefix, worker_id, str(lease_ms)});
  if (!reply) return tl::unexpected(reply.error());
  if (reply->type != RedisReply::Type::kArray || reply->elements.size() != 4) return std::optional<Lease>();
  Lease lease;
  lease.shard.job_id = reply->elements[0].str;
  lease.shard.shard = static_cast<uint64_t>(reply->elements[1].as_int());
  lease.shard.token = static_cast<uint64_t>(reply->elements[2].as_int());
  lease.deadline_ms = reply->elements[3].as_int();
  return std::optional<Lease>(std::move(lease));
}

RedisResult<std::optional<int64_t>> Queue::extend(const ShardRef& shard, int64_t lease_ms) {
  auto reply = redis_.eval(kExtend, {}, {keys_.prefix, shard.job_id, str(shard.shard),
                                         str(shard.token), str(lease_ms)});
  if (!reply) return tl::unexpected(reply.error());
  if (reply->as_int() == 0) return std::optional<int64_t>();
  return std::optional<int64_t>(reply->as_int());
}

RedisResult<bool> Queue::complete(const ShardRef& shard) {
  auto reply = redis_.eval(kComplete, {}, {keys_.prefix, shard.job_id, str(shard.shard),
                                           str(shard.token), str(shard.sample_count)});
  if (!reply) return tl::unexpected(reply.error());
  return reply->as_int() == 1;  // 0: stale token; -1: job cancelled or deleted
}

RedisResult<bool> Queue::release(const ShardRef& shard) {
  auto reply = redis_.eval(kRelease, {}, {keys_.prefix, shard.job_id, str(shard.shard), str(shard.token)});
  if (!reply) return tl::unexpected(reply.error());
  return reply->as_int() == 1;
}

RedisResult<FailOutcome> Queue::fail(const ShardRef& shard, const std::string& error,
                                     const std::string& worker_id, const std::string& log_tail) {
  auto reply = redis_.eval(kFail, {}, {keys_.prefix, shard.job_id, str(shard.shard), str(shard.token), error,
                                       worker_id, str(retry_backoff_ms_), log_tail});
  if (!reply) return tl::unexpected(reply.error());
  if (reply->str == "dead") return FailOutcome::kDead;
  if (reply->str == "retry") return FailOutcome::kRetry;
  return FailOutcome::kStale;
}

RedisResult<ReapResult> Queue::reap_expired(int limit) {
  auto reply = redis_.eval(kReap, {}, {keys_.prefix, std::to_string(limit)});
  if (!reply) return tl::unexpected(reply.error());
  ReapResult r;
  if (reply->elements.size() == 2) {
    r.requeued = reply->elements[0].as_int();
    r.dead = reply->elements[1].as_int();
  }
  return r;
}

RedisResult<ControlOutcome> Queue::control(JobAction action, const std::string& job_id) {
  const std::string* script = nullptr;
  switch (action) {
    case JobAction::kPause: script = &kPause; break;
    case JobAction::kResume: script = &kResume; break;
    case JobAction::kCancel: script = &kCancel; break;
    case JobAction::kRetryDead: script = &kRetryDead; break;
    case JobAction::kDelete: script = &kDelete; break;
  }
  auto reply = redis_.eval(*script, {}, {keys_.prefix, job_id});
  if (!reply) return tl::unexpected(reply.error());
  long long n = reply->as_int();
  return ControlOutcome{n >= 0, n > 0, n > 0 ? n : 0};
}

RedisResult<void> Queue::count_render(const std::string& job_id) {
  auto reply = redis_.command({"HINCRBY", keys_.job(job_id), "renders", "1"});
  if (!reply) return tl::unexpected(reply.error());
  return {};
}

RedisResult<std::vector<DeadShard>> Queue::dead_shards(const std::string& job_id) {
  auto members = redis_.command({"LRANGE", keys_.dead(), "0", "-1"});
  if (!members) return tl::unexpected(members.error());
  std::vector<DeadShard> out;
  std::string prefix = job_id + "/";
  for (const auto& m : members->elements) {
    if (m.str.rfind(prefix, 0) != 0) continue;
    uint64_t shard = std::stoull(m.str.substr(prefix.size()));
    auto fields = redis_.command({"HMGET", keys_.shard(job_id, shard), "attempts", "last_error", "log_tail"});
    if (!fields) return tl::unexpected(fields.error());
    if (fields->elements.size() != 3) continue;
    out.push_back({shard, fields->elements[0].as_int(), fields->elements[1].str, fields->elements[2].str});
  }
  std::sort(out.begin(), out.end(), [](const DeadShard& a, const DeadShard& b) { return a.shard < b.shard; });
  return out;
}

RedisResult<std::vector<std::string>> Queue::blocklist(const std::string& job_id) {
  auto reply = redis_.command({"SMEMBERS", keys_.job(job_id) + ":blocklist"});
  if (!reply) return tl::unexpected(reply.error());
  std::vector<std::string> out;
  for (const auto& e : reply->elements) out.push_back(e.str);
  std::sort(out.begin(), out.end());
  return out;
}

RedisResult<std::optional<std::string>> Queue::job_spec_json(const std::string& job_id) {
  auto reply = redis_.command({"HGET", keys_.job(job_id), "spec_json"});
  if (!reply) return tl::unexpected(reply.error());
  if (reply->is_nil()) return std::optional<std::string>();
  return std::optional<std::string>(std::move(reply->str));
}

JobRecord job_record_from_hash(const std::string& id, const std::map<std::string, std::string>& f) {
  auto text = [&](const char* k) {
    auto it = f.find(k);
    return it == f.end() ? std::string() : it->second;
  };
  auto num = [&](const char* k) -> int64_t {
    auto it = f.find(k);
    if (it == f.end()) return 0;
    try {
      return std::stoll(it->second);
    } catch (...) {
      return 0;
    }
  };
  JobRecord r;
  r.id = id;
  r.name = text("name");
  r.state = text("state");
  r.priority = static_cast<int>(num("priority"));
  r.samples = num("samples");
  r.shard_size = num("shard_size");
  r.shards_total = num("shards_total");
  r.shards_done = num("shards_done");
  r.shards_dead = num("shards_dead");
  r.samples_done = num("samples_done");
  r.renders = num("renders");
  r.created_ms = num("created_ms");
  r.started_ms = num("started_ms");
  r.finished_ms = num("finished_ms");
  r.max_attempts = static_cast<int>(num("max_attempts"));
  r.storage = text("storage");
  r.error = text("error");
  return r;
}

RedisResult<std::optional<JobRecord>> Queue::job(const std::string& job_id) {
  auto reply = redis_.command({"HGETALL", keys_.job(job_id)});
  if (!reply) return tl::unexpected(reply.error());
  if (reply->elements.empty()) return std::optional<JobRecord>();
  std::map<std::string, std::string> fields;
  for (size_t i = 0; i + 1 < reply->elements.size(); i += 2) {
    fields[reply->elements[i].str] = reply->elements[i + 1].str;
  }
  return std::optional<JobRecord>(job_record_from_hash(job_id, fields));
}

RedisResult<std::vector<JobRecord>> Queue::jobs(int limit) {
  auto ids = redis_.command({"ZREVRANGE", keys_.jobs(), "0", std::to_string(limit - 1)});
  if (!ids) return tl::unexpected(ids.error());
  std::vector<std::vector<std::string>> cmds;
  for (const auto& id : ids->elements) cmds.push_back({"HGETALL", keys_.job(id.str)});
  std::vector<JobRecord> out;
  if (cmds.empty()) return out;
  auto replies = redis_.pipeline(cmds);
  if (!replies) return tl::unexpected(replies.error());
  for (size_t i = 0; i < replies->size(); ++i) {
    const auto& r = (*replies)[i];
    if (r.elements.empty()) continue;
    std::map<std::string, std::string> fields;
    for (size_t k = 0; k + 1 < r.elements.size(); k += 2) fields[r.elements[k].str] = r.elements[k + 1].str;
    out.push_back(job_record_from_hash(ids->elements[i].str, fields));
  }
  return out;
}

RedisResult<std::vector<std::string>> Queue::finalizable() {
  auto reply = redis_.command({"LRANGE", keys_.finalize(), "0", "-1"});
  if (!reply) return tl::unexpected(reply.error());
  std::vector<std::string> out;
  for (const auto& e : reply->elements) out.push_back(e.str);
  return out;
}

RedisResult<void> Queue::mark_done(const std::string& job_id) {
  auto reply = redis_.eval(kMarkDone, {}, {keys_.prefix, job_id});
  if (!reply) return tl::unexpected(reply.error());
  return {};
}

RedisResult<void> Queue::mark_failed(const std::string& job_id, const std::string& error) {
  auto reply = redis_.eval(kMarkFailed, {}, {keys_.prefix, job_id, error});
  if (!reply) return tl::unexpected(reply.error());
  return {};
}

RedisResult<int64_t> Queue::pending_shards() {
  auto reply = redis_.command({"ZCARD", keys_.pending()});
  if (!reply) return tl::unexpected(reply.error());
  return reply->as_int();
}

RedisResult<int64_t> Queue::leased_shards() {
  auto reply = redis_.command({"ZCARD", keys_.leases()});
  if (!reply) return tl::unexpected(reply.error());
  return reply->as_int();
}

RedisResult<int64_t> Queue::samples_rendered() {
  auto reply = redis_.command({"GET", keys_.samples_rendered()});
  if (!reply) return tl::unexpected(reply.error());
  return reply->as_int();
}

}  // namespace synthfarm::protocol
