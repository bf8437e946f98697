// The coordinator's Prometheus exposition (GET /metrics) and the dashboard's history
// samples (history.h): both read the same O(1) Redis counters and the live farm view.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

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

// The workers' own metrics (protocol::WorkerMetrics, from their heartbeats) as Prometheus
// histograms and counters labelled worker and host: synthfarm_worker_render_seconds,
// _upload_seconds, _queue_wait_seconds, _samples_rendered_total and
// _failures_total{kind}. Only workers heard from within FarmView::kMetricsKeepMs, and
// that send metrics. Part of prometheus_text.
std::string worker_metrics_text(const std::vector<WorkerView>& workers, int64_t now_ms);

// A Prometheus label value: backslash, double quote and newline escaped, and anything
// that is not printable UTF-8 (worker ids come from the network) as U+FFFD.
std::string prometheus_label_value(std::string_view text);

// One history sample at `now_ms`: the farm's gauges, every job of the bounded job list
// (queue.jobs()) that is active or ended since `since_ms` (its last point, done or failed),
// and every worker of the farm view.
void sample_history(History& history, queue::Queue& queue, const FarmView& view, int64_t now_ms,
                    int64_t since_ms);

}  // namespace synthfarm::coordinator
