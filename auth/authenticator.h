// Who is asking: turns a bearer token or a dashboard session id into a principal (name and
// role), for the coordinator's HTTP layer. Thread-safe.
//
// The token table is cached in memory and read again from Redis once it is a second old;
// a token not in it is looked up in Redis by its hash, so a token made a moment ago works
// at once, and a revoked one stops within a second. Presented tokens are hashed and
// compared against every cached hash in constant time.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <tl/expected.hpp>
#include <vector>

#include "auth/tokens.h"
#include "queue/redis.h"

namespace synthfarm::auth {

struct Principal {
  std::string name;  // the token's name; recorded on the jobs it submits
  Role role = Role::kViewer;
  std::string token_hash;
  bool session = false;  // came with the dashboard's cookie: changes need the CSRF secret
  std::string csrf;      // the session's CSRF secret (session only)
};

class Authenticator {
 public:
  explicit Authenticator(std::string prefix);

  // nullopt: no such token. Errors: Redis could not be read and nothing is cached.
  tl::expected<std::optional<Principal>, std::string> by_token(queue::RedisClient& redis,
                                                               std::string_view token);
  // The principal of a token hash (a session's or a login code's token); nullopt once revoked.
  tl::expected<std::optional<Principal>, std::string> by_token_hash(queue::RedisClient& redis,
                                                                    std::string_view hash);
  // nullopt: no such session, it expired, or its token was revoked.
  tl::expected<std::optional<Principal>, std::string> by_session(queue::RedisClient& redis,
                                                                 const std::string& session_id);

 private:
  using Table = std::vector<TokenInfo>;
  // The cached table, read again when stale.
  tl::expected<std::shared_ptr<const Table>, std::string> table(queue::RedisClient& redis);
  std::optional<Principal> find(const Table& table, std::string_view hash) const;

  std::string prefix_;
  std::mutex mutex_;
  std::shared_ptr<const Table> table_;                 // GUARDED_BY(mutex_)
  std::chrono::steady_clock::time_point loaded_at_{};  // GUARDED_BY(mutex_)
};

}  // namespace synthfarm::auth
