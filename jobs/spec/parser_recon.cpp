// The Parser's reconstruction sections (internal/parser.h): the task, its inputs, `fit`
// and `fusion`, and which sections each task may have. A reconstruction spec has no
// dataset to draw, so the render sections are errors there, and the reconstruction ones
// are errors in a render spec: a field that would be ignored is never silently accepted.
#include "jobs/spec/internal/parser.h"

#include <algorithm>
#include <array>
#include <map>
#include <string>
#include <string_view>

namespace synthfarm::jobs::spec_internal {

namespace {

constexpr std::array<std::string_view, 3> kTasks = {"render", "fit_people", "fuse_depth"};
constexpr std::array<std::string_view, 4> kFitModes = {"image", "multiview", "sequence", "scan"};
constexpr std::array<std::string_view, 7> kRenderSections = {"camera", "render", "scene", "lighting",
                                                             "humans", "clip",   "sensor"};
constexpr std::array<std::string_view, 1> kJsonExtensions = {".json"};
constexpr std::array<std::string_view, 2> kScanExtensions = {".ply", ".obj"};

}  // namespace

bool Parser::task(const Field& field, JobSpec& out) {
  auto v = word(field, "task", kTasks);
  if (v) out.task = *v;
  return v.has_value();
}

void Parser::inputs(const Field& field, std::vector<std::string>& out) {
  // One URI or a list; the extensions are checked once the task is known (check_task).
  static constexpr std::array<std::string_view, 3> kAny = {".json", ".ply", ".obj"};
  if (field.node.IsScalar()) {
    if (auto uri = file_uri(field, kAny)) out = {*uri};
    return;
  }
  uri_list(field, kAny, out);
  if (field.node.IsSequence() && field.node.size() == 0) fail(field, "must list at least one input file");
}

void Parser::fit(const Field& field, FitSpec& out) {
  static constexpr std::array<std::string_view, 3> kKeys = {"mode", "fov_deg", "fps"};
  mapping(field, kKeys, {}, [&](std::string_view key, const Field& value) {
    if (key == "mode") {
      if (auto v = word(value, "fit mode", kFitModes)) out.mode = *v;
    } else if (key == "fov_deg") {
      set(out.fov_deg, number(value, {10, 150}));
    } else {
      set(out.fps, number(value, {1, 240}));
    }
  });
}

void Parser::fusion(const Field& field, FusionSpec& out) {
  static constexpr std::array<std::string_view, 3> kKeys = {"voxel_m", "truncation_m", "colour"};
  mapping(field, kKeys, {}, [&](std::string_view key, const Field& value) {
    if (key == "voxel_m") {
      set(out.voxel_m, number(value, {0.002, 0.2}));
    } else if (key == "truncation_m") {
      set(out.truncation_m, number(value, {0.004, 12.8}));
    } else {
      set(out.colour, boolean(value));
    }
  });
}

void Parser::check_task(const Field& top, const std::map<std::string, Field>& fields, JobSpec& spec) {
  auto at = [&](std::string_view key) -> const Field& {
    auto it = fields.find(std::string(key));
    return it != fields.end() ? it->second : top;
  };
  auto has = [&](std::string_view key) { return fields.count(std::string(key)) > 0; };
  if (!spec.reconstruction()) {
    for (std::string_view key : {"inputs", "fit", "fusion"}) {
      if (has(key)) fail(at(key), "only for task fit_people or fuse_depth; this spec's task is render");
    }
    if (!has("samples")) fail(top.mark, child_path(top.path, "samples"), "required field is missing");
    return;
  }
  for (std::string_view key : kRenderSections) {
    if (has(key)) fail(at(key), "only for task render; this spec's task is " + spec.task);
  }
  if (has("output") && at("output").node.IsMap()) {
    for (const auto& entry : at("output").node) {
      const std::string key = entry.first.as<std::string>("");
      if (key != "storage") {
        fail(entry.first.Mark(), child_path("output", key),
             "only for task render; a " + spec.task + " job's output has only storage");
      }
    }
  }
  if (spec.task == "fit_people" && has("fusion")) fail(at("fusion"), "only for task fuse_depth");
  if (spec.task == "fuse_depth" && has("fit")) fail(at("fit"), "only for task fit_people");
  if (!has("inputs")) {
    fail(top.mark, child_path(top.path, "inputs"),
         "required field is missing: the files task " + spec.task + " reads");
    return;
  }
  const Field& inputs = at("inputs");
  const bool scans = spec.task == "fit_people" && spec.fit.mode == "scan";
  const bool one_file = spec.task == "fit_people" && !scans;
  std::span<const std::string_view> extensions = scans ? std::span<const std::string_view>(kScanExtensions)
                                                       : std::span<const std::string_view>(kJsonExtensions);
  const std::string what = scans ? "a .ply or .obj scan"
                           : one_file ? "a COCO person keypoints .json file"
                                      : "a capture .json file (docs/recon.md)";
  if (one_file && spec.inputs.size() > 1) {
    fail(inputs, "fit mode " + spec.fit.mode + " reads one COCO person keypoints .json file, got " +
                     std::to_string(spec.inputs.size()));
  }
  for (size_t i = 0; i < spec.inputs.size(); ++i) {
    if (is_file_uri(spec.inputs[i], extensions)) continue;
    const bool list = inputs.node.IsSequence();
    const Field item = list ? Field{inputs.node[i], item_path(inputs.path, i), inputs.node[i].Mark()} : inputs;
    fail(item, "must be " + what + " for task " + spec.task +
                   (spec.task == "fit_people" ? " (fit mode " + spec.fit.mode + ")" : std::string()) + ", got " +
                   describe(item.node));
  }
  if (spec.fusion.truncation_m < 2 * spec.fusion.voxel_m - 1e-12 ||
      spec.fusion.truncation_m > 64 * spec.fusion.voxel_m + 1e-12) {
    fail(has("fusion") ? at("fusion") : top, "truncation_m must be 2 to 64 voxels (voxel_m " +
                                                 format_number(spec.fusion.voxel_m) + "), got " +
                                                 format_number(spec.fusion.truncation_m));
  }
}

}  // namespace synthfarm::jobs::spec_internal
