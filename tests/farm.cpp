#include "tests/farm.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include <stdlib.h>

#include <fstream>
#include <thread>

#include "auth/sessions.h"
#include "auth/tokens.h"
#include "queue/redis.h"

namespace synthfarm::testing {

Farm::Farm(FarmOptions options) : options_(options) {
  if (options_.start_redis) redis_ = RedisServer::start(options_.redis_args, 0, dir() / "redis");
  http_port_ = free_tcp_port();
  telemetry_port_ = free_tcp_port();
  control_port_ = free_tcp_port();
  std::filesystem::create_directories(out_root());
  if (options_.auth && redis_) {
    token_ = make_token("admin", "farm-admin");
    setenv("SYNTHFARM_TOKEN", token_.c_str(), 1);
  }
  coordinator_ = spawn_coordinator();
  for (int i = 0; i < options_.workers; ++i) workers_.push_back(start_worker());
}

std::unique_ptr<ChildProcess> Farm::spawn_coordinator() {
  return spawn_coordinator(http_port_, telemetry_port_, control_port_, "coordinator.log", {});
}

CoordinatorReplica Farm::start_coordinator_replica(const std::vector<std::string>& extra_args) {
  CoordinatorReplica replica;
  replica.http_port = free_tcp_port();
  replica.telemetry_port = free_tcp_port();
  replica.control_port = free_tcp_port();
  replica.process = spawn_coordinator(replica.http_port, replica.telemetry_port, replica.control_port,
                                      "coordinator-" + std::to_string(replica.http_port) + ".log", extra_args);
  return replica;
}

std::unique_ptr<ChildProcess> Farm::spawn_coordinator(int http_port, int telemetry_port, int control_port,
                                                      const std::string& log_name,
                                                      const std::vector<std::string>& extra_args) {
  std::vector<std::string> argv = {binary("synthfarm-coordinator"), "--redis",
                                   redis_url_as(options_.coordinator_redis_user), "--listen",
                                   "127.0.0.1:" + std::to_string(http_port), "--telemetry",
                                   "tcp://127.0.0.1:" + std::to_string(telemetry_port), "--control",
                                   "tcp://127.0.0.1:" + std::to_string(control_port), "--storage-root",
                                   options_.storage_root.empty() ? "file://" + out_root().string() : options_.storage_root,
                                   "--web", source_path("web"), "--auth", options_.auth ? "on" : "off"};
  // Jobs may use the farm's own directory (inputs tests write there, the default output
  // root) and whatever the test adds; nothing else on this machine.
  std::string allowed = "file://" + dir().string();
  if (!options_.storage_root.empty()) allowed += "," + options_.storage_root;
  for (const auto& a : options_.allow_storage) allowed += "," + a;
  argv.insert(argv.end(), {"--allow-storage", allowed});
  argv.insert(argv.end(), options_.coordinator_args.begin(), options_.coordinator_args.end());
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  if (!options_.s3_endpoint.empty()) argv.insert(argv.end(), {"--s3-endpoint", options_.s3_endpoint});
  auto coordinator = ChildProcess::spawn(argv, dir() / log_name, options_.env);
  if (!wait_for_tcp(http_port, std::chrono::seconds(20))) {
    throw std::runtime_error("coordinator did not start:\n" + coordinator->log());
  }
  return coordinator;
}

void Farm::kill_worker(size_t i) {
  workers_.at(i)->signal(SIGKILL);
  workers_[i]->wait(std::chrono::seconds(10));
  retired_workers_.push_back(std::move(workers_[i]));
  workers_[i] = start_worker();
}

void Farm::restart_coordinator() {
  coordinator_->signal(SIGKILL);
  coordinator_->wait(std::chrono::seconds(10));
  std::ofstream(dir() / "coordinator.log", std::ios::app) << "==== coordinator killed (SIGKILL), restarting ====\n";
  coordinator_ = spawn_coordinator();
}

void Farm::restart_redis() {
  int port = redis_->port();
  redis_->kill();
  redis_.reset();
  redis_ = RedisServer::start(options_.redis_args, port, dir() / "redis");
}

// A client as the coordinator's Redis user (the one that may write tokens under an ACL).
std::unique_ptr<queue::RedisClient> Farm::coordinator_redis() const {
  auto file = options_.env.find("SYNTHFARM_REDIS_PASSWORD_FILE");
  auto endpoint = queue::RedisEndpoint::parse(redis_url_as(options_.coordinator_redis_user),
                                              file == options_.env.end() ? "" : file->second);
  if (!endpoint) throw std::runtime_error("farm redis: " + endpoint.error());
  return queue::RedisClient::create(*endpoint);
}

std::string Farm::make_token(const std::string& role, const std::string& name) {
  auto redis = coordinator_redis();
  auto token = auth::TokenStore(*redis, "sf").create(name, *auth::parse_role(role), 0);
  if (!token) throw std::runtime_error("cannot make token " + name + ": " + token.error());
  return *token;
}

std::string Farm::login_url() {
  if (!options_.auth) return url() + "/";
  auto redis = coordinator_redis();
  auto code = auth::SessionStore(*redis, "sf").create_login_code(auth::sha256_hex(token_), std::chrono::seconds(600));
  if (!code) throw std::runtime_error("cannot make a login code: " + code.error());
  return url() + "/#login=" + *code;
}

Farm::~Farm() {
  if (!token_.empty()) unsetenv("SYNTHFARM_TOKEN");
  for (auto& w : workers_) w->signal(SIGTERM);
  for (auto& w : workers_) w->wait(std::chrono::seconds(20));
  workers_.clear();
  if (coordinator_) {
    coordinator_->signal(SIGTERM);
    coordinator_->wait(std::chrono::seconds(10));
  }
}

std::unique_ptr<ChildProcess> Farm::start_worker(const std::vector<std::string>& extra_args) {
  return start_worker_via(redis_url_as(options_.worker_redis_user), extra_args);
}

std::unique_ptr<ChildProcess> Farm::start_worker_via(const std::string& redis_url,
                                                     const std::vector<std::string>& extra_args,
                                                     const std::map<std::string, std::string>& extra_env) {
  int n = ++worker_seq_;
  std::vector<std::string> argv = {binary("synthfarm-worker"), "--redis", redis_url,
                                   "--coordinator", telemetry(),
                                   "--control", options_.worker_control ? control() : "tcp://127.0.0.1:1",
                                   "--threads", std::to_string(options_.threads), "--id", "w" + std::to_string(n),
                                   "--lease-ms", std::to_string(options_.lease_ms)};
  if (!options_.s3_endpoint.empty()) argv.insert(argv.end(), {"--s3-endpoint", options_.s3_endpoint});
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  auto env = options_.env;
  for (const auto& [name, value] : options_.worker_env) env[name] = value;
  for (const auto& [name, value] : extra_env) env[name] = value;
  return ChildProcess::spawn(argv, dir() / ("worker-" + std::to_string(n) + ".log"), env);
}

std::string Farm::redis_url_as(const std::string& user) const {
  if (user.empty() || !redis_) return redis_url();
  return "redis://" + user + "@127.0.0.1:" + std::to_string(redis_->port());
}

std::pair<int, nlohmann::json> Farm::get(const std::string& path) const {
  auto [status, body] = get_raw(path);
  return {status, nlohmann::json::parse(body, nullptr, false)};
}

std::pair<int, std::string> Farm::get_raw(const std::string& path) const {
  httplib::Client client(url());
  client.set_read_timeout(30);
  if (!token_.empty()) client.set_bearer_token_auth(token_.c_str());
  auto res = client.Get(path);
  if (!res) return {0, ""};
  return {res->status, res->body};
}

std::pair<int, nlohmann::json> Farm::post(const std::string& path, const std::string& body,
                                          const std::string& content_type) const {
  httplib::Client client(url());
  client.set_read_timeout(60);
  if (!token_.empty()) client.set_bearer_token_auth(token_.c_str());
  auto res = client.Post(path, body, content_type);
  if (!res) return {0, nullptr};
  return {res->status, nlohmann::json::parse(res->body, nullptr, false)};
}

std::string Farm::submit(const std::string& yaml) {
  auto [status, body] = post("/api/jobs", yaml);
  EXPECT_EQ(status, 201) << body.dump() << "\n" << logs();
  if (status != 201) return "";
  return body["id"].get<std::string>();
}

nlohmann::json Farm::wait(const std::string& job_id, std::chrono::seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  nlohmann::json job;
  while (std::chrono::steady_clock::now() < deadline) {
    auto [status, body] = get("/api/jobs/" + job_id);
    if (status == 200) {
      job = body;
      std::string state = job["state"];
      if (state == "done" || state == "failed" || state == "partial") return job;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ADD_FAILURE() << "job " << job_id << " did not end in " << timeout.count() << " s; last: " << job.dump() << "\n"
                << logs();
  return job;
}

std::string Farm::logs() const {
  std::string out = "---- coordinator ----\n" + coordinator_->log();
  for (size_t i = 0; i < workers_.size(); ++i) {
    out += "---- worker " + std::to_string(i + 1) + " ----\n" + workers_[i]->log();
  }
  return out.size() > 20000 ? out.substr(out.size() - 20000) : out;
}

std::string Farm::all_logs(size_t tail) const {
  auto cut = [tail](std::string text) {
    return text.size() > tail ? "[...]" + text.substr(text.size() - tail) : text;
  };
  std::string out = "---- coordinator (every life) ----\n" + cut(coordinator_->log());
  for (const auto& w : retired_workers_) {
    out += "---- killed worker pid " + std::to_string(w->pid()) + " ----\n" + cut(w->log());
  }
  for (size_t i = 0; i < workers_.size(); ++i) {
    out += "---- worker slot " + std::to_string(i) + " pid " + std::to_string(workers_[i]->pid()) + " ----\n" +
           cut(workers_[i]->log());
  }
  if (redis_) out += "---- redis-server ----\n" + cut(redis_->log());
  return out;
}

}  // namespace synthfarm::testing
