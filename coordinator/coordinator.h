// synthfarm-coordinator: validates and queues jobs, watches the farm through worker
// telemetry, reaps expired leases, finalizes finished jobs into datasets, and serves the
// HTTP API, /metrics and the dashboard. It holds no state that Redis does not: kill it at
// any moment and a restart carries on. Several coordinators may run against one Redis.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "base/clock.h"
#include "coordinator/http_limits.h"
#include "protocol/curve.h"
#include "queue/redis.h"

namespace synthfarm::coordinator {

struct CoordinatorOptions {
  std::string http_host = "127.0.0.1";
  int http_port = 8080;
  std::string telemetry_endpoint = "tcp://127.0.0.1:5555";  // ZeroMQ PULL, workers connect
  std::string control_endpoint = "tcp://127.0.0.1:5556";    // ZeroMQ PUB of cancels, workers subscribe
  // ZeroMQ CURVE on both sockets: only the listed worker keys get in; off when unset.
  std::optional<protocol::CurveServerConfig> curve;
  std::string storage_root = "file://./out";  // jobs without output.storage go to <root>/<job id>
  // Where a job may write its dataset and read its inputs (storage location prefixes);
  // empty: the storage root alone. A spec naming anything else gets 400.
  std::vector<std::string> allow_storage;
  std::string web_dir;                        // dashboard assets
  std::string chart_js_dir = "/usr/share/javascript/chart.js";  // Chart.js (libjs-chart.js), /vendor/chart.js/
  queue::RedisEndpoint redis;
  std::string key_prefix = "sf";
  int64_t housekeeping_ms = 500;  // reaper and finalizer period
  int64_t history_interval_ms = 5000;  // the dashboard's time series: one sample per (history.h)
  // Several coordinators serve this farm: share the live view (workers, progress,
  // throughput) through the Redis stream <prefix>:telemetry (telemetry_relay.h).
  bool shared_view = false;
  // Every API route but /healthz and the login needs a token or a dashboard session (see
  // docs/security.md). Off is for a farm on loopback only: create() refuses a non-loopback
  // http_host with auth off unless `insecure`.
  bool auth = true;
  bool insecure = false;
  bool metrics_auth = false;  // /metrics needs a viewer token too
  int64_t session_ttl_s = 12 * 3600;
  // HTTPS when both are set (PEM files); the session cookie is then Secure.
  std::string tls_cert, tls_key;
  HttpLimits http;
  // Per token (admins exempt), per clock hour: more gets 429 with Retry-After. 0: no limit.
  int64_t max_jobs_per_hour = 1000;
  int64_t max_samples_per_hour = 10'000'000;
  // Stamps job records, manifests and the live view; the system clock when not set.
  std::shared_ptr<const Clock> clock;
};

// A route of the HTTP API as the router holds it: GET /api/routes lists them, and the
// security tests call each one with no, the wrong and the right credentials.
struct RouteInfo {
  std::string method;
  std::string pattern;  // the router's regular expression
  std::string access;   // open, viewer, submitter, owner (a submitter's own jobs), admin
  std::string example;  // a path the pattern matches
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
