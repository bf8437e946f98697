// Test helper shared by the motion and BVH tests: hand-placed rest joints, so that those
// tests do not depend on the body model.
#pragma once

#include "humans/skeleton.h"

namespace synthfarm::humans {

inline constexpr double kS = 0.70710678118654752440;

// Plausible A-pose rest joints for a person `h` metres tall (the body
// model is built elsewhere; these tests must not depend on it).
inline RestJoints test_rest(double h) {
  RestJoints r{};
  auto set = [&](Joint j, double x, double y, double z) { r[index(j)] = Vec3{x, y, z} * h; };
  set(Joint::kPelvis, 0, 0, 0.53);
  set(Joint::kSpine1, 0, -0.01, 0.59);
  set(Joint::kSpine2, 0, -0.01, 0.66);
  set(Joint::kSpine3, 0, -0.005, 0.72);
  set(Joint::kNeck, 0, -0.01, 0.83);
  set(Joint::kHead, 0, 0.01, 0.89);
  for (int side : {1, -1}) {
    bool left = side == 1;
    auto sj = [&](Joint l) { return static_cast<Joint>(index(l) + (left ? 0 : 1)); };
    set(sj(Joint::kLeftHip), side * 0.09, 0, 0.50);
    set(sj(Joint::kLeftKnee), side * 0.09, 0.005, 0.28);
    set(sj(Joint::kLeftAnkle), side * 0.09, -0.01, 0.045);
    set(sj(Joint::kLeftFoot), side * 0.095, 0.07, 0.012);
    set(sj(Joint::kLeftCollar), side * 0.04, -0.01, 0.80);
    set(sj(Joint::kLeftShoulder), side * 0.19, -0.01, 0.81);
    Vec3 shoulder = r[index(sj(Joint::kLeftShoulder))];
    Vec3 down{side * kS, 0, -kS};
    r[index(sj(Joint::kLeftElbow))] = shoulder + down * (0.16 * h);
    r[index(sj(Joint::kLeftWrist))] = shoulder + down * (0.305 * h);
    r[index(sj(Joint::kLeftHand))] = shoulder + down * (0.355 * h);
  }
  return r;
}

}  // namespace synthfarm::humans
