// humans-internal header, for body.cpp and body_geometry.cpp only: the 26 primitives the
// parametric body is made of, and the Geometry a Shape gives them (body_geometry.cpp):
// the rest skeleton, every primitive's ends, radii and frame, joint radii and the landmarks
// the DensePose parts run between. body.cpp polygonises the neutral Geometry once into the
// template mesh and rebuilds every body's vertices from a Shape's Geometry.
#pragma once

#include <array>
#include <vector>

#include "base/math.h"
#include "humans/body.h"
#include "humans/skeleton.h"

namespace synthfarm::humans::body_internal {

constexpr int idx(Joint j) { return index(j); }

// ---- Primitives ------------------------------------------------------------------------

// The 26 primitives of the body, left/right pairs adjacent (left first).
enum Prim : int {
  kCrotch,
  kPelvisPrim,
  kSpineLow,
  kSpineMid,
  kChest,
  kNeckPrim,
  kHeadPrim,
  kNose,
  kLCollar,
  kRCollar,
  kLUpperArm,
  kRUpperArm,
  kLForearm,
  kRForearm,
  kLPalm,
  kRPalm,
  kLFingers,
  kRFingers,
  kLThigh,
  kRThigh,
  kLShin,
  kRShin,
  kLHeel,
  kRHeel,
  kLToes,
  kRToes,
  kPrimCount
};

// A tapered capsule with elliptical cross-sections (an ellipsoid when a == b). Semi-axes
// are given along the frame (e1, e2, e3) at each end and interpolated linearly between:
// x = lateral (e1), y = depth (e2), z = axial (e3, the caps).
struct Primitive {
  Vec3 a, b;
  Vec3 ra, rb;
  Vec3 e1, e2, e3;
};

struct PrimInfo {
  Joint owner;  // the joint whose rotation moves this primitive
  Region region;
  int side;          // +1 left, -1 right, 0 midline
  bool depth_is_up;  // the e2 axis is +z (feet) instead of +y
};

inline constexpr PrimInfo kPrimInfo[kPrimCount] = {
    {Joint::kPelvis, Region::kTorso, 0, false},
    {Joint::kPelvis, Region::kTorso, 0, false},
    {Joint::kSpine1, Region::kTorso, 0, false},
    {Joint::kSpine2, Region::kTorso, 0, false},
    {Joint::kSpine3, Region::kTorso, 0, false},
    {Joint::kNeck, Region::kNeck, 0, false},
    {Joint::kHead, Region::kHead, 0, false},
    {Joint::kHead, Region::kHead, 0, false},
    {Joint::kLeftCollar, Region::kTorso, 1, false},
    {Joint::kRightCollar, Region::kTorso, -1, false},
    {Joint::kLeftShoulder, Region::kUpperArm, 1, false},
    {Joint::kRightShoulder, Region::kUpperArm, -1, false},
    {Joint::kLeftElbow, Region::kForearm, 1, false},
    {Joint::kRightElbow, Region::kForearm, -1, false},
    {Joint::kLeftWrist, Region::kHand, 1, false},
    {Joint::kRightWrist, Region::kHand, -1, false},
    {Joint::kLeftHand, Region::kHand, 1, false},
    {Joint::kRightHand, Region::kHand, -1, false},
    {Joint::kLeftHip, Region::kThigh, 1, false},
    {Joint::kRightHip, Region::kThigh, -1, false},
    {Joint::kLeftKnee, Region::kShin, 1, false},
    {Joint::kRightKnee, Region::kShin, -1, false},
    {Joint::kLeftAnkle, Region::kFoot, 1, true},
    {Joint::kRightAnkle, Region::kFoot, -1, true},
    {Joint::kLeftFoot, Region::kFoot, 1, true},
    {Joint::kRightFoot, Region::kFoot, -1, true},
};

// Primitives that may share a vertex with each primitive (touching along the body), so
// that a thigh never pulls on the other thigh across the gap between the legs.
const std::vector<std::vector<int>>& prim_neighbours();

// A shape's skeleton and primitives before the final scale to the exact height.
struct Geometry {
  RestJoints joints{};
  std::array<Primitive, kPrimCount> prims{};
  std::array<double, kJointCount> radius{};
  Vec3 crotch_bottom, neck_base, skull_top, heel_back[2], toe_tip[2], finger_tip[2];
};

// All proportions are fractions of the height, for a typical adult; the factors below
// bend them by sex, age, BMI and the proportion ratios. Only + - * / sqrt.
Geometry make_geometry(const Shape& s);

}  // namespace synthfarm::humans::body_internal
