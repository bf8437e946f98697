// What sets the worker Deployment's replica count in bench/autoscale_sim: a KEDA
// ScaledObject (the KEDA operator plus the HPA it creates), a plain HPA, or a fixed count.
// The farm simulator (farm.h) asks each when it acts next and then what it sets; all of
// them see the metric the farm exports, pending + leased shards, as Prometheus last
// scraped it.
//
// KEDA, as documented (keda.sh/docs/latest/reference/scaledobject-spec/ and
// keda.sh/docs/latest/concepts/scaling-deployments/; the code is
// pkg/scaling/executor/scale_scaledobjects.go):
//   - Every pollingInterval (default 30 s) the operator checks the trigger; it is active
//     while the metric > activationThreshold (default 0). Active with 0 replicas: the
//     operator scales to max(minReplicaCount, 1) ("activation"). Inactive with replicas
//     > 0 and minReplicaCount 0, and the last active check more than cooldownPeriod
//     (default 300 s) ago: it scales to 0 ("deactivation").
//   - From 1 to maxReplicaCount (default 100) the HPA that KEDA creates does the scaling:
//     minReplicas = max(minReplicaCount, 1), maxReplicas = maxReplicaCount, one External
//     metric with target AverageValue = the trigger's threshold, and the behavior of
//     spec.advanced.horizontalPodAutoscalerConfig (hpa.h for its arithmetic). The HPA
//     controller syncs every 15 s (--horizontal-pod-autoscaler-sync-period).
//   When a KEDA poll and an HPA sync fall on the same second, the poll goes first.
//
// Not thread-safe: each object belongs to one simulation.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "bench/autoscale/hpa.h"

namespace synthfarm::autoscale {

// The fields of a KEDA ScaledObject the simulation uses, defaults filled in.
struct ScaledObjectSpec {
  int polling_interval_s = 30;
  int cooldown_period_s = 300;
  int min_replica_count = 0;
  int max_replica_count = 100;
  double threshold = 1;             // triggers[0].metadata.threshold (AverageValue per pod)
  double activation_threshold = 0;  // triggers[0].metadata.activationThreshold
  ScalingRules scale_up = ScalingRules::default_scale_up();
  ScalingRules scale_down = ScalingRules::default_scale_down();

  // The HPA that KEDA creates for this ScaledObject.
  HpaSpec hpa() const;
};

class Autoscaler {
 public:
  virtual ~Autoscaler() = default;

  virtual std::string describe() const = 0;
  // Ready replicas at the start of the day (pods left running from the day before).
  virtual int initial_replicas() const = 0;
  // The count it settles at with no work: the simulated day ends once it is back there.
  virtual int idle_replicas() const = 0;
  // The first time strictly after `after_ms` at which it acts (INT64_MAX: never).
  virtual int64_t next_action_ms(int64_t after_ms) const = 0;
  // Acts at `now_ms`, one of the times next_action_ms() gave, with the Deployment at
  // `current` replicas and the metric at `metric`: returns the count it sets.
  virtual int act(int64_t now_ms, int current, double metric) = 0;
};

// A fixed-size farm: `replicas` workers all day, nothing scales.
std::unique_ptr<Autoscaler> make_fixed(int replicas);
// A plain HPA (autoscaling/v2) synced every `sync_s` seconds.
std::unique_ptr<Autoscaler> make_hpa(const HpaSpec& spec, int sync_s = 15);

// KEDA: the operator's activation and deactivation around the HPA it creates.
class KedaAutoscaler : public Autoscaler {
 public:
  explicit KedaAutoscaler(const ScaledObjectSpec& spec, int hpa_sync_s = 15)
      : spec_(spec), hpa_(spec.hpa()), hpa_sync_s_(hpa_sync_s) {}

  std::string describe() const override;
  int initial_replicas() const override { return spec_.min_replica_count; }
  int idle_replicas() const override { return spec_.min_replica_count; }
  int64_t next_action_ms(int64_t after_ms) const override;
  int act(int64_t now_ms, int current, double metric) override;

  // The operator's check alone (one pollingInterval): the count it sets.
  int poll(int64_t now_ms, int current, double metric);

 private:
  ScaledObjectSpec spec_;
  HpaController hpa_;
  int hpa_sync_s_;
  int64_t last_active_ms_ = -1;  // -1: never active (status.lastActiveTime unset)
};

}  // namespace synthfarm::autoscale
