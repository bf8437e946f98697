// synthfarm-coordinator: validates and queues jobs, watches the farm through worker
// telemetry, reaps expired leases, finalizes finished jobs into datasets, and serves the
// HTTP API, /metrics and the dashboard. It holds no state that Redis does not: kill it at
// any moment and a restart carries on. Several coordinators may run against one Redis.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <tl/expected.hpp>

#include "base/clock.h"
#include "queue/redis.h"

namespace synthfarm::coordinator {

struct CoordinatorOptions {
  std::string http_host = "127.0.0.1";
  int http_port = 8080;
  std::string telemetry_endpoint = "tcp://127.0.0.1:5555";  // ZeroMQ PULL, workers connect
  std::string control_endpoint = "tcp://127.0.0.1:5556";    // ZeroMQ PUB of cancels, workers subscribe
  std::string storage_root = "file://./out";  // jobs without output.storage go to <root>/<job id>
  std::string web_dir;                        // dashboard assets
  queue::RedisEndpoint redis;
  std::string key_prefix = "sf";
  int64_t housekeeping_ms = 500;  // reaper and finalizer period
  // Stamps job records, manifests and the live view; the system clock when not set.
  std::shared_ptr<const Clock> clock;
};

class Coordinator {
 public:
  // Binds the HTTP and telemetry sockets; fails with a message naming what could not be
  // bound. Redis need not be reachable yet.
  static tl::expected<std::unique_ptr<Coordinator>, std::string> create(CoordinatorOptions options);
  virtual ~Coordinator() = default;
  // Serves until stop() is called; returns the process exit code: 1 when it stopped
  // because Redis refused its credentials or may evict keys.
  virtual int run() = 0;
  // Thread-safe; returns at once.
  virtual void stop() = 0;
};

}  // namespace synthfarm::coordinator
