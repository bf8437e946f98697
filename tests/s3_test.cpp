// The s3:// backend against a real S3-compatible server (s3rver, started per test), with
// Debian's awscli as the independent client that lists and downloads what synthfarm
// stored; then whole jobs written to S3, one of them through an S3 outage.
#include <arpa/inet.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <functional>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "storage/object_store.h"
#include "storage/env_testing.h"
#include "storage/s3_store.h"
#include "tests/farm.h"

namespace synthfarm::testing {
namespace {

using nlohmann::json;
using storage::S3Options;
using storage::S3Store;

// Deterministic pseudo-random bytes (xorshift), so a corrupted byte cannot hide.
std::string bytes_of(size_t size, uint64_t seed) {
  std::string out(size, '\0');
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i < size; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    out[i] = static_cast<char>(x >> 24);
  }
  return out;
}

S3Options options_for(const S3Server& server) {
  S3Options options;
  options.endpoint = server.endpoint();
  options.credentials = {"S3RVER", "S3RVER", ""};
  options.retry_budget = std::chrono::seconds(10);
  return options;
}

std::unique_ptr<S3Store> open_or_die(const std::string& uri, S3Options options) {
  auto store = S3Store::open(uri, std::move(options));
  if (!store) throw std::runtime_error(store.error().message);
  return std::move(*store);
}

// Downloads with awscli and returns the bytes.
std::string aws_download(const S3Server& server, const std::string& uri) {
  TempDir dir;
  auto [code, out] =
      server.aws({"s3", "cp", "--only-show-errors", uri, (dir.path() / "object").string()});
  EXPECT_EQ(code, 0) << out;
  return slurp(dir.path() / "object");
}

// Keys awscli lists under an s3:// URI, recursively, relative to it.
std::set<std::string> aws_list(const S3Server& server, const std::string& uri) {
  auto [code, out] = server.aws({"s3", "ls", "--recursive", uri + "/"});
  std::set<std::string> keys;
  if (code != 0) return keys;  // nothing there yet: `aws s3 ls` exits 1
  std::istringstream lines(out);
  std::string line;
  const std::string prefix = uri.substr(uri.find('/', 5) + 1) + "/";
  while (std::getline(lines, line)) {
    // "2026-01-01 00:00:00       1234 prefix/key"
    const size_t at = line.find(prefix);
    if (at != std::string::npos) keys.insert(line.substr(at + prefix.size()));
  }
  return keys;
}

using storage::testing::ScopedEnv;

TEST(S3StoreServer, PutGetHeadListDeleteCheckedWithAwscli) {
  auto server = S3Server::start();
  const std::string root = "s3://" + server->bucket() + "/jobs/one";
  auto options = options_for(*server);
  options.list_page_keys = 7;  // 25 keys: four pages, three continuation tokens
  auto store = open_or_die(root, options);
  EXPECT_EQ(store->uri(), root);

  std::map<std::string, std::string> objects;
  for (int i = 0; i < 25; ++i)
    objects[fmt::format("samples/{:08d}.bin", 24 - i)] = bytes_of(1000 + i * 37, i);
  objects["shards/000000.manifest.json"] = "{\"ok\": true}";
  objects["empty"] = "";
  objects["odd name/with space+plus&amp.txt"] = "odd";
  for (const auto& [key, bytes] : objects) ASSERT_TRUE(store->put(key, bytes)) << key;

  for (const auto& [key, bytes] : objects) {
    auto got = store->get(key);
    ASSERT_TRUE(got) << got.error().message;
    EXPECT_EQ(*got, bytes) << key;
    auto info = store->head(key);
    ASSERT_TRUE(info && info->has_value()) << key;
    EXPECT_EQ((*info)->size, bytes.size());
  }
  auto missing = store->head("samples/nope");
  ASSERT_TRUE(missing);
  EXPECT_FALSE(missing->has_value());
  auto not_found = store->get("samples/nope");
  ASSERT_FALSE(not_found);
  EXPECT_EQ(not_found.error().code, storage::Error::Code::kNotFound);
  EXPECT_NE(not_found.error().message.find(root + "/samples/nope"), std::string::npos)
      << not_found.error().message;

  auto all = store->list("");
  ASSERT_TRUE(all) << all.error().message;
  ASSERT_EQ(all->size(), objects.size());
  auto it = objects.begin();
  for (const auto& info : *all) {
    EXPECT_EQ(info.key, it->first);
    EXPECT_EQ(info.size, it->second.size());
    ++it;
  }
  auto samples = store->list("samples/");
  ASSERT_TRUE(samples);
  EXPECT_EQ(samples->size(), 25u);
  EXPECT_EQ(samples->front().key, "samples/00000000.bin");

  // The independent client sees the same objects and bytes.
  std::set<std::string> expected;
  for (const auto& [key, bytes] : objects) expected.insert(key);
  EXPECT_EQ(aws_list(*server, root), expected);
  EXPECT_EQ(aws_download(*server, root + "/samples/00000003.bin"), objects["samples/00000003.bin"]);
  EXPECT_EQ(aws_download(*server, root + "/odd name/with space+plus&amp.txt"), "odd");

  ASSERT_TRUE(store->remove("samples/00000003.bin"));
  ASSERT_TRUE(store->remove("samples/00000003.bin")) << "removing twice is fine";
  expected.erase("samples/00000003.bin");
  EXPECT_EQ(aws_list(*server, root), expected);
  EXPECT_EQ(store->list("samples/")->size(), 24u);

  // A sibling prefix is not part of this store.
  auto sibling = open_or_die("s3://" + server->bucket() + "/jobs/one-b", options_for(*server));
  ASSERT_TRUE(sibling->put("x", "y"));
  EXPECT_EQ(store->list("")->size(), expected.size());
}

TEST(S3StoreServer, VirtualHostAddressing) {
  auto server = S3Server::start();
  auto options = options_for(*server);
  options.endpoint = server->virtual_host_endpoint();
  options.path_style = false;  // requests go to synthfarm-test.s3.localhost
  auto store = open_or_die("s3://" + server->bucket() + "/vhost", options);
  ASSERT_TRUE(store->put("a/b.txt", "virtual"));
  EXPECT_EQ(store->get("a/b.txt").value_or(""), "virtual");
  auto listed = store->list("");
  ASSERT_TRUE(listed) << listed.error().message;
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed->front().key, "a/b.txt");
  EXPECT_EQ(aws_download(*server, "s3://" + server->bucket() + "/vhost/a/b.txt"), "virtual");
}

TEST(S3StoreServer, MultipartUploadOf40MiBComparedWithAwscli) {
  auto server = S3Server::start();
  auto options = options_for(*server);
  options.multipart_threshold = 16ull << 20;
  options.part_size = 5ull << 20;
  std::atomic<int> part_bodies{0};
  options.tamper_upload_for_test = [&](std::string& body, int) {
    if (body.size() == (5u << 20)) ++part_bodies;  // counts the parts, alters nothing
  };
  auto store = open_or_die("s3://" + server->bucket() + "/big", options);
  const std::string bytes = bytes_of(40u << 20, 40);
  auto put = store->put("blob.bin", bytes);
  ASSERT_TRUE(put) << put.error().message << server->log();
  EXPECT_EQ(part_bodies.load(), 8) << "40 MiB in 5 MiB parts";
  auto info = store->head("blob.bin");
  ASSERT_TRUE(info && info->has_value());
  EXPECT_EQ((*info)->size, bytes.size());
  const std::string downloaded =
      aws_download(*server, "s3://" + server->bucket() + "/big/blob.bin");
  EXPECT_EQ(downloaded.size(), bytes.size());
  EXPECT_TRUE(downloaded == bytes) << "awscli downloaded different bytes";
  EXPECT_EQ(storage::sha256_hex(*store->get("blob.bin")), storage::sha256_hex(bytes));
}

// The streamed writer (a webdataset shard's tar): parts go up while bytes are written,
// nothing is visible before commit, a dropped writer leaves nothing, and ranges read back
// exactly what awscli downloads.
TEST(S3StoreServer, StreamedWriteAndRangeReads) {
  auto server = S3Server::start();
  auto options = options_for(*server);
  options.part_size = 5ull << 20;
  std::atomic<int> parts_sent{0};
  options.tamper_upload_for_test = [&](std::string& body, int) {
    if (body.size() == (5u << 20)) ++parts_sent;
  };
  auto store = open_or_die("s3://" + server->bucket() + "/stream", options);
  const std::string uri = "s3://" + server->bucket() + "/stream";
  const std::string bytes = bytes_of(12u << 20, 12);
  {
    auto writer = store->open_writer("dropped.tar", {});
    ASSERT_TRUE(writer) << writer.error().message;
    ASSERT_TRUE((*writer)->write(std::string_view(bytes).substr(0, 11u << 20)));
    EXPECT_EQ(parts_sent.load(), 2) << "two full parts went up while writing";
  }  // dropped: the multipart upload is aborted
  EXPECT_TRUE(aws_list(*server, uri).empty());

  parts_sent = 0;
  auto writer = store->open_writer("shard.tar", {});
  ASSERT_TRUE(writer);
  for (size_t at = 0; at < bytes.size(); at += 1u << 20) {
    ASSERT_TRUE((*writer)->write(std::string_view(bytes).substr(at, 1u << 20)));
  }
  EXPECT_EQ(parts_sent.load(), 2);
  EXPECT_TRUE(aws_list(*server, uri).empty()) << "nothing visible before commit";
  auto committed = (*writer)->commit();
  ASSERT_TRUE(committed) << committed.error().message << server->log();
  EXPECT_EQ(aws_list(*server, uri), std::set<std::string>{"shard.tar"});
  EXPECT_TRUE(aws_download(*server, uri + "/shard.tar") == bytes) << "awscli downloaded different bytes";
  for (auto [offset, size] : std::vector<std::pair<uint64_t, uint64_t>>{{0, 1}, {5u << 20, 777}, {(12u << 20) - 9, 9}}) {
    auto range = store->get_range("shard.tar", offset, size);
    ASSERT_TRUE(range) << range.error().message;
    EXPECT_TRUE(*range == bytes.substr(offset, size)) << offset << "+" << size;
  }
  auto past = store->get_range("shard.tar", 12u << 20, 1);
  ASSERT_FALSE(past);
  EXPECT_NE(past.error().message.find("lie past its end"), std::string::npos) << past.error().message;

  // A small object never fills a part: one PUT at commit; a fenced commit stores nothing.
  auto small = store->open_writer("small.tar", {});
  ASSERT_TRUE(small && (*small)->write("abc") && (*small)->commit());
  EXPECT_EQ(*store->get("small.tar"), "abc");
  storage::PutOptions fenced{[] { return std::optional<std::string>("lease over"); }, false};
  auto refused = store->open_writer("fenced.tar", fenced);
  ASSERT_TRUE(refused && (*refused)->write(bytes));
  auto result = (*refused)->commit();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, storage::Error::Code::kFenced) << result.error().message;
  EXPECT_EQ(aws_list(*server, uri), (std::set<std::string>{"shard.tar", "small.tar"}));
}

// s3rver 3.7.1 checks no body checksum header itself (AWS checks Content-MD5 and
// x-amz-content-sha256); it answers the MD5 of the bytes it stored as the ETag, and the
// client compares it with the MD5 of what it meant to send. A body corrupted on the way
// (the test hook flips a byte after the checksums were computed) is caught and sent again.
TEST(S3StoreServer, CorruptedUploadIsDetectedAndRetried) {
  auto server = S3Server::start();
  auto options = options_for(*server);
  options.multipart_threshold = 8ull << 20;
  options.part_size = 5ull << 20;
  std::atomic<int> attempts{0};
  options.tamper_upload_for_test = [&](std::string& body, int attempt) {
    ++attempts;
    if (attempt == 0 && body.find("<CompleteMultipartUpload>") == std::string::npos)
      body[body.size() / 2] ^= 0x5a;
  };
  auto store = open_or_die("s3://" + server->bucket() + "/corrupt", options);
  const std::string small = bytes_of(100000, 1);
  ASSERT_TRUE(store->put("small.bin", small));
  EXPECT_EQ(attempts.load(), 2) << "one corrupted attempt, one good one";
  EXPECT_TRUE(aws_download(*server, "s3://" + server->bucket() + "/corrupt/small.bin") == small);

  attempts = 0;
  const std::string big = bytes_of(12u << 20, 2);  // three parts, each corrupted once
  ASSERT_TRUE(store->put("big.bin", big));
  EXPECT_EQ(attempts.load(), 3 * 2 + 1) << "three parts twice, and the completion";
  EXPECT_TRUE(aws_download(*server, "s3://" + server->bucket() + "/corrupt/big.bin") == big);

  // Corrupting every attempt gives up with a message naming the object.
  options.tamper_upload_for_test = [](std::string& body, int) { body[0] ^= 1; };
  options.retry_budget = std::chrono::milliseconds(800);
  auto always = open_or_die("s3://" + server->bucket() + "/corrupt", options);
  auto put = always->put("never.bin", small);
  ASSERT_FALSE(put);
  EXPECT_NE(put.error().message.find("s3://" + server->bucket() + "/corrupt/never.bin"),
            std::string::npos)
      << put.error().message;
  EXPECT_NE(put.error().message.find("MD5"), std::string::npos) << put.error().message;
}

// s3rver 3.7.1 checks the access key but does not compute SigV4 signatures (a wrong
// secret passes there); the signer is checked against the AWS examples in storage_test.
TEST(S3StoreServer, WrongCredentialsAndMissingBucketGiveClearErrors) {
  auto server = S3Server::start();
  const std::string uri = "s3://" + server->bucket() + "/x";
  auto options = options_for(*server);
  options.credentials = {"NOTAKEY", "S3RVER", ""};
  auto unknown_key = S3Store::open(uri, options);
  ASSERT_FALSE(unknown_key);
  EXPECT_NE(unknown_key.error().message.find(uri), std::string::npos)
      << unknown_key.error().message;
  EXPECT_NE(unknown_key.error().message.find("InvalidAccessKeyId"), std::string::npos)
      << unknown_key.error().message;

  auto no_bucket = S3Store::open("s3://no-such-bucket/x", options_for(*server));
  ASSERT_FALSE(no_bucket);
  EXPECT_NE(no_bucket.error().message.find("s3://no-such-bucket/x"), std::string::npos)
      << no_bucket.error().message;
  EXPECT_NE(no_bucket.error().message.find("NoSuchBucket"), std::string::npos)
      << no_bucket.error().message;
  EXPECT_NE(no_bucket.error().message.find("does not exist"), std::string::npos)
      << no_bucket.error().message;

  // Not retried: a 4xx answer comes back at once.
  auto start = std::chrono::steady_clock::now();
  auto store = open_or_die(uri, options_for(*server));
  options = options_for(*server);
  options.check_bucket = false;
  options.credentials = {"NOTAKEY", "S3RVER", ""};
  auto unchecked = open_or_die(uri, options);
  auto put = unchecked->put("k", "v");
  ASSERT_FALSE(put);
  EXPECT_NE(put.error().message.find(uri + "/k"), std::string::npos) << put.error().message;
  EXPECT_NE(put.error().message.find("HTTP 403"), std::string::npos) << put.error().message;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
}

TEST(S3StoreServer, UnreachableEndpointGivesUpWithinTheBudget) {
  S3Options options;
  options.endpoint = "http://127.0.0.1:" + std::to_string(free_tcp_port());  // nothing listens
  options.credentials = {"S3RVER", "S3RVER", ""};
  options.retry_budget = std::chrono::milliseconds(1500);
  const auto start = std::chrono::steady_clock::now();
  auto store = S3Store::open("s3://bucket/x", options);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(store);
  const std::string& message = store.error().message;
  EXPECT_NE(message.find("s3://bucket/x"), std::string::npos) << message;
  EXPECT_NE(message.find(options.endpoint), std::string::npos) << message;
  EXPECT_NE(message.find("gave up after"), std::string::npos) << message;
  EXPECT_LT(took, std::chrono::seconds(4));
  EXPECT_GT(took, std::chrono::milliseconds(300)) << "retried before giving up";
}

// A TCP server on a free port that answers each connection (one request) with what
// `answer` makes of the request's head, and keeps every request it saw.
class ScriptedServer {
 public:
  explicit ScriptedServer(std::function<std::string(const std::string&)> answer) : answer_(std::move(answer)) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    listen(fd_, 16);
    thread_ = std::thread([this] {
      while (!stop_) {
        int client = accept(fd_, nullptr, nullptr);
        if (client < 0) continue;
        std::string request;
        char buf[4096];
        ssize_t n;
        while (request.find("\r\n\r\n") == std::string::npos && (n = read(client, buf, sizeof buf)) > 0)
          request.append(buf, static_cast<size_t>(n));
        const std::string reply = answer_(request);
        {
          std::lock_guard lock(mutex_);
          requests_.push_back(request);
        }
        (void)!write(client, reply.data(), reply.size());
        shutdown(client, SHUT_WR);
        while (read(client, buf, sizeof buf) > 0) {
        }
        close(client);
      }
    });
  }
  ~ScriptedServer() {
    stop_ = true;
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    thread_.join();
  }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<std::string> requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  std::function<std::string(const std::string&)> answer_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mutex_;
  std::vector<std::string> requests_;  // GUARDED_BY(mutex_)
};

// A server on a free port that answers every request with `reply` and hangs up.
class JunkServer : public ScriptedServer {
 public:
  explicit JunkServer(std::string reply)
      : ScriptedServer([reply = std::move(reply)](const std::string&) { return reply; }) {}
};

// The conditional write as AWS S3 takes it: a create-only put asks first (HEAD, for
// servers that ignore the condition), then sends `If-None-Match: *` with the PUT, and a
// 412 answer means the key was taken meanwhile: kAlreadyExists, not an error to retry.
TEST(S3StoreServer, CreateOnlyPutSendsIfNoneMatchAndTakes412AsAlreadyExists) {
  ScriptedServer server([](const std::string& request) -> std::string {
    if (request.starts_with("HEAD ")) return "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    const std::string body =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>PreconditionFailed</Code><Message>At least one of "
        "the pre-conditions you specified did not hold</Message><Condition>If-None-Match</Condition></Error>";
    return fmt::format("HTTP/1.1 412 Precondition Failed\r\nContent-Type: application/xml\r\nContent-Length: "
                       "{}\r\nConnection: close\r\n\r\n{}",
                       body.size(), body);
  });
  S3Options options;
  options.endpoint = server.endpoint();
  options.credentials = {"S3RVER", "S3RVER", ""};
  options.check_bucket = false;
  options.retry_budget = std::chrono::seconds(2);
  auto store = open_or_die("s3://bucket/job", options);
  storage::PutOptions create_only;
  create_only.create_only = true;
  auto put = store->put("shards/000003.manifest.json", "{}", create_only);
  ASSERT_FALSE(put);
  EXPECT_EQ(put.error().code, storage::Error::Code::kAlreadyExists) << put.error().message;
  EXPECT_NE(put.error().message.find("s3://bucket/job/shards/000003.manifest.json"), std::string::npos)
      << put.error().message;
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u) << "a HEAD, then one PUT (a 412 is not retried)";
  EXPECT_TRUE(requests[0].starts_with("HEAD /bucket/job/shards/000003.manifest.json ")) << requests[0];
  EXPECT_TRUE(requests[1].starts_with("PUT /bucket/job/shards/000003.manifest.json ")) << requests[1];
  std::string put_head = requests[1];
  std::transform(put_head.begin(), put_head.end(), put_head.begin(), ::tolower);
  EXPECT_NE(put_head.find("\r\nif-none-match: *\r\n"), std::string::npos) << requests[1];
  ASSERT_NE(put_head.find("signedheaders="), std::string::npos) << requests[1];
  EXPECT_NE(put_head.substr(put_head.find("signedheaders=")).find("if-none-match"), std::string::npos)
      << "the condition is signed with the request\n" << requests[1];

  // A plain put sends no condition.
  (void)store->put("samples/00000000.json", "{}");
  requests = server.requests();
  ASSERT_EQ(requests.size(), 3u);
  std::string plain = requests[2];
  std::transform(plain.begin(), plain.end(), plain.begin(), ::tolower);
  EXPECT_EQ(plain.find("if-none-match"), std::string::npos) << requests[2];
}

// On s3rver, which ignores If-None-Match on PUT (3.7.1 reads it only for GET), the HEAD
// before a create-only put is what refuses a second commit; a commit guard's refusal
// stores nothing, for single and multipart uploads.
TEST(S3StoreServer, SecondCommitRefusedAndFencedPutsStoreNothing) {
  auto server = S3Server::start();
  const std::string root = "s3://" + server->bucket() + "/jobs/fenced";
  auto options = options_for(*server);
  options.multipart_threshold = 6 << 20;
  options.part_size = 5 << 20;
  auto store = open_or_die(root, options);
  storage::PutOptions create_only;
  create_only.create_only = true;
  ASSERT_TRUE(store->put("shards/000000.manifest.json", "first", create_only));
  auto head = [&](const std::string& key) {
    auto [code, out] = server->aws({"s3api", "head-object", "--bucket", server->bucket(), "--key", "jobs/fenced/" + key});
    return code == 0 ? out : std::string();
  };
  const std::string before = head("shards/000000.manifest.json");
  ASSERT_NE(before, "");
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // LastModified has 1 s steps
  auto again = store->put("shards/000000.manifest.json", "second", create_only);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, storage::Error::Code::kAlreadyExists) << again.error().message;
  EXPECT_EQ(aws_download(*server, root + "/shards/000000.manifest.json"), "first");
  EXPECT_EQ(head("shards/000000.manifest.json"), before) << "ETag and LastModified unchanged";

  std::atomic<int> asked{0};
  storage::PutOptions fenced;
  fenced.guard = [&]() -> std::optional<std::string> {
    ++asked;
    return "lease ended";
  };
  for (const auto& [key, size] : std::vector<std::pair<std::string, size_t>>{{"samples/00000001.json", 100},
                                                                              {"samples/00000001.exr", 11 << 20}}) {
    auto put = store->put(key, bytes_of(size, 7), fenced);
    ASSERT_FALSE(put) << key;
    EXPECT_EQ(put.error().code, storage::Error::Code::kFenced) << put.error().message;
    EXPECT_NE(put.error().message.find("lease ended"), std::string::npos) << put.error().message;
    EXPECT_EQ(head(key), "") << key << " was stored";
  }
  EXPECT_EQ(asked, 2) << "once before the PUT, once before CompleteMultipartUpload";
  EXPECT_EQ(aws_list(*server, root), (std::set<std::string>{"shards/000000.manifest.json"}));
}

TEST(S3StoreServer, GarbageServersGiveClearErrors) {
  S3Options options;
  options.credentials = {"S3RVER", "S3RVER", ""};
  options.retry_budget = std::chrono::seconds(2);
  {
    JunkServer junk("SSH-2.0-OpenSSH_9.2 this is not HTTP\r\n\r\n");
    options.endpoint = junk.endpoint();
    auto store = S3Store::open("s3://bucket/x", options);
    ASSERT_FALSE(store);
    EXPECT_NE(store.error().message.find("s3://bucket/x"), std::string::npos)
        << store.error().message;
    EXPECT_NE(store.error().message.find("did not answer with HTTP"), std::string::npos)
        << store.error().message;
  }
  {
    JunkServer junk(
        "HTTP/1.1 200 OK\r\nContent-Length: 12\r\nConnection: close\r\n\r\n<html></html");
    options.endpoint = junk.endpoint();
    auto store = S3Store::open("s3://bucket/x", options);
    ASSERT_FALSE(store);
    EXPECT_NE(store.error().message.find("s3://bucket/x"), std::string::npos)
        << store.error().message;
    EXPECT_NE(store.error().message.find("<html>"), std::string::npos) << store.error().message;
  }
  {
    // Hangs up without a word, as a server resetting connections: retried, then given up.
    JunkServer junk("");
    options.endpoint = junk.endpoint();
    auto store = S3Store::open("s3://bucket/x", options);
    ASSERT_FALSE(store);
    EXPECT_NE(store.error().message.find("s3://bucket/x"), std::string::npos)
        << store.error().message;
    EXPECT_NE(store.error().message.find("Empty reply"), std::string::npos)
        << store.error().message;
    EXPECT_NE(store.error().message.find("gave up after"), std::string::npos)
        << store.error().message;
  }
  {
    JunkServer junk(
        "HTTP/1.1 503 Slow Down\r\nContent-Length: 5\r\nConnection: close\r\n\r\nbusy!");
    options.endpoint = junk.endpoint();
    options.check_bucket = false;
    auto store = open_or_die("s3://bucket/x", options);
    auto got = store->get("k");
    ASSERT_FALSE(got);
    EXPECT_NE(got.error().message.find("s3://bucket/x/k"), std::string::npos)
        << got.error().message;
    EXPECT_NE(got.error().message.find("HTTP 503"), std::string::npos) << got.error().message;
    EXPECT_NE(got.error().message.find("gave up after"), std::string::npos) << got.error().message;
  }
}

TEST(S3StoreServer, OpenStoreAndReadUriFromTheEnvironment) {
  auto server = S3Server::start();
  ScopedEnv env(server->client_env());
  auto store = storage::open_store("s3://" + server->bucket() + "/assets");
  ASSERT_TRUE(store) << store.error().message;
  ASSERT_TRUE((*store)->put("clips/walk.bvh", "HIERARCHY"));
  auto bytes = storage::read_uri("s3://" + server->bucket() + "/assets/clips/walk.bvh");
  ASSERT_TRUE(bytes) << bytes.error().message;
  EXPECT_EQ(*bytes, "HIERARCHY");
  auto missing = storage::read_uri("s3://" + server->bucket() + "/assets/clips/run.bvh");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, storage::Error::Code::kNotFound);
  EXPECT_FALSE(storage::read_uri("s3://" + server->bucket() + "/assets/../x"));
}

std::string tiny_spec(const std::string& name, int samples, int shard_size,
                      const std::string& storage) {
  return "name: " + name + "\nsamples: " + std::to_string(samples) +
         "\nshard_size: " + std::to_string(shard_size) +
         "\nseed: 7\ncamera:\n  resolution: [64, 48]\nrender:\n  spp: 2\n" +
         "  max_bounces: 1\noutput:\n  storage: " + storage + "\n";
}

// Every object the dataset manifest lists, downloaded with awscli, has the recorded size
// and sha256; the shard manifests are there too.
void expect_dataset_valid(const S3Server& server, const std::string& root, int samples) {
  TempDir dir;
  auto [code, out] =
      server.aws({"s3", "cp", "--recursive", "--only-show-errors", root, dir.path().string()});
  ASSERT_EQ(code, 0) << out;
  const auto manifest = json::parse(slurp(dir.path() / "manifest.json"));
  EXPECT_EQ(manifest["counts"]["samples"], samples);
  size_t checked = 0;
  std::set<std::string> keys;
  for (const auto& object : manifest["objects"]) {
    const std::string key = object["key"];
    keys.insert(key);
    const std::string bytes = slurp(dir.path() / key);
    EXPECT_EQ(bytes.size(), object["size"].get<size_t>()) << key;
    EXPECT_EQ(storage::sha256_hex(bytes), object["sha256"].get<std::string>()) << key;
    ++checked;
  }
  EXPECT_GE(checked, static_cast<size_t>(samples) * 3) << "exr, png and json per sample";
  EXPECT_TRUE(keys.count("samples/00000000.exr"));
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "shards" / "000000.manifest.json"));
}

TEST(S3EndToEnd, JobWritesItsDatasetToS3) {
  auto server = S3Server::start();
  auto env = server->client_env();
  env.erase("AWS_ENDPOINT_URL");  // given as --s3-endpoint
  Farm farm({.workers = 2,
             .threads = 1,
             .storage_root = "s3://" + server->bucket() + "/default-root",
             .env = env,
             .s3_endpoint = server->endpoint(),
             // no-such-bucket: allowed, so that the bucket check itself is what refuses it
             .allow_storage = {"s3://" + server->bucket() + "/datasets", "s3://no-such-bucket"}});
  const std::string root = "s3://" + server->bucket() + "/datasets/e2e";
  const std::string id = farm.submit(tiny_spec("e2e-s3", 24, 5, root));
  ASSERT_FALSE(id.empty());
  json job = farm.wait(id, std::chrono::seconds(240));
  ASSERT_EQ(job["state"], "done") << job.dump() << farm.logs() << server->log();
  EXPECT_EQ(job["samples_done"], 24);
  expect_dataset_valid(*server, root, 24);

  // `synthfarm fetch` reads the dataset back from S3 (given the endpoint like the farm) and
  // verifies every object; the COCO files are among them.
  TempDir fetched;
  auto [fetch_code, fetch_out] =
      run_command({binary("synthfarm"), "--url", farm.url(), "fetch", id, fetched.path().string(),
                   "--s3-endpoint", server->endpoint()},
                  std::chrono::seconds(120), env);
  ASSERT_EQ(fetch_code, 0) << fetch_out;
  const auto coco = json::parse(slurp(fetched.path() / "annotations" / "coco_person_keypoints.json"));
  EXPECT_EQ(coco["images"].size(), 24u);
  EXPECT_TRUE(std::filesystem::exists(fetched.path() / "manifest.json"));

  // A bad bucket is refused when the job is submitted, with the reason.
  auto [status, body] =
      farm.post("/api/jobs", tiny_spec("nobucket", 2, 1, "s3://no-such-bucket/x"));
  EXPECT_GE(status, 400) << body.dump();
  EXPECT_NE(body.dump().find("NoSuchBucket"), std::string::npos) << body.dump();
}

TEST(S3EndToEnd, LocalRenderToS3) {
  auto server = S3Server::start();
  TempDir dir;
  std::ofstream(dir.path() / "spec.yaml") << tiny_spec("local-s3", 3, 3, "file://unused");
  auto env = server->client_env();
  env.erase("AWS_ENDPOINT_URL");
  const std::string root = "s3://" + server->bucket() + "/local";
  auto [code, out] =
      run_command({binary("synthfarm"), "render", "--local", (dir.path() / "spec.yaml").string(),
                   "--out", root, "--threads", "1", "--s3-endpoint", server->endpoint()},
                  std::chrono::seconds(120), env);
  ASSERT_EQ(code, 0) << out;
  EXPECT_EQ(aws_list(*server, root).count("samples/00000002.png"), 1u) << out;
}

// The S3 server dies for 10 s in the middle of a job and comes back on the same port with
// its data: uploads retry through the outage and the dataset is whole.
TEST(S3Chaos, ServerDownForTenSecondsDuringAJob) {
  auto server = S3Server::start();
  auto env = server->client_env();
  env["SYNTHFARM_S3_RETRY_SECONDS"] = "60";
  Farm farm({.workers = 2, .threads = 1, .env = env, .allow_storage = {"s3://" + server->bucket() + "/datasets"}});
  const std::string root = "s3://" + server->bucket() + "/datasets/chaos";
  const std::string id = farm.submit(tiny_spec("chaos-s3", 60, 6, root));
  ASSERT_FALSE(id.empty());
  // Wait until some samples are stored, then take the server away.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (std::chrono::steady_clock::now() < deadline) {
    auto [status, job] = farm.get("/api/jobs/" + id);
    if (status == 200 && job.value("samples_done", 0) >= 8) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  server->kill();
  std::this_thread::sleep_for(std::chrono::seconds(10));
  auto [status, during] = farm.get("/api/jobs/" + id);
  EXPECT_NE(during.value("state", ""), "done") << "the job should still be waiting on storage";
  server->restart();
  json job = farm.wait(id, std::chrono::seconds(300));
  ASSERT_EQ(job["state"], "done") << job.dump() << farm.logs() << server->log();
  EXPECT_EQ(job["samples_done"], 60);
  expect_dataset_valid(*server, root, 60);
}

}  // namespace
}  // namespace synthfarm::testing
