#include "worker/worker_metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <thread>
#include <vector>

namespace synthfarm::worker {
namespace {

using protocol::FailureKind;

TEST(WorkerMetrics, ObservationsLandInTheFirstBucketWhoseBoundIsAtLeastTheValue) {
  const double bounds[] = {0.1, 1, 10};
  protocol::Histogram h = empty_histogram(bounds);
  for (double seconds : {0.05, 0.1, 0.5, 1.0, 3.0, 10.0, 11.0, -2.0}) observe(h, seconds);
  observe(h, std::nan(""));                             // ignored
  observe(h, std::numeric_limits<double>::infinity());  // +Inf bucket, sum unchanged
  // le=0.1: 0.05, 0.1, -2 (as 0); le=1: 0.5, 1; le=10: 3, 10; +Inf: 11, inf.
  EXPECT_EQ(h.counts, (std::vector<uint64_t>{3, 2, 2, 2}));
  EXPECT_EQ(h.count(), 9u);
  EXPECT_DOUBLE_EQ(h.sum, 0.05 + 0.1 + 0.5 + 1 + 3 + 10 + 11);
}

TEST(WorkerMetrics, ASumThatWouldOverflowStaysFinite) {
  const double bounds[] = {1};
  protocol::Histogram h = empty_histogram(bounds);
  observe(h, std::numeric_limits<double>::max());
  observe(h, std::numeric_limits<double>::max());
  EXPECT_TRUE(std::isfinite(h.sum));
  EXPECT_EQ(h.count(), 2u);
}

TEST(WorkerMetrics, RegistryCountsWhatItIsTold) {
  WorkerMetricsRegistry registry;
  protocol::WorkerMetrics empty = registry.snapshot();
  EXPECT_EQ(empty.render_seconds.upper_bounds.size(),
            std::size(WorkerMetricsRegistry::kRenderBounds));
  EXPECT_EQ(empty.render_seconds.counts.size(), empty.render_seconds.upper_bounds.size() + 1);
  EXPECT_EQ(empty.samples_rendered, 0u);

  registry.observe_render(0.3);
  registry.observe_render(700);  // above every bound
  registry.observe_upload(0.02);
  registry.observe_queue_wait(0.001);
  registry.count_failure(FailureKind::kInput);
  registry.count_failure(FailureKind::kInput);
  registry.count_failure(FailureKind::kLeaseLost);
  const protocol::WorkerMetrics m = registry.snapshot();
  EXPECT_EQ(m.samples_rendered, 2u);
  EXPECT_EQ(m.render_seconds.count(), 2u);
  EXPECT_EQ(m.render_seconds.counts.back(), 1u);
  EXPECT_DOUBLE_EQ(m.render_seconds.sum, 700.3);
  EXPECT_EQ(m.upload_seconds.count(), 1u);
  EXPECT_EQ(m.queue_wait_seconds.counts.front(), 1u);
  EXPECT_EQ(m.failures[static_cast<size_t>(FailureKind::kInput)], 2u);
  EXPECT_EQ(m.failures[static_cast<size_t>(FailureKind::kLeaseLost)], 1u);
  EXPECT_EQ(m.failures[static_cast<size_t>(FailureKind::kRender)], 0u);
}

// The claim loop observes while the heartbeat thread snapshots: every snapshot is whole
// (its count equals samples_rendered) and nothing is lost.
TEST(WorkerMetrics, SnapshotsAreConsistentWhileObservationsArrive) {
  WorkerMetricsRegistry registry;
  constexpr int kPerThread = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) registry.observe_render(0.001 * (i % 1000));
    });
  }
  for (int i = 0; i < 200; ++i) {
    const protocol::WorkerMetrics m = registry.snapshot();
    ASSERT_EQ(m.render_seconds.count(), m.samples_rendered);
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(registry.snapshot().samples_rendered, 2u * kPerThread);
}

// Every heartbeat carries the whole registry, 500 workers a second each: it must stay
// small. Prints the sizes (docs/architecture.md, "Metrics", quotes them).
TEST(WorkerMetrics, AHeartbeatWithMetricsStaysSmall) {
  protocol::Heartbeat hb;
  hb.worker_id = "render-node-0042-123456";
  hb.host = "render-node-0042";
  hb.pid = 123456;
  hb.state = protocol::WorkerState::kRendering;
  hb.shard = {"people-indoor-v1-1a2b3c", 1234, 5678, 61700, 50};
  hb.samples_done = 123456;
  hb.samples_per_sec = 1.5;
  hb.sent_ms = 1'765'000'000'000;
  hb.threads = 32;
  const size_t without = protocol::encode_telemetry(hb).size();
  WorkerMetricsRegistry registry;
  for (int i = 0; i < 1000; ++i) registry.observe_render(0.01 * i);
  registry.observe_upload(0.2);
  registry.observe_queue_wait(3);
  registry.count_failure(FailureKind::kUpload);
  hb.metrics = registry.snapshot();
  const size_t with = protocol::encode_telemetry(hb).size();
  std::printf("heartbeat: %zu bytes without metrics, %zu bytes with\n", without, with);
  EXPECT_LT(with, 2048u);
}

}  // namespace
}  // namespace synthfarm::worker
