#include "bench/autoscale/manifests.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace synthfarm::autoscale {

namespace {

// A problem in the file; caught in this file and returned as the error string.
struct FieldError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A node with its field path, for error messages. An absent field's errors point at the
// nearest enclosing field that is there.
struct Field {
  YAML::Node node;
  std::string path;
  std::string_view source;
  YAML::Mark mark = YAML::Mark::null_mark();

  bool present() const { return node.IsDefined() && !node.IsNull(); }

  Field operator[](const std::string& key) const {
    if (present() && !node.IsMap()) fail("must be a mapping");
    const YAML::Node child = present() ? YAML::Node(node[key]) : YAML::Node();
    return {child, path.empty() ? key : path + "." + key, source, child.IsDefined() ? child.Mark() : mark};
  }
  Field operator[](size_t i) const {
    if (!node.IsSequence()) fail("must be a list");
    const YAML::Node child = node[i];
    return {child, fmt::format("{}[{}]", path, i), source, child.IsDefined() ? child.Mark() : mark};
  }

  [[noreturn]] void fail(const std::string& message) const {
    if (mark.is_null()) throw FieldError(fmt::format("{}: {}: {}", source, path, message));
    throw FieldError(fmt::format("{}:{}:{}: {}: {}", source, mark.line + 1, mark.column + 1, path, message));
  }

  std::string scalar() const {
    if (!node.IsScalar()) fail("must be a scalar");
    return node.Scalar();
  }

  int integer(int fallback, int min, int max) const {
    if (!present()) return fallback;
    const std::string text = scalar();
    size_t used = 0;
    long value = 0;
    try {
      value = std::stol(text, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != text.size() || value < min || value > max) {
      fail(fmt::format("must be an integer from {} to {}, got '{}'", min, max, text));
    }
    return static_cast<int>(value);
  }

  // KEDA parses trigger metadata numbers with strconv.ParseFloat.
  double number(double fallback, bool positive) const {
    if (!present()) return fallback;
    const std::string text = scalar();
    size_t used = 0;
    double value = 0;
    try {
      value = std::stod(text, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != text.size() || !std::isfinite(value) || value < 0 || (positive && value == 0)) {
      fail(fmt::format("must be a number {} 0, got '{}'", positive ? ">" : ">=", text));
    }
    return value;
  }

  double quantity() const {
    if (!present()) fail("is required");
    auto q = parse_quantity(scalar());
    if (!q || *q <= 0) fail(fmt::format("must be a quantity > 0 (\"2\", \"1500m\"), got '{}'", scalar()));
    return *q;
  }
};

ScalingRules read_rules(const Field& f, ScalingRules rules) {
  if (!f.present()) return rules;
  rules.stabilization_window_s = f["stabilizationWindowSeconds"].integer(rules.stabilization_window_s, 0, 3600);
  const Field select = f["selectPolicy"];
  if (select.present()) {
    const std::string s = select.scalar();
    if (s == "Max") {
      rules.select = ScalingRules::Select::kMax;
    } else if (s == "Min") {
      rules.select = ScalingRules::Select::kMin;
    } else if (s == "Disabled") {
      rules.select = ScalingRules::Select::kDisabled;
    } else {
      select.fail(fmt::format("must be Max, Min or Disabled, got '{}'", s));
    }
  }
  const Field policies = f["policies"];
  if (!policies.present()) return rules;  // the API server's defaulting fills them in
  if (!policies.node.IsSequence() || policies.node.size() == 0) policies.fail("must be a non-empty list");
  rules.policies.clear();
  for (size_t i = 0; i < policies.node.size(); ++i) {
    const Field p = policies[i];
    ScalingPolicy policy;
    const std::string type = p["type"].present() ? p["type"].scalar() : "";
    if (type == "Pods") {
      policy.type = ScalingPolicy::Type::kPods;
    } else if (type == "Percent") {
      policy.type = ScalingPolicy::Type::kPercent;
    } else {
      p["type"].fail(fmt::format("must be Pods or Percent, got '{}'", type));
    }
    if (!p["value"].present()) p["value"].fail("is required");
    policy.value = p["value"].integer(0, 1, 1000000);
    if (!p["periodSeconds"].present()) p["periodSeconds"].fail("is required");
    policy.period_s = p["periodSeconds"].integer(0, 1, 1800);
    rules.policies.push_back(policy);
  }
  return rules;
}

// The first document of `kind` in `yaml`.
Field find_kind(std::string_view yaml, std::string_view source, const std::string& kind) {
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(std::string(yaml));
  } catch (const YAML::Exception& e) {
    throw FieldError(fmt::format("{}:{}:{}: {}", source, e.mark.line + 1, e.mark.column + 1, e.msg));
  }
  for (const YAML::Node& doc : docs) {
    if (doc.IsMap() && doc["kind"] && doc["kind"].IsScalar() && doc["kind"].Scalar() == kind) {
      return Field{doc, "", source, doc.Mark()};
    }
  }
  throw FieldError(fmt::format("{}: no document of kind {}", source, kind));
}

ScaledObjectSpec scaled_object_from(const Field& doc) {
  ScaledObjectSpec so;
  const Field spec = doc["spec"];
  if (!spec.present()) spec.fail("is required");
  so.polling_interval_s = spec["pollingInterval"].integer(30, 1, 86400);
  so.cooldown_period_s = spec["cooldownPeriod"].integer(300, 0, 86400);
  so.min_replica_count = spec["minReplicaCount"].integer(0, 0, 100000);
  so.max_replica_count = spec["maxReplicaCount"].integer(100, 1, 100000);
  if (so.max_replica_count < so.min_replica_count) spec["maxReplicaCount"].fail("must be >= minReplicaCount");
  const Field triggers = spec["triggers"];
  if (!triggers.present() || !triggers.node.IsSequence() || triggers.node.size() == 0) {
    triggers.fail("must be a non-empty list");
  }
  if (triggers.node.size() > 1) triggers.fail("has several triggers; the simulation models one metric");
  const Field trigger = triggers[0];
  const Field metric_type = trigger["metricType"];
  if (metric_type.present() && metric_type.scalar() != "AverageValue") {
    metric_type.fail(fmt::format("only AverageValue is simulated, got '{}'", metric_type.scalar()));
  }
  const Field metadata = trigger["metadata"];
  if (!metadata["threshold"].present()) metadata["threshold"].fail("is required");
  so.threshold = metadata["threshold"].number(0, true);
  so.activation_threshold = metadata["activationThreshold"].number(0, false);
  const Field behavior = spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"];
  so.scale_up = read_rules(behavior["scaleUp"], ScalingRules::default_scale_up());
  so.scale_down = read_rules(behavior["scaleDown"], ScalingRules::default_scale_down());
  return so;
}

HpaSpec hpa_from(const Field& doc) {
  HpaSpec hpa;
  const Field spec = doc["spec"];
  if (!spec.present()) spec.fail("is required");
  // minReplicas 0 needs the HPAScaleToZero feature gate; the API refuses it otherwise.
  hpa.min_replicas = spec["minReplicas"].integer(1, 0, 100000);
  if (!spec["maxReplicas"].present()) spec["maxReplicas"].fail("is required");
  hpa.max_replicas = spec["maxReplicas"].integer(0, 1, 100000);
  if (hpa.max_replicas < hpa.min_replicas) spec["maxReplicas"].fail("must be >= minReplicas");
  const Field metrics = spec["metrics"];
  if (!metrics.present() || !metrics.node.IsSequence() || metrics.node.size() == 0) {
    metrics.fail("must be a non-empty list");
  }
  if (metrics.node.size() > 1) metrics.fail("has several metrics; the simulation models one");
  const Field metric = metrics[0];
  const std::string type = metric["type"].present() ? metric["type"].scalar() : "";
  if (type != "External" && type != "Object") {
    metric["type"].fail(fmt::format("must be External or Object (a queue-length metric), got '{}'", type));
  }
  const Field target = metric[type == "External" ? "external" : "object"]["target"];
  if (!target["type"].present() || target["type"].scalar() != "AverageValue") {
    target["type"].fail("only AverageValue targets are simulated");
  }
  hpa.target_average_value = target["averageValue"].quantity();
  hpa.scale_up = read_rules(spec["behavior"]["scaleUp"], ScalingRules::default_scale_up());
  hpa.scale_down = read_rules(spec["behavior"]["scaleDown"], ScalingRules::default_scale_down());
  return hpa;
}

tl::expected<std::string, std::string> read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return tl::unexpected(fmt::format("{}: cannot read the file", path));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

tl::expected<double, std::string> parse_quantity(std::string_view text) {
  std::string s(text);
  double scale = 1;
  if (!s.empty()) {
    switch (s.back()) {
      case 'm': scale = 1e-3; break;
      case 'k': scale = 1e3; break;
      case 'M': scale = 1e6; break;
      case 'G': scale = 1e9; break;
      default: break;
    }
    if (scale != 1) s.pop_back();
  }
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(s, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (s.empty() || used != s.size() || !std::isfinite(value) || !(s[0] >= '0' && s[0] <= '9')) {
    return tl::unexpected(fmt::format("not a quantity: '{}'", text));
  }
  return value * scale;
}

tl::expected<ScaledObjectSpec, std::string> parse_scaled_object(std::string_view yaml, std::string_view source) {
  try {
    return scaled_object_from(find_kind(yaml, source, "ScaledObject"));
  } catch (const FieldError& e) {
    return tl::unexpected(std::string(e.what()));
  }
}

tl::expected<HpaSpec, std::string> parse_hpa(std::string_view yaml, std::string_view source) {
  try {
    return hpa_from(find_kind(yaml, source, "HorizontalPodAutoscaler"));
  } catch (const FieldError& e) {
    return tl::unexpected(std::string(e.what()));
  }
}

tl::expected<ScaledObjectSpec, std::string> read_scaled_object(const std::string& path) {
  return read_text(path).and_then([&](const std::string& text) { return parse_scaled_object(text, path); });
}

tl::expected<HpaSpec, std::string> read_hpa(const std::string& path) {
  return read_text(path).and_then([&](const std::string& text) { return parse_hpa(text, path); });
}

}  // namespace synthfarm::autoscale
