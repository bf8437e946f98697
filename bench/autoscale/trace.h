// A day of job submissions for bench/autoscale_sim: seeded and deterministic (the same
// options give the same jobs on any machine; every draw comes from base/rng.h's PCG32).
//
// The model, from how a team uses the farm:
//   - `users` people submit during their working day: each starts between 08:00 and 10:00
//     and stops between 17:00 and 19:00, and submits in 2 to 5 bursts at random times of
//     that day (none during the 12:00-13:00 lunch hour; a burst starts at least 30 min
//     before the user leaves). A burst is 1 to 4 jobs (a spec and its variants), 1 to 10
//     minutes apart.
//   - A job's size is heavy-tailed: a bounded Pareto on [min_samples, max_samples]
//     (shape `pareto_alpha`, 0.9 by default: median about 210 samples, mean about 630,
//     one job in twenty above 2,500), rounded up to a multiple of 10.
//   - `overnight_jobs` large jobs (10,000 to 20,000 samples) are submitted between 19:00
//     and 23:00 by a pipeline, to be ready in the morning.
// Every job is cut into shards of `shard_size` samples (the last one smaller), all queued
// at its submission with the same priority (the queue is FIFO within a priority).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace synthfarm::autoscale {

struct TraceOptions {
  uint64_t seed = 1;
  int users = 8;
  int overnight_jobs = 3;
  int64_t min_samples = 100;
  int64_t max_samples = 20000;
  double pareto_alpha = 0.9;
  int64_t shard_size = 50;
};

struct TraceJob {
  int64_t submit_ms = 0;  // since 00:00 of the day
  int64_t samples = 0;
  std::string who;        // "user3", "overnight"
};

struct Trace {
  std::vector<TraceJob> jobs;  // by submission time
  int64_t shard_size = 50;

  int64_t samples() const;
  int64_t shards() const;
  int64_t shards_of(const TraceJob& job) const { return (job.samples + shard_size - 1) / shard_size; }
};

Trace make_day(const TraceOptions& options);

// A job size from the bounded Pareto for a uniform draw u in [0, 1), before rounding.
double bounded_pareto(double u, double low, double high, double alpha);

}  // namespace synthfarm::autoscale
