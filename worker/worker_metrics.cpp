#include "worker/worker_metrics.h"

#include <algorithm>
#include <cmath>

namespace synthfarm::worker {

protocol::Histogram empty_histogram(std::span<const double> upper_bounds) {
  protocol::Histogram h;
  h.upper_bounds.assign(upper_bounds.begin(), upper_bounds.end());
  h.counts.assign(upper_bounds.size() + 1, 0);
  return h;
}

void observe(protocol::Histogram& histogram, double seconds) {
  if (std::isnan(seconds)) return;
  seconds = std::max(seconds, 0.0);
  // Prometheus buckets are "less than or equal": the first bound >= the value.
  const auto bucket =
      std::lower_bound(histogram.upper_bounds.begin(), histogram.upper_bounds.end(), seconds) -
      histogram.upper_bounds.begin();
  ++histogram.counts[static_cast<size_t>(bucket)];
  // A sum that would overflow stays where it is: decoders refuse a sum that is not finite.
  if (std::isfinite(histogram.sum + seconds)) histogram.sum += seconds;
}

WorkerMetricsRegistry::WorkerMetricsRegistry() {
  metrics_.render_seconds = empty_histogram(kRenderBounds);
  metrics_.upload_seconds = empty_histogram(kUploadBounds);
  metrics_.queue_wait_seconds = empty_histogram(kQueueWaitBounds);
}

void WorkerMetricsRegistry::observe_render(double seconds) {
  std::lock_guard lock(mutex_);
  observe(metrics_.render_seconds, seconds);
  ++metrics_.samples_rendered;
}

void WorkerMetricsRegistry::observe_upload(double seconds) {
  std::lock_guard lock(mutex_);
  observe(metrics_.upload_seconds, seconds);
}

void WorkerMetricsRegistry::observe_queue_wait(double seconds) {
  std::lock_guard lock(mutex_);
  observe(metrics_.queue_wait_seconds, seconds);
}

void WorkerMetricsRegistry::count_failure(protocol::FailureKind kind) {
  std::lock_guard lock(mutex_);
  ++metrics_.failures[static_cast<size_t>(kind)];
}

protocol::WorkerMetrics WorkerMetricsRegistry::snapshot() const {
  std::lock_guard lock(mutex_);
  return metrics_;
}

}  // namespace synthfarm::worker
