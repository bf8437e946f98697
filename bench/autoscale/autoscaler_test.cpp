// Unit tests of KEDA's activation and cooldown around its HPA (autoscaler.h), on cases worked
// out by hand.
#include "bench/autoscale/autoscaler.h"

#include <gtest/gtest.h>

namespace synthfarm::autoscale {
namespace {

constexpr int64_t kSecond = 1000;  // ms

ScaledObjectSpec keda_spec() {
  ScaledObjectSpec so;
  so.polling_interval_s = 30;
  so.cooldown_period_s = 300;
  so.min_replica_count = 0;
  so.max_replica_count = 10;
  so.threshold = 2;
  return so;
}

TEST(Keda, ActivatesFromZeroAndCoolsDownToZero) {
  KedaAutoscaler keda(keda_spec());
  EXPECT_EQ(keda.poll(0, 0, 3), 1);             // active, at 0: scale to max(min, 1)
  EXPECT_EQ(keda.poll(30 * kSecond, 5, 0), 5);        // inactive since 0 + 30 s: cooling down
  EXPECT_EQ(keda.poll(300 * kSecond, 5, 0), 5);       // 0 + 300 is not before 300
  EXPECT_EQ(keda.poll(330 * kSecond, 5, 0), 0);       // cooldownPeriod passed with the metric at 0
  EXPECT_EQ(keda.poll(360 * kSecond, 0, 0), 0);
}

TEST(Keda, ActivityRestartsTheCooldown) {
  KedaAutoscaler keda(keda_spec());
  EXPECT_EQ(keda.poll(0, 0, 3), 1);
  EXPECT_EQ(keda.poll(270 * kSecond, 2, 1), 2);  // active again at 270
  EXPECT_EQ(keda.poll(330 * kSecond, 2, 0), 2);  // 300 s from 0 have passed, but not from 270
  EXPECT_EQ(keda.poll(570 * kSecond, 2, 0), 2);
  EXPECT_EQ(keda.poll(600 * kSecond, 2, 0), 0);
}

TEST(Keda, ActivationThresholdAndMinReplicas) {
  ScaledObjectSpec so = keda_spec();
  so.activation_threshold = 1;
  KedaAutoscaler keda(so);
  EXPECT_EQ(keda.poll(0, 0, 1), 0);  // not > 1
  EXPECT_EQ(keda.poll(30 * kSecond, 0, 2), 1);
  so.min_replica_count = 2;
  KedaAutoscaler with_min(so);
  EXPECT_EQ(with_min.poll(0, 2, 0), 2);  // minReplicaCount > 0: never to zero
  EXPECT_EQ(so.hpa().min_replicas, 2);
  EXPECT_EQ(keda_spec().hpa().min_replicas, 1);  // the HPA KEDA creates starts at 1
}

TEST(Keda, PollThenHpaInTheSameSecond) {
  // At 0 the operator activates (0 -> 1), then the HPA scales 1 -> ceil(10 / 2) = 5.
  KedaAutoscaler keda(keda_spec());
  EXPECT_EQ(keda.next_action_ms(-1), 0);
  EXPECT_EQ(keda.act(0, 0, 10), 5);
  EXPECT_EQ(keda.next_action_ms(0), 15 * kSecond);  // the HPA's sync; the poll is at 30 s
}

}  // namespace
}  // namespace synthfarm::autoscale
