#include "queue/queue_view.h"

#include <algorithm>
#include <charconv>
#include <string_view>

namespace synthfarm::queue {
namespace {

// The shard hash's fields, in the order shard_from_fields() reads them.
const std::vector<std::string> kShardFields = {"state",      "attempts", "worker",  "deadline_ms",
                                               "claimed_ms", "done_ms",  "dead_ms", "last_error"};

int64_t field_int(const RedisReply& r) { return r.is_nil() ? 0 : r.as_int(0); }

// `fields` answers HMGET of kShardFields (and log_tail after them, when asked for).
ShardStatus shard_from_fields(uint64_t shard, const RedisReply& fields) {
  ShardStatus s;
  s.shard = shard;
  const auto& e = fields.elements;
  if (e.size() < kShardFields.size() || e[0].is_nil()) {
    s.state = "pending";  // never claimed: the hash is made by the first claim
    return s;
  }
  s.state = e[0].str;
  s.attempts = field_int(e[1]);
  s.worker = e[2].str;
  s.deadline_ms = field_int(e[3]);
  s.claimed_ms = field_int(e[4]);
  s.done_ms = field_int(e[5]);
  s.dead_ms = field_int(e[6]);
  s.last_error = e[7].str;
  if (e.size() > kShardFields.size()) s.log_tail = e[kShardFields.size()].str;
  return s;
}

std::optional<uint64_t> parse_u64(std::string_view text) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

// "<shard>\t<time ms>\t<failures>\t<error>", as fail.lua writes it.
void parse_reason(std::string_view text, BlocklistEntry& entry) {
  std::string_view parts[3];
  for (auto& part : parts) {
    size_t tab = text.find('\t');
    if (tab == std::string_view::npos) return;
    part = text.substr(0, tab);
    text.remove_prefix(tab + 1);
  }
  auto shard = parse_u64(parts[0]);
  auto at = parse_u64(parts[1]);
  auto failures = parse_u64(parts[2]);
  if (!shard || !at || !failures) return;
  entry.reason_known = true;
  entry.shard = *shard;
  entry.at_ms = static_cast<int64_t>(*at);
  entry.failures = std::max(entry.failures, static_cast<int64_t>(*failures));
  entry.error = std::string(text);
}

}  // namespace

RedisResult<std::vector<ShardStatus>> QueueView::shards(const std::string& job_id, uint64_t first,
                                                        uint64_t count, uint64_t shards_total) {
  std::vector<ShardStatus> out;
  if (first >= shards_total) return out;
  const uint64_t end = first + std::min(count, shards_total - first);
  std::vector<std::vector<std::string>> commands;
  commands.reserve(end - first);
  for (uint64_t n = first; n < end; ++n) {
    std::vector<std::string> cmd = {"HMGET", keys_.shard(job_id, n)};
    cmd.insert(cmd.end(), kShardFields.begin(), kShardFields.end());
    commands.push_back(std::move(cmd));
  }
  auto replies = redis_.pipeline(commands);
  if (!replies) return tl::unexpected(replies.error());
  out.reserve(replies->size());
  for (size_t i = 0; i < replies->size(); ++i)
    out.push_back(shard_from_fields(first + i, (*replies)[i]));
  return out;
}

RedisResult<ShardStatus> QueueView::shard(const std::string& job_id, uint64_t shard) {
  std::vector<std::string> cmd = {"HMGET", keys_.shard(job_id, shard)};
  cmd.insert(cmd.end(), kShardFields.begin(), kShardFields.end());
  cmd.push_back("log_tail");
  auto reply = redis_.command(cmd);
  if (!reply) return tl::unexpected(reply.error());
  return shard_from_fields(shard, *reply);
}

RedisResult<QueueView::DeadLetters> QueueView::dead_letters(int limit) {
  DeadLetters out;
  if (limit <= 0) return out;
  auto members =
      redis_.command({"LRANGE", keys_.dead(), "0", std::to_string(limit)});  // one more than asked
  if (!members) return tl::unexpected(members.error());
  std::vector<std::vector<std::string>> commands;
  for (const auto& m : members->elements) {
    if (static_cast<int>(out.newest.size()) == limit) {
      out.more = true;
      break;
    }
    const size_t slash = m.str.rfind('/');
    auto shard = slash == std::string::npos ? std::nullopt
                                            : parse_u64(std::string_view(m.str).substr(slash + 1));
    if (!shard) continue;  // not a member the scripts write
    DeadLetter d;
    d.job_id = m.str.substr(0, slash);
    d.shard.shard = *shard;
    std::vector<std::string> cmd = {"HMGET", keys_.shard(d.job_id, *shard)};
    cmd.insert(cmd.end(), kShardFields.begin(), kShardFields.end());
    cmd.push_back("log_tail");
    commands.push_back(std::move(cmd));
    out.newest.push_back(std::move(d));
  }
  if (commands.empty()) return out;
  auto replies = redis_.pipeline(commands);
  if (!replies) return tl::unexpected(replies.error());
  for (size_t i = 0; i < out.newest.size(); ++i) {
    out.newest[i].shard = shard_from_fields(out.newest[i].shard.shard, (*replies)[i]);
  }
  return out;
}

RedisResult<std::vector<BlocklistEntry>> QueueView::blocklists(
    const std::vector<std::string>& job_ids) {
  std::vector<BlocklistEntry> out;
  if (job_ids.empty()) return out;
  std::vector<std::vector<std::string>> commands;
  for (const auto& id : job_ids) {
    const std::string job = keys_.job(id);
    commands.push_back({"SMEMBERS", job + ":blocklist"});
    commands.push_back({"HGETALL", job + ":blocklist_reasons"});
    commands.push_back({"HGETALL", job + ":failures"});
  }
  auto replies = redis_.pipeline(commands);
  if (!replies) return tl::unexpected(replies.error());
  for (size_t j = 0; j < job_ids.size(); ++j) {
    const auto& members = (*replies)[3 * j].elements;
    if (members.empty()) continue;
    std::map<std::string, std::string> reasons;
    std::map<std::string, int64_t> failures;
    const auto& r = (*replies)[3 * j + 1].elements;
    for (size_t k = 0; k + 1 < r.size(); k += 2) reasons[r[k].str] = r[k + 1].str;
    const auto& f = (*replies)[3 * j + 2].elements;
    for (size_t k = 0; k + 1 < f.size(); k += 2) failures[f[k].str] = f[k + 1].as_int(0);
    std::vector<BlocklistEntry> entries;
    for (const auto& m : members) {
      BlocklistEntry e;
      e.job_id = job_ids[j];
      e.worker = m.str;
      if (auto it = failures.find(m.str); it != failures.end()) e.failures = it->second;
      if (auto it = reasons.find(m.str); it != reasons.end()) parse_reason(it->second, e);
      entries.push_back(std::move(e));
    }
    std::sort(entries.begin(), entries.end(),
              [](const BlocklistEntry& a, const BlocklistEntry& b) { return a.worker < b.worker; });
    out.insert(out.end(), entries.begin(), entries.end());
  }
  return out;
}

}  // namespace synthfarm::queue
