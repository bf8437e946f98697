// The time series the dashboard draws: the farm's throughput, shards pending and leased,
// workers alive and jobs running, and per job its samples done, throughput and ETA.
//
// The coordinator samples them every `interval_ms` (5 s by default) on its housekeeping
// thread and keeps them here, in memory, in two rings per series: the last hour at the
// sample interval (720 points at 5 s) and the whole run at one point a minute (the last
// 24 hours: 1440 points), a minute's point being the mean of its samples (the last one
// for samples done, a counter). So a page opened later still shows the past hour, and a
// long job its whole run. Memory is bounded: the farm's series and those of the
// kMaxJobs most recently seen jobs, about 60 KB each.
//
// Per worker, its samples/s (from its heartbeats) over the last hour only, sampled on the
// same pass: a float per point, aligned with the newest points of the farm's fine ring
// (every pass samples the farm and every worker the farm view knows), so its times are
// not stored again. 720 points at 5 s are 2.9 KB of floats a worker; with the deque's
// blocks, map nodes and ids, 500 workers' full hours measured 1.8 MB (malloc). A
// worker's series goes when the farm view forgets it, or once it has been lost (no
// heartbeat) for kWorkerLostMs; at most kMaxWorkers are kept.
//
// Every coordinator replica samples the same Redis counters and the same relayed
// telemetry (telemetry_relay.h), so each draws the same curves; a restarted coordinator
// starts its series again (they are display state, like the farm view).
//
// Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace synthfarm::coordinator {

class History {
 public:
  static constexpr int64_t kFineSpanMs = 3600 * 1000;     // the last hour at the interval
  static constexpr int64_t kCoarseStepMs = 60 * 1000;     // the run at a point a minute
  static constexpr size_t kCoarsePoints = 24 * 60;         // for the last 24 hours
  static constexpr size_t kMaxJobs = 256;
  static constexpr int64_t kWorkerLostMs = 3600 * 1000;  // a lost worker's series goes after this
  static constexpr size_t kMaxWorkers = 4096;

  struct FarmPoint {
    double samples_per_sec = 0;
    int64_t shards_pending = -1;  // -1: Redis did not answer
    int64_t shards_leased = -1;
    int64_t workers_alive = 0;
    int64_t jobs_active = 0;
  };
  struct JobPoint {
    int64_t samples_done = 0;
    double samples_per_sec = 0;
    double eta_s = -1;  // -1: unknown
  };
  struct WorkerPoint {
    double samples_per_sec = 0;  // from its last heartbeat
    bool alive = false;          // a lost worker's point is null (a gap in its curve)
  };

  explicit History(int64_t interval_ms = 5000);

  int64_t interval_ms() const { return interval_ms_; }
  // Whether a sample is due at `now_ms` (the interval has passed since the last one).
  bool due(int64_t now_ms) const;
  // One sample of the farm, of every job in `jobs` (the active ones, by id) and of every
  // worker in `workers` (all the farm view knows, by id: one not listed loses its series).
  void record(int64_t now_ms, const FarmPoint& farm, const std::map<std::string, JobPoint>& jobs,
              const std::map<std::string, WorkerPoint>& workers = {});

  // The farm's series as JSON: {"interval_ms", "t": [ms...], "samples_per_sec": [...],
  // "shards_pending", "shards_leased", "workers_alive", "jobs_active"}; `coarse` gives
  // the per-minute series of the whole run instead of the last hour's.
  nlohmann::json farm_json(bool coarse) const;
  // A job's series ({"interval_ms", "t", "samples_done", "samples_per_sec", "eta_s"}),
  // or nothing for a job never sampled (or dropped as one of the oldest).
  std::optional<nlohmann::json> job_json(const std::string& id, bool coarse) const;
  // A worker's samples/s over the last hour ({"interval_ms", "t", "samples_per_sec"}, null
  // where it was lost), or nothing for a worker never sampled (or dropped).
  std::optional<nlohmann::json> worker_json(const std::string& id) const;
  // The newest farm point with its time, for the live stream; null before the first.
  nlohmann::json farm_tail() const;

 private:
  // One series group: equal-length columns and their times, a fine ring and a coarse one
  // fed by averaging the fine points of each minute.
  struct Rings {
    std::vector<std::string> names;
    std::deque<int64_t> fine_t, coarse_t;
    std::vector<std::deque<double>> fine, coarse;
    int64_t bucket = -1;                    // the minute being averaged
    std::vector<double> bucket_sum, bucket_last;
    std::vector<int> bucket_count;          // known values per column this minute
    std::vector<bool> counter;              // columns whose coarse point is the last, not the mean

    Rings(std::vector<std::string> column_names, std::vector<bool> counters);
    void add(int64_t t_ms, const std::vector<double>& values, size_t fine_points);
    nlohmann::json to_json(bool coarse, int64_t interval_ms) const;
  };

  const int64_t interval_ms_;
  const size_t fine_points_;
  mutable std::mutex mutex_;
  int64_t last_ms_ = -1;                     // GUARDED_BY(mutex_)
  Rings farm_;                               // GUARDED_BY(mutex_)
  std::map<std::string, Rings> jobs_;        // GUARDED_BY(mutex_)
  std::map<std::string, int64_t> job_seen_;  // GUARDED_BY(mutex_): last sample time per job
  struct WorkerSeries {
    std::deque<float> samples_per_sec;  // the newest points; NaN: lost at that point
    int64_t alive_ms = 0;               // the last point at which it was alive
  };
  std::map<std::string, WorkerSeries> workers_;  // GUARDED_BY(mutex_)
  void record_workers(int64_t now_ms, const std::map<std::string, WorkerPoint>& workers);  // mutex_ held
};

}  // namespace synthfarm::coordinator
