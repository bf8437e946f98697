#include "bench/autoscale/autoscaler.h"

#include <fmt/format.h>

#include <algorithm>
#include <climits>

namespace synthfarm::autoscale {

namespace {

// The first multiple of `period_ms` strictly after `after_ms` (0 counts as a multiple).
int64_t next_multiple(int64_t after_ms, int64_t period_ms) {
  if (after_ms < 0) return 0;
  return (after_ms / period_ms + 1) * period_ms;
}

std::string describe_rules(const ScalingRules& r) {
  std::string out = fmt::format("window {} s", r.stabilization_window_s);
  if (r.select == ScalingRules::Select::kDisabled) return out + ", disabled";
  for (const ScalingPolicy& p : r.policies) {
    out += fmt::format(", {} per {} s",
                       p.type == ScalingPolicy::Type::kPods ? fmt::format("{} pods", p.value)
                                                            : fmt::format("{}%", p.value),
                       p.period_s);
  }
  if (r.policies.size() > 1) out += r.select == ScalingRules::Select::kMin ? " (Min)" : " (Max)";
  return out;
}

class FixedAutoscaler : public Autoscaler {
 public:
  explicit FixedAutoscaler(int replicas) : replicas_(replicas) {}
  std::string describe() const override { return fmt::format("fixed: {} workers all day", replicas_); }
  int initial_replicas() const override { return replicas_; }
  int idle_replicas() const override { return replicas_; }
  int64_t next_action_ms(int64_t) const override { return INT64_MAX; }
  int act(int64_t, int current, double) override { return current; }

 private:
  int replicas_;
};

class HpaAutoscaler : public Autoscaler {
 public:
  HpaAutoscaler(const HpaSpec& spec, int sync_s) : hpa_(spec), sync_s_(sync_s) {}
  std::string describe() const override {
    const HpaSpec& s = hpa_.spec();
    return fmt::format(
        "HPA: minReplicas {}, maxReplicas {}, averageValue {} shards/worker, tolerance {}, sync every {} s; "
        "scaleUp: {}; scaleDown: {}",
        s.min_replicas, s.max_replicas, s.target_average_value, s.tolerance, sync_s_, describe_rules(s.scale_up),
        describe_rules(s.scale_down));
  }
  int initial_replicas() const override { return hpa_.spec().min_replicas; }
  int idle_replicas() const override { return hpa_.spec().min_replicas; }
  int64_t next_action_ms(int64_t after_ms) const override { return next_multiple(after_ms, sync_s_ * 1000LL); }
  int act(int64_t now_ms, int current, double metric) override { return hpa_.sync(now_ms, current, metric); }

 private:
  HpaController hpa_;
  int sync_s_;
};

}  // namespace

HpaSpec ScaledObjectSpec::hpa() const {
  HpaSpec h;
  h.min_replicas = std::max(min_replica_count, 1);
  h.max_replicas = max_replica_count;
  h.target_average_value = threshold;
  h.scale_up = scale_up;
  h.scale_down = scale_down;
  return h;
}

std::unique_ptr<Autoscaler> make_fixed(int replicas) { return std::make_unique<FixedAutoscaler>(replicas); }

std::unique_ptr<Autoscaler> make_hpa(const HpaSpec& spec, int sync_s) {
  return std::make_unique<HpaAutoscaler>(spec, sync_s);
}

std::string KedaAutoscaler::describe() const {
  return fmt::format(
      "KEDA: pollingInterval {} s, cooldownPeriod {} s, minReplicaCount {}, maxReplicaCount {}, threshold {} "
      "shards/worker, activationThreshold {}; its HPA syncs every {} s; scaleUp: {}; scaleDown: {}",
      spec_.polling_interval_s, spec_.cooldown_period_s, spec_.min_replica_count, spec_.max_replica_count,
      spec_.threshold, spec_.activation_threshold, hpa_sync_s_, describe_rules(spec_.scale_up),
      describe_rules(spec_.scale_down));
}

int64_t KedaAutoscaler::next_action_ms(int64_t after_ms) const {
  return std::min(next_multiple(after_ms, spec_.polling_interval_s * 1000LL),
                  next_multiple(after_ms, hpa_sync_s_ * 1000LL));
}

int KedaAutoscaler::poll(int64_t now_ms, int current, double metric) {
  if (metric > spec_.activation_threshold) {
    last_active_ms_ = now_ms;
    if (current == 0) return std::max(spec_.min_replica_count, 1);
    return current;
  }
  const bool cooled_down = last_active_ms_ < 0 || last_active_ms_ + spec_.cooldown_period_s * 1000LL < now_ms;
  if (current > 0 && spec_.min_replica_count == 0 && cooled_down) return 0;
  return current;
}

int KedaAutoscaler::act(int64_t now_ms, int current, double metric) {
  if (now_ms % (spec_.polling_interval_s * 1000LL) == 0) current = poll(now_ms, current, metric);
  if (now_ms % (hpa_sync_s_ * 1000LL) == 0) current = hpa_.sync(now_ms, current, metric);
  return current;
}

}  // namespace synthfarm::autoscale
