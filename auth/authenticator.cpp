#include "auth/authenticator.h"

#include "auth/sessions.h"

namespace synthfarm::auth {
namespace {

constexpr auto kMaxAge = std::chrono::seconds(1);

}  // namespace

Authenticator::Authenticator(std::string prefix) : prefix_(std::move(prefix)) {}

tl::expected<std::shared_ptr<const Authenticator::Table>, std::string> Authenticator::table(
    queue::RedisClient& redis) {
  auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mutex_);
    if (table_ && now - loaded_at_ < kMaxAge) return table_;
    // Claim this refresh, so that a burst of requests reads Redis once.
    if (table_) loaded_at_ = now;
  }
  // Read without the lock held: Redis is I/O.
  auto tokens = TokenStore(redis, prefix_).list();
  std::lock_guard lock(mutex_);
  if (!tokens) {
    if (table_) return table_;  // serve what is known while Redis is away
    return tl::unexpected(tokens.error());
  }
  table_ = std::make_shared<const Table>(std::move(*tokens));
  loaded_at_ = now;
  return table_;
}

std::optional<Principal> Authenticator::find(const Table& table, std::string_view hash) const {
  // Every entry is compared, each in constant time: how long a lookup takes says nothing
  // about which hash, or how much of one, matched.
  const TokenInfo* match = nullptr;
  for (const auto& t : table) {
    if (constant_time_equal(t.hash, hash)) match = &t;
  }
  if (!match) return std::nullopt;
  return Principal{match->name, match->role, match->hash, false, ""};
}

tl::expected<std::optional<Principal>, std::string> Authenticator::by_token_hash(
    queue::RedisClient& redis, std::string_view hash) {
  auto cached = table(redis);
  if (!cached) return tl::unexpected(cached.error());
  if (auto p = find(**cached, hash)) return p;
  // Not in the cached table: maybe made since it was read. One HGET of this hash, so a
  // new token works at once (the hash is a SHA-256 of a random token: how long Redis
  // takes to look it up tells nothing about any token).
  auto fresh = TokenStore(redis, prefix_).find_hash(std::string(hash));
  if (!fresh) return find(**cached, hash);  // Redis away: what is known
  if (!fresh->has_value()) return std::optional<Principal>();
  return Principal{(*fresh)->name, (*fresh)->role, (*fresh)->hash, false, ""};
}

tl::expected<std::optional<Principal>, std::string> Authenticator::by_token(
    queue::RedisClient& redis, std::string_view token) {
  return by_token_hash(redis, sha256_hex(token));
}

tl::expected<std::optional<Principal>, std::string> Authenticator::by_session(
    queue::RedisClient& redis, const std::string& session_id) {
  auto session = SessionStore(redis, prefix_).find(session_id);
  if (!session) return tl::unexpected(session.error());
  if (!session->has_value()) return std::optional<Principal>();
  auto principal = by_token_hash(redis, (*session)->token_hash);
  if (!principal || !principal->has_value()) return principal;
  (*principal)->session = true;
  (*principal)->csrf = (*session)->csrf;
  return principal;
}

}  // namespace synthfarm::auth
