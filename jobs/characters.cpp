#include "jobs/characters.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "gltf/gltf.h"

namespace synthfarm::jobs {

using gltf::GltfCharacter;
using gltf::GltfJoint;
using gltf::PosedCharacter;
using gltf::coco_joint_map;
using gltf::load_gltf_character;
using gltf::mixamo_coco_joint_names;

using render::Mesh;

namespace {

// The prefix of a Mixamo rig's joint names ("mixamorig:" of "mixamorig:Hips"; some tools
// write "mixamorig_" or "mixamorig1:"), or nothing when the rig is not Mixamo's.
std::optional<std::string> mixamo_prefix(const GltfCharacter& character) {
  for (const GltfJoint& joint : character.joints) {
    const std::string_view name = joint.name;
    if (name.ends_with("Hips") && name.find("mixamorig") != std::string_view::npos) {
      return std::string(name.substr(0, name.size() - 4));
    }
  }
  return std::nullopt;
}

// How deep under the skin each joint lies (see characters.h), in the bind pose.
std::vector<double> joint_depths(const GltfCharacter& character) {
  const PosedCharacter bind = character.pose(GltfCharacter::kBindPose, 0);
  const size_t vertices = bind.positions.size() / 3;
  std::vector<std::vector<double>> driven(character.joints.size());
  std::vector<double> nearest(character.joints.size(), std::numeric_limits<double>::infinity());
  for (size_t v = 0; v < vertices; ++v) {
    const Vec3 p{bind.positions[3 * v], bind.positions[3 * v + 1], bind.positions[3 * v + 2]};
    size_t strongest = 0;
    for (size_t k = 1; k < 4; ++k) {
      if (character.vertex_weights[4 * v + k] > character.vertex_weights[4 * v + strongest]) strongest = k;
    }
    const uint32_t joint = character.vertex_joints[4 * v + strongest];
    if (joint < driven.size()) driven[joint].push_back(length(p - bind.joints[joint]));
    for (size_t j = 0; j < character.joints.size(); ++j) {
      nearest[j] = std::min(nearest[j], length(p - bind.joints[j]));
    }
  }
  std::vector<double> depth(character.joints.size());
  for (size_t j = 0; j < depth.size(); ++j) {
    std::vector<double>& d = driven[j];
    double typical = nearest[j];
    if (!d.empty()) {
      auto quartile = d.begin() + static_cast<std::ptrdiff_t>(d.size() / 4);
      std::nth_element(d.begin(), quartile, d.end());
      typical = *quartile;
    }
    depth[j] = std::isfinite(typical) ? 1.5 * typical + 0.01 : 0.01;
  }
  return depth;
}

}  // namespace

tl::expected<CharacterAsset, std::string> load_character(std::string_view bytes, std::string_view uri,
                                                         std::string_view preset,
                                                         const std::map<std::string, std::string>& overrides) {
  const std::string_view file_name = uri.substr(uri.find_last_of('/') == std::string_view::npos
                                                    ? 0
                                                    : uri.find_last_of('/') + 1);
  auto character = load_gltf_character(bytes, file_name);
  if (!character) return tl::unexpected(character.error());

  std::map<std::string, std::string> names;
  const auto prefix = mixamo_prefix(*character);
  if (preset == "mixamo" && !prefix) {
    return tl::unexpected(fmt::format(
        "{}: joint map preset 'mixamo': the file has no Mixamo joint names (no joint like 'mixamorig:Hips')",
        file_name));
  }
  if ((preset == "mixamo" || preset == "auto") && prefix) names = mixamo_coco_joint_names(*prefix);
  for (const auto& [keypoint, joint] : overrides) names[keypoint] = joint;
  if (names.empty()) {
    std::vector<std::string> joints = character->joint_names();
    if (joints.size() > 12) {
      joints.resize(12);
      joints.emplace_back("...");
    }
    return tl::unexpected(fmt::format(
        "{}: no joint stands for any COCO keypoint; give humans.character_joint_map (its joints: {})",
        file_name, fmt::join(joints, ", ")));
  }
  auto map = coco_joint_map(*character, names);
  if (!map) return tl::unexpected(map.error());

  CharacterAsset asset;
  asset.uri = std::string(uri);
  asset.keypoint_joint = *map;
  const std::vector<double> depth = joint_depths(*character);
  for (int k = 0; k < kKeypointCount; ++k) {
    const int joint = asset.keypoint_joint[k];
    asset.keypoint_radius[k] = joint >= 0 ? depth[static_cast<size_t>(joint)] : 0;
  }
  asset.character = std::make_shared<const GltfCharacter>(std::move(*character));
  return asset;
}

Person character_person(const CharacterAsset& asset, int animation, double time_s, double anchor_time_s,
                        double yaw_deg) {
  const GltfCharacter& character = *asset.character;
  const PosedCharacter anchor = character.pose(animation, anchor_time_s);
  const PosedCharacter posed = time_s == anchor_time_s ? anchor : character.pose(animation, time_s);

  // The first root joint over the origin, the lowest point on the floor, at the anchor.
  size_t root = 0;
  for (size_t j = 0; j < character.joints.size(); ++j) {
    if (character.joints[j].parent < 0) {
      root = j;
      break;
    }
  }
  double lowest = std::numeric_limits<double>::infinity();
  for (size_t i = 2; i < anchor.positions.size(); i += 3) lowest = std::min<double>(lowest, anchor.positions[i]);
  const Vec3 shift = anchor.joints.empty() ? Vec3{0, 0, -lowest}
                                           : Vec3{-anchor.joints[root].x, -anchor.joints[root].y, -lowest};
  const Mat3 turn = Mat3::rotation_z(deg_to_rad(yaw_deg) + kPi);
  auto place = [&](Vec3 p) { return turn * (p + shift); };

  Person out;
  Human& info = out.info;
  info.body = "character";
  info.character = asset.uri;
  info.character_animation = animation >= 0 ? character.animations[static_cast<size_t>(animation)].name : "";
  info.character_time_s = animation >= 0 ? time_s : 0;
  info.yaw_deg = yaw_deg - 360.0 * std::floor(yaw_deg / 360.0);

  Mesh& mesh = out.meshes.emplace_back();
  mesh.albedo = {0.5f, 0.5f, 0.5f};
  mesh.positions.reserve(posed.positions.size());
  for (size_t i = 0; i < posed.positions.size(); i += 3) {
    const Vec3 w = place({posed.positions[i], posed.positions[i + 1], posed.positions[i + 2]});
    mesh.positions.insert(mesh.positions.end(),
                          {static_cast<float>(w.x), static_cast<float>(w.y), static_cast<float>(w.z)});
    out.footprint = std::max(out.footprint, std::hypot(w.x, w.y));
  }
  mesh.indices = posed.indices;
  mesh.colors = posed.colors;

  info.character_joint_names = character.joint_names();
  info.character_root = static_cast<int>(root);
  info.character_joints.reserve(posed.joints.size());
  for (const Vec3& joint : posed.joints) info.character_joints.push_back(place(joint));
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (int k = 0; k < kKeypointCount; ++k) {
    const int joint = asset.keypoint_joint[k];
    info.keypoints[k] = joint >= 0 ? info.character_joints[static_cast<size_t>(joint)] : Vec3{nan, nan, nan};
    info.keypoint_radius[k] = asset.keypoint_radius[k];
  }
  return out;
}

}  // namespace synthfarm::jobs
