// Scalar typing of YAML values for the spec parser (YAML 1.2 core schema, which yaml-cpp
// leaves to the reader), numbers read from scalars, and descriptions of what the user wrote.
#include "jobs/spec/internal/yaml_scalars.h"

#include "jobs/spec/internal/text.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include <yaml-cpp/yaml.h>

namespace synthfarm::jobs::spec_internal {

bool is_quoted(const YAML::Node& node) {
  return node.Tag() == "!" || node.Tag() == "tag:yaml.org,2002:str";
}

namespace {

bool is_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string_view strip_sign(std::string_view s) {
  return (!s.empty() && (s[0] == '-' || s[0] == '+')) ? s.substr(1) : s;
}

bool is_integer_text(std::string_view s) { return is_digits(strip_sign(s)); }

// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
bool is_float_text(std::string_view s) {
  s = strip_sign(s);
  size_t e = s.find_first_of("eE");
  std::string_view mantissa = s.substr(0, e);
  if (e != std::string_view::npos) {
    if (!is_integer_text(s.substr(e + 1))) return false;
  }
  size_t dot = mantissa.find('.');
  if (dot == std::string_view::npos) return is_digits(mantissa);
  std::string_view whole = mantissa.substr(0, dot), fraction = mantissa.substr(dot + 1);
  if (whole.empty()) return is_digits(fraction);
  return is_digits(whole) && (fraction.empty() || is_digits(fraction));
}

bool is_non_finite_text(std::string_view s) {
  std::string t;
  for (char c : strip_sign(s)) t += lower(c);
  return t == ".inf" || t == ".nan" || t == "inf" || t == "nan" || t == "infinity";
}

}  // namespace

ScalarKind classify(const YAML::Node& node) {
  if (node.IsNull()) return ScalarKind::kNull;
  const std::string& s = node.Scalar();
  if (is_quoted(node)) return ScalarKind::kString;
  if (s == "true" || s == "True" || s == "TRUE" || s == "false" || s == "False" || s == "FALSE") {
    return ScalarKind::kBool;
  }
  if (is_integer_text(s)) return ScalarKind::kInteger;
  if (is_float_text(s)) return ScalarKind::kFloat;
  if (is_non_finite_text(s)) return ScalarKind::kNonFinite;
  return ScalarKind::kString;
}

// What the user wrote, for "got ..." in messages.
std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      return "null";
    case YAML::NodeType::Sequence:
      return node.size() == 1 ? "a list of 1 item"
                              : "a list of " + std::to_string(node.size()) + " items";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Scalar:
      break;
  }
  std::string text = node.Scalar();
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  switch (classify(node)) {
    case ScalarKind::kBool:
      return "the boolean " + text;
    case ScalarKind::kInteger:
    case ScalarKind::kFloat:
    case ScalarKind::kNonFinite:
      return text;
    default:
      return "\"" + text + "\"";
  }
}

// A finite number, or nothing. Integers beyond 2^53 lose precision like any double.
std::optional<double> to_number(const YAML::Node& node) {
  if (!node.IsScalar()) return std::nullopt;
  ScalarKind kind = classify(node);
  if (kind != ScalarKind::kInteger && kind != ScalarKind::kFloat) return std::nullopt;
  std::string_view s = node.Scalar();
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  double value = 0;
  auto result = std::from_chars(s.data(), s.data() + s.size(), value);
  if (result.ec != std::errc() || result.ptr != s.data() + s.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

bool is_whole(double value) { return std::isfinite(value) && value == std::floor(value); }

}  // namespace synthfarm::jobs::spec_internal
