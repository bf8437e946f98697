// Unit tests of reading the autoscaling manifests (manifests.h): the stand-in files beside
// the simulator, defaults, and errors that name the line and the field.
#include "bench/autoscale/manifests.h"

#include <gtest/gtest.h>

namespace synthfarm::autoscale {
namespace {

TEST(Manifests, StandInScaledObject) {
  auto so = read_scaled_object(AUTOSCALE_TESTDATA "/worker-scaledobject.yaml");
  ASSERT_TRUE(so) << so.error();
  EXPECT_EQ(so->polling_interval_s, 15);
  EXPECT_EQ(so->cooldown_period_s, 300);
  EXPECT_EQ(so->min_replica_count, 0);
  EXPECT_EQ(so->max_replica_count, 20);
  EXPECT_EQ(so->threshold, 2);
  EXPECT_EQ(so->activation_threshold, 0);
  EXPECT_EQ(so->scale_down.stabilization_window_s, 300);
  ASSERT_EQ(so->scale_up.policies.size(), 2u);  // defaulted: 100% or 4 pods per 15 s
  EXPECT_EQ(so->scale_up.policies[1].value, 4);
}

TEST(Manifests, StandInHpa) {
  auto hpa = read_hpa(AUTOSCALE_TESTDATA "/worker-hpa.yaml");
  ASSERT_TRUE(hpa) << hpa.error();
  EXPECT_EQ(hpa->min_replicas, 1);
  EXPECT_EQ(hpa->max_replicas, 20);
  EXPECT_EQ(hpa->target_average_value, 2);
  EXPECT_EQ(hpa->scale_down.stabilization_window_s, 300);
}

TEST(Manifests, DefaultsAndPoliciesAndSeveralDocuments) {
  const char* yaml = R"(apiVersion: v1
kind: ConfigMap
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
spec:
  triggers:
    - type: prometheus
      metadata: {threshold: "4.5"}
  advanced:
    horizontalPodAutoscalerConfig:
      behavior:
        scaleUp:
          selectPolicy: Min
          policies:
            - {type: Pods, value: 2, periodSeconds: 60}
)";
  auto so = parse_scaled_object(yaml, "all.yaml");
  ASSERT_TRUE(so) << so.error();
  EXPECT_EQ(so->polling_interval_s, 30);
  EXPECT_EQ(so->cooldown_period_s, 300);
  EXPECT_EQ(so->max_replica_count, 100);
  EXPECT_EQ(so->threshold, 4.5);
  EXPECT_EQ(so->scale_up.select, ScalingRules::Select::kMin);
  ASSERT_EQ(so->scale_up.policies.size(), 1u);
  EXPECT_EQ(so->scale_up.policies[0].period_s, 60);
  EXPECT_EQ(so->scale_down.stabilization_window_s, 300);
}

TEST(Manifests, ErrorsNameLineAndField) {
  auto bad = parse_scaled_object("kind: ScaledObject\nspec:\n  triggers:\n  - metadata:\n      threshold: abc\n",
                                 "so.yaml");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), "so.yaml:5:18: spec.triggers[0].metadata.threshold: must be a number > 0, got 'abc'");
  auto missing = parse_scaled_object("kind: ScaledObject\nspec:\n  triggers:\n  - metadata: {}\n", "so.yaml");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().find("spec.triggers[0].metadata.threshold: is required"), std::string::npos)
      << missing.error();
  auto value_type = parse_scaled_object(
      "kind: ScaledObject\nspec:\n  triggers:\n  - metricType: Value\n    metadata: {threshold: '2'}\n", "so.yaml");
  ASSERT_FALSE(value_type);
  EXPECT_NE(value_type.error().find("only AverageValue"), std::string::npos) << value_type.error();
  auto no_kind = parse_hpa("kind: ScaledObject\n", "x.yaml");
  ASSERT_FALSE(no_kind);
  EXPECT_EQ(no_kind.error(), "x.yaml: no document of kind HorizontalPodAutoscaler");
  auto no_max = parse_hpa("kind: HorizontalPodAutoscaler\nspec:\n  minReplicas: 1\n", "h.yaml");
  ASSERT_FALSE(no_max);
  EXPECT_NE(no_max.error().find("spec.maxReplicas: is required"), std::string::npos) << no_max.error();
  auto policy = parse_hpa(R"(kind: HorizontalPodAutoscaler
spec:
  maxReplicas: 4
  metrics:
  - type: External
    external: {target: {type: AverageValue, averageValue: "2"}}
  behavior:
    scaleDown:
      policies: [{type: Pod, value: 1, periodSeconds: 60}]
)",
                          "h.yaml");
  ASSERT_FALSE(policy);
  EXPECT_NE(policy.error().find("h.yaml:9:"), std::string::npos) << policy.error();
  EXPECT_NE(policy.error().find("spec.behavior.scaleDown.policies[0].type: must be Pods or Percent, got 'Pod'"),
            std::string::npos)
      << policy.error();
}

TEST(Manifests, Quantities) {
  EXPECT_EQ(*parse_quantity("2"), 2);
  EXPECT_EQ(*parse_quantity("500m"), 0.5);
  EXPECT_EQ(*parse_quantity("1.5k"), 1500);
  EXPECT_FALSE(parse_quantity("two"));
  EXPECT_FALSE(parse_quantity("-1"));
  EXPECT_FALSE(parse_quantity(""));
  EXPECT_FALSE(parse_quantity("2Mi"));
}

}  // namespace
}  // namespace synthfarm::autoscale
