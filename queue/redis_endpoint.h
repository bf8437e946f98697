// Where a Redis server is and who we are to it: host, port, database, and the ACL user
// and password sent with AUTH after every connect (docs/security.md, "Redis link").
//
// The password never leaves this struct in text meant for people: to_string() and every
// message of the queue module leave it out, parse errors show it as ***, so logs, error
// replies and crash reports cannot leak it.
#pragma once

#include <string>
#include <string_view>

#include <tl/expected.hpp>

namespace synthfarm::queue {

struct RedisEndpoint {
  std::string host = "127.0.0.1";
  int port = 6379;
  int db = 0;
  std::string user = {};      // ACL user; empty: the server's default user
  std::string password = {};  // empty: no AUTH

  // "redis://[user[:password]@]host[:port][/db]", or the same without "redis://". User
  // and password are percent-decoded (a password with '%' in it is written %25; '@', ':'
  // and '/' may be escaped too); "redis://:password@host" authenticates as the default
  // user. Errors quote the address with its password as ***.
  static tl::expected<RedisEndpoint, std::string> parse(std::string_view uri);
  // parse(uri), the password then read from `password_file` (read_password_file) unless
  // that is empty. Refuses a password given in both places, and a user without one.
  static tl::expected<RedisEndpoint, std::string> parse(std::string_view uri,
                                                        const std::string& password_file);
  // The password stored in the file at `path`, trailing line breaks dropped. Refuses an
  // empty file, and one that others, or its group, may access: a password is its owner's
  // alone (as ssh insists for private keys). The one exception, as PostgreSQL makes for
  // its key files: a file owned by root may be readable by its group, which is how a
  // Kubernetes Secret reaches a container that does not run as root (fsGroup, mode 0440).
  static tl::expected<std::string, std::string> read_password_file(const std::string& path);

  // "user@host:port/db": the user only when one is set, the database only when not 0,
  // the password never.
  std::string to_string() const;
};

}  // namespace synthfarm::queue
