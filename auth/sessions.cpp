#include "auth/sessions.h"

#include <nlohmann/json.hpp>

#include "auth/tokens.h"

namespace synthfarm::auth {
namespace {

std::string store_error(const queue::RedisError& e) { return "redis: " + e.message; }

}  // namespace

SessionStore::SessionStore(queue::RedisClient& redis, std::string prefix)
    : redis_(redis), prefix_(std::move(prefix)) {}

tl::expected<Session, std::string> SessionStore::create(const std::string& token_hash,
                                                        std::chrono::seconds ttl) {
  Session s{random_secret("", 32), token_hash, random_secret("", 32)};
  nlohmann::json stored = {{"token", token_hash}, {"csrf", s.csrf}};
  auto reply = redis_.command({"SET", prefix_ + ":auth:session:" + sha256_hex(s.id), stored.dump(),
                               "EX", std::to_string(ttl.count())});
  if (!reply) return tl::unexpected(store_error(reply.error()));
  return s;
}

tl::expected<std::optional<Session>, std::string> SessionStore::find(
    const std::string& session_id) {
  auto reply = redis_.command({"GET", prefix_ + ":auth:session:" + sha256_hex(session_id)});
  if (!reply) return tl::unexpected(store_error(reply.error()));
  if (reply->is_nil()) return std::optional<Session>();
  auto stored = nlohmann::json::parse(reply->str, nullptr, false);
  if (!stored.is_object()) return std::optional<Session>();
  return std::optional<Session>(Session{"", stored.value("token", ""), stored.value("csrf", "")});
}

tl::expected<void, std::string> SessionStore::remove(const std::string& session_id) {
  auto reply = redis_.command({"DEL", prefix_ + ":auth:session:" + sha256_hex(session_id)});
  if (!reply) return tl::unexpected(store_error(reply.error()));
  return {};
}

tl::expected<std::string, std::string> SessionStore::create_login_code(
    const std::string& token_hash, std::chrono::seconds ttl) {
  std::string code = random_secret("", 32);
  auto reply = redis_.command({"SET", prefix_ + ":auth:login:" + sha256_hex(code), token_hash, "EX",
                               std::to_string(ttl.count())});
  if (!reply) return tl::unexpected(store_error(reply.error()));
  return code;
}

tl::expected<std::optional<std::string>, std::string> SessionStore::redeem_login_code(
    const std::string& code) {
  auto reply = redis_.command({"GETDEL", prefix_ + ":auth:login:" + sha256_hex(code)});
  if (!reply) return tl::unexpected(store_error(reply.error()));
  if (reply->is_nil()) return std::optional<std::string>();
  return std::optional<std::string>(reply->str);
}

}  // namespace synthfarm::auth
