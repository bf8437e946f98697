// synthfarm-worker: see worker.h.
#include <CLI/CLI.hpp>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <thread>

#include "base/clock.h"
#include "base/stop_signals.h"
#include "protocol/curve.h"
#include "sensor/learned_model.h"
#include "storage/allow_list.h"
#include "worker/health_file.h"
#include "worker/worker.h"

namespace {

// --curve-key and --coordinator-key: both, or neither (CURVE off).
tl::expected<std::optional<synthfarm::protocol::CurveClientConfig>, std::string> curve_client_config(
    const std::string& key_file, const std::string& coordinator_key) {
  using namespace synthfarm::protocol;
  if (key_file.empty() && coordinator_key.empty()) return std::nullopt;
  if (key_file.empty() || coordinator_key.empty()) {
    return tl::unexpected(std::string(
        "--curve-key and --coordinator-key go together: this worker's key file and the coordinator's public key"));
  }
  auto keys = read_curve_key_file(key_file);
  if (!keys) return tl::unexpected("--curve-key: " + keys.error());
  auto server = read_curve_public_key(coordinator_key);
  if (!server) return tl::unexpected("--coordinator-key: " + server.error());
  return CurveClientConfig{std::move(*keys), std::move(*server)};
}

// Learned camera models (sensor.model) run in this process through the LibTorch plugin,
// opened here at start (after the stop signals are blocked: OpenBLAS starts its threads
// when it is loaded, and they must inherit the mask, or a SIGTERM could land on one of them
// and kill the process). As many samples may run a model at once as there are render
// threads, each on one LibTorch thread, which keeps the bits independent of the count
// (sensor/torch/torch_model.h). A worker without the plugin still renders every job
// without a model; a job with one fails its shards with the reason logged here.
synthfarm::sensor::LearnedModelLoader learned_model_loader(int threads) {
  auto loader = synthfarm::sensor::plugin_model_loader(threads);
  if (loader) return std::move(*loader);
  spdlog::warn("learned camera models unavailable: {}", loader.error());
  return [error = loader.error()](const std::string&, const std::string& name)
             -> tl::expected<std::shared_ptr<const synthfarm::sensor::LearnedModel>, std::string> {
    return tl::unexpected(name + ": learned camera models unavailable on this worker: " + error);
  };
}

// The recon plugin (recon/torch/): with it the worker claims fit_people shards too and says
// which BLAS LibTorch runs on; without it, it claims render shards only.
std::shared_ptr<const synthfarm::recon::PeopleFitter> people_fitter(int threads) {
  auto fitter = synthfarm::recon::plugin_people_fitter(threads);
  if (!fitter) {
    spdlog::warn("fit_people unavailable, this worker claims no such shard: {}", fitter.error());
    return nullptr;
  }
  spdlog::info("fit_people: {}", (*fitter)->describe());
  return std::move(*fitter);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace synthfarm;
  CLI::App app{"synthfarm worker: claims shards from Redis and renders them"};
  worker::WorkerOptions options;
  std::string redis = "redis://127.0.0.1:6379";
  std::string log_level = "info";
  std::string redis_password_file;
  app.add_option("--redis", redis, "Redis address, redis://[user[:password]@]host:port[/db]")
      ->envname("SYNTHFARM_REDIS")
      ->capture_default_str();
  app.add_option("--redis-password-file", redis_password_file,
                 "file holding the Redis password (mode 600), for the user named in --redis")
      ->envname("SYNTHFARM_REDIS_PASSWORD_FILE");
  app.add_option("--coordinator", options.telemetry_endpoint, "coordinator telemetry endpoint (ZeroMQ)")
      ->envname("SYNTHFARM_TELEMETRY")
      ->capture_default_str();
  app.add_option("--control", options.control_endpoints,
                 "coordinator control endpoints (ZeroMQ), one per coordinator; comma-separated")
      ->envname("SYNTHFARM_CONTROL")
      ->delimiter(',')
      ->capture_default_str();
  std::string curve_key, coordinator_key;
  app.add_option("--curve-key", curve_key,
                 "this worker's CURVE key file (synthfarm keygen): telemetry and control encrypted and "
                 "authenticated; needs --coordinator-key")
      ->envname("SYNTHFARM_CURVE_KEY");
  app.add_option("--coordinator-key", coordinator_key,
                 "the coordinator's CURVE public key: its .pub file, or the 40-character Z85 key itself")
      ->envname("SYNTHFARM_COORDINATOR_KEY");
  app.add_option("--threads", options.threads, "render threads; 0 = all cores")
      ->envname("SYNTHFARM_THREADS")
      ->check(CLI::Range(0, 1024))
      ->capture_default_str();
  app.add_option("--id", options.worker_id, "worker id (default host-pid)")->envname("SYNTHFARM_WORKER_ID");
  app.add_option("--lease-ms", options.lease_ms, "shard lease length")->check(CLI::Range(100, 3600000))->capture_default_str();
  app.add_option("--key-prefix", options.key_prefix, "prefix of every Redis key")->capture_default_str();
  app.add_option("--upload-threads", options.upload.threads, "threads storing rendered samples")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--upload-queue", options.upload.max_queued_samples,
                 "rendered samples waiting for an uploader before rendering pauses")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  app.add_option("--max-shards", options.max_shards, "exit after this many shards (0: never)")->capture_default_str();
  std::string s3_endpoint;
  app.add_option("--s3-endpoint", s3_endpoint,
                 "S3-compatible server for s3:// locations, e.g. http://127.0.0.1:9000 (default: "
                 "AWS_ENDPOINT_URL, else AWS)");
  std::vector<std::string> allow_storage;
  app.add_option("--allow-storage", allow_storage,
                 "storage this worker writes to and reads inputs from (repeat for several; default: anywhere a job "
                 "names, as the coordinator allowed)")
      ->envname("SYNTHFARM_ALLOW_STORAGE")
      ->delimiter(',');
  std::string health_file;
  app.add_option("--health-file", health_file,
                 "rewrite this file about once a second while the worker is healthy (its claim loop comes "
                 "round and Redis answered within 15 s); removed when the worker stops. Probes check its age, "
                 "e.g. find PATH -mmin -1")
      ->envname("SYNTHFARM_HEALTH_FILE");
  app.add_option("--tasks", options.tasks, "the tasks this worker claims (default: every one it can run)")
      ->envname("SYNTHFARM_TASKS")->delimiter(',')->check(CLI::IsMember({"render", "fit_people", "fuse_depth"}));
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  // s3:// stores take their endpoint from the environment, as every AWS client does; the
  // flag overrides it, set here before any thread starts.
  if (!s3_endpoint.empty()) setenv("AWS_ENDPOINT_URL_S3", s3_endpoint.c_str(), 1);

  // The last 30 log lines go with a failed shard into its dead letter.
  auto ring = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(30);
  spdlog::default_logger()->sinks().push_back(ring);
  options.log_tail = [ring] {
    std::string tail;
    for (const auto& line : ring->last_formatted()) tail += line;
    return tail;
  };
  spdlog::set_level(spdlog::level::from_str(log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [worker] %v");
  auto endpoint = queue::RedisEndpoint::parse(redis, redis_password_file);
  if (!endpoint) {
    spdlog::error("--redis: {}", endpoint.error());
    return 2;
  }
  options.redis = *endpoint;
  if (!allow_storage.empty()) {
    auto allowed = storage::AllowList::parse(allow_storage);
    if (!allowed) {
      spdlog::error("--allow-storage: {}", allowed.error().message);
      return 2;
    }
    options.allow_storage = std::move(*allowed);
  }
  auto curve = curve_client_config(curve_key, coordinator_key);
  if (!curve) {
    spdlog::error("{}", curve.error());
    return 2;
  }
  options.curve = std::move(*curve);
  if (const char* fault = std::getenv("SYNTHFARM_TEST_FAULT")) {
    unsigned long long n = 0;
    if (std::sscanf(fault, "throw-on-sample=%llu", &n) == 1) {
      options.fault_throw_on_sample = n;
      spdlog::warn("test fault switch on: sample {} of every job throws", n);
    } else if (std::sscanf(fault, "stop-at-commit=%llu", &n) == 1 && n > 0) {
      options.fault_stop_at_commit = n;
      spdlog::warn("test fault switch on: this worker stops itself (SIGSTOP) at its storage commit {}", n);
    } else {
      spdlog::error("SYNTHFARM_TEST_FAULT: expected throw-on-sample=N or stop-at-commit=N (N >= 1), got '{}'",
                    fault);
      return 2;
    }
  }

  if (!health_file.empty()) {
    auto file = worker::HealthFile::create(health_file, "starting\n");
    if (!file) {
      spdlog::error("--health-file: {}", file.error());
      return 2;
    }
    options.health_file = std::move(*file);
  }

  StopSignals signals;  // before any thread starts (learned_model_loader's among them)
  options.learned_models = learned_model_loader(options.threads);
  if (options.tasks.empty() || std::count(options.tasks.begin(), options.tasks.end(), "fit_people")) {
    options.people_fitter = people_fitter(options.threads);
  }
  options.clock = system_clock();
  auto worker = worker::Worker::create(std::move(options));
  if (!worker) {
    spdlog::error("worker: {}", worker.error());
    return 1;
  }
  signals.start([&](int sig) {
    spdlog::info("signal {}: finishing the current sample, then returning the shard", sig);
    (*worker)->stop();
  });
  int exit_code = (*worker)->run();
  signals.close();  // before the worker it would stop goes away
  return exit_code;
}
