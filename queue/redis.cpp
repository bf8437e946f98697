#include "queue/redis.h"

#include <hiredis/hiredis.h>

#include <charconv>
#include <optional>
#include <unordered_map>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <openssl/sha.h>

namespace synthfarm::queue {
namespace {

struct ContextDeleter {
  void operator()(redisContext* c) const { redisFree(c); }
};
struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using ContextPtr = std::unique_ptr<redisContext, ContextDeleter>;
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

RedisReply convert(const redisReply* r) {
  RedisReply out;
  switch (r->type) {
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::kInteger;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_STRING:
      out.type = RedisReply::Type::kString;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = RedisReply::Type::kStatus;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::kArray;
      for (size_t i = 0; i < r->elements; ++i) out.elements.push_back(convert(r->element[i]));
      break;
    default:
      out.type = RedisReply::Type::kNil;
  }
  return out;
}

std::string sha1_hex(const std::string& text) {
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  std::string hex;
  for (unsigned char b : digest) hex += fmt::format("{:02x}", b);
  return hex;
}

class HiredisClient final : public RedisClient {
 public:
  HiredisClient(RedisEndpoint endpoint, std::chrono::milliseconds timeout)
      : endpoint_(std::move(endpoint)), timeout_(timeout) {}

  const RedisEndpoint& endpoint() const override { return endpoint_; }

  RedisResult<RedisReply> command(const std::vector<std::string>& args) override {
    auto replies = pipeline({args});
    if (!replies) return tl::unexpected(replies.error());
    return std::move(replies->front());
  }

  RedisResult<std::vector<RedisReply>> pipeline(
      const std::vector<std::vector<std::string>>& commands) override {
    if (auto ok = ensure_connected(); !ok) return tl::unexpected(ok.error());
    for (const auto& args : commands) {
      std::vector<const char*> argv;
      std::vector<size_t> lens;
      for (const auto& a : args) {
        argv.push_back(a.data());
        lens.push_back(a.size());
      }
      if (redisAppendCommandArgv(context_.get(), static_cast<int>(argv.size()), argv.data(),
                                 lens.data()) != REDIS_OK) {
        return tl::unexpected(broken());
      }
    }
    std::vector<RedisReply> out;
    std::optional<RedisError> command_error;
    for (size_t i = 0; i < commands.size(); ++i) {
      void* raw = nullptr;
      if (redisGetReply(context_.get(), &raw) != REDIS_OK || raw == nullptr) {
        return tl::unexpected(broken());
      }
      ReplyPtr reply(static_cast<redisReply*>(raw));
      if (reply->type == REDIS_REPLY_ERROR) {
        if (!command_error) {
          std::string text(reply->str, reply->len);
          if (text.starts_with("NOAUTH")) {
            // The server wants a user and password and the endpoint has none.
            if (text.ends_with('.')) text.pop_back();
            command_error = RedisError{.message = fmt::format("redis at {}:{} requires a user and password, "
                                                              "and none was given: {}",
                                                              endpoint_.host, endpoint_.port, text),
                                       .credentials_refused = true};
          } else {
            command_error = RedisError{false, fmt::format("redis {}: {} ({})", endpoint_.to_string(), text,
                                                          commands[i].empty() ? "" : commands[i][0])};
          }
        }
        out.emplace_back();
        continue;
      }
      out.push_back(convert(reply.get()));
    }
    if (command_error) return tl::unexpected(*command_error);
    return out;
  }

  RedisResult<RedisReply> eval(const std::string& script, const std::vector<std::string>& keys,
                               const std::vector<std::string>& args) override {
    auto& sha = sha_cache_[&script];
    if (sha.empty()) sha = sha1_hex(script);
    std::vector<std::string> cmd = {"EVALSHA", sha, std::to_string(keys.size())};
    cmd.insert(cmd.end(), keys.begin(), keys.end());
    cmd.insert(cmd.end(), args.begin(), args.end());
    auto reply = command(cmd);
    if (!reply && !reply.error().connection &&
        reply.error().message.find("NOSCRIPT") != std::string::npos) {
      cmd[0] = "EVAL";
      cmd[1] = script;
      return command(cmd);
    }
    return reply;
  }

 private:
  RedisResult<void> ensure_connected() {
    if (context_) return {};
    timeval tv{static_cast<time_t>(timeout_.count() / 1000),
               static_cast<suseconds_t>((timeout_.count() % 1000) * 1000)};
    ContextPtr ctx(redisConnectWithTimeout(endpoint_.host.c_str(), endpoint_.port, tv));
    if (!ctx || ctx->err) {
      std::string why = ctx ? ctx->errstr : "out of memory";
      return tl::unexpected(RedisError{true, fmt::format("redis at {} is unreachable: {}",
                                                         endpoint_.to_string(), why)});
    }
    redisSetTimeout(ctx.get(), tv);
    redisEnableKeepAlive(ctx.get());
    context_ = std::move(ctx);
    if (auto authenticated = authenticate(); !authenticated) {
      context_.reset();
      return authenticated;
    }
    if (endpoint_.db != 0) {
      auto selected = command({"SELECT", std::to_string(endpoint_.db)});
      if (!selected) {
        context_.reset();
        return tl::unexpected(selected.error());
      }
    }
    return {};
  }

  // AUTH, first on every new connection. Built by hand rather than through command():
  // its arguments must never reach a message, and a refusal gets its own kind of error.
  RedisResult<void> authenticate() {
    if (endpoint_.password.empty()) return {};
    std::vector<const char*> argv = {"AUTH"};
    std::vector<size_t> lens = {4};
    if (!endpoint_.user.empty()) {
      argv.push_back(endpoint_.user.data());
      lens.push_back(endpoint_.user.size());
    }
    argv.push_back(endpoint_.password.data());
    lens.push_back(endpoint_.password.size());
    ReplyPtr reply(static_cast<redisReply*>(
        redisCommandArgv(context_.get(), static_cast<int>(argv.size()), argv.data(), lens.data())));
    if (!reply) return tl::unexpected(broken());
    if (reply->type == REDIS_REPLY_ERROR) {
      // e.g. "WRONGPASS invalid username-password pair or user is disabled."
      std::string_view why(reply->str, reply->len);
      if (why.ends_with('.')) why.remove_suffix(1);  // callers add to the message
      return tl::unexpected(RedisError{
          .message = fmt::format("redis at {}:{} refused user '{}': {}", endpoint_.host, endpoint_.port,
                                 endpoint_.user.empty() ? "default" : endpoint_.user, why),
          .credentials_refused = true});
    }
    return {};
  }

  RedisError broken() {
    std::string why = context_ && context_->errstr[0] ? context_->errstr : "connection lost";
    context_.reset();
    return RedisError{true, fmt::format("redis at {}: {}", endpoint_.to_string(), why)};
  }

  RedisEndpoint endpoint_;
  std::chrono::milliseconds timeout_;
  ContextPtr context_;
  std::unordered_map<const std::string*, std::string> sha_cache_;
};

}  // namespace

long long RedisReply::as_int(long long fallback) const {
  if (type == Type::kInteger) return integer;
  if (type == Type::kString || type == Type::kStatus) {
    long long v = 0;
    auto [p, ec] = std::from_chars(str.data(), str.data() + str.size(), v);
    if (ec == std::errc() && p == str.data() + str.size()) return v;
  }
  return fallback;
}

std::unique_ptr<RedisClient> RedisClient::create(RedisEndpoint endpoint, std::chrono::milliseconds timeout) {
  return std::make_unique<HiredisClient>(std::move(endpoint), timeout);
}

std::chrono::milliseconds backoff_delay(int attempt, std::chrono::milliseconds max_delay) {
  // Full jitter (AWS architecture blog): uniform in [base, min(max, base * 2^n)].
  // Jitter is about spreading reconnect storms, not data, so a library RNG is fine here.
  thread_local std::minstd_rand rng(std::random_device{}());
  long long cap = std::min<long long>(max_delay.count(), 100LL << std::min(attempt, 10));
  std::uniform_int_distribution<long long> pick(100, std::max<long long>(100, cap));
  return std::chrono::milliseconds(pick(rng));
}

void sleep_unless_stopped(std::chrono::milliseconds delay, const std::atomic<bool>& stop) {
  auto until = std::chrono::steady_clock::now() + delay;
  while (!stop.load() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace synthfarm::queue
