// BVH motion-capture import for synthfarm humans: parsing, mapping
// the file's joints onto the synthfarm skeleton, and retargeting frames onto a body with
// different proportions and a different rest pose. It never reads files itself (callers
// pass the text) and knows nothing of meshes or rendering.
//
// Conventions
//   File axes: BVH's usual right-handed frame, +Y up, the character facing +Z in its
//     zero-rotation (OFFSET) pose, its left towards +X. Converted to the synthfarm body
//     frame (skeleton.h: +x left, +y forward, +z up) by swapping Y and Z.
//   File units: whatever the file uses (centimetres, inches, ...); root motion is scaled
//     onto the target by the ratio of leg lengths, so units never need to be known.
//   Rotation channels: degrees; a joint's local rotation is the product of its rotation
//     channels in the order listed ("Zrotation Xrotation Yrotation" means Rz * Rx * Ry).
//   Frames: numbered from 0; frame f is shown at time f * frame_time_s.
//   Errors name the file, the 1-based line and what is wrong: "walk.bvh:57: frame 3 has
//     62 values, expected 69". Errors that are not about one line omit it.
//   Determinism: retargeting uses only + - * / sqrt and portable_sin/portable_cos, so a
//     frame retargets to the same bits on any x86-64 machine (the optional limit clamp is
//     the exception, see RetargetOptions). All functions are pure and thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

#include "humans/skeleton.h"
#include "base/math.h"

namespace synthfarm::humans {

struct BvhError {
  std::string file;
  int line = 0;  // 1-based; 0 when the problem is not about one line
  std::string message;
  // "walk.bvh:57: frame 3 has 62 values, expected 69" (or "walk.bvh: ..." without a line)
  std::string to_string() const;
};

enum class BvhChannel : uint8_t {
  kXposition,
  kYposition,
  kZposition,
  kXrotation,
  kYrotation,
  kZrotation
};

struct BvhJoint {
  std::string name;
  int parent = -1;  // index into BvhMotion::joints; -1 for the root
  Vec3 offset;      // from the parent joint, file units and axes
  std::vector<BvhChannel> channels;
  int first_channel = 0;         // column of channels[0] in a frame row
  std::optional<Vec3> end_site;  // End Site offset, if the joint has one
  int line = 0;                  // where the joint is declared
};

struct BvhMotion {
  std::string file_name;
  std::vector<BvhJoint> joints;  // declaration order: parents before children; [0] = root
  int channel_count = 0;         // values per frame row
  int frame_count = 0;           // >= 1
  double frame_time_s = 0;       // > 0
  std::vector<double> values;    // frame_count * channel_count, one row per frame

  std::optional<int> find_joint(std::string_view name) const;
  const double* frame(int f) const {
    return values.data() + static_cast<size_t>(f) * channel_count;
  }
  double duration_s() const { return (frame_count - 1) * frame_time_s; }
};

// Parses a whole BVH file (HIERARCHY with one ROOT, JOINT and End Site blocks, OFFSET and
// CHANNELS in any order of the six channel names; MOTION with Frames:, Frame Time: and
// exactly that many rows). `file_name` is used only in error messages.
tl::expected<BvhMotion, BvhError> parse_bvh(std::string_view text, std::string_view file_name);

// Which file joint drives each synthfarm joint.
struct JointMap {
  std::array<int, kJointCount> source;  // index into BvhMotion::joints; -1 = unmapped
  std::string preset;                   // the preset used: "cmu", "mixamo" or "none"
};

// Builds the joint map from a preset and per-joint overrides.
//   preset: "cmu" (CMU mocap conversions: Hips, LHipJoint/LeftUpLeg, LeftLeg, LowerBack,
//     Spine, Spine1, Neck/Neck1, LeftShoulder, LeftArm, ...; also the lower-case "Daz"
//     variant hip/abdomen/chest/lThigh/lShin/lShldr/...), "mixamo" (mixamorig:Hips,
//     mixamorig:Spine..Spine2, ...; any or no "namespace:" prefix), "auto" (pick one of the
//     two from the names present) or "none" (overrides only). Preset names match without
//     regard to case; joints a preset does not find stay unmapped.
//   overrides: synthfarm joint name (kJointNames) -> the file's joint name, matched
//     exactly; an empty file name unmaps the joint.
// Errors: an unknown preset; an override naming a synthfarm joint that does not exist or
// a file joint the file lacks ("walk.bvh: joint map names 'LeftUpLeg' for left_hip, but
// the file has no joint 'LeftUpLeg'"); no source joint for the pelvis.
tl::expected<JointMap, BvhError> resolve_joint_map(
    const BvhMotion& motion, std::string_view preset,
    const std::map<std::string, std::string>& overrides = {});

struct RetargetOptions {
  // Clamp every joint's Euler angles to joint_limits(). Off by default: mocap often
  // exceeds the (conservative) limits slightly, and the clamp goes through
  // matrix_to_euler, whose inverse trigonometry is not guaranteed bit-identical across
  // machines.
  bool clamp_to_limits = false;
};

// The pose of a body with rest joints `target_rest` at (possibly fractional) frame
// `frame` of `motion` (clamped to [0, frame_count - 1]; fractional frames interpolate
// rotations by normalised quaternion lerp and the root linearly).
//   Rotations transfer by rest-pose alignment: each mapped joint's bone (towards its
//   mapped child) points where the source bone points, whatever the two rest poses are
//   (the file's OFFSET pose, usually a T-pose, against our A-pose). Unmapped joints keep
//   their parent's orientation (identity local rotation).
//   Root translation: the source root's displacement from frame 0, converted to body axes
//   and scaled by target leg length / source leg length (hip to ankle). Frame 0 therefore
//   starts at the rest position; a clip whose first frame crouches starts standing high.
Pose retarget_frame(const BvhMotion& motion, const JointMap& map, const RestJoints& target_rest,
                    double frame, const RetargetOptions& options = {});

}  // namespace synthfarm::humans
