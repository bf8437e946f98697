#include "coordinator/redis_checks.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace synthfarm::coordinator {

std::optional<std::string> info_field(std::string_view info, std::string_view field) {
  while (!info.empty()) {
    auto end = info.find('\n');
    auto line = info.substr(0, end);
    info = end == std::string_view::npos ? std::string_view() : info.substr(end + 1);
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (line.size() > field.size() && line.starts_with(field) && line[field.size()] == ':') {
      return std::string(line.substr(field.size() + 1));
    }
  }
  return std::nullopt;
}

queue::RedisResult<std::optional<std::string>> eviction_problem(queue::RedisClient& redis) {
  auto reply = redis.command({"INFO", "memory"});
  if (!reply) {
    if (reply.error().connection || reply.error().credentials_refused) return tl::unexpected(reply.error());
    spdlog::warn("cannot read redis maxmemory-policy ({}); make sure it is noeviction", reply.error().message);
    return std::optional<std::string>();
  }
  auto policy = info_field(reply->str, "maxmemory_policy");
  if (!policy) {
    spdlog::warn("redis at {} reports no maxmemory_policy in INFO memory; make sure it is noeviction",
                 redis.endpoint().to_string());
    return std::optional<std::string>();
  }
  if (*policy != "noeviction") {
    return std::optional<std::string>(fmt::format(
        "redis at {} has maxmemory-policy {}: it may evict queue keys and lose jobs. Set "
        "maxmemory-policy noeviction (ops/redis.conf has the settings synthfarm needs)",
        redis.endpoint().to_string(), *policy));
  }
  return std::optional<std::string>();
}

}  // namespace synthfarm::coordinator
