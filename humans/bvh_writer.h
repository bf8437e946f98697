// Writing a clip of synthfarm's own skeleton (skeleton.h) as a BVH file: what a fitted
// sequence (recon/) becomes so that real motions animate synthetic people through
// `humans.bvh`. It returns the text; callers store it.
//
// The file is made for the farm's own reader (mocap_bvh.h) with the "auto" preset, and
// for other tools:
//   Joints: synthfarm's 24 joints in its hierarchy, named as Mixamo names them (Hips,
//     LeftUpLeg, LeftLeg, LeftFoot, LeftToeBase, Spine, Spine1, Spine2, Neck, Head,
//     LeftShoulder, LeftArm, LeftForeArm, LeftHand, LeftHandMiddle1, and the Right ones),
//     so that the "auto" preset picks "mixamo" and maps every joint; the head, toes and
//     hands end in an End Site half their bone's length further on.
//   Axes: BVH's (+Y up, the character facing +Z, its left towards +X): a body-frame
//     vector (x, y, z) is written as (x, z, y), the swap mocap_bvh.cpp undoes.
//   Units: centimetres by default (as Mixamo and most tools); the reader does not care.
//   Rest pose (OFFSET): the RestJoints given, so the file's zero-rotation pose is
//     synthfarm's A-pose and a reader aligning bones finds nothing to align.
//   Channels: the root has Xposition Yposition Zposition (its absolute position: the rest
//     pelvis plus the pose's root_translation), every joint Yrotation Zrotation Xrotation.
//     A body-frame local rotation Rz(z) Ry(y) Rx(x) (skeleton.h) is, in file axes,
//     Ry(-z) Rz(-y) Rx(-x) (the axis swap is a reflection, which flips every angle), so
//     the channels hold -z, -y, -x of those angles, degrees.
//   Numbers: shortest round-trip decimal, so nothing is lost in the text.
// Reading the file back with parse_bvh + resolve_joint_map("auto") + retarget_frame onto
// the same rest joints gives the written local rotations back (to about 1e-12 degrees: the
// Euler angles go through atan2), and root translations relative to frame 0 (the
// reader starts every clip at the rest position, mocap_bvh.h).
// Thread-safe: a pure function.
#pragma once

#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "humans/skeleton.h"

namespace synthfarm::humans {

struct BvhClip {
  RestJoints rest;           // body frame, metres
  std::vector<Pose> frames;  // at least one
  double fps = 30;           // > 0; written as Frame Time: 1 / fps
};

struct BvhWriteOptions {
  double units_per_metre = 100;  // > 0; 100 writes centimetres
};

// The BVH text of `clip`. Errors: no frames, fps or units not positive and finite, a
// non-finite rest joint, rotation entry or root translation (naming the frame and joint).
tl::expected<std::string, std::string> write_bvh(const BvhClip& clip, const BvhWriteOptions& options = {});

// The BVH joint name written for each synthfarm joint (kJointNames order).
extern const std::array<std::string_view, kJointCount> kBvhJointNames;

}  // namespace synthfarm::humans
