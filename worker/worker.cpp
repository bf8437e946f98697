#include "worker/worker.h"

#include <signal.h>
#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "base/host.h"
#include "jobs/manifest.h"
#include "jobs/object_keys.h"
#include "jobs/sample.h"
#include "jobs/sharding.h"
#include "protocol/control.h"
#include "queue/queue.h"
#include "protocol/telemetry.h"
#include "storage/object_store.h"
#include "worker/lease_fence.h"
#include "worker/recon_runner.h"
#include "worker/upload_pipeline.h"
#include "worker/worker_metrics.h"

namespace synthfarm::worker {
namespace {

// --health-file: how often it is rewritten; how long Redis may stay silent, and the claim
// loop (outside a shard: a sample may take any time) stay away, before it is left to go
// stale; and how often the heartbeat thread asks Redis itself when nothing else did.
constexpr int64_t kHealthRefreshMs = 1000;
constexpr int64_t kHealthRedisWindowMs = 15000;
constexpr int64_t kHealthClaimLoopWindowMs = 60000;
constexpr int64_t kHealthPingMs = 5000;

class WorkerImpl final : public Worker {
 public:
  WorkerImpl(WorkerOptions options, std::unique_ptr<jobs::SampleRenderer> renderer,
             std::unique_ptr<ReconRunner> recon, std::unique_ptr<protocol::TelemetrySender> telemetry,
             std::unique_ptr<protocol::ControlSubscriber> control,
             std::shared_ptr<const std::atomic<uint64_t>> input_read_failures)
      : options_(std::move(options)),
        clock_(options_.clock ? options_.clock : system_clock()),
        boot_clock_(options_.boot_clock ? options_.boot_clock : system_boot_clock()),
        renderer_(std::move(renderer)),
        recon_(std::move(recon)),
        telemetry_(std::move(telemetry)),
        control_(std::move(control)),
        input_read_failures_(std::move(input_read_failures)),
        redis_(queue::RedisClient::create(options_.redis)),
        queue_(*redis_, queue::keys::Keys{options_.key_prefix}),
        host_(host_name()) {
    if (options_.worker_id.empty()) options_.worker_id = fmt::format("{}-{}", host_, getpid());
    tasks_ = options_.tasks;
    if (tasks_.empty()) {
      tasks_ = {"render"};
      for (std::string& task : recon_->tasks()) tasks_.push_back(std::move(task));
    }
  }

  int run() override {
    spdlog::info("worker {}: redis {}, telemetry {}{}, {} render thread(s), lease {} ms, tasks {}",
                 options_.worker_id, options_.redis.to_string(), options_.telemetry_endpoint,
                 options_.curve ? " (CURVE, key " + options_.curve->keys.public_key + ")" : "",
                 options_.threads > 0 ? std::to_string(options_.threads) : "all", options_.lease_ms,
                 fmt::join(tasks_, ", "));
    claim_loop_came_round();
    std::thread heartbeat([this] { heartbeat_loop(); });
    std::thread control([this] { control_loop(); });
    int64_t idle_ms = options_.idle_poll_ms;
    int64_t shards = 0;
    int64_t free_since_ms = boot_clock_->boot_ms();  // free to take a shard since (queue wait)
    int exit_code = 0;
    while (!stopping_) {
      claim_loop_came_round();
      if (!coordinator_lets_us_work()) {
        exit_code = 1;
        break;
      }
      if (stopping_) break;
      int64_t claim_sent_ms = 0;  // boot clock: when the claim that succeeded was sent
      auto lease = queue::retry_with_backoff<std::optional<queue::Lease>>(
          [&] {
            claim_sent_ms = boot_clock_->boot_ms();
            return queue_.claim(options_.worker_id, options_.lease_ms, tasks_);
          },
          stopping_, log_retry());
      if (!lease && lease.error().credentials_refused) {
        // AUTH precedes every command on a connection, so this claim never ran; the same
        // credentials would be refused again.
        spdlog::error("{}; claiming nothing, exiting", lease.error().message);
        exit_code = 1;
        break;
      }
      if (lease) redis_answered();
      if (!lease) {
        if (!stopping_) spdlog::error("claim: {}", lease.error().message);
        queue::sleep_unless_stopped(std::chrono::seconds(1), stopping_);
        continue;
      }
      if (!lease->has_value()) {
        queue::sleep_unless_stopped(std::chrono::milliseconds(idle_ms), stopping_);
        idle_ms = std::min<int64_t>(idle_ms * 2, 2000);
        continue;
      }
      idle_ms = options_.idle_poll_ms;
      metrics_.observe_queue_wait(static_cast<double>(boot_clock_->boot_ms() - free_since_ms) / 1000.0);
      render_shard(std::move(**lease), claim_sent_ms);
      free_since_ms = boot_clock_->boot_ms();
      if (options_.max_shards > 0 && ++shards >= options_.max_shards) break;
    }
    {
      std::lock_guard lock(mutex_);
      state_ = protocol::WorkerState::kStopping;
      quit_heartbeat_ = true;
    }
    wake_.notify_all();
    heartbeat.join();
    control.join();
    if (options_.health_file) {
      spdlog::info("removing the health file {}", options_.health_file->path().string());
      options_.health_file.reset();
    }
    spdlog::info("worker {}: stopped after {} samples", options_.worker_id, samples_done_.load());
    return exit_code;
  }

  void stop() override {
    stopping_ = true;
    wake_.notify_all();
  }

 private:
  std::function<void(const queue::RedisError&, std::chrono::milliseconds)> log_retry() {
    return [](const queue::RedisError& e, std::chrono::milliseconds delay) {
      spdlog::warn("{}; retrying in {:.1f} s", e.message, delay.count() / 1000.0);
    };
  }

  // A worker the coordinator refuses gets nothing and says why. ZeroMQ gives up on a
  // connection whose key was refused, and retries forever one that the coordinator keeps
  // closing mid-handshake (CURVE on one side only, a wrong coordinator key): either way
  // the worker would render unheard and uncancellable, so it ends instead, with the fix
  // in its log. With CURVE nothing is claimed before the coordinator has accepted this
  // worker's key (a warning every 10 s while it is absent); without CURVE an absent
  // coordinator holds nothing up. Returns false when the worker must exit.
  bool coordinator_lets_us_work() {
    const auto start = std::chrono::steady_clock::now();
    auto next_warning = start + std::chrono::seconds(10);
    for (;;) {
      const protocol::TelemetryLink link = telemetry_->link();
      if (auto refusal = link_refusal(link)) {
        spdlog::error("{}", *refusal);
        return false;
      }
      if (!options_.curve || link.state == protocol::LinkState::kUp || stopping_) return true;
      claim_loop_came_round();  // waiting, not stuck
      if (std::chrono::steady_clock::now() >= next_warning) {
        next_warning += std::chrono::seconds(10);
        spdlog::warn("waiting for the coordinator at {} to accept this worker's CURVE key before claiming "
                     "shards ({} s so far; is it running?)",
                     options_.telemetry_endpoint,
                     std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start).count());
      }
      queue::sleep_unless_stopped(std::chrono::milliseconds(50), stopping_);
    }
  }

  // Why the coordinator's end of the telemetry link turned this worker away, or nullopt.
  std::optional<std::string> link_refusal(const protocol::TelemetryLink& link) const {
    // ZeroMQ retries a dropped handshake every 100 ms: five in a row is no accident.
    constexpr uint64_t kDroppedHandshakes = 5;
    const std::string& at = options_.telemetry_endpoint;
    const bool curve = options_.curve.has_value();
    switch (link.state) {
      case protocol::LinkState::kRefused:
        return fmt::format("coordinator at {} refused this worker's CURVE key {} ({}); add it to the "
                           "coordinator's --curve-workers list",
                           at, curve ? options_.curve->keys.public_key : "(none)", link.detail);
      case protocol::LinkState::kMismatch:
        return curve ? fmt::format("coordinator at {} does not use CURVE but this worker does: start the "
                                   "coordinator with --curve-key and --curve-workers, or this worker without "
                                   "--curve-key",
                                   at)
                     : fmt::format("coordinator at {} requires CURVE: start this worker with --curve-key and "
                                   "--coordinator-key (synthfarm keygen makes a key pair)",
                                   at);
      case protocol::LinkState::kFailed:
        return fmt::format("the ZeroMQ handshake with the coordinator at {} failed ({})", at, link.detail);
      default:
        break;
    }
    if (link.dropped_handshakes < kDroppedHandshakes) return std::nullopt;
    return curve ? fmt::format("coordinator at {} closed {} CURVE handshakes in a row: either it does not use "
                               "CURVE (start it with --curve-key and --curve-workers, or this worker without "
                               "--curve-key), or --coordinator-key {} is not its public key",
                               at, link.dropped_handshakes, options_.curve->server_public_key)
                 : fmt::format("coordinator at {} closed {} handshakes in a row: if it requires CURVE, start "
                               "this worker with --curve-key and --coordinator-key; otherwise check that this "
                               "is its --telemetry endpoint",
                               at, link.dropped_handshakes);
  }

  tl::expected<const jobs::JobSpec*, std::string> job_spec(const std::string& job_id) {
    auto it = specs_.find(job_id);
    if (it != specs_.end()) return &it->second;
    // The canonical JSON the coordinator stored, parsed by the coordinator's own parser.
    auto text = queue::retry_with_backoff<std::optional<std::string>>(
        [&] { return queue_.job_spec_json(job_id); }, stopping_, log_retry());
    if (!text) return tl::unexpected(text.error().message);
    if (!text->has_value()) return tl::unexpected("job " + job_id + " has no spec in redis");
    auto spec = jobs::parse_spec(**text, "spec of job " + job_id);
    if (!spec) return tl::unexpected(spec.error().front().to_string());
    if (specs_.size() > 64) specs_.clear();
    return &(specs_[job_id] = std::move(*spec));
  }

  tl::expected<storage::ObjectStore*, std::string> store_for(const std::string& uri) {
    auto it = stores_.find(uri);
    if (it != stores_.end()) return it->second.get();
    auto store = storage::open_store(uri);
    if (!store) return tl::unexpected(store.error().message);
    return (stores_[uri] = std::move(*store)).get();
  }

  void render_shard(queue::Lease lease, int64_t claim_sent_ms) {
    auto& shard = lease.shard;
    renders_stored_ = 0;
    residuals_ = {};
    auto spec = job_spec(shard.job_id);
    if (!spec) return fail(shard, spec.error(), protocol::FailureKind::kInput);
    for (const auto& location : jobs::spec_locations(**spec)) {
      if (auto why = options_.allow_storage.check(location.uri)) {
        return fail(shard, fmt::format("{}: this worker's --allow-storage refuses it: {}", location.path, *why),
                    protocol::FailureKind::kInput);
      }
    }
    auto range = jobs::shard_range((*spec)->samples, (*spec)->shard_size, shard.shard);
    shard.first_sample = range.begin;
    shard.sample_count = range.size();
    auto store = store_for((*spec)->output.storage);
    if (!store) return fail(shard, store.error(), protocol::FailureKind::kUpload);
    // This worker's own lease deadline: every write of the shard asks it first, the
    // uploads' and the shard manifest's inside the store, right before their commit step.
    auto fence = std::make_shared<LeaseFence>(boot_clock_, options_.lease_ms, claim_sent_ms);
    set_current(shard, fence);
    spdlog::info("shard {}/{} (samples {}..{}) token {}", shard.job_id, shard.shard, range.begin, range.end - 1,
                 shard.token);

    // Samples go to the uploaders as soon as they are rendered; the shard manifest (the
    // commit marker) is stored only once every sample is confirmed stored, and the shard
    // completed in Redis only after that.
    // output.format webdataset: every sample into the shard's one tar, committed (fenced)
    // before the manifest; nothing of it is visible until then.
    std::unique_ptr<dataset::TarShard> tar;
    if ((*spec)->output.format == "webdataset" && !(*spec)->reconstruction()) {
      auto opened = dataset::TarShard::open(**store, jobs::tar_key(shard.shard), storage::PutOptions{commit_guard(*fence), false});
      if (!opened) return fail(shard, "opening the shard's tar: " + opened.error().message, protocol::FailureKind::kUpload);
      tar = std::move(*opened);
    }
    UploadPipeline uploads = tar ? UploadPipeline(*tar, options_.upload)
                                 : UploadPipeline(**store, options_.upload, storage::PutOptions{commit_guard(*fence), false});
    std::map<uint64_t, StoredSample> stored;  // by sample index: the manifest lists them in order
    // Is the shard still ours to write? Not once the job was cancelled, a renewal was
    // refused, or the fence's deadline passed (a paused worker, or one cut off from Redis).
    auto lease_gone = [&] { return lease_lost_.load() || dropped_.load() || fence->check().has_value(); };
    auto give_up = [&] { return stopping_.load() || lease_gone(); };
    auto collect = [&] {
      for (auto& sample : uploads.take_stored()) {
        metrics_.observe_upload(sample.upload_ms / 1000.0);
        ++renders_stored_;  // reported to Redis once, when the lease ends (`renders`)
        if (sample.residual_px >= 0) {  // a fit_people unit: its figure joins the job's at completion
          residuals_.sum_px += sample.residual_px;
          ++residuals_.units;
        }
        sample_finished(shard, sample.index, sample.render_ms, sample.bytes, sample.residual_px);
        const uint64_t index = sample.index;
        stored[index] = std::move(sample);
      }
    };
    for (uint64_t index = range.begin; index < range.end; ++index) {
      claim_loop_came_round();
      if (stopping_) return give_back(shard, "stop requested");
      if (lease_gone()) return abandon(shard, fence.get());
      if (uploads.failure()) return fail(shard, *uploads.failure(), protocol::FailureKind::kUpload);
      auto t0 = std::chrono::steady_clock::now();
      const uint64_t input_failures_before = input_read_failures_->load();
      tl::expected<jobs::SampleObjects, std::string> objects = tl::unexpected(std::string());
      tl::expected<UnitObjects, std::string> unit = tl::unexpected(std::string());  // a reconstruction unit
      try {
        if (options_.fault_throw_on_sample && *options_.fault_throw_on_sample == index) {
          throw std::runtime_error(fmt::format("test fault: the renderer crashes on sample {}", index));
        }
        if ((*spec)->reconstruction()) {
          unit = recon_->run(**spec, index);
          if (!unit) objects = tl::unexpected(unit.error());
        } else {
          objects = renderer_->render(**spec, index, &interrupt_);
        }
      } catch (const std::exception& e) {
        objects = tl::unexpected(fmt::format("sample {}: {}", index, e.what()));
      }
      // A worker that lost its lease (or whose job was cancelled) while rendering stores
      // nothing more: the new holder writes the same bytes anyway.
      if (lease_gone()) return abandon(shard, fence.get());
      if (!objects && !unit) {
        // The samples rendered before it are still stored and counted (renders counts
        // every stored render, failed shards' too).
        uploads.wait_all(give_up);
        collect();
        // An input file the spec names that could not be read (missing, refused, storage
        // down) is the spec's fault, not the renderer's.
        const auto kind = input_read_failures_->load() > input_failures_before ? protocol::FailureKind::kInput
                                                                              : protocol::FailureKind::kRender;
        return fail(shard, objects.error(), kind);  // the renderer's errors name the sample
      }
      SampleUpload upload;
      upload.index = index;
      upload.render_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      metrics_.observe_render(upload.render_ms / 1000.0);
      if (unit) {
        upload.residual_px = unit->mean_residual_px;
        for (auto& [key, data] : unit->objects) upload.objects.emplace_back(std::move(key), std::move(data));
      } else {
        for (const auto& [key, data] : objects->keyed(index)) upload.objects.emplace_back(key, *data);
      }
      objects = tl::unexpected(std::string());  // the upload holds the only copy now
      if (!uploads.submit(std::move(upload), give_up)) {
        collect();
        if (stopping_) return give_back(shard, "stop requested");
        if (lease_gone()) return abandon(shard, fence.get());
        return fail(shard, *uploads.failure(), protocol::FailureKind::kUpload);
      }
      collect();
    }
    const bool all_stored = uploads.wait_all(give_up);
    collect();
    if (stopping_ && !all_stored) return give_back(shard, "stop requested");
    if (lease_gone()) return abandon(shard, fence.get());
    if (!all_stored) return fail(shard, *uploads.failure(), protocol::FailureKind::kUpload);
    if (stored.size() != range.size()) {  // a bug, not a storage failure; never commit a partial shard
      return fail(shard, fmt::format("{} of {} samples confirmed stored", stored.size(), range.size()),
                  protocol::FailureKind::kUpload);
    }
    jobs::ShardManifest manifest{shard.job_id, shard.shard, range.begin, range.size(), {}};
    if (tar) {
      auto entry = tar->finish();
      if (!entry && entry.error().code == storage::Error::Code::kFenced) return abandon(shard, fence.get());
      if (!entry) return fail(shard, "storing the shard's tar: " + entry.error().message, protocol::FailureKind::kUpload);
      manifest.objects.push_back(std::move(*entry));
    } else {
      for (auto& [index, sample] : stored) {
        for (auto& object : sample.objects) manifest.objects.push_back(std::move(object));
      }
    }
    commit_shard(**store, shard, manifest, *fence);
  }

  // The fence's guard, for the store to ask right before each commit step; with the test
  // fault switch, the N-th one first stops this process.
  storage::CommitGuard commit_guard(const LeaseFence& fence) {
    storage::CommitGuard guard = fence.guard();
    if (!options_.fault_stop_at_commit) return guard;
    return [this, guard] {
      if (++commits_ == *options_.fault_stop_at_commit) ::raise(SIGSTOP);
      return guard();
    };
  }

  // Stores the shard manifest (the commit marker: fenced, create-only), then completes the
  // shard in Redis with the lease's token.
  void commit_shard(storage::ObjectStore& store, const queue::ShardRef& shard, const jobs::ShardManifest& manifest,
                    const LeaseFence& fence) {
    const std::string key = jobs::shard_manifest_key(shard.shard);
    auto put = store.put(key, jobs::shard_manifest_to_json(manifest), storage::PutOptions{commit_guard(fence), true});
    if (!put && put.error().code == storage::Error::Code::kFenced) return abandon(shard, &fence);
    if (!put && put.error().code == storage::Error::Code::kAlreadyExists) {
      // An earlier holder of the shard committed it and lost its lease before completing:
      // its manifest lists the same bytes (rendering is deterministic), so it stays.
      spdlog::warn("shard {}/{}: {}; completing with token {}", shard.job_id, shard.shard, put.error().message,
                   shard.token);
    } else if (!put) {
      return fail(shard, "storing the shard manifest: " + put.error().message, protocol::FailureKind::kUpload);
    }
    auto accepted = queue::retry_with_backoff<bool>([&] { return queue_.complete(shard, renders_stored_, residuals_); },
                                                    stopping_, log_retry());
    clear_current();
    if (!accepted) {
      spdlog::error("shard {}/{}: completion not recorded: {}", shard.job_id, shard.shard, accepted.error().message);
      return;
    }
    if (!*accepted) {
      metrics_.count_failure(protocol::FailureKind::kLeaseLost);
      spdlog::warn("shard {}/{}: completion rejected: the lease (token {}) is not current any more (taken "
                   "over, or the job was cancelled); outputs are identical, nothing lost",
                   shard.job_id, shard.shard, shard.token);
      return;
    }
    protocol::SampleProgress done;
    done.worker_id = options_.worker_id;
    done.shard = shard;
    done.shard_complete = true;
    done.sent_ms = clock_->wall_ms();
    post(done);
  }

  // The sample renders this lease stored, for the job's `renders`, when the lease ends
  // without a completion (which carries them itself). Retried like the other queue calls;
  // once per token in Redis, so a retry never counts twice. `stop`: give up when it turns
  // true (the count is then short by these renders).
  void report_renders(const queue::ShardRef& shard, const std::atomic<bool>& stop) {
    if (renders_stored_ == 0) return;
    auto added = queue::retry_with_backoff<int64_t>([&] { return queue_.add_renders(shard, renders_stored_); },
                                                    stop, log_retry());
    if (!added) {
      spdlog::warn("shard {}/{}: {} stored renders not counted: {}", shard.job_id, shard.shard, renders_stored_,
                   added.error().message);
    }
  }

  void fail(const queue::ShardRef& shard, const std::string& error, protocol::FailureKind kind) {
    clear_current();
    metrics_.count_failure(kind);
    spdlog::error("shard {}/{} failed: {}", shard.job_id, shard.shard, error);
    report_renders(shard, stopping_);
    std::string tail = options_.log_tail ? options_.log_tail() : std::string();
    auto outcome = queue::retry_with_backoff<queue::FailOutcome>([&] { return queue_.fail(shard, error, options_.worker_id, tail); },
                                                                      stopping_, log_retry());
    if (outcome && *outcome == queue::FailOutcome::kDead) {
      spdlog::error("shard {}/{} dead-lettered after its last attempt", shard.job_id, shard.shard);
    }
  }

  void give_back(const queue::ShardRef& shard, const char* why) {
    clear_current();
    std::atomic<bool> never{false};  // finish the release even while stopping
    report_renders(shard, never);
    auto released = queue::retry_with_backoff<bool>([&] { return queue_.release(shard); }, never, log_retry(),
                                                       std::chrono::seconds(1));
    spdlog::info("shard {}/{} returned to the queue ({}){}", shard.job_id, shard.shard, why,
                 released && *released ? "" : ": lease had already moved on");
  }

  // `fence` (optional): the shard's, to say whether its deadline is why.
  void abandon(const queue::ShardRef& shard, const LeaseFence* fence = nullptr) {
    clear_current();
    const std::optional<std::string> ended = fence ? fence->check() : std::nullopt;
    metrics_.count_failure(dropped_ ? protocol::FailureKind::kCancelled : protocol::FailureKind::kLeaseLost);
    if (dropped_) {
      spdlog::info("shard {}/{}: job cancelled; shard dropped", shard.job_id, shard.shard);
    } else if (ended) {
      spdlog::warn("shard {}/{}: lease lost (token {}: {}); dropping it, nothing more is stored", shard.job_id,
                   shard.shard, shard.token, *ended);
    } else {
      spdlog::warn("shard {}/{}: lease lost (token {} is stale); dropping it", shard.job_id, shard.shard,
                   shard.token);
    }
    report_renders(shard, stopping_);
  }

  // Leases are renewed every lease/3, and at least every heartbeat: a renewal is also how
  // a worker learns that the job was cancelled (the renewal is refused).
  int64_t renew_interval_ms() const { return std::min(options_.lease_ms / 3, options_.heartbeat_ms); }

  // ---- shared with the heartbeat thread ----------------------------------------------
  void set_current(const queue::ShardRef& shard, std::shared_ptr<LeaseFence> fence) {
    std::lock_guard lock(mutex_);
    current_ = shard;
    fence_ = std::move(fence);
    lease_lost_ = false;
    dropped_ = false;
    interrupt_ = false;
    state_ = protocol::WorkerState::kRendering;
    next_extend_ms_ = boot_clock_->boot_ms() + renew_interval_ms();
  }

  void clear_current() {
    std::lock_guard lock(mutex_);
    current_.reset();
    fence_.reset();
    state_ = stopping_ ? protocol::WorkerState::kStopping : protocol::WorkerState::kIdle;
  }

  void sample_finished(const queue::ShardRef& shard, uint64_t index, double render_ms, uint64_t bytes,
                       double residual_px) {
    ++samples_done_;
    protocol::SampleProgress p;
    p.worker_id = options_.worker_id;
    p.shard = shard;
    p.sample = index;
    p.render_ms = render_ms;
    p.residual_px = residual_px;
    p.bytes = bytes;
    p.sent_ms = clock_->wall_ms();
    {
      std::lock_guard lock(mutex_);
      finished_ms_.push_back(p.sent_ms);
    }
    post(p);
  }

  void post(protocol::Telemetry message) {
    {
      std::lock_guard lock(mutex_);
      outbox_.push_back(std::move(message));
      if (outbox_.size() > 10000) outbox_.pop_front();
    }
    wake_.notify_all();
  }

  // Owns the telemetry socket and its own Redis connection for lease renewal.
  void heartbeat_loop() {
    auto redis = queue::RedisClient::create(options_.redis, std::chrono::seconds(2));
    queue::Queue queue(*redis, queue::keys::Keys{options_.key_prefix});
    // Paced on the boot clock: a stepped wall clock neither stops nor hurries renewals.
    int64_t next_beat = 0;
    int64_t next_health = 0;
    for (;;) {
      std::deque<protocol::Telemetry> outgoing;
      std::optional<queue::ShardRef> shard;
      std::shared_ptr<LeaseFence> fence;
      protocol::Heartbeat hb;
      bool quit = false, extend = false;
      int64_t boot_now = boot_clock_->boot_ms();
      int64_t now = 0;
      {
        std::unique_lock lock(mutex_);
        // Until the next heartbeat, renewal or health-file refresh, whichever is first: a
        // renewal that comes late eats into the lease fence's slack.
        int64_t due = next_beat;
        if (current_) due = std::min(due, next_extend_ms_);
        if (options_.health_file) due = std::min(due, next_health);
        const int64_t wait_ms = std::clamp<int64_t>(due - boot_now, 1, renew_interval_ms());
        wake_.wait_for(lock, std::chrono::milliseconds(wait_ms), [&] { return !outbox_.empty() || quit_heartbeat_; });
        boot_now = boot_clock_->boot_ms();
        now = clock_->wall_ms();
        outgoing.swap(outbox_);
        quit = quit_heartbeat_;
        shard = current_;
        fence = fence_;
        if (shard && boot_now >= next_extend_ms_) {
          extend = true;
          next_extend_ms_ = boot_now + renew_interval_ms();
        }
        while (!finished_ms_.empty() && finished_ms_.front() < now - 10000) finished_ms_.pop_front();
        hb.samples_per_sec = finished_ms_.empty() ? 0.0 : finished_ms_.size() / 10.0;
        if (!finished_ms_.empty() && now - finished_ms_.front() < 10000) {
          double span = std::max<double>(1000.0, static_cast<double>(now - finished_ms_.front()));
          hb.samples_per_sec = static_cast<double>(finished_ms_.size()) * 1000.0 / span;
        }
        hb.state = state_;
      }
      for (const auto& m : outgoing) telemetry_->send(m);
      if (extend) {
        // Lock never held across this I/O. The fence moves from when the renewal was sent,
        // and only when Redis accepted it.
        const int64_t sent_ms = boot_clock_->boot_ms();
        auto renewed = queue.extend(*shard, options_.lease_ms);
        if (renewed) redis_answered();
        if (!renewed) {
          spdlog::warn("lease renewal for {}/{}: {}", shard->job_id, shard->shard, renewed.error().message);
        } else if (renewed->has_value()) {
          if (fence) fence->renewed(sent_ms);
        } else {
          {
            // Only if the worker still holds that shard (it may have moved on meanwhile).
            std::lock_guard lock(mutex_);
            if (current_ && *current_ == *shard) {
              lease_lost_ = true;
              interrupt_ = true;
            }
          }
          spdlog::warn("lease on {}/{} lost: another worker holds it, or the job was cancelled", shard->job_id,
                       shard->shard);
        }
      }
      if (fence) {
        if (auto ended = fence->check()) {
          // Interrupts the sample in hand: nothing it renders could be stored anyway.
          std::lock_guard lock(mutex_);
          if (current_ && *current_ == *shard && !lease_lost_.exchange(true)) {
            interrupt_ = true;
            spdlog::warn("lease on {}/{} given up: {}", shard->job_id, shard->shard, *ended);
          }
        }
      }
      if (boot_now >= next_beat || quit) {
        hb.worker_id = options_.worker_id;
        hb.host = host_;
        hb.pid = static_cast<uint32_t>(getpid());
        if (shard) hb.shard = *shard;
        hb.samples_done = samples_done_;
        hb.sent_ms = now;
        hb.threads = static_cast<uint32_t>(options_.threads > 0 ? options_.threads : std::thread::hardware_concurrency());
        hb.metrics = metrics_.snapshot();
        telemetry_->send(hb);
        next_beat = boot_now + options_.heartbeat_ms;
      }
      if (quit) return;
      if (options_.health_file && boot_now >= next_health) {
        update_health_file(*redis, shard);
        next_health = boot_now + kHealthRefreshMs;
      }
    }
  }

  void redis_answered() { redis_answered_ms_ = clock_->wall_ms(); }
  void claim_loop_came_round() { claim_loop_ms_ = clock_->wall_ms(); }

  // --health-file: rewritten while the worker is healthy, left to go stale while it is not.
  // Heartbeat thread only; `redis` is that thread's own connection.
  void update_health_file(queue::RedisClient& redis, const std::optional<queue::ShardRef>& shard) {
    int64_t now = clock_->wall_ms();
    if (now - redis_answered_ms_ >= kHealthPingMs && now >= next_health_ping_ms_) {
      // Nothing else reached Redis lately (the claim loop waits for the coordinator, or a
      // Redis outage is under way): ask it. TIME is the cheapest command the worker's Redis
      // user may run (ops/redis.acl grants it no PING).
      next_health_ping_ms_ = now + kHealthPingMs;
      if (redis.command({"TIME"})) redis_answered();
      now = clock_->wall_ms();
    }
    const int64_t redis_ms = redis_answered_ms_, loop_ms = claim_loop_ms_;
    std::string trouble;
    if (now - redis_ms > kHealthRedisWindowMs) {
      trouble = redis_ms == 0 ? fmt::format("redis at {} has not answered since the worker started",
                                            options_.redis.to_string())
                              : fmt::format("redis at {} has not answered for {} s", options_.redis.to_string(),
                                            (now - redis_ms) / 1000);
    } else if (!shard && now - loop_ms > kHealthClaimLoopWindowMs) {
      trouble = fmt::format("the claim loop has not come round for {} s", (now - loop_ms) / 1000);
    }
    const std::string& path = options_.health_file->path().string();
    if (!trouble.empty()) {
      if (!health_trouble_) spdlog::warn("not healthy, so the health file {} goes stale: {}", path, trouble);
      health_trouble_ = true;
      return;
    }
    if (health_trouble_) spdlog::info("healthy again: refreshing the health file {}", path);
    health_trouble_ = false;
    const std::string text = fmt::format(
        "worker {} pid {}\nhealthy at {} (unix ms)\nredis answered {} ms before\n{}\n", options_.worker_id,
        getpid(), now, now - redis_ms,
        shard ? fmt::format("rendering {}/{}", shard->job_id, shard->shard) : std::string("not rendering"));
    auto written = options_.health_file->refresh(text);
    if (!written && !health_write_failed_) spdlog::error("health file: {}", written.error());
    if (written && health_write_failed_) spdlog::info("health file {} written again", path);
    health_write_failed_ = !written;
  }

  // Owns the control socket: a cancel or delete for the job in hand stops the render
  // between tiles and drops the shard.
  void control_loop() {
    for (;;) {
      {
        std::lock_guard lock(mutex_);
        if (quit_heartbeat_) return;
      }
      auto message = control_->receive(std::chrono::milliseconds(200));
      if (!message) continue;
      std::lock_guard lock(mutex_);
      if (current_ && current_->job_id == message->job_id) {
        spdlog::info("job {} {} (control message): dropping shard {} now", message->job_id,
                     message->action == protocol::JobControl::Action::kDelete ? "deleted" : "cancelled",
                     current_->shard);
        dropped_ = true;
        interrupt_ = true;
      }
    }
  }

  WorkerOptions options_;
  std::shared_ptr<const Clock> clock_;
  std::shared_ptr<const BootClock> boot_clock_;
  std::unique_ptr<jobs::SampleRenderer> renderer_;
  std::unique_ptr<ReconRunner> recon_;  // reconstruction units (fit_people, fuse_depth)
  std::vector<std::string> tasks_;      // what this worker claims: render and recon_'s tasks
  std::unique_ptr<protocol::TelemetrySender> telemetry_;  // heartbeat thread only; link() from any
  std::unique_ptr<protocol::ControlSubscriber> control_;  // control thread only
  // Failed reads of the input files specs name (Worker::create's reader counts them): a
  // render error with one behind it is a failure of kind "input".
  std::shared_ptr<const std::atomic<uint64_t>> input_read_failures_;
  WorkerMetricsRegistry metrics_;  // thread-safe; sent whole in every heartbeat
  std::unique_ptr<queue::RedisClient> redis_;          // claim-loop thread only
  queue::Queue queue_;                                 // claim-loop thread only
  std::string host_;
  std::map<std::string, jobs::JobSpec> specs_;                         // claim-loop thread only
  std::map<std::string, std::unique_ptr<storage::ObjectStore>> stores_;  // claim-loop thread only

  std::atomic<bool> stopping_{false};
  std::atomic<bool> lease_lost_{false};
  std::atomic<bool> dropped_{false};    // the job in hand was cancelled or deleted
  std::atomic<bool> interrupt_{false};  // stop the render in progress (either of the above)
  std::atomic<uint64_t> samples_done_{0};
  std::atomic<int64_t> redis_answered_ms_{0};  // the last Redis reply to either connection
  std::atomic<int64_t> claim_loop_ms_{0};      // the claim loop's last time round
  // Heartbeat thread only.
  bool health_trouble_ = false;
  bool health_write_failed_ = false;
  int64_t next_health_ping_ms_ = 0;
  std::atomic<uint64_t> commits_{0};    // commit guards asked (the stop-at-commit test fault)
  std::mutex mutex_;
  std::condition_variable wake_;
  std::optional<queue::ShardRef> current_;          // GUARDED_BY(mutex_)
  std::shared_ptr<LeaseFence> fence_;               // GUARDED_BY(mutex_): current_'s
  int64_t renders_stored_ = 0;                      // claim-loop thread only: by the current lease
  queue::ShardResiduals residuals_;                 // claim-loop thread only: the current shard's fits
  protocol::WorkerState state_ = protocol::WorkerState::kIdle;  // GUARDED_BY(mutex_)
  int64_t next_extend_ms_ = 0;                         // GUARDED_BY(mutex_), boot clock
  std::deque<int64_t> finished_ms_;                    // GUARDED_BY(mutex_)
  std::deque<protocol::Telemetry> outbox_;             // GUARDED_BY(mutex_)
  bool quit_heartbeat_ = false;                        // GUARDED_BY(mutex_)
};

}  // namespace

tl::expected<std::unique_ptr<Worker>, std::string> Worker::create(WorkerOptions options) {
  // Input files a spec points at (humans.bvh clips) are read through storage.
  auto input_read_failures = std::make_shared<std::atomic<uint64_t>>(0);
  auto read_asset = [allowed = options.allow_storage, failures = input_read_failures](
                        const std::string& uri) -> tl::expected<std::string, std::string> {
    if (auto why = allowed.check(uri)) {
      ++*failures;
      return tl::unexpected("this worker refuses to read " + *why);
    }
    auto bytes = storage::read_uri(uri);
    if (!bytes) {
      ++*failures;
      return tl::unexpected(bytes.error().message);
    }
    return std::move(*bytes);
  };
  auto renderer = jobs::SampleRenderer::create(options.threads, read_asset, options.learned_models);
  if (!renderer) return tl::unexpected("renderer: " + renderer.error());
  auto recon = std::make_unique<ReconRunner>(options.people_fitter, read_asset, options.threads);
  for (const std::string& task : options.tasks) {
    const std::vector<std::string> can = recon->tasks();
    if (task != "render" && std::find(can.begin(), can.end(), task) == can.end()) {
      return tl::unexpected(fmt::format("--tasks {}: this worker cannot run it ({})", task,
                                        task == "fit_people" ? "the recon LibTorch plugin did not load"
                                                             : "not in this version"));
    }
  }
  auto telemetry = protocol::TelemetrySender::connect(options.telemetry_endpoint, options.curve);
  if (!telemetry) return tl::unexpected(telemetry.error());
  auto control = protocol::ControlSubscriber::connect(options.control_endpoints, options.curve);
  if (!control) return tl::unexpected(control.error());
  return std::make_unique<WorkerImpl>(std::move(options), std::move(*renderer), std::move(recon),
                                      std::move(*telemetry), std::move(*control), std::move(input_read_failures));
}

}  // namespace synthfarm::worker
