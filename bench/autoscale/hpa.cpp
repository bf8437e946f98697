#include "bench/autoscale/hpa.h"

#include <algorithm>
#include <climits>
#include <cmath>

namespace synthfarm::autoscale {

ScalingRules ScalingRules::default_scale_up() {
  ScalingRules rules;
  rules.stabilization_window_s = 0;
  rules.policies = {{ScalingPolicy::Type::kPercent, 100, 15}, {ScalingPolicy::Type::kPods, 4, 15}};
  return rules;
}

ScalingRules ScalingRules::default_scale_down() {
  ScalingRules rules;
  rules.stabilization_window_s = 300;
  rules.policies = {{ScalingPolicy::Type::kPercent, 100, 15}};
  return rules;
}

int replicas_for_average_value(double metric, double target_per_pod, int current, double tolerance) {
  const int proposal = static_cast<int>(std::ceil(metric / target_per_pod));
  if (current == 0) return proposal;
  const double usage_ratio = metric / (target_per_pod * current);
  return std::abs(1.0 - usage_ratio) > tolerance ? proposal : current;
}

namespace {

// Replicas changed by the events of the last `period_s` (getReplicasChangePerPeriod: an
// event counts while its time is strictly after now - period).
int change_in_period(const std::vector<ScaleEvent>& events, int period_s, int64_t now_ms) {
  const int64_t cutoff = now_ms - int64_t{period_s} * 1000;
  int replicas = 0;
  for (const ScaleEvent& e : events) {
    if (e.t_ms > cutoff) replicas += e.replicas;
  }
  return replicas;
}

}  // namespace

int scale_up_limit(int current, const std::vector<ScaleEvent>& up, const std::vector<ScaleEvent>& down,
                   const ScalingRules& rules, int64_t now_ms) {
  if (rules.select == ScalingRules::Select::kDisabled) return current;
  const bool take_min = rules.select == ScalingRules::Select::kMin;
  int result = take_min ? INT_MAX : INT_MIN;
  for (const ScalingPolicy& p : rules.policies) {
    const int start = current - change_in_period(up, p.period_s, now_ms) + change_in_period(down, p.period_s, now_ms);
    // Rounded up so that a percentage of a small count still adds a pod.
    const int proposed = p.type == ScalingPolicy::Type::kPods
                             ? start + p.value
                             : static_cast<int>(std::ceil(start * (1.0 + p.value / 100.0)));
    result = take_min ? std::min(result, proposed) : std::max(result, proposed);
  }
  return result;
}

int scale_down_limit(int current, const std::vector<ScaleEvent>& up, const std::vector<ScaleEvent>& down,
                     const ScalingRules& rules, int64_t now_ms) {
  if (rules.select == ScalingRules::Select::kDisabled) return current;
  // For scaling down the smallest change is the largest count, so Min takes the max.
  const bool take_max = rules.select == ScalingRules::Select::kMin;
  int result = take_max ? INT_MIN : INT_MAX;
  for (const ScalingPolicy& p : rules.policies) {
    const int start = current - change_in_period(up, p.period_s, now_ms) + change_in_period(down, p.period_s, now_ms);
    const int proposed = p.type == ScalingPolicy::Type::kPods
                             ? start - p.value
                             : static_cast<int>(start * (1.0 - p.value / 100.0));  // truncates, as Go's int32()
    result = take_max ? std::max(result, proposed) : std::min(result, proposed);
  }
  return result;
}

int HpaController::stabilize(int64_t now_ms, int current, int desired) {
  const int64_t up_cutoff = now_ms - int64_t{spec_.scale_up.stabilization_window_s} * 1000;
  const int64_t down_cutoff = now_ms - int64_t{spec_.scale_down.stabilization_window_s} * 1000;
  int up_recommendation = desired;
  int down_recommendation = desired;
  for (const Recommendation& r : recommendations_) {
    if (r.t_ms > up_cutoff) up_recommendation = std::min(up_recommendation, r.replicas);
    if (r.t_ms > down_cutoff) down_recommendation = std::max(down_recommendation, r.replicas);
  }
  // The controller reuses the slot of a sample older than both windows; dropping them is the same.
  std::erase_if(recommendations_,
                [&](const Recommendation& r) { return r.t_ms < up_cutoff && r.t_ms < down_cutoff; });
  recommendations_.push_back({now_ms, desired});
  return std::min(std::max(current, up_recommendation), down_recommendation);
}

int HpaController::limit_rate(int64_t now_ms, int current, int desired) const {
  if (desired > current) {
    const int limit = std::max(scale_up_limit(current, up_events_, down_events_, spec_.scale_up, now_ms), current);
    return std::min(desired, std::min(spec_.max_replicas, limit));
  }
  if (desired < current) {
    const int limit =
        std::min(scale_down_limit(current, up_events_, down_events_, spec_.scale_down, now_ms), current);
    return std::max(desired, std::max(spec_.min_replicas, limit));
  }
  return desired;
}

int HpaController::sync(int64_t now_ms, int current, double metric) {
  int desired;
  if (current == 0 && spec_.min_replicas != 0) {
    return 0;  // "ScalingDisabled": something else (KEDA) brings the target up from zero
  } else if (current > spec_.max_replicas) {
    desired = spec_.max_replicas;
  } else if (current < spec_.min_replicas) {
    desired = spec_.min_replicas;
  } else {
    const int proposal = replicas_for_average_value(metric, spec_.target_average_value, current, spec_.tolerance);
    desired = limit_rate(now_ms, current, stabilize(now_ms, current, proposal));
  }
  if (desired != current) {
    // storeScaleEvent; events older than every policy period are never read again.
    auto& events = desired > current ? up_events_ : down_events_;
    const ScalingRules& rules = desired > current ? spec_.scale_up : spec_.scale_down;
    int longest_s = 0;
    for (const ScalingPolicy& p : rules.policies) longest_s = std::max(longest_s, p.period_s);
    std::erase_if(events, [&](const ScaleEvent& e) { return e.t_ms < now_ms - int64_t{longest_s} * 1000; });
    events.push_back({now_ms, std::abs(desired - current)});
  }
  return desired;
}

}  // namespace synthfarm::autoscale
