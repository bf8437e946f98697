// Test fixtures that start real things: processes, redis-server, s3rver, temp directories.
// Every fixture owns what it starts and stops it in its destructor, so a failing test
// never leaves a server running.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <thread>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace synthfarm::testing {

// Polls `done` every `step` until it holds or `timeout` passes; its last answer.
template <typename F>
bool eventually(F done, std::chrono::milliseconds timeout,
                std::chrono::milliseconds step = std::chrono::milliseconds(100)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(step);
  }
  return done();
}

// A fresh directory under $TMPDIR, removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// A TCP port on 127.0.0.1 that was free a moment ago.
int free_tcp_port();
// Polls until something accepts TCP connections on 127.0.0.1:port.
bool wait_for_tcp(int port, std::chrono::milliseconds timeout);

// A child process; stdout and stderr go to `log_path`; `env` is added to the parent's
// environment (an empty value unsets the variable). Killed (SIGKILL) on destruction if
// still running.
class ChildProcess {
 public:
  static std::unique_ptr<ChildProcess> spawn(const std::vector<std::string>& argv,
                                             const std::filesystem::path& log_path,
                                             const std::map<std::string, std::string>& env = {});
  ~ChildProcess();
  pid_t pid() const { return pid_; }
  bool running();
  void signal(int sig);
  // Exit status (or 128 + signal) once it ends; nullopt on timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  std::string log() const;

 private:
  ChildProcess(pid_t pid, std::filesystem::path log) : pid_(pid), log_path_(std::move(log)) {}
  pid_t pid_;
  std::filesystem::path log_path_;
  std::optional<int> status_;
};

// redis-server on a free loopback port, data in its own temp dir.
class RedisServer {
 public:
  // `extra_args` go on redis-server's command line after the fixture's own, e.g.
  // {"--aclfile", path} for ACL users (url() holds no credentials: clients add their own).
  // port 0 picks a free one; a given port is used as is (to restart "the same" server).
  // `data_dir` (optional) holds its files (AOF, log) instead of its own temp dir, so a
  // server restarted with the same dir and port loads what the last one persisted.
  static std::unique_ptr<RedisServer> start(const std::vector<std::string>& extra_args = {},
                                            int port = 0,
                                            const std::filesystem::path& data_dir = {});
  ~RedisServer();
  int port() const { return port_; }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }
  // SIGKILL, as a crash: nothing is flushed beyond what its fsync policy already wrote.
  void kill();
  std::string log() const { return process_ ? process_->log() : ""; }

 private:
  RedisServer() = default;
  TempDir dir_;
  std::filesystem::path data_dir_;
  int port_ = 0;
  std::unique_ptr<ChildProcess> process_;
};

// s3rver (the S3-compatible test server pinned in ops/s3rver, installed by `npm ci
// --prefix ops/s3rver`) on a free loopback port, its data in its own temp dir, with one
// bucket created at start. Credentials are s3rver's fixed S3RVER / S3RVER.
class S3Server {
 public:
  static std::unique_ptr<S3Server> start(const std::string& bucket = "synthfarm-test");
  ~S3Server();
  int port() const { return port_; }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // The same server for virtual-host addressing: <bucket>.s3.localhost:<port>.
  std::string virtual_host_endpoint() const { return "http://s3.localhost:" + std::to_string(port_); }
  const std::string& bucket() const { return bucket_; }
  // SIGKILL, as a crash (objects already stored stay in its data dir).
  void kill();
  // Starts it again on the same port with the same data (after kill()).
  void restart();
  std::string log() const { return process_ ? process_->log() : ""; }
  // The environment an S3 client needs for this server: endpoint, credentials, region.
  std::map<std::string, std::string> client_env() const;
  // Runs Debian's awscli (/usr/bin/aws) against this server: `aws --endpoint-url ... <args>`.
  std::pair<int, std::string> aws(const std::vector<std::string>& args) const;

 private:
  S3Server() = default;
  void launch();
  TempDir dir_;
  std::string bucket_;
  int port_ = 0;
  std::unique_ptr<ChildProcess> process_;
  std::vector<std::unique_ptr<ChildProcess>> retired_;  // killed, kept until destruction
};

// ops/redis.acl as shipped, with each named user's placeholder hash replaced by the SHA-256
// of its password, as docs/security.md tells operators to: tests load the real file, not a
// copy of it. Throws when a named user has no placeholder line.
std::string shipped_redis_acl(const std::map<std::string, std::string>& passwords);
// Writes `text` and a line break to a file only its owner may read or write (mode 0600), as
// password and key files must be; returns its path.
std::string write_secret(const std::filesystem::path& path, const std::string& text);

// The whole file at `path` ("" when it cannot be read).
std::string slurp(const std::filesystem::path& path);

// Path of a project executable in the build tree (e.g. "synthfarm-worker").
std::string binary(const std::string& name);
// Path of a file in the source tree (e.g. "web").
std::string source_path(const std::string& relative);

// Runs a command, returns (exit code, combined output).
std::pair<int, std::string> run_command(const std::vector<std::string>& argv,
                                        std::chrono::milliseconds timeout = std::chrono::seconds(120),
                                        const std::map<std::string, std::string>& env = {});

}  // namespace synthfarm::testing
