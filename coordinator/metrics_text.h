// The coordinator's Prometheus exposition (GET /metrics) and the dashboard's history
// samples (history.h): both read the same O(1) Redis counters and the live farm view.
#pragma once

#include <cstdint>
#include <string>

#include "coordinator/farm_view.h"
#include "coordinator/history.h"
#include "queue/queue.h"

namespace synthfarm::coordinator {

// Counters the coordinator keeps about itself.
struct CoordinatorCounters {
  uint64_t telemetry_messages = 0;
  uint64_t telemetry_malformed = 0;
  uint64_t telemetry_rejected = 0;
  uint64_t jobs_finalized = 0;
  uint64_t leases_reaped = 0;
};

// The text of a scrape. Every Redis read is O(1) in the number of jobs: a scrape costs
// the same with ten jobs in Redis as with a million.
std::string prometheus_text(queue::Queue& queue, const FarmView& view, int64_t now_ms,
                            const CoordinatorCounters& counters);

// One history sample at `now_ms`: the farm's gauges, every job of the bounded job list
// (queue.jobs()) that is active or ended since `since_ms` (its last point, done or failed),
// and every worker of the farm view.
void sample_history(History& history, queue::Queue& queue, const FarmView& view, int64_t now_ms,
                    int64_t since_ms);

}  // namespace synthfarm::coordinator
