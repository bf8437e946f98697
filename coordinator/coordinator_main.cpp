// synthfarm-coordinator: see coordinator.h.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <filesystem>

#include "base/clock.h"
#include "base/stop_signals.h"
#include "coordinator/coordinator.h"
#include "protocol/curve.h"

namespace {

// The dashboard's assets: those installed with the program (cmake --install puts them in
// <prefix>/share/synthfarm/web beside <prefix>/bin), else the source tree's web/ (a build
// tree's program).
std::string default_web_dir() {
  std::error_code error;
  const auto program = std::filesystem::read_symlink("/proc/self/exe", error);
  if (!error) {
    const auto installed = program.parent_path().parent_path() / SYNTHFARM_WEB_INSTALL_DIR;
    if (std::filesystem::is_regular_file(installed / "index.html", error)) return installed.string();
  }
  return SYNTHFARM_WEB_DIR;
}

// A refused worker is logged with its address and key: the first 10 refusals of each
// socket, then every 100th, so a misconfigured worker retrying (or a flood of them)
// cannot fill the disk. The exact count is synthfarm_telemetry_rejected_total.
void log_curve_refusal(const synthfarm::protocol::CurveRefusal& r, const std::string& allow_list) {
  if (r.refused_total > 10 && r.refused_total % 100 != 0) return;
  spdlog::warn("{}: refused the CURVE client at {}: key {} is not in {} (refusal {}{})", r.socket, r.address,
               r.public_key, allow_list, r.refused_total,
               r.refused_total == 10 ? "; only every 100th is logged from here on" : "");
}

// --curve-key and --curve-workers: both, or neither (CURVE off).
tl::expected<std::optional<synthfarm::protocol::CurveServerConfig>, std::string> curve_server_config(
    const std::string& key_file, const std::string& workers_file) {
  using namespace synthfarm::protocol;
  if (key_file.empty() && workers_file.empty()) return std::nullopt;
  if (key_file.empty() || workers_file.empty()) {
    return tl::unexpected(std::string(
        "--curve-key and --curve-workers go together: the coordinator's key file and the worker keys it admits"));
  }
  auto keys = read_curve_key_file(key_file);
  if (!keys) return tl::unexpected("--curve-key: " + keys.error());
  auto allowed = CurveAllowList::load(workers_file, [](bool ok, const std::string& message) {
    if (ok) {
      spdlog::info("--curve-workers: {}", message);
    } else {
      spdlog::error("--curve-workers: {}", message);
    }
  });
  if (!allowed) return tl::unexpected("--curve-workers: " + allowed.error());
  spdlog::info("CURVE on telemetry and control: coordinator key {}, {} worker key(s) allowed in {}",
               keys->public_key, (*allowed)->size(), workers_file);
  return CurveServerConfig{std::move(*keys), std::move(*allowed),
                           [workers_file](const CurveRefusal& r) { log_curve_refusal(r, workers_file); }};
}

}  // namespace

int main(int argc, char** argv) {
  using namespace synthfarm;
  CLI::App app{"synthfarm coordinator: job API, queue housekeeping, dataset finalizer, dashboard"};
  coordinator::CoordinatorOptions options;
  std::string redis = "redis://127.0.0.1:6379";
  std::string listen = "127.0.0.1:8080";
  std::string log_level = "info";
  options.web_dir = default_web_dir();
  std::string redis_password_file;
  app.add_option("--redis", redis, "Redis address, redis://[user[:password]@]host:port[/db]")
      ->envname("SYNTHFARM_REDIS")
      ->capture_default_str();
  app.add_option("--redis-password-file", redis_password_file,
                 "file holding the Redis password (mode 600), for the user named in --redis")
      ->envname("SYNTHFARM_REDIS_PASSWORD_FILE");
  app.add_option("--listen", listen, "HTTP address host:port")->envname("SYNTHFARM_LISTEN")->capture_default_str();
  app.add_option("--telemetry", options.telemetry_endpoint, "ZeroMQ endpoint workers send telemetry to")
      ->envname("SYNTHFARM_TELEMETRY")
      ->capture_default_str();
  app.add_option("--control", options.control_endpoint, "ZeroMQ endpoint workers hear cancellations on")
      ->envname("SYNTHFARM_CONTROL")
      ->capture_default_str();
  std::string curve_key, curve_workers;
  app.add_option("--curve-key", curve_key,
                 "this coordinator's CURVE key file (synthfarm keygen): telemetry and control encrypted, "
                 "only listed workers let in; needs --curve-workers")
      ->envname("SYNTHFARM_CURVE_KEY");
  app.add_option("--curve-workers", curve_workers,
                 "file of the worker public keys let in: one Z85 key per line, # comments; re-read when it "
                 "changes")
      ->envname("SYNTHFARM_CURVE_WORKERS");
  app.add_option("--storage-root", options.storage_root, "where jobs without output.storage write")
      ->envname("SYNTHFARM_STORAGE_ROOT")
      ->capture_default_str();
  app.add_option("--allow-storage", options.allow_storage,
                 "storage a job may write to and read inputs from (repeat for several; default: --storage-root)")
      ->envname("SYNTHFARM_ALLOW_STORAGE")
      ->delimiter(',');
  app.add_option("--chart-js", options.chart_js_dir, "Chart.js directory (Debian's libjs-chart.js), for the dashboard's charts")
      ->capture_default_str();
  app.add_option("--web", options.web_dir, "dashboard assets directory")
      ->envname("SYNTHFARM_WEB")
      ->capture_default_str();
  app.add_option("--key-prefix", options.key_prefix, "prefix of every Redis key")->capture_default_str();
  app.add_flag("--shared-view", options.shared_view,
               "several coordinators serve this farm: share the live view (workers, progress, throughput) "
               "through Redis, so each shows every worker")
      ->envname("SYNTHFARM_SHARED_VIEW");
  std::string s3_endpoint;
  app.add_option("--s3-endpoint", s3_endpoint,
                 "S3-compatible server for s3:// locations, e.g. http://127.0.0.1:9000 (default: "
                 "AWS_ENDPOINT_URL, else AWS)");
  std::string auth = "on";
  app.add_option("--auth", auth,
                 "on: every API route but /healthz needs a token or a dashboard session (docs/security.md); off: "
                 "open API, loopback only")
      ->envname("SYNTHFARM_AUTH")
      ->check(CLI::IsMember({"on", "off"}))
      ->capture_default_str();
  app.add_flag("--insecure", options.insecure, "allow --auth off on a non-loopback address");
  app.add_flag("--metrics-auth", options.metrics_auth, "/metrics needs a viewer token too (default: open)");
  app.add_option("--session-ttl", options.session_ttl_s, "dashboard session lifetime, seconds")
      ->check(CLI::Range(60, 30 * 24 * 3600))
      ->capture_default_str();
  app.add_option("--tls-cert", options.tls_cert, "PEM certificate (chain) for HTTPS; with --tls-key")
      ->envname("SYNTHFARM_TLS_CERT");
  app.add_option("--tls-key", options.tls_key, "PEM private key for HTTPS")->envname("SYNTHFARM_TLS_KEY");
  int64_t request_timeout_ms = options.http.request_timeout.count();
  app.add_option("--request-timeout-ms", request_timeout_ms,
                 "a request (line, headers, body) must arrive within this time from its first byte")
      ->check(CLI::Range(100, 600000))
      ->capture_default_str();
  app.add_option("--max-connections-per-client", options.http.max_connections_per_client,
                 "open HTTP connections per client address; more get 503")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  app.add_option("--max-body-bytes", options.http.max_body_bytes, "larger request bodies get 413")
      ->check(CLI::Range(1024, 1 << 30))
      ->capture_default_str();
  app.add_option("--max-header-bytes", options.http.max_header_bytes,
                 "request line and headers; more get 431")
      ->check(CLI::Range(1024, 1 << 20))
      ->capture_default_str();
  app.add_option("--http-threads", options.http.threads, "HTTP connections served at once")
      ->check(CLI::Range(4, 4096))
      ->capture_default_str();
  app.add_option("--max-jobs-per-hour", options.max_jobs_per_hour, "per token, admins exempt; more get 429 (0: no limit)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--max-samples-per-hour", options.max_samples_per_hour,
                 "samples submitted per token and hour, admins exempt; more get 429 (0: no limit)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--history-interval-ms", options.history_interval_ms,
                 "one sample of the dashboard's time series per this many ms (the last hour kept at it; "
                 "taken on the housekeeping pass, every 500 ms)")
      ->check(CLI::Range(int64_t{500}, int64_t{600000}))
      ->capture_default_str();
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  // s3:// stores take their endpoint from the environment, as every AWS client does; the
  // flag overrides it, set here before any thread starts.
  if (!s3_endpoint.empty()) setenv("AWS_ENDPOINT_URL_S3", s3_endpoint.c_str(), 1);

  options.auth = auth == "on";
  options.http.request_timeout = std::chrono::milliseconds(request_timeout_ms);
  spdlog::set_level(spdlog::level::from_str(log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  auto endpoint = queue::RedisEndpoint::parse(redis, redis_password_file);
  if (!endpoint) {
    spdlog::error("--redis: {}", endpoint.error());
    return 2;
  }
  options.redis = *endpoint;
  auto colon = listen.rfind(':');
  if (colon == std::string::npos) {
    spdlog::error("--listen: expected host:port, got '{}'", listen);
    return 2;
  }
  options.http_host = listen.substr(0, colon);
  try {
    options.http_port = std::stoi(listen.substr(colon + 1));
  } catch (...) {
    spdlog::error("--listen: '{}' has no port number", listen);
    return 2;
  }
  auto curve = curve_server_config(curve_key, curve_workers);
  if (!curve) {
    spdlog::error("{}", curve.error());
    return 2;
  }
  options.curve = std::move(*curve);

  StopSignals signals;  // before any thread starts
  options.clock = system_clock();
  auto coordinator = coordinator::Coordinator::create(options);
  if (!coordinator) {
    spdlog::error("coordinator: {}", coordinator.error());
    return 1;
  }
  signals.start([&](int sig) {
    spdlog::info("coordinator: signal {}, stopping", sig);
    (*coordinator)->stop();
  });
  // run() may also end on its own (listen failure, Redis refusing us).
  int exit_code = (*coordinator)->run();
  signals.close();
  return exit_code;
}
