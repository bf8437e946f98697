// The value kinds every section of the spec is made of, for the Parser (internal/parser.h):
// mappings of known fields, strings, integers, booleans, distributions and choices; and the
// field paths and file URIs they point at.
#include "jobs/spec/internal/parser.h"

#include "jobs/spec/internal/suggestions.h"
#include "jobs/spec/internal/text.h"
#include "jobs/spec/internal/yaml_scalars.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace synthfarm::jobs::spec_internal {

std::string child_path(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

std::string item_path(const std::string& path, size_t index) {
  return path + "[" + std::to_string(index) + "]";
}

// A file:// or s3:// URI of clean text whose name ends in one of `extensions` (any case).
bool is_file_uri(const std::string& uri, std::span<const std::string_view> extensions) {
  if (!(uri.starts_with("file://") || uri.starts_with("s3://")) || !is_clean_text(uri)) return false;
  std::string lower = uri;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  return std::any_of(extensions.begin(), extensions.end(), [&](std::string_view ext) { return lower.ends_with(ext); });
}

std::optional<std::vector<std::string>> Parser::mapping(const Field& field,
                                                        std::span<const std::string_view> known,
                                                        std::span<const std::string_view> future,
                                                        const FieldHandler& handle) {
  if (!field.node.IsMap()) {
    fail(field, "must be a mapping of fields (" + join(known) + "), got " + describe(field.node));
    return std::nullopt;
  }
  std::vector<std::string> seen;
  std::map<std::string, YAML::Mark> first_seen;
  for (const auto& entry : field.node) {
    // By value: yaml-cpp's iterator hands out a temporary pair.
    YAML::Node key_node = entry.first;
    YAML::Node value = entry.second;
    if (!key_node.IsScalar()) {
      fail(key_node.Mark(), field.path,
           "field names must be plain words, got " + describe(key_node));
      continue;
    }
    std::string key = key_node.Scalar();
    std::string path = child_path(field.path, key);
    if (auto previous = first_seen.find(key); previous != first_seen.end()) {
      fail(key_node.Mark(), path,
           "duplicate field (first given on line " + std::to_string(previous->second.line + 1) +
               ")");
      continue;
    }
    first_seen.emplace(key, key_node.Mark());
    if (contains(known, key)) {
      seen.push_back(key);
      // A null value ("key:" and nothing else) is positioned by yaml-cpp at the next
      // token, possibly lines later; point at the key instead.
      handle(key, Field{value, path, value.IsNull() ? key_node.Mark() : value.Mark()});
    } else if (contains(future, key)) {
      fail(key_node.Mark(), path, "not supported in this version");
    } else {
      fail(key_node.Mark(), path, "unknown field; " + did_you_mean(key, known));
    }
  }
  return seen;
}

void Parser::require(const Field& field, const std::vector<std::string>& seen,
                     std::string_view key) {
  if (std::find(seen.begin(), seen.end(), key) == seen.end()) {
    fail(field.mark, child_path(field.path, key), "required field is missing");
  }
}

std::optional<std::string> Parser::string(const Field& field, std::string_view expected) {
  if (field.node.IsScalar()) {
    ScalarKind kind = classify(field.node);
    if (kind != ScalarKind::kBool && kind != ScalarKind::kNull) return field.node.Scalar();
  }
  fail(field, "must be " + std::string(expected) + ", got " + describe(field.node));
  return std::nullopt;
}

std::optional<int64_t> Parser::integer(const Field& field, int64_t lo, int64_t hi) {
  auto complain = [&] {
    fail(field, "must be an integer between " + std::to_string(lo) + " and " + std::to_string(hi) +
                    ", got " + describe(field.node));
    return std::nullopt;
  };
  if (!field.node.IsScalar()) return complain();
  ScalarKind kind = classify(field.node);
  int64_t value = 0;
  if (kind == ScalarKind::kInteger) {
    std::string_view s = field.node.Scalar();
    if (s[0] == '+') s.remove_prefix(1);
    auto result = std::from_chars(s.data(), s.data() + s.size(), value);
    if (result.ec != std::errc() || result.ptr != s.data() + s.size()) return complain();
  } else if (kind == ScalarKind::kFloat) {
    // 1e3 and 100.0 are whole numbers written as floats (JSON encoders do this): accepted.
    auto number = to_number(field.node);
    if (!number || !is_whole(*number) || std::fabs(*number) > 9007199254740992.0) {
      return complain();
    }
    value = static_cast<int64_t>(*number);
  } else {
    return complain();
  }
  if (value < lo || value > hi) return complain();
  return value;
}

std::optional<uint64_t> Parser::unsigned_integer(const Field& field) {
  auto complain = [&] {
    fail(field, "must be an integer between 0 and " +
                    std::to_string(std::numeric_limits<uint64_t>::max()) + ", got " +
                    describe(field.node));
    return std::nullopt;
  };
  if (!field.node.IsScalar()) return complain();
  ScalarKind kind = classify(field.node);
  if (kind == ScalarKind::kInteger) {
    std::string_view s = field.node.Scalar();
    if (s[0] == '+') s.remove_prefix(1);
    if (s[0] == '-') return complain();
    uint64_t value = 0;
    auto result = std::from_chars(s.data(), s.data() + s.size(), value);
    if (result.ec != std::errc() || result.ptr != s.data() + s.size()) return complain();
    return value;
  }
  if (kind == ScalarKind::kFloat) {
    // Only where a double is exact, so no seed is silently rounded.
    auto number = to_number(field.node);
    if (!number || !is_whole(*number) || *number < 0 || *number > 9007199254740992.0) {
      return complain();
    }
    return static_cast<uint64_t>(*number);
  }
  return complain();
}

std::optional<bool> Parser::boolean(const Field& field) {
  if (field.node.IsScalar() && classify(field.node) == ScalarKind::kBool) {
    return lower(field.node.Scalar()[0]) == 't';
  }
  fail(field, "must be true or false, got " + describe(field.node));
  return std::nullopt;
}

std::optional<std::pair<double, double>> Parser::bounds(const Field& field, const Range& range,
                                                        bool whole) {
  if (!field.node.IsSequence() || field.node.size() != 2) {
    fail(field, std::string("must be a list of two ") + (whole ? "integers" : "numbers") +
                    " [low, high], got " + describe(field.node));
    return std::nullopt;
  }
  std::array<double, 2> ends{};
  bool ok = true;
  for (size_t i = 0; i < 2; ++i) {
    Field item{field.node[i], item_path(field.path, i), field.node[i].Mark()};
    auto number = to_number(item.node);
    if (!number || (whole && !is_whole(*number))) {
      fail(item, std::string("must be ") + (whole ? "an integer" : "a number") + " between " +
                     range.text() + ", got " + describe(item.node));
      ok = false;
    } else if (*number < range.lo) {
      fail(item, "must be at least " + format_number(range.lo) + ", got " + describe(item.node));
      ok = false;
    } else if (*number > range.hi) {
      fail(item, "must be at most " + format_number(range.hi) + ", got " + describe(item.node));
      ok = false;
    } else {
      ends[i] = *number;
    }
  }
  if (!ok) return std::nullopt;
  if (ends[0] > ends[1]) {
    fail(field, "the low end must not be above the high end, got [" + format_number(ends[0]) +
                    ", " + format_number(ends[1]) + "]");
    return std::nullopt;
  }
  return std::pair(ends[0], ends[1]);
}

std::optional<std::vector<double>> Parser::weights(const Field& field, size_t count) {
  if (!field.node.IsSequence()) {
    fail(field, "must be a list of non-negative numbers, got " + describe(field.node));
    return std::nullopt;
  }
  if (field.node.size() != count) {
    fail(field, "must have one weight per choice (" + std::to_string(count) + "), got " +
                    std::to_string(field.node.size()));
    return std::nullopt;
  }
  std::vector<double> out;
  bool ok = true;
  double total = 0;
  for (size_t i = 0; i < field.node.size(); ++i) {
    Field item{field.node[i], item_path(field.path, i), field.node[i].Mark()};
    auto number = to_number(item.node);
    if (!number || *number < 0) {
      fail(item, "must be a non-negative number, got " + describe(item.node));
      ok = false;
      continue;
    }
    out.push_back(*number);
    total += *number;
  }
  if (!ok) return std::nullopt;
  if (!(total > 0) || !std::isfinite(total)) {
    fail(field, "the weights must add up to a positive finite number, got " + format_number(total));
    return std::nullopt;
  }
  return out;
}

constexpr std::array<std::string_view, 5> kDistributionKeys = {"uniform", "uniform_int", "normal",
                                                               "choice", "weights"};

std::optional<Distribution> Parser::distribution(const Field& field, const Range& range) {
  const std::string kind_text = range.integer ? "an integer" : "a number";
  if (field.node.IsScalar()) {
    auto number = to_number(field.node);
    if (!number || (range.integer && !is_whole(*number)) || !range.holds(*number)) {
      std::string hint = number ? "" : " or a distribution such as {uniform: [a, b]}";
      fail(field, "must be " + kind_text + " between " + range.text() + hint + ", got " +
                      describe(field.node));
      return std::nullopt;
    }
    return Distribution::constant(*number);
  }
  if (!field.node.IsMap()) {
    fail(field, "must be " + kind_text + " between " + range.text() +
                    " or a distribution such as {uniform: [a, b]}, got " + describe(field.node));
    return std::nullopt;
  }

  std::optional<Field> kind_field, weights_field;
  std::string kind;
  bool ok = true;
  size_t errors_before = errors_.size();
  mapping(field, kDistributionKeys, {}, [&](std::string_view key, const Field& value) {
    if (key == "weights") {
      weights_field = value;
    } else if (kind_field) {
      fail(value.mark, value.path,
           "a distribution has exactly one of uniform, uniform_int, normal, choice; '" + kind +
               "' is already given");
      ok = false;
    } else {
      kind = key;
      kind_field = value;
    }
  });
  if (!kind_field) {
    if (errors_.size() == errors_before) {  // else an unknown key already says what is wrong
      fail(field, "must be " + kind_text + " or one of " +
                      (range.integer ? "{uniform_int: [a, b]}, {choice: [...]}"
                                     : "{uniform: [a, b]}, {uniform_int: [a, b]}, "
                                       "{normal: {mean: m, std: s, clip: [lo, hi]}}, "
                                       "{choice: [...]}"));
    }
    return std::nullopt;
  }
  if (weights_field && kind != "choice") {
    fail(*weights_field, "weights are only allowed with choice");
    ok = false;
  }
  const std::string whole_hint = "this field takes whole numbers: use uniform_int or choice";

  std::optional<Distribution> result;
  if (kind == "uniform" || kind == "uniform_int") {
    bool whole = kind == "uniform_int";
    if (range.integer && !whole) {
      fail(*kind_field, whole_hint);
      return std::nullopt;
    }
    if (auto ends = bounds(*kind_field, range, whole)) {
      result = whole ? Distribution::uniform_int(ends->first, ends->second)
                     : Distribution::uniform(ends->first, ends->second);
    }
  } else if (kind == "normal") {
    if (range.integer) {
      fail(*kind_field, whole_hint);
      return std::nullopt;
    }
    result = normal(*kind_field, range);
  } else {  // choice
    const Field& list = *kind_field;
    if (!list.node.IsSequence() || list.node.size() == 0) {
      fail(list, "must be a non-empty list of " +
                     std::string(range.integer ? "integers" : "numbers") + ", got " +
                     describe(list.node));
      return std::nullopt;
    }
    Distribution d;
    d.kind = Distribution::Kind::kChoice;
    bool values_ok = true;
    for (size_t i = 0; i < list.node.size(); ++i) {
      Field item{list.node[i], item_path(list.path, i), list.node[i].Mark()};
      auto number = to_number(item.node);
      if (!number || (range.integer && !is_whole(*number)) || !range.holds(*number)) {
        fail(item,
             "must be " + kind_text + " between " + range.text() + ", got " + describe(item.node));
        values_ok = false;
      } else {
        d.values.push_back(*number);
      }
    }
    if (weights_field) {
      if (auto w = weights(*weights_field, list.node.size())) {
        d.weights = std::move(*w);
      } else {
        values_ok = false;
      }
    }
    if (values_ok) result = std::move(d);
  }
  if (!ok) return std::nullopt;
  return result;
}

std::optional<Distribution> Parser::normal(const Field& field, const Range& range) {
  std::optional<double> mean, stddev;
  std::optional<std::pair<double, double>> clip;
  bool ok = true;
  static constexpr std::array<std::string_view, 3> kKeys = {"mean", "std", "clip"};
  auto seen = mapping(field, kKeys, {}, [&](std::string_view key, const Field& value) {
    if (key == "clip") {
      clip = bounds(value, range, false);
      ok = ok && clip.has_value();
      return;
    }
    auto number = to_number(value.node);
    if (!number) {
      fail(value, "must be a number, got " + describe(value.node));
      ok = false;
    } else if (key == "std" && *number < 0) {
      fail(value, "must be at least 0, got " + describe(value.node));
      ok = false;
    } else {
      (key == "mean" ? mean : stddev) = number;
    }
  });
  if (!seen) return std::nullopt;
  require(field, *seen, "mean");
  require(field, *seen, "std");
  if (!ok || !mean || !stddev) return std::nullopt;
  if (!clip) {
    if (*stddev > 0) {
      fail(field, "needs clip: [lo, hi] within " + format_number(range.lo) + ".." +
                      format_number(range.hi) + ", since an unclipped normal can take any value");
      return std::nullopt;
    }
    if (!range.holds(*mean)) {
      fail(field.mark, child_path(field.path, "mean"),
           "must be between " + range.text() + ", got " + format_number(*mean));
      return std::nullopt;
    }
    return Distribution::normal(*mean, *stddev, -1e300, 1e300);
  }
  return Distribution::normal(*mean, *stddev, clip->first, clip->second);
}

bool Parser::check_word(const Field& field, const std::string& word, std::string_view what,
                        std::span<const std::string_view> allowed,
                        std::span<const std::string_view> future) {
  if (contains(allowed, word)) return true;
  if (contains(future, word)) {
    fail(field, std::string(what) + " '" + word + "' is not supported in this version; expected " +
                    "one of: " + join(allowed));
  } else if (auto best = suggest(word, allowed)) {
    fail(field, "unknown " + std::string(what) + " '" + word + "'; did you mean '" +
                    std::string(*best) + "'?");
  } else {
    fail(field,
         "unknown " + std::string(what) + " '" + word + "'; expected one of: " + join(allowed));
  }
  return false;
}

std::optional<Choice> Parser::choice(const Field& field, std::string_view what,
                                     std::span<const std::string_view> allowed,
                                     std::span<const std::string_view> future,
                                     const std::function<bool(const std::string&)>& also_ok) {
  auto word_ok = [&](const Field& item, const std::string& word) {
    return (also_ok && also_ok(word)) || check_word(item, word, what, allowed, future);
  };
  const std::string expected = "one of " + join(allowed) + ", or {choice: [...], weights: [...]}";
  if (field.node.IsScalar()) {
    auto word = string(field, expected);
    if (!word || !word_ok(field, *word)) return std::nullopt;
    return Choice{{*word}, {}};
  }
  if (!field.node.IsMap()) {
    fail(field, "must be " + expected + ", got " + describe(field.node));
    return std::nullopt;
  }
  static constexpr std::array<std::string_view, 2> kKeys = {"choice", "weights"};
  std::optional<Field> values_field, weights_field;
  size_t errors_before = errors_.size();
  auto seen = mapping(field, kKeys, {}, [&](std::string_view key, const Field& value) {
    (key == "choice" ? values_field : weights_field) = value;
  });
  if (!seen) return std::nullopt;
  // After an unknown key ("choise") the missing 'choice' is the same mistake.
  if (errors_.size() == errors_before) require(field, *seen, "choice");
  if (!values_field) return std::nullopt;
  const Field& list = *values_field;
  if (!list.node.IsSequence() || list.node.size() == 0) {
    fail(list, "must be a non-empty list of " + std::string(what) + "s (" + join(allowed) +
                   "), got " + describe(list.node));
    return std::nullopt;
  }
  Choice out;
  bool ok = true;
  for (size_t i = 0; i < list.node.size(); ++i) {
    Field item{list.node[i], item_path(list.path, i), list.node[i].Mark()};
    auto word = string(item, "one of " + join(allowed));
    if (word && word_ok(item, *word)) {
      out.values.push_back(*word);
    } else {
      ok = false;
    }
  }
  if (weights_field) {
    if (auto w = weights(*weights_field, list.node.size())) {
      out.weights = std::move(*w);
    } else {
      ok = false;
    }
  }
  if (!ok) return std::nullopt;
  return out;
}

}  // namespace synthfarm::jobs::spec_internal
