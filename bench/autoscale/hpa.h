// The Kubernetes HorizontalPodAutoscaler's replica arithmetic (autoscaling/v2), as the
// controller in kube-controller-manager applies it at every sync, for one HPA whose only
// metric is an External (or Pods/Object) metric with an AverageValue target. Used by
// bench/autoscale_sim to replay a day of jobs; it is a model of the controller, not a
// client of it, and it must not grow anything the real controller does not do.
//
// What is implemented, with the documentation it follows
// (kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/, "Algorithm details"
// and "Configurable scaling behavior"; the code is pkg/controller/podautoscaler/
// horizontal.go and replica_calculator.go):
//   - desiredReplicas = ceil(currentReplicas * currentMetricValue / desiredMetricValue).
//     For an AverageValue target the metric is the total over the target, so this is
//     ceil(metric / averageValue): GetExternalPerPodMetricReplicas. Nothing changes while
//     |1 - metric / (averageValue * currentReplicas)| <= tolerance (0.1, the controller's
//     --horizontal-pod-autoscaler-tolerance).
//   - currentReplicas == 0 with minReplicas > 0: scaling is disabled (KEDA activates from 0).
//     currentReplicas > maxReplicas or < minReplicas: the controller sets the bound.
//   - Stabilization: every sync records its unstabilized recommendation; the applied value is
//     the current count raised to the lowest recommendation of the scale-up window and
//     lowered to the highest of the scale-down window (windows 0 s and 300 s by default).
//   - Rate limits: each policy allows, over its periodSeconds, periodStartReplicas + value
//     (Pods) or ceil(periodStartReplicas * (1 + value/100)) (Percent) when scaling up, and
//     periodStartReplicas - value or floor(periodStartReplicas * (1 - value/100)) when
//     scaling down, where periodStartReplicas = current - added + removed within the period;
//     selectPolicy Max takes the largest change, Min the smallest, Disabled none. Defaults:
//     scale up {Percent 100, Pods 4} per 15 s with Max; scale down {Percent 100} per 15 s.
//   - Only the controller's own changes count as scale events (not KEDA's 0 <-> 1).
//
// Times are milliseconds on the simulation's clock. Not thread-safe: one per simulated HPA.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

namespace synthfarm::autoscale {

struct ScalingPolicy {
  enum class Type { kPods, kPercent };
  Type type = Type::kPods;
  int value = 0;
  int period_s = 15;
};

// One direction of spec.behavior (scaleUp or scaleDown), defaults filled in.
struct ScalingRules {
  enum class Select { kMax, kMin, kDisabled };
  int stabilization_window_s = 0;
  Select select = Select::kMax;
  std::vector<ScalingPolicy> policies;

  static ScalingRules default_scale_up();    // window 0 s; {Percent 100, Pods 4} per 15 s; Max
  static ScalingRules default_scale_down();  // window 300 s; {Percent 100} per 15 s; Max
};

struct HpaSpec {
  int min_replicas = 1;
  int max_replicas = 1;
  double target_average_value = 1;  // metric units per pod (here: shards per worker)
  double tolerance = 0.1;
  ScalingRules scale_up = ScalingRules::default_scale_up();
  ScalingRules scale_down = ScalingRules::default_scale_down();
};

// A replica change the controller made, for the rate limits.
struct ScaleEvent {
  int64_t t_ms = 0;
  int replicas = 0;  // how many were added (scale-up list) or removed (scale-down list)
};

// ceil(metric / target) unless the usage ratio is within the tolerance of 1, then
// current (GetExternalPerPodMetricReplicas). With current == 0 the ratio is infinite.
int replicas_for_average_value(double metric, double target_per_pod, int current, double tolerance);

// The most replicas `rules` allow now, from `current` and the controller's recent events
// (calculateScaleUpLimitWithScalingRules).
int scale_up_limit(int current, const std::vector<ScaleEvent>& up, const std::vector<ScaleEvent>& down,
                   const ScalingRules& rules, int64_t now_ms);
// The fewest replicas `rules` allow now (calculateScaleDownLimitWithBehaviors).
int scale_down_limit(int current, const std::vector<ScaleEvent>& up, const std::vector<ScaleEvent>& down,
                     const ScalingRules& rules, int64_t now_ms);

class HpaController {
 public:
  explicit HpaController(HpaSpec spec) : spec_(std::move(spec)) {}

  const HpaSpec& spec() const { return spec_; }

  // One sync at `now_ms` with the scale target at `current` replicas and the metric's total
  // `metric`: returns the replica count the controller sets (== current for no change).
  int sync(int64_t now_ms, int current, double metric);

 private:
  struct Recommendation {
    int64_t t_ms = 0;
    int replicas = 0;
  };
  // Stabilized recommendation (stabilizeRecommendationWithBehaviors); records `desired`.
  int stabilize(int64_t now_ms, int current, int desired);
  // Clamped to the rate limits and to [min, max] (convertDesiredReplicasWithBehaviorRate).
  int limit_rate(int64_t now_ms, int current, int desired) const;

  HpaSpec spec_;
  std::vector<Recommendation> recommendations_;
  std::vector<ScaleEvent> up_events_;
  std::vector<ScaleEvent> down_events_;
};

}  // namespace synthfarm::autoscale
