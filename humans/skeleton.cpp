#include "humans/skeleton.h"

#include <algorithm>
#include <cmath>

namespace synthfarm::humans {

bool JointLimit::contains(Vec3 e) const {
  return e.x >= min_deg.x && e.x <= max_deg.x && e.y >= min_deg.y && e.y <= max_deg.y &&
         e.z >= min_deg.z && e.z <= max_deg.z;
}

Vec3 JointLimit::clamp(Vec3 e) const {
  return {std::clamp(e.x, min_deg.x, max_deg.x), std::clamp(e.y, min_deg.y, max_deg.y),
          std::clamp(e.z, min_deg.z, max_deg.z)};
}

const std::array<JointLimit, kJointCount>& joint_limits() {
  // x: flexion (+ forward), y: abduction / side bend, z: twist. The left and right sides
  // mirror each other: a positive y rotation moves a hanging limb towards -x (the right),
  // so the left side abducts with negative y and the right side with positive y.
  static const std::array<JointLimit, kJointCount> kLimits = [] {
    std::array<JointLimit, kJointCount> l{};
    auto set = [&](Joint j, Vec3 lo, Vec3 hi) { l[index(j)] = {lo, hi}; };
    auto mirror = [&](Joint left, Joint right, Vec3 lo, Vec3 hi) {
      set(left, lo, hi);
      // Mirror in the x = 0 plane: x angles keep their sign, y and z angles flip.
      set(right, {lo.x, -hi.y, -hi.z}, {hi.x, -lo.y, -lo.z});
    };
    set(Joint::kPelvis, {-90, -60, -180}, {90, 60, 180});
    // Upward bones (spine, neck, head) lean forward with negative x: Rx(+a) tips +z
    // towards -y (backwards).
    set(Joint::kSpine1, {-45, -20, -20}, {25, 20, 20});
    set(Joint::kSpine2, {-30, -15, -20}, {15, 15, 20});
    set(Joint::kSpine3, {-20, -10, -15}, {10, 10, 15});
    set(Joint::kNeck, {-40, -25, -45}, {35, 25, 45});
    set(Joint::kHead, {-25, -20, -35}, {25, 20, 35});
    // Hip: flexion 120 forward, 25 back; abduction 45 out, 20 across; twist 40.
    mirror(Joint::kLeftHip, Joint::kRightHip, {-25, -45, -40}, {120, 20, 40});
    // Knee: flexion bends the shank backwards (negative x), up to 145 degrees.
    mirror(Joint::kLeftKnee, Joint::kRightKnee, {-145, -5, -10}, {0, 5, 10});
    mirror(Joint::kLeftAnkle, Joint::kRightAnkle, {-45, -20, -25}, {25, 25, 25});
    mirror(Joint::kLeftFoot, Joint::kRightFoot, {-30, -5, -5}, {40, 5, 5});
    mirror(Joint::kLeftCollar, Joint::kRightCollar, {-15, -15, -20}, {15, 30, 15});
    // Shoulder (arm starts 45 below horizontal): up to 135 forward, 50 back; from the
    // side at 45 degrees below the body to vertical above the head.
    mirror(Joint::kLeftShoulder, Joint::kRightShoulder, {-50, -135, -90}, {135, 45, 90});
    // Elbow: flexion folds the forearm forward and up (positive x), up to 150.
    mirror(Joint::kLeftElbow, Joint::kRightElbow, {0, -20, -90}, {150, 20, 90});
    mirror(Joint::kLeftWrist, Joint::kRightWrist, {-70, -30, -80}, {80, 30, 80});
    mirror(Joint::kLeftHand, Joint::kRightHand, {-20, -10, -10}, {60, 10, 10});
    return l;
  }();
  return kLimits;
}

Mat3 euler_to_matrix(Vec3 e) {
  return Mat3::rotation_z(deg_to_rad(e.z)) * Mat3::rotation_y(deg_to_rad(e.y)) *
         Mat3::rotation_x(deg_to_rad(e.x));
}

Vec3 matrix_to_euler(const Mat3& r) {
  // R = Rz Ry Rx: r20 = -sin(y), r21 = cos(y) sin(x), r22 = cos(y) cos(x),
  // r10 = sin(z) cos(y), r00 = cos(z) cos(y).
  constexpr double kRadToDeg = 180.0 / kPi;
  double sy = std::clamp(-r.m[2][0], -1.0, 1.0);
  double y = std::asin(sy);
  double x, z;
  if (std::abs(sy) < 1.0 - 1e-12) {
    x = std::atan2(r.m[2][1], r.m[2][2]);
    z = std::atan2(r.m[1][0], r.m[0][0]);
  } else {  // gimbal lock: put all of the remaining rotation into x
    z = 0;
    x = std::atan2(-r.m[1][2], r.m[1][1]);
  }
  return {x * kRadToDeg, y * kRadToDeg, z * kRadToDeg};
}

Pose Pose::from_euler(const std::array<Vec3, kJointCount>& euler_deg, Vec3 root_translation) {
  Pose p;
  for (int j = 0; j < kJointCount; ++j) p.local[j] = euler_to_matrix(euler_deg[j]);
  p.root_translation = root_translation;
  return p;
}

Posed forward_kinematics(const RestJoints& rest, const Pose& pose) {
  Posed out;
  out.rotation[0] = pose.local[0];
  out.position[0] = rest[0] + pose.root_translation;
  for (int j = 1; j < kJointCount; ++j) {
    int parent = kParents[j];
    out.rotation[j] = out.rotation[parent] * pose.local[j];
    out.position[j] = out.position[parent] + out.rotation[parent] * (rest[j] - rest[parent]);
  }
  return out;
}

}  // namespace synthfarm::humans
