// The decisions behind `synthfarm scale slurm`: how many workers the queue wants, and which
// Slurm array tasks to submit or cancel to get there. Pure functions of what the
// coordinator and squeue said, so every rule is unit-tested without a cluster; running
// sbatch, squeue and scancel is scale_command.cpp's business. Internal to cli/.
//
// The rule is KEDA's: wanted = ceil((pending + leased shards) / shards_per_worker), at most
// max_workers, and 0 when there is no work. Leased shards count so that a farm busy with
// its last shards is not shrunk under its workers. Shrinking takes queued tasks first
// (newest first), then started tasks whose worker holds no shard, and started tasks
// holding a shard only when allowed (shrink_running): stopping one costs the rest of its
// shard, which goes back to the queue and is rendered again.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

namespace synthfarm::cli {

// From the coordinator's /metrics.
struct QueueDepth {
  int64_t pending = 0;  // synthfarm_shards_pending
  int64_t leased = 0;   // synthfarm_shards_leased
};
// Reads both gauges from Prometheus text; an error when either is missing (the coordinator
// leaves them out while it cannot read Redis) or malformed.
tl::expected<QueueDepth, std::string> parse_queue_depth(std::string_view metrics);

// One array task as `squeue -h -r -o '%F|%K|%T'` prints it.
struct SlurmTask {
  int64_t array_job = 0;        // %F: the array's job id (a plain job's own id)
  std::optional<int64_t> task;  // %K: the array index; none for a job without --array
  std::string state;            // %T: PENDING, RUNNING, COMPLETING, ...
  // What scancel takes: "1234_7", or "1234" for a plain job.
  std::string slurm_id() const;
  // The id workers.sbatch gives its worker: PREFIX1234_7 (a plain job is task 0).
  std::string worker_id(const std::string& prefix) const;
};
// The format string squeue is given, and its parser: one task per line, blank lines
// skipped; an error names the first line that is not three '|'-separated fields.
inline constexpr const char* kSqueueFormat = "%F|%K|%T";
tl::expected<std::vector<SlurmTask>, std::string> parse_squeue(std::string_view text);

// What the coordinator's /api/workers says of a worker, by worker id.
enum class WorkerActivity { kIdle, kRendering, kStopping, kLost };

struct ScalePolicy {
  int64_t max_workers = 0;
  int64_t shards_per_worker = 2;
  bool shrink_running = false;  // may stop started tasks whose worker holds a shard
  std::string worker_prefix = "slurm-";
};

// Workers the queue wants under `policy`.
int64_t wanted_workers(const QueueDepth& depth, const ScalePolicy& policy);

struct ScalePlan {
  int64_t wanted = 0;
  int64_t queued = 0;             // tasks Slurm has not started (pending, requeued, held)
  int64_t started = 0;            // tasks running (or configuring, suspended) that are not stopping
  int64_t submit = 0;             // new array tasks to submit
  std::vector<SlurmTask> cancel;  // queued tasks to cancel, newest first
  std::vector<SlurmTask> stop;    // started tasks to send SIGTERM, newest first
  int64_t kept_busy = 0;          // tasks over `wanted` left running because they hold a shard
  int64_t current() const { return queued + started; }
};

// `tasks`: this user's tasks of the worker job name; `workers`: /api/workers by worker id
// (a started task whose worker is missing, or lost, counts as holding a shard while any
// shard is leased). Tasks that are ending (completing, or whose worker is stopping) are
// neither counted nor touched.
ScalePlan plan_scale(const QueueDepth& depth, const std::vector<SlurmTask>& tasks,
                     const std::map<std::string, WorkerActivity>& workers,
                     const ScalePolicy& policy);

}  // namespace synthfarm::cli
