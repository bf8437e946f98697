// `synthfarm token create|list|revoke|login-link`: the farm's API tokens, in Redis.
#include <fmt/chrono.h>
#include <fmt/format.h>

#include <chrono>

#include "auth/sessions.h"
#include "auth/tokens.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "queue/redis.h"

namespace synthfarm::cli {
namespace {

std::unique_ptr<queue::RedisClient> connect(const TokenArgs& args) {
  auto endpoint = queue::RedisEndpoint::parse(args.redis, args.redis_password_file);
  if (!endpoint) {
    fmt::print(stderr, "error: --redis: {}\n", endpoint.error());
    return nullptr;
  }
  return queue::RedisClient::create(*endpoint, std::chrono::seconds(5));
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A link that logs a browser in once: the fragment never reaches a server or a log.
int print_login_link(queue::RedisClient& redis, const TokenArgs& args,
                     const std::string& token_hash) {
  auto code = auth::SessionStore(redis, args.key_prefix)
                  .create_login_code(token_hash, std::chrono::seconds(args.link_ttl_s));
  if (!code) {
    fmt::print(stderr, "error: {}\n", code.error());
    return kExitFailure;
  }
  std::string base = args.dashboard_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  fmt::print("{}/#login={}\n", base, *code);
  fmt::print(stderr, "the link logs one browser in once, within {} min\n", args.link_ttl_s / 60);
  return 0;
}

}  // namespace

int cmd_token_create(const TokenArgs& args) {
  auto role = auth::parse_role(args.role);
  if (!role) {
    fmt::print(stderr, "error: --role: '{}' is not a role (viewer, submitter, admin)\n", args.role);
    return kExitBadInput;
  }
  if (auto problem = auth::token_name_problem(args.name)) {
    fmt::print(stderr, "error: --name: {}\n", *problem);
    return kExitBadInput;
  }
  auto redis = connect(args);
  if (!redis) return kExitBadInput;
  auto token = auth::TokenStore(*redis, args.key_prefix).create(args.name, *role, now_ms());
  if (!token) {
    fmt::print(stderr, "error: {}\n", token.error());
    return token.error().rfind("redis:", 0) == 0 ? kExitFailure : kExitBadInput;
  }
  // The secret alone on stdout, so that `TOKEN=$(synthfarm token create ...)` works; it is
  // not stored anywhere and cannot be shown again.
  fmt::print("{}\n", *token);
  std::fflush(stdout);
  fmt::print(stderr, "token '{}' ({}) created; store it now, it is not shown again\n", args.name,
             args.role);
  if (!args.dashboard_url.empty()) return print_login_link(*redis, args, auth::sha256_hex(*token));
  return 0;
}

int cmd_token_list(const TokenArgs& args) {
  auto redis = connect(args);
  if (!redis) return kExitBadInput;
  auto tokens = auth::TokenStore(*redis, args.key_prefix).list();
  if (!tokens) {
    fmt::print(stderr, "error: {}\n", tokens.error());
    return kExitFailure;
  }
  fmt::print("{:<32} {:<10} {}\n", "NAME", "ROLE", "CREATED");
  for (const auto& t : *tokens) {
    auto created = std::chrono::system_clock::time_point(std::chrono::milliseconds(t.created_ms));
    fmt::print("{:<32} {:<10} {:%Y-%m-%d %H:%M:%S}\n", t.name, auth::role_name(t.role),
               std::chrono::floor<std::chrono::seconds>(created));
  }
  return 0;
}

int cmd_token_revoke(const TokenArgs& args) {
  auto redis = connect(args);
  if (!redis) return kExitBadInput;
  auto revoked = auth::TokenStore(*redis, args.key_prefix).revoke(args.name);
  if (!revoked) {
    fmt::print(stderr, "error: {}\n", revoked.error());
    return kExitFailure;
  }
  if (!*revoked) {
    fmt::print(stderr, "error: no token named '{}' (synthfarm token list)\n", args.name);
    return kExitBadInput;
  }
  fmt::print(
      stderr,
      "token '{}' revoked; coordinators refuse it within a second, with its dashboard sessions\n",
      args.name);
  return 0;
}

int cmd_token_login_link(const TokenArgs& args) {
  auto redis = connect(args);
  if (!redis) return kExitBadInput;
  auto hash =
      redis->command({"HGET", auth::TokenStore(*redis, args.key_prefix).names_key(), args.name});
  if (!hash) {
    fmt::print(stderr, "error: redis: {}\n", hash.error().message);
    return kExitFailure;
  }
  if (hash->is_nil()) {
    fmt::print(stderr, "error: no token named '{}' (synthfarm token list)\n", args.name);
    return kExitBadInput;
  }
  return print_login_link(*redis, args, hash->str);
}

}  // namespace synthfarm::cli
