#include "humans/motion.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

namespace synthfarm::humans {
namespace {

constexpr double kTwoPi = 2.0 * kPi;
constexpr double kRadToDeg = 180.0 / kPi;
constexpr double kHalfSqrt2 = 0.70710678118654752440;

constexpr int idx(Joint j) { return index(j); }
// The right-side counterpart of a left-side joint (right = left + 1 in kJointNames).
constexpr int side_index(Joint left_joint, bool left) { return idx(left_joint) + (left ? 0 : 1); }

// Rotation by `deg` about a unit axis (Rodrigues), from portable sin/cos.
Mat3 axis_angle(Vec3 a, double deg) {
  double c = portable_cos(deg_to_rad(deg)), s = portable_sin(deg_to_rad(deg)), t = 1.0 - c;
  return Mat3::from_rows({c + t * a.x * a.x, t * a.x * a.y - s * a.z, t * a.x * a.z + s * a.y},
                         {t * a.x * a.y + s * a.z, c + t * a.y * a.y, t * a.y * a.z - s * a.x},
                         {t * a.x * a.z - s * a.y, t * a.y * a.z + s * a.x, c + t * a.z * a.z});
}

// Rotation about z given its cosine and sine.
Mat3 rotation_z_cs(double c, double s) { return Mat3::from_rows({c, -s, 0}, {s, c, 0}, {0, 0, 1}); }

// Mirror image of a rotation in the x = 0 plane: M R M with M = diag(-1, 1, 1). Euler
// angles (x, y, z) become (x, -y, -z), matching how joint_limits() mirrors the sides.
Mat3 mirror(Mat3 r) {
  r.m[0][1] = -r.m[0][1];
  r.m[0][2] = -r.m[0][2];
  r.m[1][0] = -r.m[1][0];
  r.m[2][0] = -r.m[2][0];
  return r;
}

// Euler angles clamped a hair inside the joint's limits, so that the decomposition of
// the matrix (which may differ in the last bits) still reports them as inside.
Mat3 limited_euler(int joint, Vec3 e) {
  const JointLimit& l = joint_limits()[joint];
  // A zero bound (knee, elbow) decomposes exactly, so it needs no margin.
  auto inside = [](double v, double lo, double hi) {
    constexpr double kMargin = 1e-3;
    return std::clamp(v, lo == 0.0 ? 0.0 : lo + kMargin, hi == 0.0 ? 0.0 : hi - kMargin);
  };
  e = {inside(e.x, l.min_deg.x, l.max_deg.x), inside(e.y, l.min_deg.y, l.max_deg.y),
       inside(e.z, l.min_deg.z, l.max_deg.z)};
  return euler_to_matrix(e);
}
void set_euler(Pose& pose, Joint j, Vec3 e) { pose.local[idx(j)] = limited_euler(idx(j), e); }
// `e` is given for the left side; the right side gets the mirror image.
void set_side(Pose& pose, Joint left_joint, bool left, Vec3 e) {
  int j = side_index(left_joint, left);
  pose.local[j] = limited_euler(j, left ? e : Vec3{e.x, -e.y, -e.z});
}

// Raised-cosine bump of height 1 centred on cycle position `centre` with half-width
// `half_width` (cycles), periodic with period 1. Continuous with continuous slope.
double wrap_half(double x) { return x - std::floor(x + 0.5); }  // into [-0.5, 0.5)
double bump(double phase, double centre, double half_width) {
  double d = wrap_half(phase - centre);
  if (d <= -half_width || d >= half_width) return 0.0;
  return 0.5 * (1.0 + portable_cos(kPi * d / half_width));
}
double smoothstep(double x) {
  x = std::clamp(x, 0.0, 1.0);
  return x * x * (3.0 - 2.0 * x);
}
double wave(double cycles) { return portable_sin(kTwoPi * cycles); }
double wave_cos(double cycles) { return portable_cos(kTwoPi * cycles); }

// ---- Arms ------------------------------------------------------------------------------

// One arm, described for the left side in anatomical terms.
struct ArmPose {
  double elevation_deg = 8;  // raise from hanging at the side, in the frontal plane
  double flex_deg = 0;       // then swing forward (+) or back (-) about the body's x axis
  double twist_deg = 0;      // rotation about the upper arm (applied first, at rest)
  double elbow_deg = 10;     // elbow flexion, 0..130
  Vec3 wrist_deg;            // wrist Euler angles
  double curl_deg = 10;      // finger curl
  Vec3 collar_deg;           // collar Euler angles
};

// The elbow as a hinge perpendicular to the A-pose upper arm: the forearm moves in the
// plane of the arm and the body's forward axis. Built as Rz(zeta) * Rx(phi) with the z
// turn found from vectors so no inverse trigonometry is needed (zeta <= 83 deg for phi
// <= 130 deg, inside the elbow's limits).
Mat3 elbow_hinge(double phi_deg) {
  phi_deg = std::clamp(phi_deg, 0.0, 130.0);
  double c = portable_cos(deg_to_rad(phi_deg)), s = portable_sin(deg_to_rad(phi_deg));
  // Rx(phi) takes the forearm's horizontal part to (1, s) (scaled); the hinge needs it at
  // (c, sqrt(2) s). Rotate one onto the other about z.
  Vec3 u = normalize(Vec3{1.0, s, 0.0});
  Vec3 w = normalize(Vec3{c, s / kHalfSqrt2, 0.0});
  double cz = u.x * w.x + u.y * w.y, sz = u.x * w.y - u.y * w.x;
  return rotation_z_cs(cz, sz) * Mat3::rotation_x(deg_to_rad(phi_deg));
}

void set_arm(Pose& pose, bool left, const ArmPose& arm) {
  const Vec3 upper_arm_rest{kHalfSqrt2, 0.0, -kHalfSqrt2};  // left arm, 45 deg below
  Mat3 shoulder = Mat3::rotation_x(deg_to_rad(arm.flex_deg)) *
                  Mat3::rotation_y(deg_to_rad(45.0 - arm.elevation_deg)) *
                  axis_angle(upper_arm_rest, arm.twist_deg);
  Mat3 elbow = elbow_hinge(arm.elbow_deg);
  pose.local[side_index(Joint::kLeftShoulder, left)] = left ? shoulder : mirror(shoulder);
  pose.local[side_index(Joint::kLeftElbow, left)] = left ? elbow : mirror(elbow);
  set_side(pose, Joint::kLeftCollar, left, arm.collar_deg);
  set_side(pose, Joint::kLeftWrist, left, arm.wrist_deg);
  set_side(pose, Joint::kLeftHand, left, {arm.curl_deg, 0, 0});
}

// ---- Legs ------------------------------------------------------------------------------

struct LegPose {
  Vec3 hip_deg;         // left-side Euler angles: x flexion, y (-: out), z twist
  double knee_deg = 0;  // flexion, >= 0 (the shank folds back)
  Vec3 ankle_deg;       // x: + dorsiflexion, y: inversion
  double toe_deg = 0;   // + toes up
};

void set_leg(Pose& pose, bool left, const LegPose& leg) {
  set_side(pose, Joint::kLeftHip, left, leg.hip_deg);
  set_side(pose, Joint::kLeftKnee, left, {-leg.knee_deg, 0, 0});
  set_side(pose, Joint::kLeftAnkle, left, leg.ankle_deg);
  set_side(pose, Joint::kLeftFoot, left, {leg.toe_deg, 0, 0});
}

// ---- Limits without inverse trigonometry -----------------------------------------------

// Whether the angle of the vector (c, s) lies in [lo_deg, hi_deg] (a range within
// (-360, 360]), compared by cross products with the range's end directions.
bool angle_within(double c, double s, double lo_deg, double hi_deg) {
  if (hi_deg - lo_deg >= 360.0) return true;
  double cl = portable_cos(deg_to_rad(lo_deg)), sl = portable_sin(deg_to_rad(lo_deg));
  double ch = portable_cos(deg_to_rad(hi_deg)), sh = portable_sin(deg_to_rad(hi_deg));
  double eps = 1e-12 * (std::abs(c) + std::abs(s));
  if (hi_deg - lo_deg <= 180.0) return cl * s - sl * c >= -eps && c * sh - s * ch >= -eps;
  // A wide range: outside only when strictly inside the (narrower) complement.
  return !(ch * s - sh * c > eps && c * sl - s * cl > eps);
}

bool rotation_within(const Mat3& r, const JointLimit& limit) {
  // Mirrors matrix_to_euler: y = asin(-r20) in [-90, 90], x = atan2(r21, r22),
  // z = atan2(r10, r00); at gimbal lock z = 0 and x = atan2(-r12, r11).
  double sy = std::clamp(-r.m[2][0], -1.0, 1.0);
  double y_lo = std::max(limit.min_deg.y, -90.0), y_hi = std::min(limit.max_deg.y, 90.0);
  if (y_lo > y_hi) return false;
  constexpr double kEps = 1e-12;
  if (sy < portable_sin(deg_to_rad(y_lo)) - kEps || sy > portable_sin(deg_to_rad(y_hi)) + kEps) {
    return false;
  }
  if (std::abs(sy) < 1.0 - 1e-12) {
    return angle_within(r.m[2][2], r.m[2][1], limit.min_deg.x, limit.max_deg.x) &&
           angle_within(r.m[0][0], r.m[1][0], limit.min_deg.z, limit.max_deg.z);
  }
  return limit.min_deg.z <= 0.0 && limit.max_deg.z >= 0.0 &&
         angle_within(r.m[1][1], -r.m[1][2], limit.min_deg.x, limit.max_deg.x);
}

// ---- Capsules --------------------------------------------------------------------------

enum Seg : int {
  kPelvisSpine,
  kSpineLow,
  kSpineMid,
  kChest,
  kNeckHead,
  kSkull,
  kLHipBone,
  kRHipBone,
  kLThigh,
  kRThigh,
  kLShank,
  kRShank,
  kLFootSeg,
  kRFootSeg,
  kLUpper,
  kRUpper,
  kLFore,
  kRFore,
  kLHandSeg,
  kRHandSeg,
  kLFingers,
  kRFingers,
  kSegCount
};

struct Capsule {
  Vec3 a, b;
  double ra = 0, rb = 0;
};

std::array<Capsule, kSegCount> body_capsules(const RestJoints& rest, const JointRadii& r,
                                             const Posed& posed) {
  std::array<Capsule, kSegCount> c;
  auto bone = [&](Seg s, Joint from, Joint to) {
    c[s] = {posed.position[idx(from)], posed.position[idx(to)], r[idx(from)], r[idx(to)]};
  };
  bone(kPelvisSpine, Joint::kPelvis, Joint::kSpine1);
  bone(kSpineLow, Joint::kSpine1, Joint::kSpine2);
  bone(kSpineMid, Joint::kSpine2, Joint::kSpine3);
  bone(kChest, Joint::kSpine3, Joint::kNeck);
  bone(kNeckHead, Joint::kNeck, Joint::kHead);
  bone(kLHipBone, Joint::kPelvis, Joint::kLeftHip);
  bone(kRHipBone, Joint::kPelvis, Joint::kRightHip);
  bone(kLThigh, Joint::kLeftHip, Joint::kLeftKnee);
  bone(kRThigh, Joint::kRightHip, Joint::kRightKnee);
  bone(kLShank, Joint::kLeftKnee, Joint::kLeftAnkle);
  bone(kRShank, Joint::kRightKnee, Joint::kRightAnkle);
  bone(kLFootSeg, Joint::kLeftAnkle, Joint::kLeftFoot);
  bone(kRFootSeg, Joint::kRightAnkle, Joint::kRightFoot);
  bone(kLUpper, Joint::kLeftShoulder, Joint::kLeftElbow);
  bone(kRUpper, Joint::kRightShoulder, Joint::kRightElbow);
  bone(kLFore, Joint::kLeftElbow, Joint::kLeftWrist);
  bone(kRFore, Joint::kRightElbow, Joint::kRightWrist);
  bone(kLHandSeg, Joint::kLeftWrist, Joint::kLeftHand);
  bone(kRHandSeg, Joint::kRightWrist, Joint::kRightHand);
  // The skull reaches one head radius above the head joint; fingers extend past the
  // hand joint by 0.8 of the palm.
  int head = idx(Joint::kHead);
  Vec3 skull_top = rest[head] + Vec3{0, 0.2 * r[head], r[head]};
  c[kSkull] = {posed.position[head], posed.transform(head, skull_top, rest), r[head], r[head]};
  for (bool left : {true, false}) {
    int hand = side_index(Joint::kLeftHand, left), wrist = side_index(Joint::kLeftWrist, left);
    Vec3 tip = rest[hand] + (rest[hand] - rest[wrist]) * 0.8;
    c[left ? kLFingers : kRFingers] = {posed.position[hand], posed.transform(hand, tip, rest),
                                       r[hand], 0.7 * r[hand]};
  }
  return c;
}

// The capsule pairs that must not interpenetrate (never neighbours along a chain).
const std::vector<std::pair<int, int>>& checked_pairs() {
  static const std::vector<std::pair<int, int>> kPairs = [] {
    std::vector<std::pair<int, int>> p;
    const int trunk[] = {kPelvisSpine, kSpineLow, kSpineMid, kChest,  kNeckHead, kSkull,
                         kLHipBone,    kRHipBone, kLThigh,   kRThigh, kLShank,   kRShank};
    const int left_distal[] = {kLFore, kLHandSeg, kLFingers};
    const int right_distal[] = {kRFore, kRHandSeg, kRFingers};
    for (int d : left_distal) {
      for (int t : trunk) p.emplace_back(d, t);
      for (int o : {kRUpper, kRFore, kRHandSeg, kRFingers}) p.emplace_back(d, o);
    }
    for (int d : right_distal) {
      for (int t : trunk) p.emplace_back(d, t);
      p.emplace_back(d, kLUpper);
    }
    p.emplace_back(kLUpper, kSkull);
    p.emplace_back(kRUpper, kSkull);
    p.emplace_back(kLUpper, kRUpper);
    for (int l : {kLThigh, kLShank, kLFootSeg}) {
      for (int r : {kRThigh, kRShank, kRFootSeg}) p.emplace_back(l, r);
    }
    return p;
  }();
  return kPairs;
}

// Penetration depth of two tapered capsules and the smaller radius at the contact.
struct Overlap {
  double depth, min_radius;
};
Overlap overlap(const Capsule& p, const Capsule& q) {
  SegmentClosest sc = segment_closest(p.a, p.b, q.a, q.b);
  double rp = p.ra + (p.rb - p.ra) * sc.s, rq = q.ra + (q.rb - q.ra) * sc.t;
  return {rp + rq - sc.distance, std::min(rp, rq)};
}

// ---- Sole ------------------------------------------------------------------------------

// Rest-pose sole points on the floor and the joint that carries each.
struct SolePoint {
  int joint;
  Vec3 rest;
};
std::array<SolePoint, 6> sole_points(const RestJoints& rest) {
  std::array<SolePoint, 6> out;
  int n = 0;
  for (bool left : {true, false}) {
    int ankle = side_index(Joint::kLeftAnkle, left), toe = side_index(Joint::kLeftFoot, left);
    Vec3 a = rest[ankle], f = rest[toe];
    Vec3 along{f.x - a.x, f.y - a.y, 0.0};
    out[n++] = {ankle, Vec3{a.x, a.y, 0.0} - along * 0.4};  // heel
    out[n++] = {ankle, Vec3{f.x, f.y, 0.0}};                // ball
    out[n++] = {toe, Vec3{f.x, f.y, 0.0} + along * 0.5};    // toe tip
  }
  return out;
}

// Approximate standing height from the rest joints (the head joint sits at ~0.89 h).
double body_height(const RestJoints& rest) { return rest[idx(Joint::kHead)].z / 0.89; }

// ---- Poses -----------------------------------------------------------------------------


ArmPose relaxed_arm(const MotionStyle& style) {
  ArmPose a;
  a.elevation_deg = style.arm_out_deg;
  a.elbow_deg = style.elbow_bend_deg;
  a.curl_deg = 15;
  return a;
}

Pose standing(const MotionStyle& style) {
  Pose p;
  set_arm(p, true, relaxed_arm(style));
  set_arm(p, false, relaxed_arm(style));
  set_euler(p, Joint::kHead, {0, 0, 0.6 * style.head_yaw_deg});
  set_euler(p, Joint::kNeck, {0, 0, 0.4 * style.head_yaw_deg});
  return p;
}

Pose draw_static(Pcg32& rng, const RestJoints& rest) {
  Pose p;
  Vec3 pelvis{uniform(rng, -4, 4), uniform(rng, -3, 3), 0};
  set_euler(p, Joint::kPelvis, pelvis);
  set_euler(p, Joint::kSpine1, {uniform(rng, -8, 6), uniform(rng, -5, 5), uniform(rng, -8, 8)});
  set_euler(p, Joint::kSpine2, {uniform(rng, -5, 5), uniform(rng, -4, 4), uniform(rng, -6, 6)});
  set_euler(p, Joint::kSpine3, {uniform(rng, -4, 4), uniform(rng, -3, 3), uniform(rng, -5, 5)});
  set_euler(p, Joint::kNeck, {uniform(rng, -10, 10), uniform(rng, -8, 8), uniform(rng, -15, 15)});
  set_euler(p, Joint::kHead, {uniform(rng, -12, 12), uniform(rng, -8, 8), uniform(rng, -25, 25)});

  // Legs: both nearly straight, one relaxed (contrapposto), or a step.
  std::array<LegPose, 2> legs;  // [0] left, [1] right, left-side conventions
  for (LegPose& leg : legs) {
    leg.hip_deg = {uniform(rng, -4, 6), uniform(rng, -6, 2), uniform(rng, -10, 10)};
    leg.knee_deg = uniform(rng, 0, 6);
  }
  double stance = rng.next_double();
  int which = static_cast<int>(rng.next_below(2));
  if (stance >= 0.6 && stance < 0.85) {  // weight on one leg, the other relaxed
    legs[which].hip_deg.x += uniform(rng, 3, 10);
    legs[which].hip_deg.y += uniform(rng, 0, 4);
    legs[which].knee_deg += uniform(rng, 8, 20);
  } else if (stance >= 0.85) {  // a step forward
    legs[which].hip_deg.x = uniform(rng, 15, 28);
    legs[which].knee_deg = uniform(rng, 3, 12);
    legs[1 - which].hip_deg.x = -uniform(rng, 4, 12);
  }
  for (int side = 0; side < 2; ++side) {
    bool left = side == 0;
    LegPose& leg = legs[side];
    double pelvis_y = left ? pelvis.y : -pelvis.y;
    // Keep the foot roughly flat: undo the pitch and roll above it.
    leg.ankle_deg = {
        std::clamp(-(pelvis.x + leg.hip_deg.x - leg.knee_deg) + uniform(rng, -3, 3), -40.0, 22.0),
        std::clamp(-(pelvis_y + leg.hip_deg.y), -18.0, 22.0), uniform(rng, -5, 5)};
    leg.toe_deg = uniform(rng, -3, 8);
    set_leg(p, left, leg);
  }

  // Arms: down, gesturing or raised; each side on its own.
  double arm_mode = rng.next_double();
  int raised_side = static_cast<int>(rng.next_below(2));
  for (int side = 0; side < 2; ++side) {
    ArmPose a;
    a.collar_deg = {uniform(rng, -5, 5), uniform(rng, -5, 8), uniform(rng, -5, 5)};
    a.wrist_deg = {uniform(rng, -15, 15), uniform(rng, -10, 10), uniform(rng, -20, 20)};
    a.curl_deg = uniform(rng, 5, 35);
    bool gesture = (arm_mode >= 0.55 && arm_mode < 0.75 && side == raised_side) ||
                   (arm_mode >= 0.75 && arm_mode < 0.88);
    bool raised = arm_mode >= 0.88 && side == raised_side;
    if (raised) {
      if (rng.next_below(2) == 0) {  // to the side
        a.elevation_deg = uniform(rng, 75, 120);
        a.flex_deg = uniform(rng, 0, 30);
      } else {  // to the front
        a.elevation_deg = uniform(rng, 10, 40);
        a.flex_deg = uniform(rng, 60, 105);
      }
      a.twist_deg = uniform(rng, 0, 50);
      a.elbow_deg = uniform(rng, 0, 60);
    } else if (gesture) {
      a.elevation_deg = uniform(rng, 5, 35);
      a.flex_deg = uniform(rng, 10, 60);
      a.twist_deg = uniform(rng, -20, 25);
      a.elbow_deg = uniform(rng, 40, 115);
      a.wrist_deg = {uniform(rng, -30, 30), uniform(rng, -15, 15), uniform(rng, -40, 40)};
    } else {
      a.elevation_deg = uniform(rng, 3, 18);
      a.flex_deg = uniform(rng, -10, 15);
      a.twist_deg = uniform(rng, -15, 15);
      a.elbow_deg = uniform(rng, 3, 30);
    }
    set_arm(p, side == 0, a);
  }
  place_on_floor(rest, p);
  return p;
}

Pose walk_or_run(bool run, const ClipParams& params, const RestJoints& rest,
                 const MotionStyle& style) {
  double speed = std::clamp(params.speed, 0.25, 3.0);
  double k = std::sqrt(speed);
  double sf = style.stride * k;  // stride factor
  double g = params.phase - std::floor(params.phase);
  double h = body_height(rest);
  Pose p;

  double pelvis_z = (run ? 6.0 : 5.0) * std::min(sf, 1.6) * wave_cos(g);
  double pelvis_y = -2.0 * wave(g);
  set_euler(p, Joint::kPelvis, {run ? -4.0 : 0.0, pelvis_y, pelvis_z});
  double lean = style.lean_deg + (run ? 8.0 : 0.0);
  // The thorax counter-rotates against the pelvis; negative x bends the trunk forward.
  for (Joint j : {Joint::kSpine1, Joint::kSpine2, Joint::kSpine3}) {
    double share = j == Joint::kSpine1 ? 0.5 : (j == Joint::kSpine2 ? 0.3 : 0.2);
    set_euler(p, j, {-lean * share, -0.3 * pelvis_y, -0.55 * pelvis_z});
  }
  set_euler(p, Joint::kNeck, {0.5 * lean, 0, 0.4 * style.head_yaw_deg + 0.3 * pelvis_z});
  set_euler(p, Joint::kHead, {0.3 * lean, 0, 0.6 * style.head_yaw_deg + 0.3 * pelvis_z});

  for (int side = 0; side < 2; ++side) {
    bool left = side == 0;
    double gl = g + (left ? 0.0 : 0.5);  // left heel strike at g = 0
    LegPose leg;
    double twist = left ? -pelvis_z : pelvis_z;  // feet keep pointing forward
    if (!run) {
      double amp = std::min(23.0 * sf, 32.0);
      leg.hip_deg = {4.0 + amp * wave_cos(gl), -1.5 * wave(gl), twist};
      leg.knee_deg = 4.0 + 14.0 * bump(gl, 0.13, 0.12) +
                     std::min(50.0 + 10.0 * sf, 70.0) * bump(gl, 0.72, 0.2);
      leg.ankle_deg = {-6.0 * bump(gl, 0.05, 0.07) + 10.0 * bump(gl, 0.40, 0.18) -
                           std::min(16.0 * sf, 24.0) * bump(gl, 0.63, 0.1) +
                           4.0 * bump(gl, 0.85, 0.12),
                       0, 0};
      leg.toe_deg = 22.0 * bump(gl, 0.56, 0.08);
    } else {
      double amp = std::min(30.0 * sf, 36.0);
      leg.hip_deg = {14.0 + amp * wave_cos(gl - 0.9), -2.0 * wave(gl), twist};
      leg.knee_deg = 10.0 + 30.0 * bump(gl, 0.17, 0.17) +
                     std::min(75.0 + 15.0 * sf, 110.0) * bump(gl, 0.7, 0.28);
      leg.ankle_deg = {
          15.0 * bump(gl, 0.2, 0.15) - 25.0 * bump(gl, 0.42, 0.12) + 5.0 * bump(gl, 0.85, 0.15), 0,
          0};
      leg.toe_deg = 25.0 * bump(gl, 0.38, 0.08);
    }
    set_leg(p, left, leg);

    // Each arm swings with the opposite leg: the left arm is back at left heel strike.
    ArmPose arm = relaxed_arm(style);
    double forward = -wave_cos(gl);  // +1 when this arm is furthest forward
    if (!run) {
      double amp = std::min(16.0 * style.arm_swing * sf, 30.0);
      arm.flex_deg = -3.0 + amp * forward;
      arm.elbow_deg = style.elbow_bend_deg + 4.0 + 10.0 * (0.5 + 0.5 * forward);
    } else {
      double amp = std::min(26.0 * style.arm_swing * std::min(sf, 1.3), 32.0);
      arm.elevation_deg += 4.0;
      arm.flex_deg = 5.0 + amp * forward;
      arm.elbow_deg = 80.0 + 15.0 * (0.5 + 0.5 * forward);
      arm.twist_deg = -10.0;
    }
    set_arm(p, left, arm);
  }

  p.root_translation.x = (run ? 0.006 : 0.012) * h * wave(g);
  if (!params.in_place) {
    double stride = (run ? 1.25 : 0.72) * h * sf;
    p.root_translation.y = stride * params.phase;
  }
  place_on_floor(rest, p);
  if (run) {  // flight phases after each toe-off
    p.root_translation.z += 0.03 * h * style.bounce * (bump(g, 0.46, 0.1) + bump(g, 0.96, 0.1));
  }
  return p;
}

Pose idle(const ClipParams& params, const RestJoints& rest, const MotionStyle& style) {
  double ph = params.phase;
  double h = body_height(rest);
  Pose p = standing(style);
  double shift = wave(ph);  // +1: weight on the left leg
  double dx = 0.015 * h * style.sway * shift;
  double leg = rest[idx(Joint::kLeftHip)].z - rest[idx(Joint::kLeftAnkle)].z;
  double tilt_deg = dx / leg * kRadToDeg;  // the legs lean so the feet stay put
  set_euler(p, Joint::kPelvis, {0, -1.5 * shift, 2.0 * wave(ph + 0.25)});
  for (int side = 0; side < 2; ++side) {
    bool left = side == 0;
    double y = left ? tilt_deg : -tilt_deg;  // absolute +y tilt, in left-side terms
    LegPose l;
    l.hip_deg = {0, y + (left ? -1.5 : 1.5) * shift, 0};
    l.knee_deg = 3.0 + 3.0 * (left ? 0.5 - 0.5 * shift : 0.5 + 0.5 * shift);
    l.ankle_deg = {l.knee_deg, -l.hip_deg.y, 0};
    set_leg(p, left, l);
  }
  double breath = wave(ph + style.idle_offset);
  set_euler(p, Joint::kSpine3, {1.0 * breath, 0, 0});
  set_euler(p, Joint::kSpine2, {0.5 * breath, 1.0 * shift, 0});
  double look = 0.6 * style.head_yaw_deg + 8.0 * wave(ph + 0.3 + style.idle_offset);
  set_euler(p, Joint::kNeck, {2.0 * wave(2.0 * ph + style.idle_offset), 0, 0.4 * look});
  set_euler(p, Joint::kHead, {3.0 * wave(2.0 * ph + 0.2), 1.5 * wave(ph + 0.6), 0.6 * look});
  for (int side = 0; side < 2; ++side) {
    bool left = side == 0;
    ArmPose arm = relaxed_arm(style);
    arm.collar_deg = {0, -1.5 * breath, 0};
    arm.flex_deg = 2.0 * (left ? shift : -shift);
    arm.elbow_deg += 2.0 * wave(ph + (left ? 0.1 : 0.4));
    set_arm(p, left, arm);
  }
  p.root_translation.x = dx;
  place_on_floor(rest, p);
  return p;
}

Pose wave_clip(const ClipParams& params, const RestJoints& rest, const MotionStyle& style) {
  double ph = params.phase;
  Pose p = standing(style);
  bool left = style.wave_left != (params.variant % 2 != 0);
  ArmPose arm = relaxed_arm(style);
  arm.elevation_deg = 105;
  arm.flex_deg = 15;
  arm.twist_deg = 85;  // external rotation: the elbow hinge now swings the forearm up
  arm.elbow_deg = 70.0 + 22.0 * wave(ph);
  arm.wrist_deg = {0, 8.0 * wave(ph - 0.1), 0};
  arm.curl_deg = 5;
  arm.collar_deg = {0, -6, 0};
  set_arm(p, left, arm);
  set_euler(p, Joint::kSpine2, {0, left ? 3.0 : -3.0, 0});
  double turn = left ? 10.0 : -10.0;  // look a little towards the waving side
  set_euler(p, Joint::kNeck, {0, 0, 0.4 * turn + 2.0 * wave(ph)});
  set_euler(p, Joint::kHead, {-3.0, 0, 0.6 * turn});
  place_on_floor(rest, p);
  return p;
}

Pose sit(const ClipParams& params, const RestJoints& rest, const MotionStyle& style) {
  double s = smoothstep(params.phase);
  double arc = portable_sin(kPi * s);  // 0 at both ends, 1 halfway
  Pose p = standing(style);
  double thigh = 90.0 * s;              // thigh angle from vertical (forward)
  double lean = 10.0 * s + 25.0 * arc;  // the trunk leans forward to keep balance
  double shank = 15.0 * arc;            // knees travel forward over the toes
  set_euler(p, Joint::kPelvis, {-lean, 0, 0});
  set_euler(p, Joint::kSpine1, {5.0 * s, 0, 0});
  set_euler(p, Joint::kNeck, {0.5 * lean, 0, 0.4 * style.head_yaw_deg});
  for (bool left : {true, false}) {
    LegPose leg;
    leg.hip_deg = {thigh + lean, 0, 0};
    leg.knee_deg = thigh + shank;
    leg.ankle_deg = {shank, 0, 0};  // foot flat on the floor
    set_leg(p, left, leg);
    ArmPose arm = relaxed_arm(style);
    arm.flex_deg = 30.0 * s;
    arm.elbow_deg = style.elbow_bend_deg + 45.0 * s;
    set_arm(p, left, arm);
  }
  // Keep the ankles where they are at rest: the pelvis moves back and down.
  Posed posed = forward_kinematics(rest, p);
  Vec3 moved{0, 0, 0};
  for (Joint a : {Joint::kLeftAnkle, Joint::kRightAnkle}) {
    moved = moved + (posed.position[idx(a)] - rest[idx(a)]) * 0.5;
  }
  p.root_translation = -moved;
  return p;
}

}  // namespace

SegmentClosest segment_closest(Vec3 p0, Vec3 p1, Vec3 q0, Vec3 q1) {
  // Ericson, Real-Time Collision Detection, 5.1.9.
  constexpr double kTiny = 1e-18;
  Vec3 d1 = p1 - p0, d2 = q1 - q0, r = p0 - q0;
  double a = dot(d1, d1), e = dot(d2, d2), f = dot(d2, r);
  double s = 0, t = 0;
  if (a <= kTiny && e <= kTiny) {
    s = t = 0;
  } else if (a <= kTiny) {
    t = std::clamp(f / e, 0.0, 1.0);
  } else {
    double c = dot(d1, r);
    if (e <= kTiny) {
      s = std::clamp(-c / a, 0.0, 1.0);
    } else {
      double b = dot(d1, d2), denom = a * e - b * b;
      s = denom > kTiny * a * e ? std::clamp((b * f - c * e) / denom, 0.0, 1.0) : 0.0;
      t = (b * s + f) / e;
      if (t < 0) {
        t = 0;
        s = std::clamp(-c / a, 0.0, 1.0);
      } else if (t > 1) {
        t = 1;
        s = std::clamp((b - c) / a, 0.0, 1.0);
      }
    }
  }
  return {s, t, length((p0 + d1 * s) - (q0 + d2 * t))};
}

bool self_intersects(const RestJoints& rest, const JointRadii& radius, const Pose& pose) {
  auto now = body_capsules(rest, radius, forward_kinematics(rest, pose));
  auto at_rest = body_capsules(rest, radius, forward_kinematics(rest, Pose::rest()));
  for (auto [i, j] : checked_pairs()) {
    Overlap o = overlap(now[i], now[j]);
    if (o.depth <= 0) continue;
    double allowed = 0.5 * o.min_radius + std::max(0.0, overlap(at_rest[i], at_rest[j]).depth);
    if (o.depth > allowed) return true;
  }
  return false;
}

bool within_joint_limits(const Pose& pose) {
  const auto& limits = joint_limits();
  for (int j = 0; j < kJointCount; ++j) {
    if (!rotation_within(pose.local[j], limits[j])) return false;
  }
  return true;
}

double sole_height(const RestJoints& rest, const Pose& pose) {
  Posed posed = forward_kinematics(rest, pose);
  double lowest = 0;
  bool first = true;
  for (const SolePoint& sp : sole_points(rest)) {
    double z = posed.transform(sp.joint, sp.rest, rest).z;
    if (first || z < lowest) lowest = z;
    first = false;
  }
  return lowest;
}

void place_on_floor(const RestJoints& rest, Pose& pose) {
  pose.root_translation.z -= sole_height(rest, pose);
}

Pose random_static_pose(Pcg32& rng, const RestJoints& rest, const JointRadii& radius) {
  constexpr int kAttempts = 32;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    Pose p = draw_static(rng, rest);
    if (within_joint_limits(p) && !self_intersects(rest, radius, p)) return p;
  }
  Pose p = standing(MotionStyle{});
  place_on_floor(rest, p);
  return p;
}

std::string_view clip_name(Clip clip) {
  switch (clip) {
    case Clip::kStatic:
      return "static";
    case Clip::kWalk:
      return "walk";
    case Clip::kRun:
      return "run";
    case Clip::kIdle:
      return "idle";
    case Clip::kWave:
      return "wave";
    case Clip::kSit:
      return "sit";
  }
  return "static";
}

std::optional<Clip> clip_from_name(std::string_view name) {
  for (Clip c : {Clip::kStatic, Clip::kWalk, Clip::kRun, Clip::kIdle, Clip::kWave, Clip::kSit}) {
    if (clip_name(c) == name) return c;
  }
  return std::nullopt;
}

MotionStyle draw_motion_style(Pcg32& rng) {
  MotionStyle s;
  s.stride = uniform(rng, 0.88, 1.12);
  s.cadence = uniform(rng, 0.9, 1.1);
  s.arm_swing = uniform(rng, 0.6, 1.3);
  s.bounce = uniform(rng, 0.7, 1.3);
  s.arm_out_deg = uniform(rng, 4, 14);
  s.elbow_bend_deg = uniform(rng, 5, 25);
  s.lean_deg = uniform(rng, 0, 6);
  s.head_yaw_deg = uniform(rng, -8, 8);
  s.sway = uniform(rng, 0.5, 1.5);
  s.idle_offset = rng.next_double();
  s.wave_left = rng.next_below(4) == 0;  // most people wave with the right hand
  s.wave_rate = uniform(rng, 0.8, 1.25);
  return s;
}

double clip_cycle_seconds(Clip clip, const MotionStyle& style, double speed) {
  double k = std::sqrt(std::clamp(speed, 0.25, 3.0));
  switch (clip) {
    case Clip::kWalk:
      return 1.1 / (style.cadence * k);
    case Clip::kRun:
      return 0.72 / (style.cadence * k);
    case Clip::kIdle:
      return 4.0 / k;
    case Clip::kWave:
      return 0.9 / (style.wave_rate * k);
    case Clip::kSit:
      return 1.6 / k;
    case Clip::kStatic:
      return 1.0;
  }
  return 1.0;
}

Pose clip_pose(Clip clip, const ClipParams& params, const RestJoints& rest,
               const MotionStyle& style) {
  switch (clip) {
    case Clip::kWalk:
      return walk_or_run(false, params, rest, style);
    case Clip::kRun:
      return walk_or_run(true, params, rest, style);
    case Clip::kIdle:
      return idle(params, rest, style);
    case Clip::kWave:
      return wave_clip(params, rest, style);
    case Clip::kSit:
      return sit(params, rest, style);
    case Clip::kStatic:
      break;
  }
  Pose p = standing(style);
  place_on_floor(rest, p);
  return p;
}

}  // namespace synthfarm::humans
