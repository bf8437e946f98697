// A small synchronous Redis client over hiredis. hiredis types stay in redis.cpp.
//
// Connection handling: the client connects lazily (then AUTH, when the endpoint has a
// password, and SELECT) and, after any I/O error, drops the connection and reconnects on
// the next call. It never retries a command by itself (a command may have run before the
// connection broke); callers decide, usually with retry_with_backoff() below, and every
// queue script is safe to run twice. Refused credentials are no connection error: they
// would be refused again (RedisError::credentials_refused).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "queue/redis_endpoint.h"

namespace synthfarm::queue {

struct RedisReply {
  enum class Type { kNil, kInteger, kString, kArray, kStatus };
  Type type = Type::kNil;
  long long integer = 0;
  std::string str;  // kString, kStatus
  std::vector<RedisReply> elements;
  bool is_nil() const { return type == Type::kNil; }
  // Integer replies, or strings that hold an integer; `fallback` otherwise.
  long long as_int(long long fallback = 0) const;
};

struct RedisError {
  bool connection = false;  // true: unreachable or the link broke; retrying may help
  std::string message;      // names the endpoint for connection and credential errors
  // The server refused our user and password, or wants some and we have none: retrying
  // with the same credentials cannot help, so processes report it and exit.
  bool credentials_refused = false;
};

template <typename T>
using RedisResult = tl::expected<T, RedisError>;

// Not thread-safe: one owner thread per client.
class RedisClient {
 public:
  static std::unique_ptr<RedisClient> create(RedisEndpoint endpoint,
                                             std::chrono::milliseconds timeout = std::chrono::seconds(5));
  virtual ~RedisClient() = default;
  virtual const RedisEndpoint& endpoint() const = 0;
  virtual RedisResult<RedisReply> command(const std::vector<std::string>& args) = 0;
  // Sends every command, then reads every reply (one round trip).
  virtual RedisResult<std::vector<RedisReply>> pipeline(
      const std::vector<std::vector<std::string>>& commands) = 0;
  // EVALSHA with a transparent EVAL on NOSCRIPT (after a Redis restart).
  virtual RedisResult<RedisReply> eval(const std::string& script, const std::vector<std::string>& keys,
                                       const std::vector<std::string>& args) = 0;
};

// Runs `attempt` until it succeeds, fails with a non-connection error, or `stop` is set.
// Sleeps with exponential backoff and full jitter between 100 ms and `max_delay`, and
// calls `on_retry` (for logging) before each sleep.
template <typename T>
RedisResult<T> retry_with_backoff(const std::function<RedisResult<T>()>& attempt,
                                  const std::atomic<bool>& stop,
                                  const std::function<void(const RedisError&, std::chrono::milliseconds)>& on_retry,
                                  std::chrono::milliseconds max_delay = std::chrono::seconds(5));

// Implementation detail of retry_with_backoff: sleeps for `delay`, waking early on stop.
void sleep_unless_stopped(std::chrono::milliseconds delay, const std::atomic<bool>& stop);
std::chrono::milliseconds backoff_delay(int attempt, std::chrono::milliseconds max_delay);

template <typename T>
RedisResult<T> retry_with_backoff(const std::function<RedisResult<T>()>& attempt,
                                  const std::atomic<bool>& stop,
                                  const std::function<void(const RedisError&, std::chrono::milliseconds)>& on_retry,
                                  std::chrono::milliseconds max_delay) {
  for (int n = 0;; ++n) {
    auto result = attempt();
    if (result || !result.error().connection || stop.load()) return result;
    auto delay = backoff_delay(n, max_delay);
    if (on_retry) on_retry(result.error(), delay);
    sleep_unless_stopped(delay, stop);
    if (stop.load()) return result;
  }
}

}  // namespace synthfarm::queue
