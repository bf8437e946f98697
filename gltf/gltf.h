// glTF 2.0 in and out of synthfarm.
//
// export_glb() writes one sample's posed scene as binary glTF (.glb), so a person can open
// what the renderer saw in Blender or any glTF viewer and look through the same camera.
// load_gltf_character() reads a skinned, animated character (.glb, or .gltf with embedded
// base64 buffers) into plain data; GltfCharacter::pose() skins it at any time of any of
// its animations, and coco_joint_map() says which joint stands for which COCO keypoint.
//
// This header shows only plain data: the glTF library stays inside gltf.cpp. Nothing here
// touches the file system; callers pass and receive bytes. Loading never trusts the file:
// every index, count and byte range is checked, and every problem comes back as an error
// that names the file and what is wrong.
//
// Frames (both metres)
//   synthfarm world: right-handed, +z up. glTF: right-handed, +y up.
//   A synthfarm point (x, y, z) is the glTF point (x, z, -y); a glTF point (X, Y, Z) is the
//   synthfarm point (X, -Z, Y). The exported file is written in glTF's frame (so Blender's
//   importer turns it back into +z up), and everything pose() returns is in synthfarm's.
//   Cameras: synthfarm's is OpenCV (x right, y down, z forward); a glTF camera looks down
//   its local -z with +y up, so the camera node's local axes are (x, -y, -z) of OpenCV's.
//
// Thread safety: the functions are reentrant; a GltfCharacter is immutable after loading
// and may be posed from many threads at once.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

#include "base/math.h"
#include "base/keypoints.h"
#include "render/scene.h"

namespace synthfarm::gltf {

// ---------------------------------------------------------------------------------------
// Export.

// The .glb bytes of `scene`: one glTF mesh per Mesh (POSITION, per-vertex NORMAL averaged
// over the adjacent triangles weighted by area, indices, and COLOR_0 when the mesh has
// per-vertex colours), each in a child node of its instance's node ("person 1", "box 3";
// `extras` hold instance_id, semantic and semantic_id); materials are diffuse (baseColor =
// albedo, or white times COLOR_0; metallic 0, roughness 1). The camera is a perspective
// camera node named "camera" with yfov = 2 atan(height / (2 fy)) and aspectRatio =
// width / height; its `extras` keep the exact intrinsics (fx, fy, cx, cy, width, height),
// which glTF cannot express when the principal point is off centre or fx != fy.
// Errors: a mesh whose arrays disagree (indices beyond its vertices, colours of the wrong
// length, non-finite positions).
//
// `instance_extras` adds properties to an instance node's `extras` (beside instance_id,
// semantic and semantic_id), by instance id: the sample pipeline writes a person's height_m
// and motion there (jobs/scene_export.h).
struct GlbInstanceExtras {
  std::map<std::string, double> numbers;
  std::map<std::string, std::string> strings;
};
tl::expected<std::string, std::string> export_glb(
    const render::Scene& scene, const std::map<uint32_t, GlbInstanceExtras>& instance_extras = {});

// ---------------------------------------------------------------------------------------
// Import of skinned characters.

// A 4x4 affine transform in glTF's order: column-major, m[4 * column + row].
using Matrix4 = std::array<double, 16>;

// A node that joints hang from (every joint, and every ancestor of a joint).
struct GltfNode {
  std::string name;  // as in the file; "node 12" when it has none
  int parent = -1;   // index into GltfCharacter::nodes; parents come before children
  // Rest local transform (file frame). Nodes given as a matrix keep it in `local` and are
  // never animated (the glTF rule); otherwise local = T * R * S.
  std::array<double, 3> translation = {0, 0, 0};
  std::array<double, 4> rotation = {0, 0, 0, 1};  // unit quaternion x, y, z, w
  std::array<double, 3> scale = {1, 1, 1};
  Matrix4 local = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1};
  bool has_matrix = false;
};

struct GltfJoint {
  std::string name;      // the joint node's name
  int node = -1;         // index into GltfCharacter::nodes
  int parent = -1;       // nearest ancestor that is a joint too; -1 for a root
  Matrix4 rest_global;   // the node's global transform with no animation (file frame)
  Matrix4 inverse_bind;  // from the skin (file frame); identity when the skin has none
};

// One animated property of one node, sampled at increasing times.
struct GltfChannel {
  enum class Path { kTranslation, kRotation, kScale };
  int node = -1;  // index into GltfCharacter::nodes
  Path path = Path::kTranslation;
  bool step = false;            // STEP interpolation; otherwise LINEAR (slerp for rotations)
  std::vector<double> times_s;  // non-decreasing, at least one
  std::vector<double> values;   // 3 per key (translation, scale) or 4 (rotation x, y, z, w)
};

struct GltfAnimation {
  std::string name;  // "animation 2" when the file has none
  std::vector<GltfChannel> channels;
};

// A skinned character posed at one instant, in synthfarm's frame (+z up, metres).
struct PosedCharacter {
  std::vector<float> positions;   // x, y, z per vertex
  std::vector<uint32_t> indices;  // three per triangle
  std::vector<float> colors;      // linear r, g, b per vertex
  std::vector<Vec3> joints;       // global position of every joint, GltfCharacter order
};

// The skinned meshes of a glTF file, their skeleton and their animations, as plain data.
struct GltfCharacter {
  std::string file_name;  // for messages
  std::vector<GltfNode> nodes;
  std::vector<GltfJoint> joints;  // every joint of every skin used, first skin's order first
  // All triangle primitives of every node with both a mesh and a skin, concatenated, in
  // the bind pose (file frame, +y up).
  std::vector<float> positions;         // x, y, z per vertex
  std::vector<uint32_t> indices;        // three per triangle
  std::vector<float> colors;            // linear r, g, b per vertex: COLOR_0 x baseColorFactor
  std::vector<uint32_t> vertex_joints;  // 4 per vertex, indices into `joints`
  std::vector<float> vertex_weights;    // 4 per vertex, non-negative, summing to 1
  std::vector<GltfAnimation> animations;
  std::vector<std::string> warnings;  // what was ignored (textures, morph targets, ...)

  static constexpr int kBindPose = -1;

  size_t vertex_count() const { return positions.size() / 3; }
  std::vector<std::string> joint_names() const;
  // The last key time of the animation, in seconds. Throws std::out_of_range for an
  // animation that does not exist (a caller's bug, not bad input).
  double duration_s(int animation) const;
  // The character skinned at `time_s` of `animation` (clamped to each channel's keys), or
  // in the bind pose (the mesh as modelled; joints where the inverse bind matrices put
  // them) for kBindPose. Nodes an animation does not move keep their rest transform.
  // Throws std::out_of_range for an animation that does not exist.
  PosedCharacter pose(int animation, double time_s) const;
};

// Reads a .glb (recognised by its "glTF" magic) or a .gltf (JSON; buffers must be embedded
// as data: URIs). `file_name` is used only in messages. Errors name the file and the
// problem: "alice.glb: no skinned mesh (no node has both a mesh and a skin)".
tl::expected<GltfCharacter, std::string> load_gltf_character(std::string_view bytes,
                                                             std::string_view file_name);

// ---------------------------------------------------------------------------------------
// Keypoints.

// For each COCO keypoint (kKeypointNames order, scene.h) the index of the joint standing for it,
// or -1 when `coco_to_joint_name` does not name one. Errors: an unknown keypoint name, or
// a joint the character lacks ("bob.glb: keypoint left_wrist: no joint named 'LeftHand'").
tl::expected<std::array<int, kKeypointCount>, std::string> coco_joint_map(
    const GltfCharacter& character, const std::map<std::string, std::string>& coco_to_joint_name);

// The keypoint-to-joint names of a Mixamo rig whose joints are named `prefix` + bone
// ("mixamorig:LeftArm"; some tools write "mixamorig_" or "mixamorig1:"). Mixamo has no
// face joints: nose, eyes and ears all map to the Head joint.
std::map<std::string, std::string> mixamo_coco_joint_names(std::string_view prefix = "mixamorig:");

}  // namespace synthfarm::gltf
