#include "auth/tokens.h"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace synthfarm::auth {
namespace {

std::string to_hex(const unsigned char* data, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(2 * n, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[data[i] >> 4];
    out[2 * i + 1] = kDigits[data[i] & 15];
  }
  return out;
}

std::string redis_error(const queue::RedisError& e) { return "redis: " + e.message; }

// Creates the name and the token atomically: either both entries exist or neither.
constexpr const char* kCreateScript = R"lua(
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
return 1
)lua";

constexpr const char* kRevokeScript = R"lua(
local hash = redis.call('HGET', KEYS[2], ARGV[1])
if not hash then return 0 end
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[1], hash)
return 1
)lua";

}  // namespace

std::string_view role_name(Role role) {
  switch (role) {
    case Role::kViewer:
      return "viewer";
    case Role::kSubmitter:
      return "submitter";
    case Role::kAdmin:
      return "admin";
  }
  return "viewer";
}

std::optional<Role> parse_role(std::string_view name) {
  if (name == "viewer") return Role::kViewer;
  if (name == "submitter") return Role::kSubmitter;
  if (name == "admin") return Role::kAdmin;
  return std::nullopt;
}

std::string random_secret(std::string_view prefix, size_t bytes) {
  std::string raw(bytes, '\0');
  // RAND_bytes draws from the OS entropy source through OpenSSL's DRBG; it fails only
  // when that source is unavailable, and then no secret may be made at all.
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1) {
    throw std::runtime_error("no randomness from the operating system");
  }
  return std::string(prefix) + to_hex(reinterpret_cast<const unsigned char*>(raw.data()), bytes);
}

std::string sha256_hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), digest, &n, EVP_sha256(), nullptr);
  return to_hex(digest, n);
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::optional<std::string> token_name_problem(std::string_view name) {
  if (name.empty()) return "a token needs a name";
  if (name.size() > 64) return fmt::format("token name is {} characters; at most 64", name.size());
  auto bad = std::find_if(name.begin(), name.end(), [](char c) {
    return !(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-');
  });
  if (bad != name.end()) {
    return fmt::format("token name '{}' has '{}'; use letters, digits, '.', '_' and '-'", name,
                       *bad);
  }
  return std::nullopt;
}

TokenStore::TokenStore(queue::RedisClient& redis, std::string prefix)
    : redis_(redis), prefix_(std::move(prefix)) {}

tl::expected<std::string, std::string> TokenStore::create(const std::string& name, Role role,
                                                          int64_t now_ms) {
  if (auto problem = token_name_problem(name)) return tl::unexpected(*problem);
  std::string token = random_secret(kTokenPrefix);
  std::string hash = sha256_hex(token);
  nlohmann::json info = {{"name", name}, {"role", role_name(role)}, {"created_ms", now_ms}};
  auto reply = redis_.eval(kCreateScript, {tokens_key(), names_key()}, {name, hash, info.dump()});
  if (!reply) return tl::unexpected(redis_error(reply.error()));
  if (reply->as_int() == 0) {
    return tl::unexpected(
        fmt::format("a token named '{}' exists; revoke it first or pick another name", name));
  }
  return token;
}

tl::expected<std::vector<TokenInfo>, std::string> TokenStore::list() {
  auto reply = redis_.command({"HGETALL", tokens_key()});
  if (!reply) return tl::unexpected(redis_error(reply.error()));
  std::vector<TokenInfo> out;
  for (size_t i = 0; i + 1 < reply->elements.size(); i += 2) {
    auto info = nlohmann::json::parse(reply->elements[i + 1].str, nullptr, false);
    if (!info.is_object()) continue;  // not ours; never fatal for the rest
    auto role = parse_role(info.value("role", ""));
    if (!role) continue;
    out.push_back({info.value("name", ""), *role, info.value("created_ms", int64_t{0}),
                   reply->elements[i].str});
  }
  std::sort(out.begin(), out.end(),
            [](const TokenInfo& a, const TokenInfo& b) { return a.name < b.name; });
  return out;
}

tl::expected<std::optional<TokenInfo>, std::string> TokenStore::find_hash(const std::string& hash) {
  auto reply = redis_.command({"HGET", tokens_key(), hash});
  if (!reply) return tl::unexpected(redis_error(reply.error()));
  if (reply->is_nil()) return std::optional<TokenInfo>();
  auto info = nlohmann::json::parse(reply->str, nullptr, false);
  auto role = info.is_object() ? parse_role(info.value("role", "")) : std::nullopt;
  if (!role) return std::optional<TokenInfo>();
  return std::optional<TokenInfo>(TokenInfo{info.value("name", ""), *role, info.value("created_ms", int64_t{0}), hash});
}

tl::expected<bool, std::string> TokenStore::revoke(const std::string& name) {
  auto reply = redis_.eval(kRevokeScript, {tokens_key(), names_key()}, {name});
  if (!reply) return tl::unexpected(redis_error(reply.error()));
  return reply->as_int() == 1;
}

}  // namespace synthfarm::auth
