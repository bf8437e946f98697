// A whole farm on loopback for end-to-end tests: redis-server, one coordinator and N
// workers as separate processes on free ports, with an HTTP client for the API.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/fixtures.h"

namespace synthfarm::queue {
class RedisClient;
}

namespace synthfarm::testing {

// A second coordinator of a farm (same Redis, storage and flags; its own ports), as
// another Kubernetes replica would be.
struct CoordinatorReplica {
  std::unique_ptr<ChildProcess> process;
  int http_port = 0, telemetry_port = 0, control_port = 0;
  std::string url() const { return "http://127.0.0.1:" + std::to_string(http_port); }
  std::string telemetry() const { return "tcp://127.0.0.1:" + std::to_string(telemetry_port); }
  std::string control() const { return "tcp://127.0.0.1:" + std::to_string(control_port); }
};

struct FarmOptions {
  int workers = 2;
  int threads = 1;           // render threads per worker
  int64_t lease_ms = 30000;
  bool start_redis = true;
  std::vector<std::string> redis_args = {};       // extra redis-server arguments, e.g. AOF on
  std::map<std::string, std::string> worker_env = {};  // environment of every worker started
  bool worker_control = true;  // false: workers do not hear the coordinator's control socket
  // Where jobs without output.storage write; empty: file://<dir>/out.
  std::string storage_root = {};
  // Environment of the coordinator and every worker (e.g. S3 credentials).
  std::map<std::string, std::string> env = {};
  // Passed as --s3-endpoint to the coordinator and the workers when set.
  std::string s3_endpoint = {};
  // Authentication on, as in production: the farm makes an admin token at start, which the
  // HTTP helpers send and which SYNTHFARM_TOKEN carries to the CLI while the farm lives.
  bool auth = true;
  // More arguments for the coordinator (e.g. --curve-key, --curve-workers); workers take
  // theirs through start_worker().
  std::vector<std::string> coordinator_args = {};
  // Storage jobs may use besides the farm's directory and storage root (--allow-storage).
  std::vector<std::string> allow_storage = {};
  // Redis ACL users the coordinator and the workers name in --redis (empty: the default
  // user); their passwords come from SYNTHFARM_REDIS_PASSWORD_FILE in `env` and
  // `worker_env`.
  std::string coordinator_redis_user = {};
  std::string worker_redis_user = {};
};

class Farm {
 public:
  explicit Farm(FarmOptions options = {});
  ~Farm();

  std::string url() const { return "http://127.0.0.1:" + std::to_string(http_port_); }
  // The admin token made at start ("" with auth off).
  const std::string& token() const { return token_; }
  // Makes a token with this role and name (fails the test if it cannot).
  std::string make_token(const std::string& role, const std::string& name);
  // A dashboard URL that logs a browser in once as the admin token (the plain URL with auth off).
  std::string login_url();
  std::string redis_url() const { return redis_ ? redis_->url() : ""; }
  // The same Redis as `user` (no password: the programs read it from a file).
  std::string redis_url_as(const std::string& user) const;
  std::string telemetry() const { return "tcp://127.0.0.1:" + std::to_string(telemetry_port_); }
  std::string control() const { return "tcp://127.0.0.1:" + std::to_string(control_port_); }
  const std::filesystem::path& dir() const { return dir_.path(); }
  std::filesystem::path out_root() const { return dir_.path() / "out"; }

  std::unique_ptr<ChildProcess> start_worker(const std::vector<std::string>& extra_args = {});
  // A worker that reaches Redis at `redis_url` (e.g. through a test's TCP proxy), with
  // `env` added to the farm's worker environment.
  std::unique_ptr<ChildProcess> start_worker_via(const std::string& redis_url,
                                                 const std::vector<std::string>& extra_args = {},
                                                 const std::map<std::string, std::string>& env = {});
  // Another coordinator on this farm's Redis and storage, with the farm's coordinator flags
  // and `extra_args`.
  CoordinatorReplica start_coordinator_replica(const std::vector<std::string>& extra_args = {});
  std::vector<std::unique_ptr<ChildProcess>>& workers() { return workers_; }
  ChildProcess& coordinator() { return *coordinator_; }

  // HTTP helpers, sending token(): status code and parsed body (null when not JSON).
  std::pair<int, nlohmann::json> get(const std::string& path) const;
  std::pair<int, nlohmann::json> post(const std::string& path, const std::string& body,
                                      const std::string& content_type = "application/yaml") const;
  std::pair<int, std::string> get_raw(const std::string& path) const;

  // Submits and returns the id (fails the test on a non-201).
  std::string submit(const std::string& yaml);
  // Polls until the job is done or failed; returns the final job JSON.
  nlohmann::json wait(const std::string& job_id, std::chrono::seconds timeout = std::chrono::seconds(300));

  // Logs of every process, for failure messages.
  std::string logs() const;
  // Logs of every process ever started (killed workers and coordinators too, and
  // redis-server), the last `tail` bytes of each.
  std::string all_logs(size_t tail = 3000) const;

  // ---- chaos: crash and restart processes ----------------------------------------
  // SIGKILLs worker `i` and starts a fresh one (new id and log) in its place.
  void kill_worker(size_t i);
  // SIGKILLs the coordinator and starts a new one on the same ports, log appended.
  void restart_coordinator();
  // SIGKILLs redis-server and starts it again on the same port with the same data dir
  // and arguments (with AOF on, it reloads what was fsynced).
  void restart_redis();
  RedisServer* redis() { return redis_.get(); }

 private:
  FarmOptions options_;
  TempDir dir_;
  std::unique_ptr<queue::RedisClient> coordinator_redis() const;
  std::unique_ptr<RedisServer> redis_;
  std::string token_;
  int http_port_ = 0;
  int telemetry_port_ = 0;
  int control_port_ = 0;
  int worker_seq_ = 0;
  std::unique_ptr<ChildProcess> coordinator_;
  std::vector<std::unique_ptr<ChildProcess>> workers_;
  std::vector<std::unique_ptr<ChildProcess>> retired_workers_;  // killed; kept for their logs
  std::unique_ptr<ChildProcess> spawn_coordinator();
  std::unique_ptr<ChildProcess> spawn_coordinator(int http_port, int telemetry_port, int control_port,
                                                  const std::string& log_name, const std::vector<std::string>& extra_args);
};

}  // namespace synthfarm::testing
