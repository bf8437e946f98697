// synthfarm-worker: claims shards from the Redis queue and renders them.
//
// For each shard: render every sample (jobs::SampleRenderer, N threads inside a
// sample) and hand each sample's objects to a small pool of uploaders as soon as it is
// rendered (UploadPipeline: a bounded queue, so the renderer waits when storage is slower);
// once every sample is confirmed stored, store the shard manifest (the commit marker), and
// only then complete the shard in Redis with the lease's fencing token. A heartbeat thread renews the lease every lease/3 and sends
// telemetry; render threads never touch the lease. Every write of a shard is fenced by the
// worker's own lease deadline (LeaseFence, worker/lease_fence.h, on CLOCK_BOOTTIME): once
// no renewal has succeeded for lease - margin, nothing more is stored and the shard is
// dropped, even while Redis cannot be reached to say so. A control thread listens for the
// coordinators' cancel messages (ZeroMQ SUB): a cancelled job's shard is dropped at once,
// mid-sample; a refused lease renewal does the same when a message was missed. On stop()
// the worker finishes the sample in hand, gives the shard back to the queue and returns.
// With CURVE (docs/security.md) it claims nothing until the coordinator has accepted its
// key, and a worker the coordinator refuses exits with the reason in its log.
// With a health file (--health-file) the heartbeat thread rewrites it about once a second
// while the worker is healthy: the claim loop comes round (or a shard is in hand) and
// Redis answered within the last 15 s (the heartbeat thread asks it when nothing else
// did for 5 s). run() removes it when the worker stops.
// Every heartbeat carries the worker's own metrics (worker_metrics.h: render, upload and
// queue-wait seconds, samples rendered, failed shards by kind), cumulative since start;
// the coordinator re-exports them. The worker opens no port for them.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "base/boot_clock.h"
#include "base/clock.h"
#include "protocol/curve.h"
#include "queue/redis.h"
#include "recon/people_fit.h"
#include "sensor/learned_model.h"
#include "storage/allow_list.h"
#include "worker/health_file.h"
#include "worker/upload_pipeline.h"

namespace synthfarm::worker {

struct WorkerOptions {
  queue::RedisEndpoint redis;
  std::string telemetry_endpoint = "tcp://127.0.0.1:5555";
  // Control endpoints (one per coordinator): cancel / delete messages arrive here.
  std::vector<std::string> control_endpoints = {"tcp://127.0.0.1:5556"};
  // ZeroMQ CURVE on the telemetry and control sockets; off when unset.
  std::optional<protocol::CurveClientConfig> curve;
  std::string worker_id;  // default: <host>-<pid>
  std::string key_prefix = "sf";
  int threads = 0;                 // render threads; 0 = all cores
  int64_t lease_ms = 30000;
  int64_t heartbeat_ms = 1000;
  int64_t idle_poll_ms = 250;      // first wait when the queue is empty; grows to 2 s
  int64_t max_shards = 0;          // stop after this many shards (0: never); for benchmarks
  // Uploader threads and the bound of the queue between the renderer and them.
  UploadLimits upload;
  // Where jobs may make this worker write and read (defence in depth behind the
  // coordinator's own check): a shard of a job naming anything else fails.
  storage::AllowList allow_storage = storage::AllowList::everything();
  // Reads the learned camera models specs name (sensor.model): worker_main links the
  // LibTorch plugin and sets sensor::torch_model_loader(threads). The worker hands it to
  // jobs::SampleRenderer::create when the sensor stage joins the sample pipeline.
  sensor::LearnedModelLoader learned_models;
  // Fits people for task fit_people (recon/people_fit.h): worker_main opens the recon
  // LibTorch plugin at start. Null: the worker does not claim fit_people shards.
  std::shared_ptr<const recon::PeopleFitter> people_fitter;
  // The tasks this worker claims (queue::keys::kTasks); empty: every one it can run. One it
  // cannot run (fit_people without people_fitter) is an error of create().
  std::vector<std::string> tasks;
  // Test-only fault switch (SYNTHFARM_TEST_FAULT=throw-on-sample=N): rendering sample N of
  // any job throws, as a crashing renderer would.
  std::optional<uint64_t> fault_throw_on_sample;
  // Test-only fault switch (SYNTHFARM_TEST_FAULT=stop-at-commit=N): the N-th storage write
  // of this process (counting sample objects, then shard manifests) SIGSTOPs the process
  // inside its commit guard, just before the lease check, as a pause at that moment would.
  std::optional<uint64_t> fault_stop_at_commit;
  // The worker's last log lines, sent with a failed shard (dead letters keep them).
  std::function<std::string()> log_tail;
  // Stamps telemetry and paces heartbeats; the system clock when not set. (Lease deadlines
  // are Redis TIME in Redis, and boot_clock on the worker.)
  std::shared_ptr<const Clock> clock;
  // Kept fresh while the worker is healthy, removed when run() returns; none when null.
  std::unique_ptr<HealthFile> health_file;
  // Paces lease renewals and times the worker's own lease deadline (the fence);
  // CLOCK_BOOTTIME when not set.
  std::shared_ptr<const BootClock> boot_clock;
};

class Worker {
 public:
  static tl::expected<std::unique_ptr<Worker>, std::string> create(WorkerOptions options);
  virtual ~Worker() = default;
  // Runs until stop(); returns the process exit code: 1 when Redis refused its
  // credentials or the coordinator refused this worker's handshake.
  virtual int run() = 0;
  // Thread-safe, returns at once.
  virtual void stop() = 0;
};

}  // namespace synthfarm::worker
