#include "coordinator/farm_view.h"

#include <gtest/gtest.h>

namespace synthfarm::coordinator {
namespace {

protocol::SampleProgress progress(const std::string& job, uint64_t shard, uint64_t sample) {
  protocol::SampleProgress p;
  p.worker_id = "w1";
  p.shard.job_id = job;
  p.shard.shard = shard;
  p.sample = sample;
  return p;
}

TEST(FarmView, WorkersGoStaleAfterSilence) {
  FarmView view;
  protocol::Heartbeat hb;
  hb.worker_id = "w1";
  view.on_telemetry(hb, 1000);
  auto w = view.workers(1000 + FarmView::kAliveMs);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_TRUE(w[0].alive);
  EXPECT_FALSE(view.workers(1001 + FarmView::kAliveMs)[0].alive);
  auto one = view.worker("w1", 1001 + FarmView::kAliveMs);
  ASSERT_TRUE(one.has_value());
  EXPECT_FALSE(one->alive);
  EXPECT_FALSE(view.worker("w2", 1000).has_value());
}

TEST(FarmView, InflightSamplesCountOncePerSampleUntilTheShardCompletes) {
  FarmView view;
  view.on_telemetry(progress("j", 0, 0), 1000);
  view.on_telemetry(progress("j", 0, 1), 1100);
  view.on_telemetry(progress("j", 0, 1), 1200);  // a duplicate (retried send) counts once
  view.on_telemetry(progress("j", 1, 5), 1300);
  EXPECT_EQ(view.job("j", 1400).inflight_samples, 3);
  auto done = progress("j", 0, 0);
  done.shard_complete = true;
  view.on_telemetry(done, 1500);
  EXPECT_EQ(view.job("j", 1600).inflight_samples, 1);
  EXPECT_EQ(view.job("other", 1600).inflight_samples, 0);
}

TEST(FarmView, RateIsOverTheWindow) {
  FarmView view;
  for (int i = 0; i < 20; ++i) view.on_telemetry(progress("j", 0, i), 10000 + i * 500);  // 2 per second
  EXPECT_NEAR(view.job("j", 19500).samples_per_sec, 2.0, 0.25);
  EXPECT_NEAR(view.total_samples_per_sec(19500), 2.0, 0.25);
  EXPECT_EQ(view.job("j", 19500 + FarmView::kRateWindowMs + 1).samples_per_sec, 0.0);
  auto recent = view.job("j", 19500).recent_samples;
  ASSERT_EQ(recent.size(), FarmView::kRecentSamples);
  EXPECT_EQ(recent.front(), 19u);
}

protocol::Heartbeat heartbeat_with_rendered(uint32_t pid, int64_t sent_ms, uint64_t samples_rendered) {
  protocol::Heartbeat hb;
  hb.worker_id = "w1";
  hb.pid = pid;
  hb.sent_ms = sent_ms;
  hb.samples_done = samples_rendered;
  protocol::WorkerMetrics m;
  m.samples_rendered = samples_rendered;
  hb.metrics = m;
  return hb;
}

// A worker's metrics are cumulative: a heartbeat of the same process sent before the one
// in hand and counting less was overtaken, and its metrics must not look like a counter
// reset. A restarted process (same id and pid, sent later) does reset them.
TEST(FarmView, OvertakenHeartbeatsDoNotSetMetricsBack) {
  FarmView view;
  view.on_telemetry(heartbeat_with_rendered(7, 2000, 10), 1000);
  view.on_telemetry(heartbeat_with_rendered(7, 1000, 5), 1100);  // overtaken
  auto w = view.workers(1200);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0].heartbeat.metrics->samples_rendered, 10u);
  EXPECT_EQ(w[0].heartbeat.samples_done, 5u) << "the rest of the heartbeat is taken as before";
  view.on_telemetry(heartbeat_with_rendered(7, 3000, 2), 1300);  // restarted, later
  EXPECT_EQ(view.workers(1400)[0].heartbeat.metrics->samples_rendered, 2u);
  view.on_telemetry(heartbeat_with_rendered(8, 1500, 1), 1500);  // another process, whatever its clock says
  EXPECT_EQ(view.workers(1600)[0].heartbeat.metrics->samples_rendered, 1u);
  view.on_telemetry(heartbeat_with_rendered(8, 1400, 4), 1700);  // a clock stepped back, counts still rising
  EXPECT_EQ(view.workers(1800)[0].heartbeat.metrics->samples_rendered, 4u);
}

}  // namespace
}  // namespace synthfarm::coordinator
