#include "tests/fixtures.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "auth/tokens.h"

namespace synthfarm::testing {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string templ = std::string(base && *base ? base : "/tmp") + "/synthfarm-test-XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + templ);
  path_ = templ;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

int free_tcp_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    throw std::runtime_error("cannot bind a free port");
  }
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

bool wait_for_tcp(int port, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    close(fd);
    if (ok) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

std::unique_ptr<ChildProcess> ChildProcess::spawn(const std::vector<std::string>& argv,
                                                  const std::filesystem::path& log_path,
                                                  const std::map<std::string, std::string>& env) {
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    // Dies with the process that started it, even when that one ends without running its
    // destructors (a crash, or a fuzz target stopping at a finding): no test leaves a
    // server behind. The signal follows the forking thread; fixtures start children
    // from the test's (main) thread.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    for (const auto& [k, v] : env) {
      if (v.empty()) unsetenv(k.c_str());  // an empty value removes the variable
      else setenv(k.c_str(), v.c_str(), 1);
    }
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  return std::unique_ptr<ChildProcess>(new ChildProcess(pid, log_path));
}

ChildProcess::~ChildProcess() {
  if (running()) {
    ::kill(pid_, SIGKILL);
    wait(std::chrono::seconds(5));
  }
}

bool ChildProcess::running() {
  if (status_) return false;
  int st = 0;
  pid_t r = waitpid(pid_, &st, WNOHANG);
  if (r == 0) return true;
  status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return false;
}

void ChildProcess::signal(int sig) {
  if (running()) ::kill(pid_, sig);
}

std::optional<int> ChildProcess::wait(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return status_;
}

std::string ChildProcess::log() const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::unique_ptr<RedisServer> RedisServer::start(const std::vector<std::string>& extra_args, int port,
                                                const std::filesystem::path& data_dir) {
  std::unique_ptr<RedisServer> server(new RedisServer());
  server->data_dir_ = data_dir.empty() ? server->dir_.path() : data_dir;
  std::filesystem::create_directories(server->data_dir_);
  for (int tries = 0; tries < 5; ++tries) {
    server->port_ = port != 0 ? port : free_tcp_port();
    std::vector<std::string> argv = {"redis-server", "--port", std::to_string(server->port_),
                                     "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                     "--dir", server->data_dir_.string(), "--daemonize", "no"};
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    server->process_ = ChildProcess::spawn(argv, server->data_dir_ / "redis.log");
    if (wait_for_tcp(server->port_, std::chrono::seconds(10))) return server;
    server->process_.reset();
  }
  // Its log says why, e.g. a line of an --aclfile it refused.
  std::ifstream log(server->data_dir_ / "redis.log");
  std::stringstream text;
  text << log.rdbuf();
  throw std::runtime_error("redis-server did not start (is it installed? ops/setup.sh installs it):\n" +
                           text.str());
}

void RedisServer::kill() {
  if (!process_) return;
  process_->signal(SIGKILL);
  process_->wait(std::chrono::seconds(10));
}

RedisServer::~RedisServer() {
  if (process_) {
    process_->signal(SIGTERM);
    process_->wait(std::chrono::seconds(5));
  }
}

std::unique_ptr<S3Server> S3Server::start(const std::string& bucket) {
  const std::string program = source_path("ops/s3rver/node_modules/.bin/s3rver");
  if (!std::filesystem::exists(program)) {
    throw std::runtime_error(program + " is missing: run `npm ci --prefix ops/s3rver` (ops/test.sh does)");
  }
  std::unique_ptr<S3Server> server(new S3Server());
  server->bucket_ = bucket;
  std::filesystem::create_directories(server->dir_.path() / "data");
  for (int tries = 0; tries < 5; ++tries) {
    server->port_ = free_tcp_port();
    server->launch();
    if (server->process_) return server;
  }
  throw std::runtime_error("s3rver did not start:\n" + server->log());
}

void S3Server::launch() {
  process_ = ChildProcess::spawn({source_path("ops/s3rver/node_modules/.bin/s3rver"), "--directory",
                                  (dir_.path() / "data").string(), "--address", "127.0.0.1", "--port",
                                  std::to_string(port_), "--silent", "--configure-bucket", bucket_,
                                  // virtual-host requests to <bucket>.s3.localhost:<port>
                                  "--service-endpoint", "localhost"},
                                 dir_.path() / "s3rver.log",
                                 // s3rver's continuation tokens use DES, which Node 17+ (OpenSSL 3)
                                 // only offers through the legacy provider.
                                 {{"NODE_OPTIONS", "--openssl-legacy-provider"}});
  if (!wait_for_tcp(port_, std::chrono::seconds(20)) || !process_->running()) process_.reset();
}

void S3Server::kill() {
  if (!process_) return;
  process_->signal(SIGKILL);
  process_->wait(std::chrono::seconds(10));
}

void S3Server::restart() {
  kill();
  if (process_) retired_.push_back(std::move(process_));
  for (int tries = 0; tries < 50 && !process_; ++tries) {
    launch();  // the port may take a moment to be free again
    if (!process_) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (!process_) throw std::runtime_error("s3rver did not restart on port " + std::to_string(port_));
}

S3Server::~S3Server() {
  if (process_) {
    process_->signal(SIGTERM);
    process_->wait(std::chrono::seconds(5));
  }
}

std::map<std::string, std::string> S3Server::client_env() const {
  return {{"AWS_ENDPOINT_URL", endpoint()}, {"AWS_ACCESS_KEY_ID", "S3RVER"},
          {"AWS_SECRET_ACCESS_KEY", "S3RVER"}, {"AWS_REGION", "us-east-1"},
          {"AWS_SESSION_TOKEN", ""}, {"AWS_PROFILE", ""}};
}

std::pair<int, std::string> S3Server::aws(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {"/usr/bin/aws", "--endpoint-url", endpoint()};
  argv.insert(argv.end(), args.begin(), args.end());
  auto env = client_env();
  env.erase("AWS_ENDPOINT_URL");  // given on the command line
  env["AWS_PAGER"] = "";
  return run_command(argv, std::chrono::seconds(300), env);
}

std::string shipped_redis_acl(const std::map<std::string, std::string>& passwords) {
  const std::string placeholder = "#" + std::string(64, '0');
  std::ifstream file(source_path("ops/redis.acl"));
  std::string out, line;
  std::map<std::string, bool> replaced;
  while (std::getline(file, line)) {
    for (const auto& [user, password] : passwords) {
      auto at = line.find(placeholder);
      if (line.starts_with("user " + user + " ") && at != std::string::npos) {
        line.replace(at, placeholder.size(), "#" + auth::sha256_hex(password));
        replaced[user] = true;
      }
    }
    out += line + "\n";
  }
  for (const auto& [user, password] : passwords) {
    if (!replaced[user]) {
      throw std::runtime_error("ops/redis.acl has no line 'user " + user + " ... " + placeholder + "'");
    }
  }
  return out;
}

std::string write_secret(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text << "\n";
  if (::chmod(path.c_str(), 0600) != 0) throw std::runtime_error("cannot chmod " + path.string());
  return path.string();
}

std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

std::string binary(const std::string& name) { return std::string(SYNTHFARM_BIN_DIR) + "/" + name; }
std::string source_path(const std::string& relative) {
  return std::string(SYNTHFARM_SOURCE_DIR) + "/" + relative;
}

std::pair<int, std::string> run_command(const std::vector<std::string>& argv,
                                        std::chrono::milliseconds timeout,
                                        const std::map<std::string, std::string>& env) {
  TempDir dir;
  auto log = dir.path() / "out.log";
  auto child = ChildProcess::spawn(argv, log, env);
  auto status = child->wait(timeout);
  if (!status) {
    child->signal(SIGKILL);
    status = child->wait(std::chrono::seconds(5));
    return {124, child->log() + "\n[timed out]"};
  }
  return {*status, child->log()};
}

}  // namespace synthfarm::testing
