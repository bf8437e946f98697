#include "protocol/queue.h"

#include <fmt/format.h>

#include "jobs/sharding.h"

namespace synthfarm::protocol {
namespace {

// Every script takes the key prefix as ARGV[1] and builds its keys from it (the queue is
// one Redis, not a cluster, so undeclared keys are fine). Numbers are written with %d so
// Lua never turns a millisecond timestamp into 1.7e+12.
const std::string kPrelude = R"lua(
local p = ARGV[1]
local function s(n) return string.format('%d', n) end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
)lua";

// ARGV: prefix, worker id, lease ms. Returns {job, shard, token, deadline} or nil.
const std::string kClaim = kPrelude + R"lua(
local worker, lease = ARGV[2], tonumber(ARGV[3])
local now = now_ms()
for _ = 1, 1000 do
  local member = redis.call('RPOP', p .. ':queue:pending')
  if not member then return false end
  local job, shard = string.match(member, '^(.+)/(%d+)$')
  if job then
    local jkey = p .. ':job:' .. job
    local jstate = redis.call('HGET', jkey, 'state')
    local skey = jkey .. ':shard:' .. shard
    local sstate = redis.call('HGET', skey, 'state')
    if (jstate == 'queued' or jstate == 'running') and (not sstate or sstate == 'pending') then
      local token = redis.call('INCR', p .. ':seq:token')
      local deadline = now + lease
      redis.call('HSET', skey, 'state', 'leased', 'worker', worker, 'token', s(token),
                 'deadline_ms', s(deadline), 'claimed_ms', s(now))
      redis.call('HINCRBY', skey, 'attempts', 1)
      redis.call('ZADD', p .. ':queue:leases', s(deadline), member)
      if jstate == 'queued' then
        redis.call('HSET', jkey, 'state', 'running', 'started_ms', s(now))
      end
      return {job, shard, s(token), s(deadline)}
    end
  end
  -- Entries of finished, failed or deleted jobs, and duplicates, are dropped here.
end
return false
)lua";

// ARGV: prefix, job, shard, token, lease ms. Returns the new deadline, or 0 if not ours.
const std::string kExtend = kPrelude + R"lua(
local skey = p .. ':job:' .. ARGV[2] .. ':shard:' .. ARGV[3]
local v = redis.call('HMGET', skey, 'state', 'token')
if v[1] ~= 'leased' or v[2] ~= ARGV[4] then return 0 end
local deadline = now_ms() + tonumber(ARGV[5])
redis.call('HSET', skey, 'deadline_ms', s(deadline))
redis.call('ZADD', p .. ':queue:leases', s(deadline), ARGV[2] .. '/' .. ARGV[3])
return deadline
)lua";

// ARGV: prefix, job, shard, token, samples in shard. Returns 1 accepted, 0 stale.
const std::string kComplete = kPrelude + R"lua(
local jkey = p .. ':job:' .. ARGV[2]
local skey = jkey .. ':shard:' .. ARGV[3]
local v = redis.call('HMGET', skey, 'state', 'token')
if v[1] ~= 'leased' or v[2] ~= ARGV[4] then return 0 end
local now = now_ms()
redis.call('HSET', skey, 'state', 'done', 'done_ms', s(now))
redis.call('ZREM', p .. ':queue:leases', ARGV[2] .. '/' .. ARGV[3])
redis.call('HINCRBY', jkey, 'samples_done', tonumber(ARGV[5]))
redis.call('INCRBY', p .. ':stats:samples_rendered', tonumber(ARGV[5]))
local done = redis.call('HINCRBY', jkey, 'shards_done', 1)
local total = tonumber(redis.call('HGET', jkey, 'shards_total'))
if done >= total and redis.call('HGET', jkey, 'state') == 'running' then
  redis.call('HSET', jkey, 'state', 'finalizing')
  redis.call('LPUSH', p .. ':queue:finalize', ARGV[2])
end
return 1
)lua";

// ARGV: prefix, job, shard, token. Returns 1 released, 0 stale.
const std::string kRelease = kPrelude + R"lua(
local skey = p .. ':job:' .. ARGV[2] .. ':shard:' .. ARGV[3]
local v = redis.call('HMGET', skey, 'state', 'token')
if v[1] ~= 'leased' or v[2] ~= ARGV[4] then return 0 end
redis.call('HSET', skey, 'state', 'pending', 'worker', '')
redis.call('HINCRBY', skey, 'attempts', -1)
local member = ARGV[2] .. '/' .. ARGV[3]
redis.call('ZREM', p .. ':queue:leases', member)
redis.call('RPUSH', p .. ':queue:pending', member)
return 1
)lua";

// ARGV: prefix, job, shard, token, error. Returns 'retry', 'dead' or 'stale'.
const std::string kFail = kPrelude + R"lua(
local jkey = p .. ':job:' .. ARGV[2]
local skey = jkey .. ':shard:' .. ARGV[3]
local v = redis.call('HMGET', skey, 'state', 'token', 'attempts')
if v[1] ~= 'leased' or v[2] ~= ARGV[4] then return 'stale' end
local member = ARGV[2] .. '/' .. ARGV[3]
redis.call('ZREM', p .. ':queue:leases', member)
local max = tonumber(redis.call('HGET', jkey, 'max_attempts')) or 3
if tonumber(v[3]) >= max then
  redis.call('HSET', skey, 'state', 'dead', 'last_error', ARGV[5])
  redis.call('LPUSH', p .. ':queue:dead', member)
  redis.call('HINCRBY', jkey, 'shards_dead', 1)
  local msg = 'shard ' .. ARGV[3] .. ' failed ' .. v[3] .. ' times: ' .. ARGV[5]
  redis.call('HSET', jkey, 'state', 'failed', 'error', msg, 'finished_ms', s(now_ms()))
  return 'dead'
end
redis.call('HSET', skey, 'state', 'pending', 'last_error', ARGV[5], 'worker', '')
redis.call('LPUSH', p .. ':queue:pending', member)
return 'retry'
)lua";

// ARGV: prefix, limit. Returns how many expired leases went back to the queue head.
const std::string kReap = kPrelude + R"lua(
local now = now_ms()
local expired = redis.call('ZRANGEBYSCORE', p .. ':queue:leases', '-inf', s(now), 'LIMIT', 0, tonumber(ARGV[2]))
for _, member in ipairs(expired) do
  redis.call('ZREM', p .. ':queue:leases', member)
  local job, shard = string.match(member, '^(.+)/(%d+)$')
  local skey = p .. ':job:' .. job .. ':shard:' .. shard
  if redis.call('HGET', skey, 'state') == 'leased' then
    redis.call('HSET', skey, 'state', 'pending', 'worker', '')
    redis.call('RPUSH', p .. ':queue:pending', member)
  end
end
return #expired
)lua";

// ARGV: prefix, job. Idempotent.
const std::string kMarkDone = kPrelude + R"lua(
local jkey = p .. ':job:' .. ARGV[2]
if redis.call('HGET', jkey, 'state') == 'finalizing' then
  redis.call('HSET', jkey, 'state', 'done', 'finished_ms', s(now_ms()))
end
redis.call('LREM', p .. ':queue:finalize', 0, ARGV[2])
return 1
)lua";

// ARGV: prefix, job, error.
const std::string kMarkFailed = kPrelude + R"lua(
local jkey = p .. ':job:' .. ARGV[2]
redis.call('HSET', jkey, 'state', 'failed', 'error', ARGV[3], 'finished_ms', s(now_ms()))
redis.call('LREM', p .. ':queue:finalize', 0, ARGV[2])
return 1
)lua";

std::string str(int64_t v) { return std::to_string(v); }

}  // namespace

RedisResult<void> Queue::submit(const std::string& job_id, const jobs::JobSpec& spec, int64_t now_ms) {
  auto exists = redis_.command({"EXISTS", keys_.job(job_id)});
  if (!exists) return tl::unexpected(exists.error());
  if (exists->as_int() != 0) return tl::unexpected(RedisError{false, "job " + job_id + " exists already"});

  const uint64_t shards = jobs::shard_count(spec.samples, spec.shard_size);
  std::vector<std::vector<std::string>> tx;
  tx.push_back({"MULTI"});
  tx.push_back({"HSET", keys_.job(job_id), "name", spec.name, "state", "queued", "priority",
                str(spec.priority), "samples", str(spec.samples), "shard_size", str(spec.shard_size),
                "shards_total", str(shards), "shards_done", "0", "shards_dead", "0", "samples_done",
                "0", "created_ms", str(now_ms), "started_ms", "0", "finished_ms", "0",
                "max_attempts", str(spec.max_attempts), "storage", spec.output.storage, "error", "",
                "spec_json", jobs::spec_to_json(spec)});
  tx.push_back({"SET", keys_.job_spec(job_id), encode_job_spec(spec)});
  tx.push_back({"ZADD", keys_.jobs(), str(now_ms), job_id});
  // LPUSH in shard order so that RPOP hands out shard 0 first.
  constexpr uint64_t kBatch = 1000;
  for (uint64_t first = 0; first < shards; first += kBatch) {
    std::vector<std::string> push = {"LPUSH", keys_.pending()};
    for (uint64_t n = first; n < std::min(shards, first + kBatch); ++n) {
      push.push_back(keys::shard_member(job_id, n));
    }
    tx.push_back(std::move(push));
  }
  tx.push_back({"EXEC"});
  auto replies = redis_.pipeline(tx);
  if (!replies) return tl::unexpected(replies.error());
  if (replies->back().is_nil()) return tl::unexpected(RedisError{false, "job submission transaction aborted"});
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
  return reply->as_int() == 1;
}

RedisResult<bool> Queue::release(const ShardRef& shard) {
  auto reply = redis_.eval(kRelease, {}, {keys_.prefix, shard.job_id, str(shard.shard), str(shard.token)});
  if (!reply) return tl::unexpected(reply.error());
  return reply->as_int() == 1;
}

RedisResult<FailOutcome> Queue::fail(const ShardRef& shard, const std::string& error) {
  auto reply = redis_.eval(kFail, {}, {keys_.prefix, shard.job_id, str(shard.shard), str(shard.token), error});
  if (!reply) return tl::unexpected(reply.error());
  if (reply->str == "dead") return FailOutcome::kDead;
  if (reply->str == "retry") return FailOutcome::kRetry;
  return FailOutcome::kStale;
}

RedisResult<int64_t> Queue::reap_expired(int limit) {
  auto reply = redis_.eval(kReap, {}, {keys_.prefix, std::to_string(limit)});
  if (!reply) return tl::unexpected(reply.error());
  return reply->as_int();
}

RedisResult<std::optional<std::string>> Queue::job_spec_bytes(const std::string& job_id) {
  auto reply = redis_.command({"GET", keys_.job_spec(job_id)});
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
  auto reply = redis_.command({"LLEN", keys_.pending()});
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
