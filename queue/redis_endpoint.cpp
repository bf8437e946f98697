#include "queue/redis_endpoint.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <optional>

#include <fmt/format.h>

namespace synthfarm::queue {
namespace {

constexpr std::string_view kRedisScheme = "redis://";

// `uri` as it may be shown to people: everything between the first ':' of the user part
// and the last '@' (the password) replaced by ***.
std::string redacted_uri(std::string_view uri) {
  const size_t start = uri.starts_with(kRedisScheme) ? kRedisScheme.size() : 0;
  const size_t at = uri.rfind('@');
  if (at == std::string_view::npos || at < start) return std::string(uri);
  const size_t colon = uri.find(':', start);
  if (colon == std::string_view::npos || colon > at) return std::string(uri);
  return fmt::format("{}***{}", uri.substr(0, colon + 1), uri.substr(at));
}

int hex_digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// RFC 3986 percent-decoding; nullopt when a '%' is not followed by two hex digits.
std::optional<std::string> percent_decoded(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    const int high = hex_digit_value(text[i + 1]);
    const int low = hex_digit_value(text[i + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    out += static_cast<char>(high * 16 + low);
    i += 2;
  }
  return out;
}

// Closes a file descriptor when it goes out of scope.
struct ClosesFd {
  int fd;
  ~ClosesFd() { ::close(fd); }
};

}  // namespace

tl::expected<RedisEndpoint, std::string> RedisEndpoint::parse(std::string_view uri) {
  const std::string shown = redacted_uri(uri);
  std::string_view rest = uri;
  if (rest.starts_with("rediss://")) {
    return tl::unexpected(fmt::format(
        "redis address '{}': rediss:// (TLS) is not supported, the hiredis synthfarm is built "
        "with has no TLS; protect the link to Redis otherwise (docs/security.md)",
        shown));
  }
  if (rest.starts_with(kRedisScheme)) rest.remove_prefix(kRedisScheme.size());
  RedisEndpoint e;
  // User and password end at the last '@': a password may hold '@' or '/' even unescaped,
  // the host, port and database cannot.
  auto at = rest.rfind('@');
  if (at != std::string_view::npos) {
    auto userinfo = rest.substr(0, at);
    rest.remove_prefix(at + 1);
    auto colon = userinfo.find(':');
    auto user = percent_decoded(userinfo.substr(0, colon));
    if (!user) {
      return tl::unexpected(fmt::format(
          "redis address '{}': user '{}' has a '%' that is not followed by two hex digits", shown,
          userinfo.substr(0, colon)));
    }
    e.user = std::move(*user);
    if (colon != std::string_view::npos) {
      auto password = percent_decoded(userinfo.substr(colon + 1));
      if (!password) {
        return tl::unexpected(fmt::format(
            "redis address '{}': the password has a '%' that is not followed by two hex digits "
            "(write a '%' of the password as %25)",
            shown));
      }
      e.password = std::move(*password);
    }
  }
  auto slash = rest.find('/');
  if (slash != std::string_view::npos) {
    auto db = rest.substr(slash + 1);
    if (!db.empty()) {
      auto [p, ec] = std::from_chars(db.data(), db.data() + db.size(), e.db);
      if (ec != std::errc() || p != db.data() + db.size() || e.db < 0) {
        return tl::unexpected(
            fmt::format("redis address '{}': database '{}' is not a number", shown, db));
      }
    }
    rest = rest.substr(0, slash);
  }
  auto colon = rest.rfind(':');
  if (colon != std::string_view::npos) {
    auto port = rest.substr(colon + 1);
    auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), e.port);
    if (ec != std::errc() || p != port.data() + port.size() || e.port <= 0 || e.port > 65535) {
      return tl::unexpected(
          fmt::format("redis address '{}': port '{}' is not in 1..65535", shown, port));
    }
    rest = rest.substr(0, colon);
  }
  if (!rest.empty()) e.host = std::string(rest);
  return e;
}

tl::expected<RedisEndpoint, std::string> RedisEndpoint::parse(std::string_view uri,
                                                              const std::string& password_file) {
  auto e = parse(uri);
  if (!e) return e;
  if (!password_file.empty()) {
    if (!e->password.empty()) {
      return tl::unexpected(fmt::format(
          "redis address '{}' holds a password and a password file ({}) is given too: keep "
          "the password in one place, the file",
          redacted_uri(uri), password_file));
    }
    auto password = read_password_file(password_file);
    if (!password) return tl::unexpected(password.error());
    e->password = std::move(*password);
  }
  if (!e->user.empty() && e->password.empty()) {
    return tl::unexpected(fmt::format(
        "redis address '{}' names user '{}' but no password: give it in a password file, or "
        "in the address (redis://{}:PASSWORD@{}:{})",
        redacted_uri(uri), e->user, e->user, e->host, e->port));
  }
  return e;
}

tl::expected<std::string, std::string> RedisEndpoint::read_password_file(const std::string& path) {
  // The mode is checked on the open file, so the file checked is the file read.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return tl::unexpected(fmt::format("redis password file {}: {}", path, std::strerror(errno)));
  }
  ClosesFd closes{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    return tl::unexpected(fmt::format("redis password file {}: {}", path, std::strerror(errno)));
  }
  if (!S_ISREG(st.st_mode)) {
    return tl::unexpected(fmt::format("redis password file {} is not a regular file", path));
  }
  const mode_t mode = st.st_mode & 07777;
  // Other users never; the group only reading a file that root owns (redis_endpoint.h).
  const mode_t group_may = st.st_uid == 0 ? S_IRGRP : 0;
  if ((mode & (S_IRWXG | S_IRWXO) & ~group_may) != 0) {
    return tl::unexpected(fmt::format(
        "redis password file {} has mode {:04o}: {} can get at it. A password must be its "
        "owner's alone: chmod 600 {}",
        path, static_cast<unsigned>(mode), (mode & S_IRWXO) != 0 ? "other users" : "its group",
        path));
  }
  std::string password;
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return tl::unexpected(fmt::format("redis password file {}: {}", path, std::strerror(errno)));
    }
    if (n == 0) break;
    password.append(buffer, static_cast<size_t>(n));
  }
  // Editors and `echo` end the file with a line break; it is no part of the password.
  while (!password.empty() && (password.back() == '\n' || password.back() == '\r')) {
    password.pop_back();
  }
  if (password.empty()) return tl::unexpected(fmt::format("redis password file {} is empty", path));
  return password;
}

std::string RedisEndpoint::to_string() const {
  std::string out = user.empty() ? std::string() : user + "@";
  out += fmt::format("{}:{}", host, port);
  if (db != 0) out += fmt::format("/{}", db);
  return out;
}

}  // namespace synthfarm::queue
