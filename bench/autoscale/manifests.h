// Reads the worker autoscaling manifests for bench/autoscale_sim: a KEDA ScaledObject and an
// autoscaling/v2 HorizontalPodAutoscaler, the fields the simulation uses, with the API's
// defaults for the ones left out. A file may hold several YAML documents (the output of
// `kubectl kustomize ops/k8s/overlays/prod`, say): the first of the right kind is read.
// An overlay's patch file is read as it stands, so it must carry the fields that matter.
//
// Errors name the file, line, column and field path:
//   "worker-scaledobject.yaml:14:20: spec.triggers[0].metadata.threshold: must be a number > 0, got 'abc'"
// Fields the simulation cannot model (a metric target other than AverageValue, several
// metrics) are errors rather than silently ignored.
#pragma once

#include <string>
#include <string_view>

#include <tl/expected.hpp>

#include "bench/autoscale/autoscaler.h"
#include "bench/autoscale/hpa.h"

namespace synthfarm::autoscale {

tl::expected<ScaledObjectSpec, std::string> parse_scaled_object(std::string_view yaml, std::string_view source);
tl::expected<HpaSpec, std::string> parse_hpa(std::string_view yaml, std::string_view source);

// The same, from a file.
tl::expected<ScaledObjectSpec, std::string> read_scaled_object(const std::string& path);
tl::expected<HpaSpec, std::string> read_hpa(const std::string& path);

// A Kubernetes quantity as a number: "4", "2.5", "500m", "2k"; nullopt-like error otherwise.
tl::expected<double, std::string> parse_quantity(std::string_view text);

}  // namespace synthfarm::autoscale
