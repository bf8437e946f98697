// The Parser's humans and clip sections (internal/parser.h): the people, their bodies and
// motion (with the motion-capture and character files and their joint maps), and how many
// frames a sample has.
#include "jobs/spec/internal/parser.h"

#include "humans/skeleton.h"
#include "base/keypoints.h"
#include "jobs/spec/internal/text.h"
#include "jobs/spec/internal/yaml_scalars.h"

#include <algorithm>
#include <array>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace synthfarm::jobs::spec_internal {

void Parser::humans(const Field& field, HumansSpec& out) {
  static constexpr std::array<std::string_view, 21> kKeys = {
      "count",         "height_m",       "bmi",          "skin_tone",    "sex",
      "age",           "shoulder_width", "hip_width",    "leg_length",   "arm_length",
      "head_size",     "motion",         "motion_speed", "motion_phase", "bvh",
      "bvh_joint_map", "body",           "characters",   "character_joint_map", "poses",
      "shapes"};
  static constexpr std::array<std::string_view, 1> kJsonlExtensions = {".jsonl"};
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
    } else if (key == "poses") {
      set(out.poses, file_uri(value, kJsonlExtensions));
    } else if (key == "shapes") {
      set(out.shapes, file_uri(value, kJsonlExtensions));
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

}  // namespace synthfarm::jobs::spec_internal
