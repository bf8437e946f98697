// Parsing, validation and serialisation of the dataset spec (jobs/spec.h, docs/spec.md).
//
// The parser walks the YAML tree once, in document order, and records every problem it
// finds instead of stopping at the first; a field with a problem keeps its default so the
// walk can go on. Nothing here throws to the caller: yaml-cpp's exceptions are caught and
// turned into SpecErrors.
#include "jobs/spec.h"

#include "jobs/spec/internal/suggestions.h"
#include "jobs/spec/internal/text.h"
#include "jobs/spec/internal/yaml_scalars.h"
#include "humans/skeleton.h"
#include "base/keypoints.h"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace synthfarm::jobs {

using namespace spec_internal;
using render::Layer;
namespace {

// A request body full of mistakes should not produce a response as large as itself.
constexpr size_t kMaxErrors = 100;

// Names below marked "future" are ones the spec will accept in a later version (DESIGN.md);
// they get "not supported in this version" instead of "unknown", so a user who copied an
// example from the design knows why.
constexpr std::array<std::string_view, 9> kLayerNames = {
    "rgb", "depth", "normal", "albedo", "instance", "semantic", "part", "uv", "motion"};
constexpr std::array<std::string_view, 0> kFutureLayers = {};
constexpr std::array<std::string_view, 2> kLabelNames = {"sample_json", "coco"};
constexpr std::array<std::string_view, 0> kFutureLabels = {};
constexpr std::array<std::string_view, 3> kSceneKinds = {"room", "outdoor", "studio"};
constexpr std::array<std::string_view, 7> kMotions = {"static", "walk", "run", "idle", "wave", "sit", "bvh"};
constexpr std::array<std::string_view, 0> kFutureMotions = {};
constexpr std::array<std::string_view, 2> kKeepInFrame = {"humans", "none"};

// ---------------------------------------------------------------------------------------

// A value in the document: the node, its field path and where to point at it.
struct Field {
  YAML::Node node;
  std::string path;
  YAML::Mark mark;
};

std::string child_path(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

std::string item_path(const std::string& path, size_t index) {
  return path + "[" + std::to_string(index) + "]";
}

// The allowed values of a numeric field.
struct Range {
  double lo;
  double hi;
  bool integer = false;  // counts: only whole numbers may be drawn

  std::string text() const { return format_number(lo) + " and " + format_number(hi); }
  bool holds(double v) const { return v >= lo && v <= hi; }
};

// A file:// or s3:// URI of clean text whose name ends in one of `extensions` (any case).
bool is_file_uri(const std::string& uri, std::span<const std::string_view> extensions) {
  if (!(uri.starts_with("file://") || uri.starts_with("s3://")) || !is_clean_text(uri)) return false;
  std::string lower = uri;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  return std::any_of(extensions.begin(), extensions.end(), [&](std::string_view ext) { return lower.ends_with(ext); });
}

class Parser {
 public:
  explicit Parser(std::string source) : source_(std::move(source)) {}

  std::vector<SpecError> take_errors() {
    // Document order; missing fields point at the start of the mapping that lacks them.
    // Errors without a position go last.
    auto position = [](const SpecError& e) {
      return std::pair(e.line > 0 ? e.line : std::numeric_limits<int>::max(), e.column);
    };
    std::stable_sort(errors_.begin(), errors_.end(), [&](const SpecError& x, const SpecError& y) {
      return position(x) < position(y);
    });
    if (truncated_) {
      errors_.push_back(
          {source_, "", 0, 0,
           "too many errors; only the first " + std::to_string(kMaxErrors) + " are shown"});
    }
    return std::move(errors_);
  }

  void fail(const YAML::Mark& mark, std::string path, std::string message) {
    if (errors_.size() >= kMaxErrors) {
      truncated_ = true;
      return;
    }
    bool known = !mark.is_null();
    errors_.push_back({source_, printable(path), known ? mark.line + 1 : 0,
                       known ? mark.column + 1 : 0, printable(message)});
  }
  void fail(const Field& field, std::string message) {
    fail(field.mark, field.path, std::move(message));
  }

  // The whole document.
  JobSpec parse_document(const Field& top);

 private:
  using FieldHandler = std::function<void(std::string_view key, const Field& value)>;

  // Walks a mapping in document order, calling `handle` for each known key and reporting
  // unknown, duplicate and not-yet-supported keys. Returns the keys seen, or nothing when
  // the node is not a mapping (an error is reported).
  std::optional<std::vector<std::string>> mapping(const Field& field,
                                                  std::span<const std::string_view> known,
                                                  std::span<const std::string_view> future,
                                                  const FieldHandler& handle);
  void require(const Field& field, const std::vector<std::string>& seen, std::string_view key);

  std::optional<std::string> string(const Field& field, std::string_view expected);
  std::optional<int64_t> integer(const Field& field, int64_t lo, int64_t hi);
  std::optional<uint64_t> unsigned_integer(const Field& field);
  std::optional<bool> boolean(const Field& field);
  // A list of two numbers, for uniform, uniform_int and clip.
  std::optional<std::pair<double, double>> bounds(const Field& field, const Range& range,
                                                  bool whole);
  std::optional<std::vector<double>> weights(const Field& field, size_t count);
  std::optional<Distribution> distribution(const Field& field, const Range& range);
  std::optional<Distribution> normal(const Field& field, const Range& range);
  // One value of a string choice: allowed, future (not supported yet) or unknown.
  bool check_word(const Field& field, const std::string& word, std::string_view what,
                  std::span<const std::string_view> allowed,
                  std::span<const std::string_view> future);
  // A word of `allowed`, or one `also_ok` accepts (file URIs of an environment choice).
  std::optional<Choice> choice(const Field& field, std::string_view what,
                               std::span<const std::string_view> allowed,
                               std::span<const std::string_view> future,
                               const std::function<bool(const std::string&)>& also_ok = {});
  template <typename Item>
  std::optional<std::vector<Item>> word_list(const Field& field, std::string_view what,
                                             std::span<const std::string_view> allowed,
                                             std::span<const std::string_view> future,
                                             const std::function<Item(std::string_view)>& make);

  void output(const Field& field, OutputSpec& out);
  void camera(const Field& field, CameraSpec& out);
  void render(const Field& field, RenderSpec& out);
  void scene(const Field& field, SceneSpec& out);
  void lighting(const Field& field, LightingSpec& out);
  void humans(const Field& field, HumansSpec& out);
  void clip(const Field& field, ClipSpec& out);
  // A list of file:// or s3:// URIs whose names end in one of `extensions` (lower case).
  void uri_list(const Field& field, std::span<const std::string_view> extensions,
                std::vector<std::string>& out);
  // A preset name or a mapping {preset: P, key: name, ...}; `key_ok` says which keys exist.
  void joint_map(const Field& field, std::span<const std::string_view> presets, std::string_view keys_are,
                 const std::function<bool(const std::string&)>& key_ok, std::string& preset,
                 std::map<std::string, std::string>& map);

  // Parses a distribution into `out` only when it is valid.
  void set(Distribution& out, const Field& field, const Range& range) {
    if (auto d = distribution(field, range)) out = std::move(*d);
  }
  template <typename T>
  void set(T& out, const std::optional<T>& value) {
    if (value) out = *value;
  }

  std::string source_;
  std::vector<SpecError> errors_;
  bool truncated_ = false;
};

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

template <typename Item>
std::optional<std::vector<Item>> Parser::word_list(
    const Field& field, std::string_view what, std::span<const std::string_view> allowed,
    std::span<const std::string_view> future, const std::function<Item(std::string_view)>& make) {
  if (!field.node.IsSequence()) {
    fail(field, "must be a list of " + std::string(what) + "s (" + join(allowed) + "), got " +
                    describe(field.node));
    return std::nullopt;
  }
  std::vector<Item> out;
  std::vector<std::string> words;
  bool ok = true;
  for (size_t i = 0; i < field.node.size(); ++i) {
    Field item{field.node[i], item_path(field.path, i), field.node[i].Mark()};
    auto word = string(item, "one of " + join(allowed));
    if (!word || !check_word(item, *word, what, allowed, future)) {
      ok = false;
      continue;
    }
    if (auto previous = std::find(words.begin(), words.end(), *word); previous != words.end()) {
      fail(item, "duplicate " + std::string(what) + " '" + *word + "' (already at " +
                     item_path(field.path, previous - words.begin()) + ")");
      ok = false;
      continue;
    }
    words.push_back(*word);
    out.push_back(make(*word));
  }
  if (!ok) return std::nullopt;
  return out;
}

void Parser::output(const Field& field, OutputSpec& out) {
  static constexpr std::array<std::string_view, 4> kKeys = {"storage", "layers", "labels",
                                                            "preview"};
  mapping(field, kKeys, {}, [&](std::string_view key, const Field& value) {
    if (key == "storage") {
      if (value.node.IsNull()) {
        out.storage.clear();
        return;
      }
      auto uri = string(value, "a file:// or s3:// URI");
      if (!uri) return;
      bool file = uri->starts_with("file://"), s3 = uri->starts_with("s3://");
      if (!uri->empty() && !file && !s3) {
        fail(value, "must be a file:// or s3:// URI, got " + describe(value.node));
      } else if (!is_clean_text(*uri)) {
        fail(value, "must be valid UTF-8 without control characters, got " + describe(value.node));
      } else if ((file && uri->size() == 7) || (s3 && uri->size() == 5)) {
        fail(value, "must name a location after the scheme, got " + describe(value.node));
      } else {
        out.storage = *uri;
      }
    } else if (key == "layers") {
      auto layers = word_list<Layer>(value, "layer", kLayerNames, kFutureLayers,
                                     [](std::string_view name) { return *layer_from_name(name); });
      if (layers && layers->empty()) {
        fail(value, "must list at least one layer (" + join(kLayerNames) + ")");
      } else if (layers) {
        out.layers = std::move(*layers);
      }
    } else if (key == "labels") {
      auto labels = word_list<std::string>(value, "label", kLabelNames, kFutureLabels,
                                           [](std::string_view name) { return std::string(name); });
      if (!labels) return;
      const bool coco = std::find(labels->begin(), labels->end(), "coco") != labels->end();
      const bool json = std::find(labels->begin(), labels->end(), "sample_json") != labels->end();
      if (coco && !json) {
        fail(value, "coco is built from the per-sample JSON: list sample_json too, got " + describe(value.node));
      } else {
        out.labels = std::move(*labels);
      }
    } else {
      set(out.preview_png, boolean(value));
    }
  });
}

void Parser::camera(const Field& field, CameraSpec& out) {
  static constexpr std::array<std::string_view, 6> kKeys = {"resolution", "fov_deg",       "height_m",
                                                            "distance_m", "keep_in_frame", "f_number"};
  mapping(field, kKeys, {}, [&](std::string_view key, const Field& value) {
    if (key == "resolution") {
      if (!value.node.IsSequence() || value.node.size() != 2) {
        fail(value, "must be [width, height], two integers between 1 and 16384, got " +
                        describe(value.node));
        return;
      }
      auto width =
          integer({value.node[0], item_path(value.path, 0), value.node[0].Mark()}, 1, 16384);
      auto height =
          integer({value.node[1], item_path(value.path, 1), value.node[1].Mark()}, 1, 16384);
      if (width && height) {
        out.width = static_cast<int>(*width);
        out.height = static_cast<int>(*height);
      }
    } else if (key == "fov_deg") {
      set(out.fov_deg, value, {10, 150});
    } else if (key == "height_m") {
      set(out.height_m, value, {0.1, 20});
    } else if (key == "distance_m") {
      set(out.distance_m, value, {0.5, 100});
    } else if (key == "f_number") {
      set(out.f_number, value, {0, 64});
    } else {
      auto word = string(value, "one of " + join(kKeepInFrame));
      if (word && check_word(value, *word, "keep_in_frame mode", kKeepInFrame, {})) {
        out.keep_in_frame = *word;
      }
    }
  });
}

void Parser::render(const Field& field, RenderSpec& out) {
  static constexpr std::array<std::string_view, 2> kKeys = {"spp", "max_bounces"};
  mapping(field, kKeys, {}, [&](std::string_view key, const Field& value) {
    if (key == "spp") {
      if (auto v = integer(value, 1, 65536)) out.spp = static_cast<int>(*v);
    } else {
      if (auto v = integer(value, 0, 64)) out.max_bounces = static_cast<int>(*v);
    }
  });
}

void Parser::scene(const Field& field, SceneSpec& out) {
  static constexpr std::array<std::string_view, 4> kKeys = {"kind", "props", "patterns", "metal"};
  mapping(field, kKeys, {}, [&](std::string_view key, const Field& value) {
    if (key == "kind") {
      set(out.kind, choice(value, "scene kind", kSceneKinds, {}));
    } else if (key == "patterns") {
      set(out.patterns, value, {0, 1});
    } else if (key == "metal") {
      set(out.metal, value, {0, 1});
    } else {
      set(out.props, value, {0, 64, true});
    }
  });
}

void Parser::lighting(const Field& field, LightingSpec& out) {
  static constexpr std::array<std::string_view, 13> kKeys = {
      "sun_elevation_deg", "sun_azimuth_deg",      "sun_intensity", "sky_intensity",
      "sky",               "turbidity",            "area_lights",   "area_light_intensity",
      "lamps",             "lamp_intensity",       "environment",   "environment_intensity",
      "environment_rotation_deg"};
  static constexpr std::array<std::string_view, 2> kSkies = {"preetham", "gradient"};
  mapping(field, kKeys, {}, [&](std::string_view key, const Field& value) {
    if (key == "sky") {
      set(out.sky, choice(value, "sky", kSkies, {}));
    } else if (key == "turbidity") {
      set(out.turbidity, value, {2, 10});
    } else if (key == "area_lights") {
      set(out.area_lights, value, {0, 8, true});
    } else if (key == "area_light_intensity") {
      set(out.area_light_intensity, value, {0, 1000});
    } else if (key == "lamps") {
      set(out.lamps, value, {0, 8, true});
    } else if (key == "lamp_intensity") {
      set(out.lamp_intensity, value, {0, 10000});
    } else if (key == "environment") {
      static constexpr std::array<std::string_view, 1> kSky = {"sky"};
      static constexpr std::array<std::string_view, 1> kExrExtensions = {".exr"};
      set(out.environment, choice(value, "environment (sky or a file:// or s3:// URI of an .exr file)", kSky, {},
                                  [](const std::string& word) { return is_file_uri(word, kExrExtensions); }));
    } else if (key == "environment_intensity") {
      set(out.environment_intensity, value, {0, 1000});
    } else if (key == "environment_rotation_deg") {
      set(out.environment_rotation_deg, value, {0, 360});
    } else if (key == "sun_elevation_deg") {
      set(out.sun_elevation_deg, value, {0, 90});
    } else if (key == "sun_azimuth_deg") {
      set(out.sun_azimuth_deg, value, {0, 360});
    } else if (key == "sun_intensity") {
      set(out.sun_intensity, value, {0, 1000});
    } else {
      set(out.sky_intensity, value, {0, 1000});
    }
  });
}

void Parser::humans(const Field& field, HumansSpec& out) {
  static constexpr std::array<std::string_view, 19> kKeys = {
      "count",         "height_m",       "bmi",          "skin_tone",    "sex",
      "age",           "shoulder_width", "hip_width",    "leg_length",   "arm_length",
      "head_size",     "motion",         "motion_speed", "motion_phase", "bvh",
      "bvh_joint_map", "body",           "characters",   "character_joint_map"};
  static constexpr std::array<std::string_view, 2> kBodies = {"parametric", "character"};
  static constexpr std::array<std::string_view, 1> kBvhExtensions = {".bvh"};
  static constexpr std::array<std::string_view, 2> kGltfExtensions = {".glb", ".gltf"};
  static constexpr std::array<std::string_view, 4> kBvhPresets = {"auto", "cmu", "mixamo", "none"};
  static constexpr std::array<std::string_view, 3> kCharacterPresets = {"auto", "mixamo", "none"};
  mapping(field, kKeys, {}, [&](std::string_view key, const Field& value) {
    if (key == "count") {
      set(out.count, value, {0, 16, true});
    } else if (key == "height_m") {
      set(out.height_m, value, {0.5, 2.5});
    } else if (key == "bmi") {
      set(out.bmi, value, {12, 60});
    } else if (key == "skin_tone") {
      set(out.skin_tone, value, {1, 10, true});
    } else if (key == "sex") {
      set(out.sex, value, {0, 1});
    } else if (key == "age") {
      set(out.age, value, {4, 90});
    } else if (key == "shoulder_width") {
      set(out.shoulder_width, value, {0.85, 1.15});
    } else if (key == "hip_width") {
      set(out.hip_width, value, {0.85, 1.15});
    } else if (key == "leg_length") {
      set(out.leg_length, value, {0.85, 1.15});
    } else if (key == "arm_length") {
      set(out.arm_length, value, {0.85, 1.15});
    } else if (key == "head_size") {
      set(out.head_size, value, {0.85, 1.15});
    } else if (key == "motion_speed") {
      set(out.motion_speed, value, {0.25, 3});
    } else if (key == "motion_phase") {
      set(out.motion_phase, value, {0, 1000});
    } else if (key == "bvh") {
      uri_list(value, kBvhExtensions, out.bvh);
    } else if (key == "bvh_joint_map") {
      joint_map(value, kBvhPresets, "synthfarm joint",
                [](const std::string& name) { return humans::joint_from_name(name).has_value(); },
                out.bvh_preset, out.bvh_joint_map);
    } else if (key == "body") {
      set(out.body, choice(value, "body", kBodies, {}));
    } else if (key == "characters") {
      uri_list(value, kGltfExtensions, out.characters);
    } else if (key == "character_joint_map") {
      joint_map(value, kCharacterPresets, "COCO keypoint",
                [](const std::string& name) {
                  return std::find(kKeypointNames.begin(), kKeypointNames.end(), name) != kKeypointNames.end();
                },
                out.character_preset, out.character_joint_map);
    } else {
      set(out.motion, choice(value, "motion", kMotions, kFutureMotions));
    }
  });
  const auto& motions = out.motion.values;
  if (std::find(motions.begin(), motions.end(), "bvh") != motions.end() && out.bvh.empty()) {
    fail(field, "motion 'bvh' needs humans.bvh: a list of .bvh file URIs");
  }
  const auto& bodies = out.body.values;
  if (std::find(bodies.begin(), bodies.end(), "character") != bodies.end() && out.characters.empty()) {
    fail(field, "body 'character' needs humans.characters: a list of .glb or .gltf file URIs");
  }
}

void Parser::clip(const Field& field, ClipSpec& out) {
  static constexpr std::array<std::string_view, 2> kKeys = {"frames", "fps"};
  mapping(field, kKeys, {}, [&](std::string_view key, const Field& value) {
    if (key == "frames") {
      if (auto v = integer(value, 1, 240)) out.frames = static_cast<int>(*v);
    } else {
      if (auto v = integer(value, 1, 240)) out.fps = static_cast<int>(*v);
    }
  });
}

void Parser::uri_list(const Field& field, std::span<const std::string_view> extensions,
                      std::vector<std::string>& out) {
  const std::string files = join(extensions) + " files";
  if (!field.node.IsSequence()) {
    fail(field, "must be a list of file:// or s3:// URIs of " + files + ", got " + describe(field.node));
    return;
  }
  for (size_t i = 0; i < field.node.size(); ++i) {
    Field item{field.node[i], item_path(field.path, i), field.node[i].Mark()};
    auto uri = string(item, "a file:// or s3:// URI");
    if (!uri) continue;
    const bool scheme = uri->starts_with("file://") || uri->starts_with("s3://");
    if (!scheme || !is_clean_text(*uri)) {
      fail(item, "must be a file:// or s3:// URI, got " + describe(item.node));
    } else if (!is_file_uri(*uri, extensions)) {
      fail(item, "must name a " + join(extensions, " or ") + " file, got " + describe(item.node));
    } else {
      out.push_back(*uri);
    }
  }
}

void Parser::joint_map(const Field& field, std::span<const std::string_view> presets, std::string_view keys_are,
                       const std::function<bool(const std::string&)>& key_ok, std::string& preset,
                       std::map<std::string, std::string>& map) {
  const std::string expected =
      "a preset (" + join(presets) + ") or a mapping of " + std::string(keys_are) + " to the file's joint name";
  auto set_preset = [&](const Field& value) {
    auto name = string(value, "a preset");
    if (!name) return;
    if (std::find(presets.begin(), presets.end(), *name) == presets.end()) {
      fail(value, "must be one of " + join(presets) + ", got " + describe(value.node));
      return;
    }
    preset = *name;
  };
  if (field.node.IsScalar()) {
    auto name = string(field, expected);
    if (!name) return;
    if (std::find(presets.begin(), presets.end(), *name) == presets.end()) {
      fail(field, "must be " + expected + ", got " + describe(field.node));
      return;
    }
    preset = *name;
    return;
  }
  if (!field.node.IsMap()) {
    fail(field, "must be " + expected + ", got " + describe(field.node));
    return;
  }
  for (const auto& entry : field.node) {
    const std::string key = entry.first.as<std::string>();
    Field value{entry.second, child_path(field.path, key), entry.second.Mark()};
    if (key == "preset") {
      set_preset(value);
      continue;
    }
    if (!key_ok(key)) {
      Field key_field{entry.first, child_path(field.path, key), entry.first.Mark()};
      fail(key_field, "unknown " + std::string(keys_are) + " '" + key + "' (docs/spec.md lists them)");
      continue;
    }
    auto theirs = string(value, "the file's joint name");
    if (theirs) map[key] = *theirs;
  }
}

bool valid_name(std::string_view name) {
  auto first = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  auto rest = [&](char c) { return first(c) || c == '.' || c == '_' || c == '-'; };
  return !name.empty() && name.size() <= 64 && first(name[0]) &&
         std::all_of(name.begin() + 1, name.end(), rest);
}

JobSpec Parser::parse_document(const Field& top) {
  JobSpec spec;
  static constexpr std::array<std::string_view, 14> kKeys = {
      "name",   "samples", "shard_size", "seed",  "priority", "max_attempts", "on_dead_shards",
      "output", "camera",  "render",     "scene", "lighting", "humans",       "clip"};
  static constexpr std::array<std::string_view, 1> kFuture = {"sensor"};
  if (!top.node.IsMap()) {
    fail(top, "the spec must be a mapping of fields (name: ..., samples: ...), got " +
                  describe(top.node));
    return spec;
  }
  auto seen = mapping(top, kKeys, kFuture, [&](std::string_view key, const Field& value) {
    if (key == "name") {
      auto name = string(value, "a string");
      if (name && !valid_name(*name)) {
        fail(value,
             "must be 1 to 64 characters of a-z, 0-9, '.', '_' or '-', starting with a "
             "letter or digit, got " +
                 describe(value.node));
      } else if (name) {
        spec.name = *name;
      }
    } else if (key == "samples") {
      set(spec.samples, integer(value, 1, 100000000));
    } else if (key == "shard_size") {
      if (value.node.IsScalar() && value.node.Scalar() == "auto" && !is_quoted(value.node)) {
        fail(value,
             "'auto' is not supported in this version; give an integer between 1 and "
             "100000");
      } else {
        set(spec.shard_size, integer(value, 1, 100000));
      }
    } else if (key == "seed") {
      set(spec.seed, unsigned_integer(value));
    } else if (key == "priority") {
      if (auto v = integer(value, -1000, 1000)) spec.priority = static_cast<int>(*v);
    } else if (key == "max_attempts") {
      if (auto v = integer(value, 1, 100)) spec.max_attempts = static_cast<int>(*v);
    } else if (key == "on_dead_shards") {
      auto v = string(value, "a string");
      if (v && *v != "fail" && *v != "partial") {
        fail(value, "must be 'fail' or 'partial', got " + describe(value.node));
      } else if (v) {
        spec.on_dead_shards = *v;
      }
    } else if (key == "output") {
      output(value, spec.output);
    } else if (key == "camera") {
      camera(value, spec.camera);
    } else if (key == "render") {
      render(value, spec.render);
    } else if (key == "scene") {
      scene(value, spec.scene);
    } else if (key == "lighting") {
      lighting(value, spec.lighting);
    } else if (key == "clip") {
      clip(value, spec.clip);
    } else {
      humans(value, spec.humans);
    }
  });
  if (seen) {
    require(top, *seen, "name");
    require(top, *seen, "samples");
  }
  return spec;
}

// Where each YAML document starts, and nothing else.
//
// Why not YAML::LoadAll: yaml-cpp 0.7 (Debian 12's) has a bug where some malformed input
// (a stray ',' outside brackets, e.g. ", a") makes the parser return the same empty document
// forever without consuming input (jbeder/yaml-cpp#1040, fixed upstream in 0.8 by #1318 and
// #1319); LoadAll collects them until memory runs out. So documents are counted with this
// handler, at most three, and two documents starting at the same place mean "stuck".
class DocumentStarts : public YAML::EventHandler {
 public:
  std::vector<YAML::Mark> starts;

  void OnDocumentStart(const YAML::Mark& mark) override { starts.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

}  // namespace

std::string_view layer_name(Layer layer) {
  switch (layer) {
    case Layer::kRgb:
      return "rgb";
    case Layer::kDepth:
      return "depth";
    case Layer::kNormal:
      return "normal";
    case Layer::kAlbedo:
      return "albedo";
    case Layer::kInstance:
      return "instance";
    case Layer::kSemantic:
      return "semantic";
    case Layer::kPart:
      return "part";
    case Layer::kUv:
      return "uv";
    case Layer::kMotion:
      return "motion";
  }
  return "unknown";
}

std::optional<Layer> layer_from_name(std::string_view name) {
  for (Layer layer : {Layer::kRgb, Layer::kDepth, Layer::kNormal, Layer::kAlbedo, Layer::kInstance,
                      Layer::kSemantic, Layer::kPart, Layer::kUv, Layer::kMotion}) {
    if (layer_name(layer) == name) return layer;
  }
  return std::nullopt;
}

std::string SpecError::to_string() const {
  std::string out;
  if (!source.empty()) out += source;
  if (line > 0) {
    out += (out.empty() ? "" : ":") + std::to_string(line);
    if (column > 0) out += ":" + std::to_string(column);
  }
  if (!path.empty()) out += (out.empty() ? "" : ": ") + path;
  out += (out.empty() ? "" : ": ") + message;
  return out;
}

tl::expected<JobSpec, std::vector<SpecError>> parse_spec(std::string_view text,
                                                         std::string_view source) {
  Parser parser{std::string(source)};
  const std::string input(text);
  YAML::Node root;
  std::vector<YAML::Mark> starts;
  try {
    // See DocumentStarts: never YAML::LoadAll. At most three documents are looked at: enough
    // to tell a second document from yaml-cpp being stuck on the first or the second.
    std::istringstream stream(input);
    YAML::Parser events(stream);
    DocumentStarts counter;
    while (counter.starts.size() < 3 && events.HandleNextDocument(counter)) {
      size_t n = counter.starts.size();
      if (n >= 2 && counter.starts[n - 1].pos == counter.starts[n - 2].pos) {
        // No progress: the input at that point is not YAML that yaml-cpp can read.
        const YAML::Mark& at = counter.starts[n - 1];
        auto pos = static_cast<size_t>(std::max(0, at.pos));
        std::string what = pos < input.size() ? "'" + std::string(1, input[pos]) + "'" : "input";
        parser.fail(at, "", "unexpected " + what + "; this is not valid YAML");
        return tl::unexpected(parser.take_errors());
      }
    }
    starts = std::move(counter.starts);
    std::istringstream first(input);
    root = YAML::Load(first);
  } catch (const YAML::DeepRecursion& e) {
    parser.fail(e.mark, "", "nested too deeply for a spec");
    return tl::unexpected(parser.take_errors());
  } catch (const YAML::Exception& e) {
    parser.fail(e.mark, "", e.msg);
    return tl::unexpected(parser.take_errors());
  }
  if (root.IsNull() && starts.size() <= 1) {
    parser.fail(YAML::Mark(), "", "the spec is empty; it needs at least 'name' and 'samples'");
    return tl::unexpected(parser.take_errors());
  }
  JobSpec spec;
  try {
    spec = parser.parse_document(Field{root, "", root.Mark()});
  } catch (const YAML::Exception& e) {
    // Not expected: every access above checks the node type first.
    parser.fail(e.mark, "", std::string("internal error reading the spec: ") + e.msg);
  }
  if (starts.size() > 1) {
    parser.fail(starts[1], "", "only one YAML document is allowed per spec");
  }
  auto errors = parser.take_errors();
  if (!errors.empty()) return tl::unexpected(std::move(errors));
  return spec;
}

}  // namespace synthfarm::jobs
