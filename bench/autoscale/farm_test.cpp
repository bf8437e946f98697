// Unit tests of the farm simulation (farm.h) on days small enough to work out by hand.
#include "bench/autoscale/farm.h"

#include <gtest/gtest.h>

#include <climits>
#include <map>

namespace synthfarm::autoscale {
namespace {

constexpr int64_t kSec = 1000;  // ms

Trace one_job(int64_t samples) {
  Trace t;
  t.shard_size = 50;
  t.jobs.push_back({0, samples, "test"});
  return t;
}

FarmOptions options(int64_t sample_ms) {
  FarmOptions o;
  o.sample_ms = sample_ms;
  o.startup_ms = 20 * kSec;
  o.scrape_ms = 15 * kSec;
  o.day_ms = 0;  // the day ends as soon as the work is done and the replicas are idle
  return o;
}

TEST(Farm, FixedWorkerRendersShardsInOrder) {
  // One ready worker, two shards of 50 samples at 1 s: claims at 0 and 50, done at 100.
  auto fixed = make_fixed(1);
  const FarmResult r = simulate_farm(one_job(100), *fixed, options(kSec));
  ASSERT_TRUE(r.drained);
  EXPECT_EQ(r.queue_wait_s, (std::vector<double>{0, 50}));
  EXPECT_EQ(r.drain_s, (std::vector<double>{100}));
  EXPECT_EQ(r.end_ms, 100 * kSec);
  EXPECT_DOUBLE_EQ(r.worker_hours, 100.0 / 3600);
  EXPECT_DOUBLE_EQ(r.render_hours, 100.0 / 3600);
}

TEST(Farm, KedaScalesUpThenDownThenToZero) {
  // threshold 1, polling 30 s, cooldown 300 s. At 0 the scrape sees 4 shards; KEDA activates
  // (0 -> 1) and the HPA goes 1 -> 4 (limit max(2, 5)). Pods ready at 20, shards done at 70.
  // The scrape at 60 still sees 4 leased, so the HPA's window keeps 4 until its recommendation
  // of 60 is 300 s old: 4 -> 1 (minReplicas) at 360. KEDA was last active at 60: 0 at 390.
  ScaledObjectSpec so;
  so.polling_interval_s = 30;
  so.cooldown_period_s = 300;
  so.threshold = 1;
  so.max_replica_count = 10;
  KedaAutoscaler keda(so);
  const FarmResult r = simulate_farm(one_job(200), keda, options(kSec));
  ASSERT_TRUE(r.drained);
  EXPECT_EQ(r.queue_wait_s, (std::vector<double>{20, 20, 20, 20}));
  EXPECT_EQ(r.drain_s, (std::vector<double>{70}));
  EXPECT_EQ(r.pods_created, 4);
  EXPECT_EQ(r.peak_replicas, 4);
  EXPECT_EQ(r.end_ms, 390 * kSec);
  EXPECT_DOUBLE_EQ(r.worker_hours, (3 * 360.0 + 390.0) / 3600);
  EXPECT_EQ(r.shards_given_back, 0);
}

// Sets the replica count from a script: {time ms -> replicas}.
class Scripted : public Autoscaler {
 public:
  explicit Scripted(std::map<int64_t, int> script, int idle) : script_(std::move(script)), idle_(idle) {}
  std::string describe() const override { return "scripted"; }
  int initial_replicas() const override { return 0; }
  int idle_replicas() const override { return idle_; }
  int64_t next_action_ms(int64_t after_ms) const override {
    auto it = script_.upper_bound(after_ms);
    return it == script_.end() ? INT64_MAX : it->first;
  }
  int act(int64_t now_ms, int, double) override { return script_.at(now_ms); }

 private:
  std::map<int64_t, int> script_;
  int idle_;
};

TEST(Farm, SigtermFinishesTheSampleAndGivesTheShardBackToTheHead) {
  // Samples of 3 s, shards of 150 s. A pod created at 0 is ready at 20 and claims shard A;
  // deleted at 30, it finishes the sample begun at 29 and exits at 32, giving A back ahead of
  // B (12 s wasted). A new pod at 60 is ready at 80 and takes A (wait 80), then B at 230.
  Scripted script({{0, 1}, {30 * kSec, 0}, {60 * kSec, 1}}, 1);
  const FarmResult r = simulate_farm(one_job(100), script, options(3 * kSec));
  ASSERT_TRUE(r.drained);
  EXPECT_EQ(r.shards_given_back, 1);
  EXPECT_DOUBLE_EQ(r.wasted_hours, 12.0 / 3600);
  EXPECT_EQ(r.queue_wait_s, (std::vector<double>{80, 230}));
  EXPECT_EQ(r.drain_s, (std::vector<double>{380}));
  EXPECT_DOUBLE_EQ(r.worker_hours, (32.0 + 320.0) / 3600);
}

TEST(Farm, ReplicaSetDeletesTheNewestReadyPodEvenIfBusy) {
  // Two pods: the first ready at 20 takes shard A; the second, created at 10 and ready at 30,
  // takes B. Scaling to 1 at 40 deletes the most recently ready pod (the second, busy with B)
  // rather than the older one.
  Scripted script({{0, 1}, {10 * kSec, 2}, {40 * kSec, 1}}, 1);
  const FarmResult r = simulate_farm(one_job(100), script, options(kSec));
  EXPECT_EQ(r.shards_given_back, 1);
  EXPECT_DOUBLE_EQ(r.wasted_hours, 10.0 / 3600);
  // A is done at 70; B went back at 40 and the first pod takes it at 70.
  EXPECT_EQ(r.queue_wait_s, (std::vector<double>{20, 70}));
}

TEST(Farm, IdleFirstSparesTheBusyPod) {
  // Pod 0 (ready at 20) renders job a's 10 samples from 20 to 30; pod 1 (ready at 25) takes
  // job b at 26. At 40 the count drops to 1: the ReplicaSet deletes pod 1, the more recently
  // ready, though it is busy (14 s of b lost; pod 0 takes b at 40). Deleting idle pods first
  // takes pod 0 instead and loses nothing.
  Trace t;
  t.shard_size = 50;
  t.jobs = {{0, 10, "a"}, {26 * kSec, 50, "b"}};
  FarmOptions o = options(kSec);
  Scripted script({{0, 1}, {5 * kSec, 2}, {40 * kSec, 1}}, 1);
  const FarmResult by_replicaset = simulate_farm(t, script, o);
  EXPECT_EQ(by_replicaset.shards_given_back, 1);
  EXPECT_DOUBLE_EQ(by_replicaset.wasted_hours, 14.0 / 3600);
  EXPECT_EQ(by_replicaset.drain_s, (std::vector<double>{30, 90 - 26}));
  o.idle_first = true;
  Scripted again({{0, 1}, {5 * kSec, 2}, {40 * kSec, 1}}, 1);
  const FarmResult idle_first = simulate_farm(t, again, o);
  EXPECT_EQ(idle_first.shards_given_back, 0);
  EXPECT_EQ(idle_first.drain_s, (std::vector<double>{30, 76 - 26}));
}

TEST(Farm, Percentile) {
  EXPECT_EQ(percentile({}, 0.5), 0);
  EXPECT_EQ(percentile({5, 1, 3, 2, 4}, 0.5), 3);
  EXPECT_EQ(percentile({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}, 0.95), 19);
  EXPECT_EQ(percentile({1, 2, 3}, 1.0), 3);
}

}  // namespace
}  // namespace synthfarm::autoscale
