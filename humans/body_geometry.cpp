// The primitives of the parametric body for a Shape (make_geometry): the rest skeleton,
// each primitive's ends, radii and frame, and the joint radii, all bent by sex, age, BMI and
// the proportion ratios; and which primitives touch (prim_neighbours). Part of body.cpp's
// build: see humans/internal/body_geometry.h.
#include "humans/internal/body_geometry.h"

#include <algorithm>
#include <cmath>

namespace synthfarm::humans::body_internal {
namespace {

constexpr double kSqrtHalf = 0.70710678118654752440;

void set_frame(Primitive& p, bool depth_is_up) {
  Vec3 ab = p.b - p.a;
  double len2 = dot(ab, ab);
  p.e3 = len2 > 1e-18 ? ab * (1.0 / std::sqrt(len2)) : Vec3{0, 0, 1};
  Vec3 hint = depth_is_up ? Vec3{0, 0, 1} : Vec3{0, 1, 0};
  p.e2 = normalize(hint - p.e3 * dot(hint, p.e3));
  p.e1 = cross(p.e2, p.e3);
}

double mean_radius(Vec3 r) { return 0.5 * (r.x + r.y); }

}  // namespace

const std::vector<std::vector<int>>& prim_neighbours() {
  static const std::vector<std::vector<int>> kNeighbours = [] {
    std::vector<std::vector<int>> n(kPrimCount);
    auto link = [&](int a, int b) {
      n[a].push_back(b);
      n[b].push_back(a);
    };
    link(kCrotch, kPelvisPrim);
    link(kPelvisPrim, kSpineLow);
    link(kSpineLow, kSpineMid);
    link(kSpineMid, kChest);
    link(kChest, kNeckPrim);
    link(kNeckPrim, kHeadPrim);
    link(kHeadPrim, kNose);
    for (int s = 0; s < 2; ++s) {
      link(kChest, kLCollar + s);
      link(kNeckPrim, kLCollar + s);
      link(kLCollar + s, kLUpperArm + s);
      link(kChest, kLUpperArm + s);
      link(kLUpperArm + s, kLForearm + s);
      link(kLForearm + s, kLPalm + s);
      link(kLPalm + s, kLFingers + s);
      link(kCrotch, kLThigh + s);
      link(kPelvisPrim, kLThigh + s);
      link(kLThigh + s, kLShin + s);
      link(kLShin + s, kLHeel + s);
      link(kLHeel + s, kLToes + s);
    }
    return n;
  }();
  return kNeighbours;
}

Geometry make_geometry(const Shape& s) {
  const double h = s.height_m;
  const double child = std::clamp((18.0 - s.age) / 14.0, 0.0, 1.0);  // 1 at 4 years, 0 at 18
  const double male = s.sex;
  const double bmi_ratio = s.bmi / 22.0;
  const double gx = std::sqrt(bmi_ratio);         // trunk width, thighs, upper arms
  const double gy = gx * std::sqrt(gx);           // belly depth: bmi^0.75
  const double gd = std::sqrt(gx);                // forearms, shins, neck: bmi^0.25
  const double leg = s.leg_length * (1.0 - 0.17 * child);
  const double arm = s.arm_length * (1.0 - 0.10 * child);
  const double head = s.head_size * (1.0 + 0.50 * child);
  const double shoulder = s.shoulder_width * (0.92 + 0.16 * male) * (1.0 - 0.12 * child);
  const double hips = s.hip_width * (1.06 - 0.12 * male);
  const double chest = 0.94 + 0.12 * male;
  const double waist = 0.95 + 0.10 * male;
  const double neck_len = 0.06 * (1.0 - 0.3 * child);

  Geometry g;
  auto P = [&](double x, double y, double z) { return Vec3{x, y, z} * h; };
  auto R = [&](double x, double y, double z) { return Vec3{x, y, z} * h; };
  RestJoints& j = g.joints;

  const double ankle_z = 0.045, knee_z = ankle_z + 0.24 * leg, hip_z = knee_z + 0.225 * leg;
  const double hip_x = 0.052 * hips * (0.7 + 0.3 * gx);
  const double pelvis_z = hip_z + 0.035;
  const double neck_z = pelvis_z + 0.285;
  j[idx(Joint::kPelvis)] = P(0, 0, pelvis_z);
  j[idx(Joint::kSpine1)] = P(0, -0.008, pelvis_z + 0.055);
  j[idx(Joint::kSpine2)] = P(0, -0.012, pelvis_z + 0.125);
  j[idx(Joint::kSpine3)] = P(0, -0.010, pelvis_z + 0.185);
  j[idx(Joint::kNeck)] = P(0, -0.012, neck_z);
  j[idx(Joint::kHead)] = P(0, 0.0, neck_z + neck_len);
  const Vec3 head_centre = j[idx(Joint::kHead)] + P(0, 0.010, 0.042) * head;
  const Vec3 head_radii = R(0.046, 0.056, 0.068) * head;

  for (int side : {1, -1}) {
    const int k = side == 1 ? 0 : 1;
    auto J = [&](Joint left) { return index(left) + k; };
    const double sx = side;
    j[J(Joint::kLeftHip)] = P(sx * hip_x, 0, hip_z);
    j[J(Joint::kLeftKnee)] = P(sx * (hip_x + 0.004), 0.005, knee_z);
    j[J(Joint::kLeftAnkle)] = P(sx * (hip_x + 0.008), -0.008, ankle_z);
    j[J(Joint::kLeftFoot)] = P(sx * (hip_x + 0.011), 0.067, 0.012);
    j[J(Joint::kLeftCollar)] = P(sx * 0.03, -0.012, neck_z - 0.02);
    const Vec3 shoulder_joint = P(sx * 0.10 * shoulder * (0.8 + 0.2 * gx), -0.012, neck_z - 0.035);
    j[J(Joint::kLeftShoulder)] = shoulder_joint;
    const Vec3 down = Vec3{sx * kSqrtHalf, 0, -kSqrtHalf} * h;
    j[J(Joint::kLeftElbow)] = shoulder_joint + down * (0.16 * arm);
    j[J(Joint::kLeftWrist)] = shoulder_joint + down * (0.30 * arm);
    j[J(Joint::kLeftHand)] = shoulder_joint + down * (0.35 * arm);
    g.finger_tip[k] = shoulder_joint + down * (0.395 * arm);
  }

  auto prim = [&](int p, Vec3 a, Vec3 b, Vec3 ra, Vec3 rb) {
    Primitive& q = g.prims[p];
    q.a = a;
    q.b = b;
    q.ra = ra;
    q.rb = rb;
    set_frame(q, kPrimInfo[p].depth_is_up);
  };
  const Vec3 crotch = P(0, -0.005, hip_z - 0.02);
  const Vec3 chest_top = j[idx(Joint::kNeck)] - P(0, 0, 0.025);
  const Vec3 r_crotch = R(0.075 * hips * gx, 0.055 * gy, 0.04);
  const Vec3 r_pelvis = R(0.090 * hips * gx, 0.062 * gy, 0.04);
  const Vec3 r_spine1 = R(0.082 * waist * gx, 0.060 * gy, 0.04);
  const Vec3 r_spine2 = R(0.078 * waist * gx, 0.058 * gy, 0.04);
  const Vec3 r_spine3 = R(0.090 * chest * shoulder * gx, 0.066 * gx, 0.04);
  const Vec3 r_chest_top = R(0.080 * chest * shoulder * gx, 0.050 * gx, 0.03);
  prim(kCrotch, crotch, j[idx(Joint::kPelvis)], r_crotch, r_pelvis);
  prim(kPelvisPrim, j[idx(Joint::kPelvis)], j[idx(Joint::kSpine1)], r_pelvis, r_spine1);
  prim(kSpineLow, j[idx(Joint::kSpine1)], j[idx(Joint::kSpine2)], r_spine1, r_spine2);
  prim(kSpineMid, j[idx(Joint::kSpine2)], j[idx(Joint::kSpine3)], r_spine2, r_spine3);
  prim(kChest, j[idx(Joint::kSpine3)], chest_top, r_spine3, r_chest_top);
  const Vec3 r_neck_a = R(0.036, 0.038, 0.036) * gd, r_neck_b = R(0.031, 0.033, 0.031) * gd;
  prim(kNeckPrim, j[idx(Joint::kNeck)], j[idx(Joint::kHead)], r_neck_a, r_neck_b);
  prim(kHeadPrim, head_centre, head_centre, head_radii, head_radii);
  const Vec3 nose_centre = head_centre + P(0, 0.050, -0.014) * head;
  const Vec3 nose_radii = R(0.008, 0.013, 0.015) * head;
  prim(kNose, nose_centre, nose_centre, nose_radii, nose_radii);

  for (int k = 0; k < 2; ++k) {
    const double sx = k == 0 ? 1 : -1;
    auto J = [&](Joint left) { return j[index(left) + k]; };
    prim(kLCollar + k, P(sx * 0.02, -0.012, neck_z - 0.03), J(Joint::kLeftShoulder),
         R(0.035, 0.045, 0.035) * gx, R(0.042, 0.042, 0.042) * gx);
    prim(kLUpperArm + k, J(Joint::kLeftShoulder), J(Joint::kLeftElbow), R(0.038, 0.038, 0.038) * gx,
         R(0.030, 0.030, 0.030) * gx);
    prim(kLForearm + k, J(Joint::kLeftElbow), J(Joint::kLeftWrist), R(0.029, 0.030, 0.029) * gd,
         R(0.018, 0.024, 0.018) * gd);
    prim(kLPalm + k, J(Joint::kLeftWrist), J(Joint::kLeftHand), R(0.016, 0.024, 0.020),
         R(0.015, 0.029, 0.015));
    const Vec3 down = normalize(J(Joint::kLeftHand) - J(Joint::kLeftWrist));
    const Vec3 r_tip = R(0.010, 0.021, 0.013);
    prim(kLFingers + k, J(Joint::kLeftHand), g.finger_tip[k] - down * r_tip.z,
         R(0.013, 0.028, 0.016), r_tip);
    prim(kLThigh + k, J(Joint::kLeftHip), J(Joint::kLeftKnee), R(0.052, 0.054, 0.052) * gx,
         R(0.036, 0.038, 0.036) * gd);
    prim(kLShin + k, J(Joint::kLeftKnee), J(Joint::kLeftAnkle), R(0.035, 0.037, 0.035) * gd,
         R(0.021, 0.022, 0.021) * gd);
    const Vec3 ankle = J(Joint::kLeftAnkle), ball = J(Joint::kLeftFoot);
    // Sole on z = 0: each end's vertical semi-axis (y, the frame's "depth" for feet) equals
    // its height. The heel reaches 0.03 h behind the ankle, the toes 0.0375 h past the ball.
    const Vec3 r_heel = R(0.022, 0.022, 0.020), r_ball = R(0.030, 0.017, 0.020);
    const Vec3 r_toe = R(0.022, 0.011, 0.012);
    const Vec3 heel = Vec3{ankle.x, ankle.y - 0.03 * h + r_heel.z, r_heel.y};
    const Vec3 ball_c = Vec3{ball.x, ball.y, r_ball.y};
    const Vec3 toe = Vec3{ball.x, ball.y + 0.0375 * h - r_toe.z, r_toe.y};
    prim(kLHeel + k, heel, ball_c, r_heel, r_ball);
    prim(kLToes + k, ball_c, toe, r_ball, r_toe);
    g.heel_back[k] = Vec3{heel.x, ankle.y - 0.03 * h, 0};
    g.toe_tip[k] = Vec3{toe.x, ball.y + 0.0375 * h, toe.z};
  }
  g.crotch_bottom = crotch - Vec3{0, 0, r_crotch.z};
  g.neck_base = j[idx(Joint::kNeck)];
  g.skull_top = head_centre + Vec3{0, 0, head_radii.z};

  auto& r = g.radius;
  r[idx(Joint::kPelvis)] = mean_radius(r_pelvis);
  r[idx(Joint::kSpine1)] = mean_radius(r_spine1);
  r[idx(Joint::kSpine2)] = mean_radius(r_spine2);
  r[idx(Joint::kSpine3)] = mean_radius(r_spine3);
  r[idx(Joint::kNeck)] = mean_radius(r_neck_a);
  r[idx(Joint::kHead)] = (head_radii.x + head_radii.y + head_radii.z) / 3.0;
  for (int k = 0; k < 2; ++k) {
    const auto& pr = g.prims;
    r[idx(Joint::kLeftHip) + k] = mean_radius(pr[kLThigh + k].ra);
    r[idx(Joint::kLeftKnee) + k] = mean_radius(pr[kLShin + k].ra);
    r[idx(Joint::kLeftAnkle) + k] = mean_radius(pr[kLShin + k].rb);
    r[idx(Joint::kLeftFoot) + k] = mean_radius(pr[kLToes + k].ra);
    r[idx(Joint::kLeftCollar) + k] = mean_radius(pr[kLCollar + k].ra);
    r[idx(Joint::kLeftShoulder) + k] = mean_radius(pr[kLUpperArm + k].ra);
    r[idx(Joint::kLeftElbow) + k] = mean_radius(pr[kLForearm + k].ra);
    r[idx(Joint::kLeftWrist) + k] = mean_radius(pr[kLPalm + k].ra);
    r[idx(Joint::kLeftHand) + k] = mean_radius(pr[kLFingers + k].ra);
  }
  return g;
}

}  // namespace synthfarm::humans::body_internal
