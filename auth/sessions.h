// Dashboard sessions and one-time login links (see tokens.h for the token table).
//
// A browser cannot attach a bearer token to an EventSource or an <img>, so the dashboard
// trades a token for a session once: a random session id in an HttpOnly, SameSite=Strict
// cookie, and a CSRF secret the page sends back in a header on every change. Redis holds
// both only hashed, with the token they stand for; revoking that token ends the session.
// A login link carries a one-time code (not the token) that opens a session and is gone.
//   <p>:auth:session:<sha256(id)>   STRING {"token","csrf"} (JSON), expires with the session
//   <p>:auth:login:<sha256(code)>   STRING sha256(token), expires unused after its TTL
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <tl/expected.hpp>

#include "queue/redis.h"

namespace synthfarm::auth {

struct Session {
  std::string id;          // the cookie's value (only in the answer to create())
  std::string token_hash;  // the token the session stands for
  std::string csrf;        // sent back by the page in X-CSRF-Token
};

// Not thread-safe (it borrows one RedisClient).
class SessionStore {
 public:
  SessionStore(queue::RedisClient& redis, std::string prefix);

  tl::expected<Session, std::string> create(const std::string& token_hash,
                                            std::chrono::seconds ttl);
  // nullopt: no such session, or it expired.
  tl::expected<std::optional<Session>, std::string> find(const std::string& session_id);
  tl::expected<void, std::string> remove(const std::string& session_id);

  // A one-time code for a login link, standing for the token whose hash is given.
  tl::expected<std::string, std::string> create_login_code(const std::string& token_hash,
                                                           std::chrono::seconds ttl);
  // The token hash the code stood for, once: the code is deleted as it is read.
  tl::expected<std::optional<std::string>, std::string> redeem_login_code(const std::string& code);

 private:
  queue::RedisClient& redis_;
  std::string prefix_;
};

}  // namespace synthfarm::auth
