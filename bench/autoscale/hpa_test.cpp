// Unit tests of the HPA replica arithmetic and behaviors bench/autoscale_sim models (hpa.h), on
// cases worked out by hand (the comments give the working).
#include "bench/autoscale/hpa.h"

#include <gtest/gtest.h>

namespace synthfarm::autoscale {
namespace {

constexpr int64_t kS = 1000;  // ms per second

HpaSpec spec_with_target(double target, int min_replicas = 1, int max_replicas = 100) {
  HpaSpec s;
  s.min_replicas = min_replicas;
  s.max_replicas = max_replicas;
  s.target_average_value = target;
  return s;
}

TEST(HpaMath, AverageValueIsCeilOfMetricOverTarget) {
  EXPECT_EQ(replicas_for_average_value(10, 2, 1, 0.1), 5);
  EXPECT_EQ(replicas_for_average_value(11, 2, 1, 0.1), 6);  // ceil(5.5)
  EXPECT_EQ(replicas_for_average_value(0, 2, 3, 0.1), 0);
  EXPECT_EQ(replicas_for_average_value(7, 2, 0, 0.1), 4);  // from zero: no ratio to compare
}

TEST(HpaMath, ToleranceKeepsTheCurrentCount) {
  // 21 / (2 * 10) = 1.05: within 10% of the target, no change.
  EXPECT_EQ(replicas_for_average_value(21, 2, 10, 0.1), 10);
  EXPECT_EQ(replicas_for_average_value(18.5, 2, 10, 0.1), 10);  // 0.925
  // 23 / 20 = 1.15: outside, ceil(23 / 2) = 12.
  EXPECT_EQ(replicas_for_average_value(23, 2, 10, 0.1), 12);
  EXPECT_EQ(replicas_for_average_value(17, 2, 10, 0.1), 9);  // 0.85 -> ceil(8.5)
}

TEST(HpaMath, DefaultScaleUpLimitIsDoubleOrPlusFour) {
  const ScalingRules up = ScalingRules::default_scale_up();
  EXPECT_EQ(scale_up_limit(1, {}, {}, up, 0), 5);    // max(ceil(1 * 2), 1 + 4)
  EXPECT_EQ(scale_up_limit(10, {}, {}, up, 0), 20);  // max(20, 14)
  // 4 pods added 10 s ago: the period started at 6 - 4 = 2 -> max(4, 6).
  EXPECT_EQ(scale_up_limit(6, {{-10 * kS, 4}}, {}, up, 0), 6);
  // Exactly one period (15 s) ago no longer counts: the cutoff is exclusive.
  EXPECT_EQ(scale_up_limit(6, {{-15 * kS, 4}}, {}, up, 0), 12);
}

TEST(HpaMath, ScaleDownLimitTruncatesPercent) {
  ScalingRules down;
  down.policies = {{ScalingPolicy::Type::kPercent, 50, 60}};
  EXPECT_EQ(scale_down_limit(5, {}, {}, down, 0), 2);  // int(5 * 0.5)
  down.policies.push_back({ScalingPolicy::Type::kPods, 1, 60});
  EXPECT_EQ(scale_down_limit(5, {}, {}, down, 0), 2);  // Max change: min(2, 4)
  down.select = ScalingRules::Select::kMin;
  EXPECT_EQ(scale_down_limit(5, {}, {}, down, 0), 4);  // Min change: max(2, 4)
  down.select = ScalingRules::Select::kDisabled;
  EXPECT_EQ(scale_down_limit(5, {}, {}, down, 0), 5);
}

TEST(HpaController, MetricTenThresholdTwoFromOne) {
  // Default behavior: desired ceil(10 / 2) = 5, the limit max(2, 1 + 4) = 5 lets it through.
  HpaController hpa(spec_with_target(2));
  EXPECT_EQ(hpa.sync(0, 1, 10), 5);
}

TEST(HpaController, ScaleUpPolicyCapsTheStep) {
  // scaleUp: +2 pods per 60 s. Desired 5 from 1 is capped at 3; 15 s later the +2 is still
  // in the period (start 3 - 2 = 1, limit 3); after 60 s the period starts at 3: limit 5.
  HpaSpec s = spec_with_target(2);
  s.scale_up.policies = {{ScalingPolicy::Type::kPods, 2, 60}};
  HpaController hpa(s);
  EXPECT_EQ(hpa.sync(0, 1, 10), 3);
  EXPECT_EQ(hpa.sync(15 * kS, 3, 10), 3);
  EXPECT_EQ(hpa.sync(45 * kS, 3, 10), 3);
  EXPECT_EQ(hpa.sync(60 * kS, 3, 10), 5);
}

TEST(HpaController, DefaultScaleUpDoublesEverySync) {
  // Metric 80, target 2: desired 40. From 2: max(4, 6) = 6, then 12, 24, then 40.
  HpaController hpa(spec_with_target(2));
  EXPECT_EQ(hpa.sync(0, 2, 80), 6);
  EXPECT_EQ(hpa.sync(15 * kS, 6, 80), 12);
  EXPECT_EQ(hpa.sync(30 * kS, 12, 80), 24);
  EXPECT_EQ(hpa.sync(45 * kS, 24, 80), 40);
  EXPECT_EQ(hpa.sync(60 * kS, 40, 200), 80);   // the limit, not the desired 100
  EXPECT_EQ(hpa.sync(75 * kS, 80, 200), 100);  // maxReplicas
}

TEST(HpaController, StabilizationKeepsTheMaxOverTheWindow) {
  // At 0 the metric says 10; from 15 s on it says 2. The 300 s scale-down window holds the
  // highest recommendation: 10 until the one recorded at 0 is 300 s old (the cutoff is
  // exclusive), then 2 at once (the default scale-down policy allows 100% per 15 s).
  HpaController hpa(spec_with_target(2));
  EXPECT_EQ(hpa.sync(0, 10, 20), 10);
  for (int64_t t = 15; t < 300; t += 15) EXPECT_EQ(hpa.sync(t * kS, 10, 4), 10) << "t=" << t;
  EXPECT_EQ(hpa.sync(300 * kS, 10, 4), 2);
}

TEST(HpaController, StabilizationTakesTheHighestRecentNotTheLast) {
  // Recommendations 10 (t=0), 6 (t=100), 2 after: at 300 the 10 has left the window but the 6
  // has not, so 6; at 400 the 6 has left too.
  HpaController hpa(spec_with_target(1));
  EXPECT_EQ(hpa.sync(0, 10, 10), 10);
  EXPECT_EQ(hpa.sync(100 * kS, 10, 6), 10);
  EXPECT_EQ(hpa.sync(200 * kS, 10, 2), 10);
  EXPECT_EQ(hpa.sync(300 * kS, 10, 2), 6);
  EXPECT_EQ(hpa.sync(400 * kS, 6, 2), 2);
}

TEST(HpaController, BoundsAndZero) {
  HpaController hpa(spec_with_target(2, 2, 8));
  EXPECT_EQ(hpa.sync(0, 0, 50), 0);  // minReplicas > 0 and none running: scaling disabled
  EXPECT_EQ(hpa.sync(15 * kS, 1, 0), 2);   // below minReplicas
  EXPECT_EQ(hpa.sync(30 * kS, 12, 0), 8);  // above maxReplicas
  HpaController to_zero(spec_with_target(2, 0, 8));  // HPAScaleToZero
  EXPECT_EQ(to_zero.sync(0, 0, 7), 4);
}

}  // namespace
}  // namespace synthfarm::autoscale
