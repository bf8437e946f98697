// Redis addresses with users and passwords, and password files.
#include "queue/redis_endpoint.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "tests/fixtures.h"

namespace synthfarm::queue {
namespace {

// Writes `text` to `name` in `dir` with the given mode; returns the path.
std::string write_password_file(const testing::TempDir& dir, const std::string& name, const std::string& text,
                          mode_t mode) {
  auto path = (dir.path() / name).string();
  std::ofstream(path, std::ios::binary) << text;
  EXPECT_EQ(::chmod(path.c_str(), mode), 0) << path;
  return path;
}

std::string octal_mode(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode));
  return text;
}

TEST(RedisEndpoint, ParsesForms) {
  auto e = RedisEndpoint::parse("redis://10.0.0.5:6380/2");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->host, "10.0.0.5");
  EXPECT_EQ(e->port, 6380);
  EXPECT_EQ(e->db, 2);
  EXPECT_TRUE(e->user.empty());
  EXPECT_TRUE(e->password.empty());
  EXPECT_FALSE(RedisEndpoint::parse("redis://h:99999"));
  EXPECT_FALSE(RedisEndpoint::parse("redis://h:12/x"));
  auto bare = RedisEndpoint::parse("redis.internal:7000");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->host, "redis.internal");
  EXPECT_EQ(bare->port, 7000);
}

TEST(RedisEndpoint, ParsesUserAndPassword) {
  auto e = RedisEndpoint::parse("redis://worker:s3cret@10.0.0.5:6380/2");
  ASSERT_TRUE(e) << e.error();
  EXPECT_EQ(e->user, "worker");
  EXPECT_EQ(e->password, "s3cret");
  EXPECT_EQ(e->host, "10.0.0.5");
  EXPECT_EQ(e->port, 6380);
  EXPECT_EQ(e->db, 2);
  // No user: the server's default user.
  auto def = RedisEndpoint::parse("redis://:s3cret@redis.internal");
  ASSERT_TRUE(def) << def.error();
  EXPECT_EQ(def->user, "");
  EXPECT_EQ(def->password, "s3cret");
  EXPECT_EQ(def->host, "redis.internal");
  EXPECT_EQ(def->port, 6379);
  auto bare = RedisEndpoint::parse("coordinator:pw@h:1");
  ASSERT_TRUE(bare) << bare.error();
  EXPECT_EQ(bare->user, "coordinator");
  EXPECT_EQ(bare->password, "pw");
  EXPECT_EQ(bare->host, "h");
}

TEST(RedisEndpoint, PercentDecodesUserAndPassword) {
  auto e = RedisEndpoint::parse("redis://ops%2Bfarm:p%40ss%3Aw%2fd%25@h:1");
  ASSERT_TRUE(e) << e.error();
  EXPECT_EQ(e->user, "ops+farm");
  EXPECT_EQ(e->password, "p@ss:w/d%");
  EXPECT_EQ(e->host, "h");
  EXPECT_EQ(e->port, 1);
  // Unescaped '@' and '/' in a password still leave host, port and database intact.
  auto raw = RedisEndpoint::parse("redis://u:p@ss/w@h:2/3");
  ASSERT_TRUE(raw) << raw.error();
  EXPECT_EQ(raw->password, "p@ss/w");
  EXPECT_EQ(raw->host, "h");
  EXPECT_EQ(raw->port, 2);
  EXPECT_EQ(raw->db, 3);
}

TEST(RedisEndpoint, ErrorsNeverShowThePassword) {
  for (const char* uri : {"redis://u:hunter2@h:99999", "redis://u:hunter2@h:1/x", "redis://u:hun%zzter2@h",
                          "redis://u:hunter2%4@h", "u:hunter2@h:0"}) {
    auto e = RedisEndpoint::parse(uri);
    ASSERT_FALSE(e) << uri;
    EXPECT_EQ(e.error().find("hunter2"), std::string::npos) << e.error();
    EXPECT_EQ(e.error().find("hun%zz"), std::string::npos) << e.error();
    EXPECT_NE(e.error().find("u:***@h"), std::string::npos) << e.error();
  }
  auto bad_user = RedisEndpoint::parse("redis://wor%kr:pw@h");
  ASSERT_FALSE(bad_user);
  EXPECT_NE(bad_user.error().find("user 'wor%kr'"), std::string::npos) << bad_user.error();
}

TEST(RedisEndpoint, RefusesTlsAddresses) {
  auto e = RedisEndpoint::parse("rediss://worker:hunter2@h:6380");
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().find("TLS"), std::string::npos) << e.error();
  EXPECT_EQ(e.error().find("hunter2"), std::string::npos) << e.error();
}

TEST(RedisEndpoint, ToStringShowsTheUserButNeverThePassword) {
  auto e = RedisEndpoint::parse("redis://worker:s3cret@10.0.0.5:6380/2");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->to_string(), "worker@10.0.0.5:6380/2");
  auto def = RedisEndpoint::parse("redis://:s3cret@h");
  ASSERT_TRUE(def);
  EXPECT_EQ(def->to_string(), "h:6379");
  EXPECT_EQ(RedisEndpoint{}.to_string(), "127.0.0.1:6379");
}

TEST(RedisPasswordFile, ReadsThePasswordWithoutTheLineBreak) {
  testing::TempDir dir;
  auto lf = write_password_file(dir, "lf", "s3cret\n", 0600);
  EXPECT_EQ(RedisEndpoint::read_password_file(lf).value_or("?"), "s3cret");
  auto crlf = write_password_file(dir, "crlf", "s3 cret\r\n", 0400);
  EXPECT_EQ(RedisEndpoint::read_password_file(crlf).value_or("?"), "s3 cret");
  auto bare = write_password_file(dir, "bare", "s3cret", 0600);
  EXPECT_EQ(RedisEndpoint::read_password_file(bare).value_or("?"), "s3cret");
}

TEST(RedisPasswordFile, RefusesAFileOthersMayRead) {
  testing::TempDir dir;
  for (mode_t mode : {0644, 0604, 0606}) {
    auto path = write_password_file(dir, "open", "s3cret\n", mode);
    auto password = RedisEndpoint::read_password_file(path);
    ASSERT_FALSE(password) << std::oct << mode;
    EXPECT_NE(password.error().find(path), std::string::npos) << password.error();
    EXPECT_NE(password.error().find(octal_mode(mode)), std::string::npos) << password.error();
    EXPECT_NE(password.error().find("chmod 600"), std::string::npos) << password.error();
    EXPECT_EQ(password.error().find("s3cret"), std::string::npos) << password.error();
  }
}

TEST(RedisPasswordFile, GroupMayReadOnlyAFileRootOwns) {
  testing::TempDir dir;
  auto path = write_password_file(dir, "group", "s3cret\n", 0640);
  auto password = RedisEndpoint::read_password_file(path);
  if (::geteuid() == 0) {
    // The test runs as root, so root owns the file: a Kubernetes Secret with fsGroup.
    EXPECT_EQ(password.value_or("?"), "s3cret");
  } else {
    ASSERT_FALSE(password);
    EXPECT_NE(password.error().find("0640"), std::string::npos) << password.error();
    EXPECT_NE(password.error().find("its group"), std::string::npos) << password.error();
  }
  // Writable by the group: never, whoever owns it.
  auto writable = write_password_file(dir, "group-writable", "s3cret\n", 0660);
  EXPECT_FALSE(RedisEndpoint::read_password_file(writable));
}

TEST(RedisPasswordFile, RefusesAnEmptyOrMissingFile) {
  testing::TempDir dir;
  auto empty = write_password_file(dir, "empty", "\n", 0600);
  auto password = RedisEndpoint::read_password_file(empty);
  ASSERT_FALSE(password);
  EXPECT_NE(password.error().find("is empty"), std::string::npos) << password.error();
  auto missing = (dir.path() / "missing").string();
  password = RedisEndpoint::read_password_file(missing);
  ASSERT_FALSE(password);
  EXPECT_NE(password.error().find(missing), std::string::npos) << password.error();
  EXPECT_FALSE(RedisEndpoint::read_password_file(dir.path().string()));  // a directory
}

TEST(RedisEndpoint, TakesThePasswordFromAFile) {
  testing::TempDir dir;
  auto path = write_password_file(dir, "worker.password", "s3cret\n", 0600);
  auto e = RedisEndpoint::parse("redis://worker@10.0.0.5:6380", path);
  ASSERT_TRUE(e) << e.error();
  EXPECT_EQ(e->user, "worker");
  EXPECT_EQ(e->password, "s3cret");
  // No file: the address alone.
  auto plain = RedisEndpoint::parse("redis://10.0.0.5:6380", "");
  ASSERT_TRUE(plain) << plain.error();
  EXPECT_TRUE(plain->password.empty());
  // A password in two places is refused, without showing either.
  auto twice = RedisEndpoint::parse("redis://worker:hunter2@h", path);
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().find("hunter2"), std::string::npos) << twice.error();
  EXPECT_NE(twice.error().find(path), std::string::npos) << twice.error();
  // A user without a password would quietly run as nobody it names.
  auto no_password = RedisEndpoint::parse("redis://worker@h", "");
  ASSERT_FALSE(no_password);
  EXPECT_NE(no_password.error().find("user 'worker' but no password"), std::string::npos)
      << no_password.error();
  // The file's own problems come through.
  auto readable = write_password_file(dir, "readable", "s3cret\n", 0644);
  auto refused = RedisEndpoint::parse("redis://worker@h", readable);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().find("0644"), std::string::npos) << refused.error();
}

}  // namespace
}  // namespace synthfarm::queue
