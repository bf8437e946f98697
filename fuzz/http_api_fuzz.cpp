// The coordinator's HTTP API (coordinator/coordinator.h): raw request bytes, from anyone
// who reaches its port, through cpp-httplib's parser, the router, the access checks and
// every handler, with a real redis-server behind them.
//
// Design: LLVMFuzzerInitialize starts one redis-server (the tests' fixture) and one
// coordinator through its test hook (coordinator_testing.h): set up as the real one, but
// each input is served in-process, on a socket pair, on a thread of its own while this
// one writes the request and reads the answer. That is the listener's path without TCP
// or its thread pool (about 2500 inputs/s with ASan), and what one input covers is that
// input's. Authentication is on; an input may name the fuzzing tokens' secrets, which
// are made afresh at start, by placeholders replaced before it is sent:
//   @SUBMITTER@  a submitter token ("Authorization: Bearer @SUBMITTER@")
//   @OTHER@      a second submitter (a job of one is not the other's to cancel)
//   @VIEWER@     a viewer token
// There is no admin placeholder: an admin's submissions are exempt from the per-token
// quota, which is what bounds how many shards one request enqueues (10^8 at most), and a
// single such input would stall the run. The quota is 1000 samples an hour, and Redis is
// emptied (and the tokens made again) every 500 inputs, so it stays small.
//
// Properties: no crash, no sanitizer report, and no answer 500: the coordinator answers
// 500 only when a handler threw, which is a bug whatever the request.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include <spdlog/spdlog.h>

#include "auth/tokens.h"
#include "base/clock.h"
#include "coordinator/coordinator_testing.h"
#include "fuzz/fuzz_check.h"
#include "queue/redis.h"
#include "tests/fixtures.h"

namespace {

namespace coordinator = synthfarm::coordinator;
namespace queue = synthfarm::queue;
using synthfarm::fuzz::check;

constexpr const char* kKeyPrefix = "sf";
constexpr int kInputsBetweenFlushes = 500;
constexpr size_t kMaxRequestBytes = 100'000;
// An answer still streaming after this long (the dashboard's event stream never ends)
// is cut off: the server sees the connection close at its next write.
constexpr auto kAnswerDeadline = std::chrono::milliseconds(1500);

// Everything the inputs run against, made once per process: libFuzzer's entry points
// take no context, so this is the one global of the target. Destroyed at exit, which
// stops redis-server (after a crash its parent-death signal does).
struct Harness {
  std::unique_ptr<synthfarm::testing::RedisServer> redis;
  synthfarm::testing::TempDir storage;
  std::unique_ptr<queue::RedisClient> client;
  std::unique_ptr<coordinator::testing::ConnectionServer> server;
  std::map<std::string, std::string> secrets;  // placeholder -> token secret
  int inputs = 0;
};
Harness* harness = nullptr;

void make_tokens(Harness& h) {
  synthfarm::auth::TokenStore tokens(*h.client, kKeyPrefix);
  const std::pair<const char*, synthfarm::auth::Role> wanted[] = {
      {"@SUBMITTER@", synthfarm::auth::Role::kSubmitter},
      {"@OTHER@", synthfarm::auth::Role::kSubmitter},
      {"@VIEWER@", synthfarm::auth::Role::kViewer}};
  for (const auto& [placeholder, role] : wanted) {
    std::string name = std::string(placeholder).substr(1, std::string(placeholder).size() - 2);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto secret = tokens.create("fuzz-" + name, role, 0);
    if (!secret) {
      std::fprintf(stderr, "http_api_fuzz: cannot create token %s: %s\n", name.c_str(), secret.error().c_str());
      std::exit(1);
    }
    h.secrets[placeholder] = *secret;
  }
}

std::string with_secrets(std::string request, const std::map<std::string, std::string>& secrets) {
  for (const auto& [placeholder, secret] : secrets) {
    for (size_t at = request.find(placeholder); at != std::string::npos;
         at = request.find(placeholder, at + secret.size())) {
      request.replace(at, placeholder.size(), secret);
    }
  }
  return request;
}

// Writes `request` to `fd` and reads the answer until the server closes its end or the
// deadline passes.
std::string round_trip(int fd, const std::string& request) {
  size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server stopped reading (it answered 413, say)
    sent += static_cast<size_t>(n);
  }
  ::shutdown(fd, SHUT_WR);
  std::string answer;
  const auto deadline = std::chrono::steady_clock::now() + kAnswerDeadline;
  char buffer[16384];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) break;
    answer.append(buffer, static_cast<size_t>(n));
  }
  return answer;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // A line per request at info level would be most of the run's time; errors still show.
  spdlog::set_level(spdlog::level::err);
  auto h = std::make_unique<Harness>();
  h->redis = synthfarm::testing::RedisServer::start();
  auto endpoint = queue::RedisEndpoint::parse(h->redis->url());
  check(endpoint.has_value(), "the fixture's Redis URL parses");
  h->client = queue::RedisClient::create(*endpoint);
  coordinator::CoordinatorOptions options;
  options.http_port = synthfarm::testing::free_tcp_port();
  options.telemetry_endpoint = "tcp://127.0.0.1:" + std::to_string(synthfarm::testing::free_tcp_port());
  options.control_endpoint = "tcp://127.0.0.1:" + std::to_string(synthfarm::testing::free_tcp_port());
  options.storage_root = "file://" + h->storage.path().string();
  options.web_dir = SYNTHFARM_WEB_DIR;
  options.redis = *endpoint;
  options.key_prefix = kKeyPrefix;
  options.auth = true;
  options.max_samples_per_hour = 1000;
  // Fixed time: job records and quotas do not depend on when the run happens.
  options.clock = std::make_shared<synthfarm::ManualClock>(1'700'000'000'000);
  auto server = coordinator::testing::ConnectionServer::create(options);
  if (!server) {
    std::fprintf(stderr, "http_api_fuzz: cannot start the coordinator: %s\n", server.error().c_str());
    std::exit(1);
  }
  h->server = std::move(*server);
  make_tokens(*h);
  harness = h.release();
  std::atexit([] { delete harness; });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // A request longer than the socket pair's buffer could block this thread's write while
  // the server blocks writing an early answer (413) nobody reads yet.
  if (size > kMaxRequestBytes) return 0;
  Harness& h = *harness;
  if (++h.inputs % kInputsBetweenFlushes == 0) {
    check(h.client->command({"FLUSHALL"}).has_value(), "FLUSHALL on the fuzzing Redis");
    make_tokens(h);
  }
  const auto start = std::chrono::steady_clock::now();
  int fds[2];
  check(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0, "socketpair");
  std::thread server([&h, fd = fds[1]] { h.server->serve(fd); });
  const std::string answer =
      round_trip(fds[0], with_secrets(std::string(reinterpret_cast<const char*>(data), size), h.secrets));
  ::close(fds[0]);
  server.join();
  // For writing seeds: SYNTHFARM_FUZZ_VERBOSE=1 prints every answer.
  static const bool verbose = std::getenv("SYNTHFARM_FUZZ_VERBOSE") != nullptr;
  if (verbose) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    std::fprintf(stderr, "answer (%lld ms):\n%s\n", static_cast<long long>(ms.count()), answer.c_str());
  }
  // Every answer of a kept-alive connection starts a line with its status.
  for (size_t at = answer.find("HTTP/1.1 500"); at != std::string::npos; at = answer.find("HTTP/1.1 500", at + 1)) {
    if (at == 0 || answer[at - 1] == '\n') {
      std::fprintf(stderr, "answer:\n%s\n", answer.c_str());
      check(false, "no request gets 500 (a handler threw)");
    }
  }
  return 0;
}
