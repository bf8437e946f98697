// synthfarm-coordinator: see coordinator.h.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <cstdlib>

#include "base/clock.h"
#include "base/stop_signals.h"
#include "coordinator/coordinator.h"

int main(int argc, char** argv) {
  using namespace synthfarm;
  CLI::App app{"synthfarm coordinator: job API, queue housekeeping, dataset finalizer, dashboard"};
  coordinator::CoordinatorOptions options;
  std::string redis = "redis://127.0.0.1:6379";
  std::string listen = "127.0.0.1:8080";
  std::string log_level = "info";
  options.web_dir = SYNTHFARM_WEB_DIR;
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
  app.add_option("--storage-root", options.storage_root, "where jobs without output.storage write")
      ->envname("SYNTHFARM_STORAGE_ROOT")
      ->capture_default_str();
  app.add_option("--web", options.web_dir, "dashboard assets directory")->capture_default_str();
  app.add_option("--key-prefix", options.key_prefix, "prefix of every Redis key")->capture_default_str();
  std::string s3_endpoint;
  app.add_option("--s3-endpoint", s3_endpoint,
                 "S3-compatible server for s3:// locations, e.g. http://127.0.0.1:9000 (default: "
                 "AWS_ENDPOINT_URL, else AWS)");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  // s3:// stores take their endpoint from the environment, as every AWS client does; the
  // flag overrides it, set here before any thread starts.
  if (!s3_endpoint.empty()) setenv("AWS_ENDPOINT_URL_S3", s3_endpoint.c_str(), 1);

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
