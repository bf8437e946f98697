#include "queue/queue.h"

#include <fmt/format.h>

#include <algorithm>

#include "queue/internal/lua_scripts.h"

namespace synthfarm::queue {
namespace {

std::string str(int64_t v) { return std::to_string(v); }

}  // namespace

RedisResult<void> Queue::submit(const std::string& job_id, const JobSubmission& job, int64_t now_ms) {
  std::vector<std::string> args = {
      keys_.prefix, job_id, str(job.shards),
      "name", job.name, "priority", str(job.priority), "samples", str(job.samples),
      "shard_size", str(job.shard_size), "shards_total", str(job.shards), "shards_done", "0", "shards_dead", "0",
      "samples_done", "0", "renders", "0", "created_ms", str(now_ms), "started_ms", "0", "finished_ms", "0",
      "max_attempts", str(job.max_attempts), "on_dead_shards", job.on_dead_shards, "storage", job.storage, "error", "",
      "owner", job.owner, "task", job.task, "spec_json", job.spec_json};
  auto reply = redis_.eval(lua::submit, {}, args);
  if (!reply) return tl::unexpected(reply.error());
  if (reply->as_int() != 1) return tl::unexpected(RedisError{false, "job " + job_id + " exists already"});
  return {};
}

RedisResult<std::optional<Lease>> Queue::claim(const std::string& worker_id, int64_t lease_ms,
                                               const std::vector<std::string>& tasks) {
  std::vector<std::string> args = {keys_.prefix, worker_id, str(lease_ms)};
  args.insert(args.end(), tasks.begin(), tasks.end());
  auto reply = redis_.eval(lua::claim, {}, args);
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
  auto reply = redis_.eval(lua::extend, {}, {keys_.prefix, shard.job_id, str(shard.shard),
                                         str(shard.token), str(lease_ms)});
  if (!reply) return tl::unexpected(reply.error());
  if (reply->as_int() == 0) return std::optional<int64_t>();
  return std::optional<int64_t>(reply->as_int());
}

RedisResult<bool> Queue::complete(const ShardRef& shard, int64_t renders, const ShardResiduals& residuals) {
  auto reply = redis_.eval(lua::complete, {},
                           {keys_.prefix, shard.job_id, str(shard.shard), str(shard.token), str(shard.sample_count),
                            str(renders), fmt::format("{:.17g}", residuals.sum_px), str(residuals.units)});
  if (!reply) return tl::unexpected(reply.error());
  return reply->as_int() == 1;  // 0: stale token; -1: job cancelled or deleted
}

RedisResult<bool> Queue::release(const ShardRef& shard) {
  auto reply = redis_.eval(lua::release, {}, {keys_.prefix, shard.job_id, str(shard.shard), str(shard.token)});
  if (!reply) return tl::unexpected(reply.error());
  return reply->as_int() == 1;
}

RedisResult<FailOutcome> Queue::fail(const ShardRef& shard, const std::string& error,
                                     const std::string& worker_id, const std::string& log_tail) {
  auto reply = redis_.eval(lua::fail, {}, {keys_.prefix, shard.job_id, str(shard.shard), str(shard.token), error,
                                       worker_id, str(retry_backoff_ms_), log_tail});
  if (!reply) return tl::unexpected(reply.error());
  if (reply->str == "dead") return FailOutcome::kDead;
  if (reply->str == "retry") return FailOutcome::kRetry;
  return FailOutcome::kStale;
}

RedisResult<ReapResult> Queue::reap_expired(int limit) {
  auto reply = redis_.eval(lua::reap, {}, {keys_.prefix, std::to_string(limit)});
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
    case JobAction::kPause: script = &lua::pause; break;
    case JobAction::kResume: script = &lua::resume; break;
    case JobAction::kCancel: script = &lua::cancel; break;
    case JobAction::kRetryDead: script = &lua::retry_dead; break;
    case JobAction::kDelete: script = &lua::delete_job; break;
  }
  auto reply = redis_.eval(*script, {}, {keys_.prefix, job_id});
  if (!reply) return tl::unexpected(reply.error());
  long long n = reply->as_int();
  return ControlOutcome{n >= 0, n > 0, n > 0 ? n : 0};
}

RedisResult<int64_t> Queue::add_renders(const ShardRef& shard, int64_t renders) {
  auto reply = redis_.eval(lua::add_renders, {}, {keys_.prefix, shard.job_id, str(shard.token), str(renders)});
  if (!reply) return tl::unexpected(reply.error());
  return reply->as_int();
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
  r.owner = text("owner");
  r.task = text("task");
  r.residual_sum_px = std::strtod(text("residual_sum_px").c_str(), nullptr);
  r.residual_units = num("residual_units");
  if (r.task.empty()) r.task = "render";  // jobs queued before tasks existed
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

int64_t JobCounts::total() const {
  int64_t n = 0;
  for (const auto& [state, jobs] : by_state) n += jobs;
  return n;
}

RedisResult<JobCounts> Queue::job_counts() {
  auto reply = redis_.eval(lua::job_counts, {}, {keys_.prefix});
  if (!reply) return tl::unexpected(reply.error());
  JobCounts counts;
  for (auto state : kJobStates) counts.by_state[std::string(state)] = 0;
  for (size_t i = 0; i + 1 < reply->elements.size(); i += 2) {
    counts.by_state[reply->elements[i].str] = reply->elements[i + 1].as_int();
  }
  return counts;
}

RedisResult<std::optional<int64_t>> Queue::rebuild_job_counts(bool only_if_missing) {
  auto reply = redis_.eval(lua::rebuild_job_counts, {}, {keys_.prefix, only_if_missing ? "missing" : "always"});
  if (!reply) return tl::unexpected(reply.error());
  if (reply->as_int() < 0) return std::optional<int64_t>();
  return std::optional<int64_t>(reply->as_int());
}

RedisResult<std::vector<std::string>> Queue::finalizable() {
  auto reply = redis_.command({"LRANGE", keys_.finalize(), "0", "-1"});
  if (!reply) return tl::unexpected(reply.error());
  std::vector<std::string> out;
  for (const auto& e : reply->elements) out.push_back(e.str);
  return out;
}

RedisResult<std::optional<int64_t>> Queue::finalize_claim(const std::string& job_id, const std::string& owner,
                                                          int64_t ttl_ms) {
  auto reply = redis_.eval(lua::finalize_claim, {}, {keys_.prefix, job_id, owner, std::to_string(ttl_ms)});
  if (!reply) return tl::unexpected(reply.error());
  if (reply->is_nil()) return std::optional<int64_t>();
  return std::optional<int64_t>(std::stoll(reply->str));
}

RedisResult<void> Queue::mark_done(const std::string& job_id) {
  auto reply = redis_.eval(lua::mark_done, {}, {keys_.prefix, job_id});
  if (!reply) return tl::unexpected(reply.error());
  return {};
}

RedisResult<void> Queue::mark_failed(const std::string& job_id, const std::string& error) {
  auto reply = redis_.eval(lua::mark_failed, {}, {keys_.prefix, job_id, error});
  if (!reply) return tl::unexpected(reply.error());
  return {};
}

RedisResult<int64_t> Queue::pending_shards() {
  int64_t total = 0;
  for (std::string_view task : keys::kTasks) {
    auto reply = redis_.command({"ZCARD", keys_.pending(task)});
    if (!reply) return tl::unexpected(reply.error());
    total += reply->as_int();
  }
  return total;
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

}  // namespace synthfarm::queue
