// The coordinator's live view of the farm, fed by worker telemetry: which workers are
// alive and what they do, samples finished inside shards not yet completed, and
// throughput, and each worker's own metrics (the latest its heartbeats carried, which
// /metrics re-exports). It is display state only: Redis is the truth, and this view is
// rebuilt from the next heartbeats after a coordinator restart.
//
// Thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "protocol/messages.h"

namespace synthfarm::coordinator {

struct WorkerView {
  protocol::Heartbeat heartbeat;
  int64_t last_seen_ms = 0;  // coordinator clock
  bool alive = false;
};

struct JobLive {
  int64_t inflight_samples = 0;        // finished in shards that Redis has not completed yet
  double samples_per_sec = 0;          // over the last window
  std::vector<uint64_t> recent_samples;  // newest first
  // fit_people: the in-flight units' mean residuals (pixels), summed, and how many.
  double inflight_residual_sum_px = 0;
  int64_t inflight_residual_units = 0;
};

class FarmView {
 public:
  // A worker is alive while its last heartbeat is younger than this.
  static constexpr int64_t kAliveMs = 5000;
  static constexpr int64_t kRateWindowMs = 10000;
  static constexpr size_t kRecentSamples = 12;
  // /metrics re-exports a worker's metrics until its last heartbeat is this old: long
  // enough for several scrapes to see its final counts, short enough that an autoscaled
  // farm's departed workers do not pile up series. (The view forgets a worker after an hour.)
  static constexpr int64_t kMetricsKeepMs = 5 * 60 * 1000;

  void on_telemetry(const protocol::Telemetry& message, int64_t now_ms);
  std::vector<WorkerView> workers(int64_t now_ms) const;
  // One worker by id; nothing for one never heard from (or forgotten after an hour).
  std::optional<WorkerView> worker(const std::string& id, int64_t now_ms) const;
  JobLive job(const std::string& job_id, int64_t now_ms) const;
  double total_samples_per_sec(int64_t now_ms) const;
  // Drops live state of a job that has ended.
  void forget_job(const std::string& job_id);

 private:
  struct JobState {
    std::map<uint64_t, std::set<uint64_t>> inflight;  // shard -> samples finished
    std::map<uint64_t, std::pair<double, int64_t>> inflight_residuals;  // shard -> (sum px, units)
    std::deque<int64_t> finished_ms;                   // sample finish times in the window
    std::deque<uint64_t> recent;
  };
  void on_heartbeat(const protocol::Heartbeat& hb, int64_t now_ms);
  void on_progress(const protocol::SampleProgress& sp, int64_t now_ms);
  static double rate(const std::deque<int64_t>& times, int64_t now_ms);

  mutable std::mutex mutex_;
  std::map<std::string, WorkerView> workers_;  // GUARDED_BY(mutex_)
  std::map<std::string, JobState> jobs_;       // GUARDED_BY(mutex_)
  std::deque<int64_t> all_finished_ms_;        // GUARDED_BY(mutex_)
};

}  // namespace synthfarm::coordinator
