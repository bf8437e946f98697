#include "coordinator/shard_api.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <optional>
#include <set>

#include "coordinator/api_json.h"
#include "jobs/sharding.h"
#include "queue/queue_view.h"

namespace synthfarm::coordinator {
namespace {

using nlohmann::json;

// Errors in a page of shards are cut to this many bytes (the shard's own route has them whole).
constexpr size_t kPageErrorBytes = 300;

struct JobShape {
  uint64_t shards_total = 0;
  uint64_t shard_size = 0;
  uint64_t samples = 0;
};

// The job's shard count and size, nullopt when there is no such job (after answering 404
// or 503).
std::optional<JobShape> job_shape(queue::RedisClient& redis, const queue::keys::Keys& keys,
                                  const std::string& id, httplib::Response& res) {
  auto reply = redis.command({"HMGET", keys.job(id), "shards_total", "shard_size", "samples"});
  if (!reply) {
    reply_error(res, 503, reply.error().message);
    return std::nullopt;
  }
  if (reply->elements.size() != 3 || reply->elements[0].is_nil()) {
    reply_error(res, 404, "no job " + id);
    return std::nullopt;
  }
  auto num = [&](size_t i) {
    return static_cast<uint64_t>(std::max(0LL, reply->elements[i].as_int(0)));
  };
  return JobShape{num(0), num(1), num(2)};
}

// A query parameter that must be a whole number: its value, `fallback` when absent, or an
// error naming it.
tl::expected<uint64_t, std::string> whole_number(const httplib::Request& req, const char* name,
                                                 uint64_t fallback) {
  if (!req.has_param(name)) return fallback;
  const std::string text = req.get_param_value(name);
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    return tl::unexpected(fmt::format("{}: expected a whole number, got '{}'", name, text));
  }
  return v;
}

// At most `bytes` bytes of `text`, not cutting a UTF-8 sequence, with "…" when cut.
std::string clip(const std::string& text, size_t bytes) {
  if (text.size() <= bytes) return text;
  size_t end = bytes;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end) + "…";
}

char state_code(const std::string& state) {
  if (state == "pending") return 'p';
  if (state == "leased") return 'l';
  if (state == "done") return 'd';
  if (state == "dead") return 'x';
  return '?';
}

json sample_range_json(const JobShape& job, uint64_t shard) {
  const auto range = jobs::shard_range(job.samples, std::max<uint64_t>(job.shard_size, 1), shard);
  return {{"first", range.begin}, {"count", range.size()}};
}

// The fields of a shard every view shows; `error_bytes` cuts its error (0: whole).
json shard_json(const queue::ShardStatus& s, size_t error_bytes) {
  json out = {{"shard", s.shard}, {"state", s.state}, {"attempts", s.attempts}};
  if (s.state == "leased") {
    out["worker"] = s.worker;
    out["deadline_ms"] = s.deadline_ms;
  }
  if (s.claimed_ms) out["claimed_ms"] = s.claimed_ms;
  if (s.done_ms) out["done_ms"] = s.done_ms;
  if (s.dead_ms) out["dead_ms"] = s.dead_ms;
  if (!s.last_error.empty())
    out["error"] = error_bytes ? clip(s.last_error, error_bytes) : s.last_error;
  return out;
}

}  // namespace

void get_job_shards(queue::RedisClient& redis, const queue::keys::Keys& keys,
                    const std::string& job_id, const httplib::Request& req, httplib::Response& res,
                    int64_t now_ms) {
  auto from = whole_number(req, "from", 0);
  if (!from) return reply_error(res, 400, from.error());
  auto count = whole_number(req, "count", kShardPage);
  if (!count) return reply_error(res, 400, count.error());
  if (*count < 1 || *count > kShardPage) {
    return reply_error(res, 400,
                       fmt::format("count: expected 1 to {} shards, got {}", kShardPage, *count));
  }
  auto job = job_shape(redis, keys, job_id, res);
  if (!job) return;
  if (*from > job->shards_total) {
    return reply_error(res, 400,
                       fmt::format("from: job {} has {} shards, so from is at most {}; got {}",
                                   job_id, job->shards_total, job->shards_total, *from));
  }
  auto shards = queue::QueueView(redis, keys).shards(job_id, *from, *count, job->shards_total);
  if (!shards) return reply_error(res, 503, shards.error().message);
  std::string states;
  states.reserve(shards->size());
  json attempts = json::array();
  json details = json::array();
  size_t omitted = 0;
  std::map<std::string, int64_t> counts = {{"pending", 0}, {"leased", 0}, {"done", 0}, {"dead", 0}};
  for (const auto& s : *shards) {
    states.push_back(state_code(s.state));
    attempts.push_back(s.attempts);
    ++counts[s.state];
    // Done shards and shards never claimed say all there is in their state and attempts.
    if (s.state == "done" || (s.state == "pending" && s.attempts == 0 && s.last_error.empty()))
      continue;
    if (details.size() < kMaxShardDetails)
      details.push_back(shard_json(s, kPageErrorBytes));
    else
      ++omitted;
  }
  const uint64_t next = *from + shards->size();
  reply_json(
      res, 200,
      {{"id", job_id},
       {"time_ms", now_ms},
       {"shards_total", job->shards_total},
       {"shard_size", job->shard_size},
       {"samples", job->samples},
       {"from", *from},
       {"count", shards->size()},
       {"next_from", next < job->shards_total ? json(next) : json(nullptr)},
       {"codes", {{"p", "pending"}, {"l", "leased"}, {"d", "done"}, {"x", "dead"}, {"?", "other"}}},
       {"states", states},
       {"attempts", attempts},
       {"counts", counts},
       {"details", details},
       {"details_omitted", omitted}});
}

void get_job_shard(queue::RedisClient& redis, const queue::keys::Keys& keys,
                   const std::string& job_id, const std::string& shard_text, httplib::Response& res,
                   int64_t now_ms) {
  auto job = job_shape(redis, keys, job_id, res);
  if (!job) return;
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(shard_text.data(), shard_text.data() + shard_text.size(), n);
  if (ec != std::errc() || end != shard_text.data() + shard_text.size() || n >= job->shards_total) {
    return reply_error(
        res, 404,
        fmt::format("job {} has {} shards (0 to {}); no shard {}", job_id, job->shards_total,
                    job->shards_total ? job->shards_total - 1 : 0, shard_text));
  }
  auto shard = queue::QueueView(redis, keys).shard(job_id, n);
  if (!shard) return reply_error(res, 503, shard.error().message);
  json body = shard_json(*shard, 0);
  body["id"] = job_id;
  body["time_ms"] = now_ms;
  body["log_tail"] = shard->log_tail;
  body["samples"] = sample_range_json(*job, n);
  reply_json(res, 200, body);
}

namespace {

json blocklist_entries_json(const std::vector<queue::BlocklistEntry>& entries,
                            const std::map<std::string, std::string>& job_names) {
  json out = json::array();
  for (const auto& e : entries) {
    json entry = {{"worker", e.worker}, {"job", e.job_id}, {"failures", e.failures}};
    if (auto it = job_names.find(e.job_id); it != job_names.end()) entry["job_name"] = it->second;
    if (e.reason_known) {
      entry["shard"] = e.shard;
      entry["error"] = e.error;
      entry["at_ms"] = e.at_ms;
    }
    out.push_back(std::move(entry));
  }
  return out;
}

}  // namespace

json blocklist_json(queue::RedisClient& redis, const queue::keys::Keys& keys,
                    const std::string& job_id) {
  auto entries = queue::QueueView(redis, keys).blocklists({job_id});
  return entries ? blocklist_entries_json(*entries, {}) : json::array();
}

void get_failures(queue::RedisClient& redis, const queue::keys::Keys& keys,
                  const httplib::Request& req, httplib::Response& res, int64_t now_ms) {
  auto limit = whole_number(req, "limit", kFailuresDefault);
  if (!limit) return reply_error(res, 400, limit.error());
  if (*limit < 1 || *limit > static_cast<uint64_t>(kFailuresMax)) {
    return reply_error(
        res, 400,
        fmt::format("limit: expected 1 to {} dead letters, got {}", kFailuresMax, *limit));
  }
  queue::QueueView view(redis, keys);
  auto dead = view.dead_letters(static_cast<int>(*limit));
  if (!dead) return reply_error(res, 503, dead.error().message);
  // Blocklists of the jobs with dead letters here and of the newest jobs (as GET /api/jobs
  // lists them): a bounded read, never every job.
  auto newest = redis.command({"ZREVRANGE", keys.jobs(), "0", "199"});
  if (!newest) return reply_error(res, 503, newest.error().message);
  std::vector<std::string> job_ids;
  std::set<std::string> seen;
  for (const auto& d : dead->newest) {
    if (seen.insert(d.job_id).second) job_ids.push_back(d.job_id);
  }
  for (const auto& m : newest->elements) {
    if (seen.insert(m.str).second) job_ids.push_back(m.str);
  }
  auto blocked = view.blocklists(job_ids);
  if (!blocked) return reply_error(res, 503, blocked.error().message);
  // Names and states of the jobs shown.
  std::vector<std::string> shown;
  for (const auto& d : dead->newest) shown.push_back(d.job_id);
  for (const auto& b : *blocked) shown.push_back(b.job_id);
  std::sort(shown.begin(), shown.end());
  shown.erase(std::unique(shown.begin(), shown.end()), shown.end());
  std::vector<std::vector<std::string>> commands;
  for (const auto& id : shown)
    commands.push_back(
        {"HMGET", keys.job(id), "name", "state", "shards_total", "shard_size", "samples"});
  std::map<std::string, std::string> names, states;
  std::map<std::string, JobShape> shapes;
  if (!commands.empty()) {
    auto replies = redis.pipeline(commands);
    if (!replies) return reply_error(res, 503, replies.error().message);
    for (size_t i = 0; i < shown.size(); ++i) {
      const auto& e = (*replies)[i].elements;
      if (e.size() != 5 || e[1].is_nil()) continue;
      names[shown[i]] = e[0].str;
      states[shown[i]] = e[1].str;
      auto num = [&](size_t k) { return static_cast<uint64_t>(std::max(0LL, e[k].as_int(0))); };
      shapes[shown[i]] = {num(2), num(3), num(4)};
    }
  }
  json letters = json::array();
  for (const auto& d : dead->newest) {
    json entry = shard_json(d.shard, 0);
    entry["job"] = d.job_id;
    entry["job_name"] = names.count(d.job_id) ? names[d.job_id] : "";
    entry["job_state"] = states.count(d.job_id) ? states[d.job_id] : "";
    entry["log_tail"] = d.shard.log_tail;
    if (shapes.count(d.job_id))
      entry["samples"] = sample_range_json(shapes[d.job_id], d.shard.shard);
    letters.push_back(std::move(entry));
  }
  reply_json(res, 200,
             {{"time_ms", now_ms},
              {"dead", letters},
              {"more", dead->more},
              {"blocklisted", blocklist_entries_json(*blocked, names)}});
}

}  // namespace synthfarm::coordinator
