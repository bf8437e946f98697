// The skeleton shared by every synthfarm human: 24 joints in an SMPL-like hierarchy, their
// limits, poses as local joint rotations, and forward kinematics.
//
// Conventions
//   Body frame: metres, +x the person's left, +y forward (where the face points), +z up;
//     the soles of the feet rest on z = 0 and the pelvis is above the origin. This frame
//     is left-handed (left x forward = up): the scene places a body in the right-handed
//     world with the mirror x -> -x before its yaw (and reverses triangle winding), so
//     that left_* joints land on the person's left.
//   Rest pose: standing straight, feet hip-width apart, arms in an "A" 45 degrees below
//     horizontal, palms down. Every local rotation is the identity in the rest pose.
//   Local rotation of joint j: expressed in the body frame's axes at rest (not in a bone
//     frame). Euler angles are degrees, applied x first, then y, then z:
//       R = Rz(z) * Ry(y) * Rx(x).
//     Rotation about x is flexion/extension (the sagittal plane; positive swings a hanging
//     limb forward and tips an upward bone, spine or neck, backwards), about y is
//     abduction/side bend (the frontal plane), about z is twist about the vertical.
//   Forward kinematics: G[root] = L[root], p[root] = rest[root] + root_translation;
//     G[j] = G[parent] * L[j], p[j] = p[parent] + G[parent] * (rest[j] - rest[parent]).
//   Skinning transform of joint j: x -> G[j] * (x - rest[j]) + p[j].
#pragma once

#include <array>
#include <optional>
#include <string_view>

#include "base/math.h"

namespace synthfarm::humans {

enum class Joint : int {
  kPelvis,
  kLeftHip,
  kRightHip,
  kSpine1,
  kLeftKnee,
  kRightKnee,
  kSpine2,
  kLeftAnkle,
  kRightAnkle,
  kSpine3,
  kLeftFoot,
  kRightFoot,
  kNeck,
  kLeftCollar,
  kRightCollar,
  kHead,
  kLeftShoulder,
  kRightShoulder,
  kLeftElbow,
  kRightElbow,
  kLeftWrist,
  kRightWrist,
  kLeftHand,
  kRightHand,
};
constexpr int kJointCount = 24;
constexpr int index(Joint j) { return static_cast<int>(j); }

// Names as written in the JSON labels (same order as Joint).
constexpr std::array<std::string_view, kJointCount> kJointNames = {
    "pelvis",        "left_hip",       "right_hip",   "spine1",      "left_knee",
    "right_knee",    "spine2",         "left_ankle",  "right_ankle", "spine3",
    "left_foot",     "right_foot",     "neck",        "left_collar", "right_collar",
    "head",          "left_shoulder",  "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist",    "right_wrist",    "left_hand",   "right_hand"};

// Parent of each joint; -1 for the root (the pelvis). Parents come before children.
constexpr std::array<int, kJointCount> kParents = {-1, 0, 0,  0,  1,  2,  3,  4,  5,  6,  7,  8,
                                                   9,  9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21};

// The joint named `name` (kJointNames), if any. Inline: the spec validates joint maps with
// it, and the coordinator, which parses specs, need not link the skeleton's code.
inline std::optional<Joint> joint_from_name(std::string_view name) {
  for (int j = 0; j < kJointCount; ++j) {
    if (kJointNames[j] == name) return static_cast<Joint>(j);
  }
  return std::nullopt;
}

// Allowed range of each Euler angle (degrees, see the conventions above).
struct JointLimit {
  Vec3 min_deg, max_deg;
  bool contains(Vec3 euler_deg) const;
  Vec3 clamp(Vec3 euler_deg) const;
};
// Anatomical limits of every joint, relative to the rest pose.
const std::array<JointLimit, kJointCount>& joint_limits();

// R = Rz(z) * Ry(y) * Rx(x), angles in degrees.
Mat3 euler_to_matrix(Vec3 euler_deg);
// The angles (x, y, z) of R = Rz(z) * Ry(y) * Rx(x), y in [-90, 90].
Vec3 matrix_to_euler(const Mat3& rotation);

// Joint positions of one body in the rest pose (body frame).
using RestJoints = std::array<Vec3, kJointCount>;

// A pose: the local rotation of every joint and the root's offset from its rest position.
struct Pose {
  std::array<Mat3, kJointCount> local;  // identity = rest
  Vec3 root_translation;
  static Pose rest() { return {}; }
  // Every joint from Euler angles (degrees).
  static Pose from_euler(const std::array<Vec3, kJointCount>& euler_deg, Vec3 root_translation);
};

// Global rotations and positions of every joint of a posed body.
struct Posed {
  std::array<Mat3, kJointCount> rotation;
  std::array<Vec3, kJointCount> position;
  // The skinning transform of joint j applied to a rest-pose point.
  Vec3 transform(int joint, Vec3 rest_point, const RestJoints& rest) const {
    return rotation[joint] * (rest_point - rest[joint]) + position[joint];
  }
};

Posed forward_kinematics(const RestJoints& rest, const Pose& pose);

}  // namespace synthfarm::humans
