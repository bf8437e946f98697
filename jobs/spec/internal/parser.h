// The spec parser behind parse_spec (jobs/spec.h). It walks the YAML tree once, in document
// order, and records every problem instead of stopping at the first; a field with a problem
// keeps its default. Its members are defined by what they read: parser_values.cpp (the value
// kinds every section is made of: mappings, numbers, distributions, choices),
// parser_document.cpp (the top level, output, camera, render), parser_scene.cpp (scene,
// lighting), parser_humans.cpp (humans, clip), parser_sensor.cpp (sensor) and
// parser_recon.cpp (task, inputs, fit, fusion).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "jobs/spec.h"
#include "jobs/spec/internal/text.h"
#include "jobs/spec/internal/yaml_scalars.h"

namespace synthfarm::jobs::spec_internal {

// A request body full of mistakes should not produce a response as large as itself.
inline constexpr size_t kMaxErrors = 100;

// Names below marked "future" are ones the spec will accept in a later version (DESIGN.md);
// they get "not supported in this version" instead of "unknown", so a user who copied an
// example from the design knows why.
inline constexpr std::array<std::string_view, 9> kLayerNames = {
    "rgb", "depth", "normal", "albedo", "instance", "semantic", "part", "uv", "motion"};
inline constexpr std::array<std::string_view, 0> kFutureLayers = {};
inline constexpr std::array<std::string_view, 2> kLabelNames = {"sample_json", "coco"};
inline constexpr std::array<std::string_view, 0> kFutureLabels = {};
inline constexpr std::array<std::string_view, 3> kSceneKinds = {"room", "outdoor", "studio"};
inline constexpr std::array<std::string_view, 7> kMotions = {"static", "walk", "run", "idle", "wave", "sit", "bvh"};
inline constexpr std::array<std::string_view, 0> kFutureMotions = {};
inline constexpr std::array<std::string_view, 2> kKeepInFrame = {"humans", "none"};

// A value in the document: the node, its field path and where to point at it.
struct Field {
  YAML::Node node;
  std::string path;
  YAML::Mark mark;
};

// "camera" + "resolution" -> "camera.resolution"; "" + "name" -> "name".
std::string child_path(const std::string& path, std::string_view key);
// "output.layers" + 2 -> "output.layers[2]".
std::string item_path(const std::string& path, size_t index);

// The allowed values of a numeric field.
struct Range {
  double lo;
  double hi;
  bool integer = false;  // counts: only whole numbers may be drawn

  std::string text() const { return format_number(lo) + " and " + format_number(hi); }
  bool holds(double v) const { return v >= lo && v <= hi; }
};

// A file:// or s3:// URI of clean text whose name ends in one of `extensions` (any case).
bool is_file_uri(const std::string& uri, std::span<const std::string_view> extensions);

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
  void sensor(const Field& field, SensorSpec& out);
  // parser_recon.cpp: the task, its inputs and sections, and which sections it may have.
  bool task(const Field& field, JobSpec& out);  // false: not a known task
  void inputs(const Field& field, std::vector<std::string>& out);
  void fit(const Field& field, FitSpec& out);
  void fusion(const Field& field, FusionSpec& out);
  void check_task(const Field& top, const std::map<std::string, Field>& fields, JobSpec& spec);
  void sensor_noise(const Field& field, SensorNoiseSpec& out);
  void sensor_distortion(const Field& field, SensorDistortionSpec& out);
  // A lens the camera's field of view would fold, or that a pinhole cannot render, reported
  // at sensor.distortion (lens_corners in parser_sensor.cpp says which draws are tried).
  void check_lens(const JobSpec& spec);
  // A plain number (not a distribution) within `range`.
  std::optional<double> number(const Field& field, const Range& range);
  // One word of `allowed` (not drawn per sample).
  std::optional<std::string> word(const Field& field, std::string_view what, std::span<const std::string_view> allowed);
  // One file:// or s3:// URI whose name ends in one of `extensions`.
  std::optional<std::string> file_uri(const Field& field, std::span<const std::string_view> extensions);
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
  std::optional<Field> distortion_field_;  // sensor.distortion, for check_lens
  std::vector<SpecError> errors_;
  bool truncated_ = false;
};

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

}  // namespace synthfarm::jobs::spec_internal
