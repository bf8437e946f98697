// auth/: who may use the coordinator's API. API tokens with roles (viewer < submitter <
// admin), kept in Redis only as SHA-256 hashes; dashboard sessions behind an HttpOnly
// cookie; one-time login links. Knows Redis (through queue/) and nothing of HTTP.
//
// A token is 32 random bytes from the operating system (256 bits), shown once when it
// is made. Redis holds its SHA-256 and its name and role, nothing from which the token can
// be recovered: a plain hash is enough for secrets of that entropy (slow password hashes
// exist for guessable secrets). Keys, all under the farm's prefix:
//   <p>:auth:tokens       HASH  sha256(token) -> {"name","role","created_ms"} (JSON)
//   <p>:auth:token_names  HASH  name -> sha256(token)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

#include "queue/redis.h"

namespace synthfarm::auth {

// Ordered: a role may do everything the roles below it may.
enum class Role { kViewer = 1, kSubmitter = 2, kAdmin = 3 };

std::string_view role_name(Role role);
// "viewer", "submitter" or "admin"; nullopt otherwise.
std::optional<Role> parse_role(std::string_view name);

// `bytes` random bytes from the OS CSPRNG as lowercase hex, behind `prefix`.
std::string random_secret(std::string_view prefix, size_t bytes = 32);
// SHA-256 of `data` as lowercase hex.
std::string sha256_hex(std::string_view data);
// Compares in time that depends only on the lengths, never on where the inputs differ.
bool constant_time_equal(std::string_view a, std::string_view b);

// The prefix of every token: lets secret scanners and humans recognise one.
inline constexpr std::string_view kTokenPrefix = "sft_";

struct TokenInfo {
  std::string name;
  Role role = Role::kViewer;
  int64_t created_ms = 0;
  std::string hash;  // sha256 of the token, hex
};

// The token table in Redis. Not thread-safe (it borrows one RedisClient).
class TokenStore {
 public:
  TokenStore(queue::RedisClient& redis, std::string prefix);

  // Makes a token called `name` (letters, digits, '.', '_', '-'; at most 64) and returns
  // the secret; fails when the name is taken or invalid, or Redis fails.
  tl::expected<std::string, std::string> create(const std::string& name, Role role, int64_t now_ms);
  // Every token, by name.
  tl::expected<std::vector<TokenInfo>, std::string> list();
  // The token of a SHA-256 hash (hex), read from Redis now; nullopt when there is none.
  tl::expected<std::optional<TokenInfo>, std::string> find_hash(const std::string& hash);
  // false: no token of that name. Sessions opened with the token end with it.
  tl::expected<bool, std::string> revoke(const std::string& name);

  std::string tokens_key() const { return prefix_ + ":auth:tokens"; }
  std::string names_key() const { return prefix_ + ":auth:token_names"; }

 private:
  queue::RedisClient& redis_;
  std::string prefix_;
};

// Checks a name for create(); nullopt when valid, else what is wrong.
std::optional<std::string> token_name_problem(std::string_view name);

}  // namespace synthfarm::auth
