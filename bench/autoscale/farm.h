// The render farm as bench/autoscale_sim replays it: the shard queue, worker pods, the
// Prometheus scrape of the autoscaling metric, and an Autoscaler setting the replica
// count. A discrete-event simulation on an integer millisecond clock; deterministic.
//
// What it models, and how that maps onto synthfarm:
//   - The queue is FIFO by submission (docs/queue.md: one priority band, ZPOPMIN by
//     sequence); a shard given back goes to the head.
//   - A worker is one pod running one synthfarm-worker process that renders one shard at a
//     time with every core of its pod (the render threads are inside a sample), so a shard
//     of n samples takes n * sample_ms. Upload, manifest and claim overheads are not
//     modelled (they overlap rendering or are milliseconds: docs/benchmarks.md). An idle
//     ready worker claims the moment a shard is pending (the real one polls every <= 2 s).
//   - A pod is created when the replica count goes up and is ready `startup_ms` later
//     (image pulled, process started, connected); only ready pods claim.
//   - When the count goes down the Deployment's ReplicaSet picks the pods to delete: pods
//     not yet ready first, then the most recently ready, then the newest (the documented
//     ReplicaSet order; it does not know which workers are busy). A deleted pod gets SIGTERM:
//     synthfarm-worker finishes the sample in hand and gives its shard back (worker.h), so
//     the pod exits at the end of that sample and every second spent on the shard is
//     wasted. With `idle_first` an idle ready pod is deleted before a busy one, which is
//     what a controller.kubernetes.io/pod-deletion-cost kept up to date by the worker
//     would buy; it is reported as a what-if, not the default.
//   - The metric is pending + leased shards (synthfarm_shards_pending +
//     synthfarm_shards_leased), as of the last scrape, every `scrape_ms`.
//   - Cost is pod time: from creation (startup included) to exit (the last sample of a
//     SIGTERM included). The day runs until 24:00 and then until every job is done and
//     the autoscaler is back at its idle count.
#pragma once

#include <cstdint>
#include <vector>

#include "bench/autoscale/autoscaler.h"
#include "bench/autoscale/trace.h"

namespace synthfarm::autoscale {

struct FarmOptions {
  int64_t sample_ms = 1000;      // one sample's render time on one worker
  int64_t startup_ms = 20000;    // pod creation to ready
  int64_t scrape_ms = 15000;     // Prometheus scrape interval of the coordinator's /metrics
  int64_t day_ms = 24LL * 3600 * 1000;
  int64_t give_up_ms = 7LL * 24 * 3600 * 1000;  // a farm that cannot drain the day stops here
  bool idle_first = false;       // delete idle pods before busy ones (see above)
};

struct FarmResult {
  double worker_hours = 0;        // pod time, startup and idle included
  double render_hours = 0;        // shards rendered to completion
  double wasted_hours = 0;        // shard time lost to SIGTERM
  int64_t pods_created = 0;       // the initial replicas included
  int64_t shards_given_back = 0;  // by pods that got SIGTERM mid-shard
  int peak_replicas = 0;
  int64_t end_ms = 0;             // when the day ended (see above)
  bool drained = true;            // false: give_up_ms was reached with jobs not done
  std::vector<double> queue_wait_s;  // per shard: submission to the claim that completed it
  std::vector<double> drain_s;       // per job: submission to its last shard done
};

FarmResult simulate_farm(const Trace& trace, Autoscaler& autoscaler, const FarmOptions& options);

// The value at fraction p (0..1) of `values`, nearest rank; 0 for none.
double percentile(std::vector<double> values, double p);

}  // namespace synthfarm::autoscale
