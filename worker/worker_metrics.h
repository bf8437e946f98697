// The worker's own Prometheus metrics: how long its samples take to render and to store,
// how long it waits for a shard, how many samples it rendered and why shards failed.
//
// Cumulative since the process started, and carried whole in every heartbeat
// (protocol::WorkerMetrics); the coordinator re-exports them on its /metrics with a worker
// label (docs/architecture.md, "Metrics"). The worker opens no port of its own: a farm of
// hundreds of workers behind NAT or on Slurm nodes stays one scrape target, and a lost
// heartbeat loses no counts because the next one carries them all.
//
// Thread-safe: the claim loop observes, the heartbeat thread takes snapshots. One mutex
// (a few observations per sample, each a bucket search in a dozen bounds) keeps a
// snapshot consistent: its count is always the sum of its buckets.
#pragma once

#include <mutex>
#include <span>

#include "protocol/messages.h"

namespace synthfarm::worker {

class WorkerMetricsRegistry {
 public:
  // Bucket bounds, seconds. Render: a thumbnail at low spp (50 ms) to a large, deep
  // sample (10 min). Upload: one sample's objects to a local disk (ms) or to S3 (up to
  // minutes under an outage). Queue wait: a claim that finds work at once (ms) to an idle
  // farm (anything above 10 min lands in +Inf).
  static constexpr double kRenderBounds[] = {0.05, 0.1, 0.25, 0.5, 1,   2.5, 5,
                                             10,   25,  50,   100, 250, 600};
  static constexpr double kUploadBounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                             1,     2.5,  5,     10,   30,  60,   120};
  static constexpr double kQueueWaitBounds[] = {0.01, 0.05, 0.1, 0.25, 0.5, 1,   2.5,
                                                5,    10,   30,  60,   120, 300, 600};

  WorkerMetricsRegistry();

  // One sample (or reconstruction unit) rendered in `seconds`; counts it as rendered too.
  void observe_render(double seconds);
  // One sample's objects stored in `seconds` (first put to last confirmation).
  void observe_upload(double seconds);
  // From when the worker was free to take a shard to when a claim returned one.
  void observe_queue_wait(double seconds);
  // A shard this worker did not complete, and why.
  void count_failure(protocol::FailureKind kind);

  protocol::WorkerMetrics snapshot() const;

 private:
  mutable std::mutex mutex_;
  protocol::WorkerMetrics metrics_;  // GUARDED_BY(mutex_)
};

// Adds one observation to `histogram` (bounds already set): the first bucket whose bound
// is >= `seconds`, or the +Inf bucket. Negative values count as 0; NaN is ignored.
void observe(protocol::Histogram& histogram, double seconds);
// An empty histogram with these bounds.
protocol::Histogram empty_histogram(std::span<const double> upper_bounds);

}  // namespace synthfarm::worker
