// Checks of the Redis server a coordinator is given, made at start and again once an
// unreachable server answers. Internal to coordinator/.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "queue/redis.h"

namespace synthfarm::coordinator {

// The value of `field` in an INFO reply ("field:value" lines), or nullopt.
std::optional<std::string> info_field(std::string_view info, std::string_view field);

// Redis must never evict queue keys: an evicted lease or job hash loses work silently.
// Returns a message when the server's policy would drop keys; nullopt when it is safe or
// cannot be read. The policy comes from INFO, not CONFIG GET: CONFIG can rewrite the
// server, so the coordinator's ACL user has no CONFIG (ops/redis.acl), and managed Redis
// services often disable it for everyone.
queue::RedisResult<std::optional<std::string>> eviction_problem(queue::RedisClient& redis);

}  // namespace synthfarm::coordinator
