#include "humans/motion.h"

#include "humans/test_skeleton.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

namespace synthfarm::humans {
namespace {

JointRadii test_radii(double h) {
  JointRadii r{};
  auto set = [&](Joint j, double v) { r[index(j)] = v * h; };
  set(Joint::kPelvis, 0.09);
  set(Joint::kSpine1, 0.085);
  set(Joint::kSpine2, 0.085);
  set(Joint::kSpine3, 0.09);
  set(Joint::kNeck, 0.035);
  set(Joint::kHead, 0.06);
  for (bool left : {true, false}) {
    auto sj = [&](Joint l) { return static_cast<Joint>(index(l) + (left ? 0 : 1)); };
    set(sj(Joint::kLeftHip), 0.07);
    set(sj(Joint::kLeftKnee), 0.035);
    set(sj(Joint::kLeftAnkle), 0.025);
    set(sj(Joint::kLeftFoot), 0.02);
    set(sj(Joint::kLeftCollar), 0.04);
    set(sj(Joint::kLeftShoulder), 0.04);
    set(sj(Joint::kLeftElbow), 0.03);
    set(sj(Joint::kLeftWrist), 0.022);
    set(sj(Joint::kLeftHand), 0.02);
  }
  return r;
}

// Every joint's Euler angles, decomposed the reference way, inside the limits.
::testing::AssertionResult in_limits(const Pose& pose) {
  for (int j = 0; j < kJointCount; ++j) {
    Vec3 e = matrix_to_euler(pose.local[j]);
    if (!joint_limits()[j].contains(e)) {
      return ::testing::AssertionFailure()
             << kJointNames[j] << " at (" << e.x << ", " << e.y << ", " << e.z << ")";
    }
  }
  return ::testing::AssertionSuccess();
}

// Angle of the relative rotation between two rotation matrices, degrees.
double rotation_angle_deg(const Mat3& a, const Mat3& b) {
  Mat3 r = a.transposed() * b;
  double c = std::clamp((r.m[0][0] + r.m[1][1] + r.m[2][2] - 1.0) / 2.0, -1.0, 1.0);
  return std::acos(c) * 180.0 / kPi;
}

bool same_bits(const Pose& a, const Pose& b) { return std::memcmp(&a, &b, sizeof(Pose)) == 0; }

constexpr Clip kAllClips[] = {Clip::kStatic, Clip::kWalk, Clip::kRun,
                              Clip::kIdle,   Clip::kWave, Clip::kSit};

TEST(MotionNames, RoundTrip) {
  for (Clip c : kAllClips) EXPECT_EQ(clip_from_name(clip_name(c)), c);
  EXPECT_EQ(clip_name(Clip::kSit), "sit");
  EXPECT_FALSE(clip_from_name("dance").has_value());
}

TEST(MotionGeometry, SegmentClosest) {
  auto sc = segment_closest({0, 0, 0}, {1, 0, 0}, {0.5, 1, -1}, {0.5, 1, 1});
  EXPECT_NEAR(sc.distance, 1.0, 1e-12);
  EXPECT_NEAR(sc.s, 0.5, 1e-12);
  EXPECT_NEAR(sc.t, 0.5, 1e-12);
  sc = segment_closest({0, 0, 0}, {1, 0, 0}, {2, 0, 0}, {3, 1, 0});  // end to end
  EXPECT_NEAR(sc.distance, 1.0, 1e-12);
  EXPECT_NEAR(sc.s, 1.0, 1e-12);
  EXPECT_NEAR(sc.t, 0.0, 1e-12);
  sc = segment_closest({0, 0, 0}, {1, 0, 0}, {0, 2, 0}, {1, 2, 0});  // parallel
  EXPECT_NEAR(sc.distance, 2.0, 1e-12);
}

TEST(MotionLimits, PortableCheckAgreesWithDecomposition) {
  Pcg32 rng = Pcg32::for_purpose(7, "limits");
  int disagreements = 0;
  for (int i = 0; i < 2000; ++i) {
    Pose p;
    for (int j = 0; j < kJointCount; ++j) {
      p.local[j] = euler_to_matrix({rng.next_double() * 360 - 180, rng.next_double() * 180 - 90,
                                    rng.next_double() * 360 - 180});
      Pose one;
      one.local[j] = p.local[j];
      bool reference = joint_limits()[j].contains(matrix_to_euler(p.local[j]));
      if (within_joint_limits(one) != reference) ++disagreements;
    }
  }
  EXPECT_EQ(disagreements, 0);
  EXPECT_TRUE(within_joint_limits(Pose::rest()));
}

TEST(MotionFloor, RestPoseStandsOnTheFloor) {
  RestJoints rest = test_rest(1.7);
  EXPECT_NEAR(sole_height(rest, Pose::rest()), 0.0, 1e-12);
  Pose p;
  p.root_translation = {0.3, -0.2, 0.05};
  EXPECT_NEAR(sole_height(rest, p), 0.05, 1e-12);
  place_on_floor(rest, p);
  EXPECT_NEAR(sole_height(rest, p), 0.0, 1e-12);
}

TEST(MotionSelfIntersection, RestAndArmsDownAreClear) {
  RestJoints rest = test_rest(1.75);
  JointRadii radius = test_radii(1.75);
  EXPECT_FALSE(self_intersects(rest, radius, Pose::rest()));
  MotionStyle style;
  EXPECT_FALSE(self_intersects(rest, radius, clip_pose(Clip::kStatic, {}, rest, style)));
}

TEST(MotionSelfIntersection, ForearmThroughTorsoIsDetected) {
  RestJoints rest = test_rest(1.75);
  JointRadii radius = test_radii(1.75);
  Pose p;
  // Left arm hanging at the side, forearm turned to point right (-x) at waist height:
  // straight through the belly.
  p.local[index(Joint::kLeftShoulder)] = Mat3::rotation_y(deg_to_rad(45));
  p.local[index(Joint::kLeftElbow)] = Mat3::rotation_y(deg_to_rad(90));
  Posed posed = forward_kinematics(rest, p);
  Vec3 wrist = posed.position[index(Joint::kLeftWrist)];
  ASSERT_LT(wrist.x, 0.1 * 1.75);  // the wrist is inside the torso's width
  EXPECT_TRUE(self_intersects(rest, radius, p));
}

TEST(MotionSelfIntersection, LegThroughLegIsDetected) {
  RestJoints rest = test_rest(1.75);
  JointRadii radius = test_radii(1.75);
  Pose p;
  p.local[index(Joint::kLeftHip)] = euler_to_matrix({0, 30, 0});  // left leg swung across
  EXPECT_TRUE(self_intersects(rest, radius, p));
  p.local[index(Joint::kLeftHip)] = euler_to_matrix({0, -20, 0});  // swung out: clear
  EXPECT_FALSE(self_intersects(rest, radius, p));
}

TEST(MotionStatic, ThousandPosesWithinLimitsAndClear) {
  for (double h : {1.5, 1.75, 2.0}) {
    RestJoints rest = test_rest(h);
    JointRadii radius = test_radii(h);
    int count = h == 1.75 ? 1000 : 200;
    int raised_arms = 0, bent_elbows = 0;
    for (int i = 0; i < count; ++i) {
      Pcg32 rng = Pcg32::for_purpose(sample_seed(42, i), "pose");
      Pose p = random_static_pose(rng, rest, radius);
      ASSERT_TRUE(in_limits(p)) << "pose " << i;
      ASSERT_FALSE(self_intersects(rest, radius, p)) << "pose " << i;
      ASSERT_NEAR(sole_height(rest, p), 0.0, 1e-9) << "pose " << i;
      Posed posed = forward_kinematics(rest, p);
      for (bool left : {true, false}) {
        int sh = index(Joint::kLeftShoulder) + (left ? 0 : 1);
        if (posed.position[sh + 2].z > posed.position[sh].z) ++raised_arms;  // elbow above
        if (rotation_angle_deg(Mat3{}, p.local[sh + 2]) > 45) ++bent_elbows;
      }
    }
    // Variety: some raised arms and gestures, but mostly relaxed.
    EXPECT_GT(raised_arms, count / 50);
    EXPECT_LT(raised_arms, count / 4);
    EXPECT_GT(bent_elbows, count / 10);
  }
}

TEST(MotionStatic, Deterministic) {
  RestJoints rest = test_rest(1.7);
  JointRadii radius = test_radii(1.7);
  Pcg32 a = Pcg32::for_purpose(99, "pose"), b = Pcg32::for_purpose(99, "pose");
  for (int i = 0; i < 20; ++i) {
    EXPECT_TRUE(
        same_bits(random_static_pose(a, rest, radius), random_static_pose(b, rest, radius)));
  }
  Pcg32 sa = Pcg32::for_purpose(5, "style"), sb = Pcg32::for_purpose(5, "style");
  MotionStyle style_a = draw_motion_style(sa), style_b = draw_motion_style(sb);
  for (Clip c : kAllClips) {
    ClipParams params{.speed = 1.2, .phase = 0.37};
    EXPECT_TRUE(
        same_bits(clip_pose(c, params, rest, style_a), clip_pose(c, params, rest, style_b)));
  }
}

TEST(MotionClips, AllPhasesWithinLimits) {
  for (int person = 0; person < 10; ++person) {
    Pcg32 rng = Pcg32::for_purpose(sample_seed(3, person), "style");
    MotionStyle style = draw_motion_style(rng);
    RestJoints rest = test_rest(1.5 + 0.05 * person);
    for (Clip c : kAllClips) {
      for (double speed : {0.5, 1.0, 2.0}) {
        for (int k = 0; k < 50; ++k) {
          ClipParams params{.speed = speed, .phase = k / 49.0, .variant = k % 2};
          Pose p = clip_pose(c, params, rest, style);
          ASSERT_TRUE(in_limits(p)) << clip_name(c) << " person " << person << " phase " << k;
          ASSERT_TRUE(within_joint_limits(p)) << clip_name(c) << " phase " << k;
          if (c != Clip::kSit) {
            ASSERT_GE(sole_height(rest, p), -1e-9) << clip_name(c) << " phase " << k;
          }
        }
      }
    }
  }
}

TEST(MotionClips, StandingClipsDoNotSelfIntersect) {
  RestJoints rest = test_rest(1.75);
  JointRadii radius = test_radii(1.75);
  for (int person = 0; person < 5; ++person) {
    Pcg32 rng = Pcg32::for_purpose(sample_seed(4, person), "style");
    MotionStyle style = draw_motion_style(rng);
    for (Clip c : {Clip::kStatic, Clip::kWalk, Clip::kRun, Clip::kIdle, Clip::kWave}) {
      for (int k = 0; k < 50; ++k) {
        Pose p = clip_pose(c, {.phase = k / 50.0}, rest, style);
        ASSERT_FALSE(self_intersects(rest, radius, p)) << clip_name(c) << " phase " << k;
      }
    }
  }
}

TEST(MotionClips, WalkAndRunArePeriodicAndTravelForward) {
  RestJoints rest = test_rest(1.75);
  MotionStyle style;
  for (Clip c : {Clip::kWalk, Clip::kRun, Clip::kIdle, Clip::kWave}) {
    Pose p0 = clip_pose(c, {.phase = 0.0}, rest, style);
    Pose p1 = clip_pose(c, {.phase = 1.0}, rest, style);
    Pose p2 = clip_pose(c, {.phase = 2.0}, rest, style);
    for (int j = 0; j < kJointCount; ++j) {
      EXPECT_LT(rotation_angle_deg(p0.local[j], p1.local[j]), 1e-5) << clip_name(c);
      EXPECT_LT(rotation_angle_deg(p0.local[j], p2.local[j]), 1e-5) << clip_name(c);
    }
    EXPECT_NEAR(p0.root_translation.z, p1.root_translation.z, 1e-9);
    if (c == Clip::kWalk || c == Clip::kRun) {
      double stride = p1.root_translation.y - p0.root_translation.y;
      EXPECT_GT(stride, c == Clip::kWalk ? 1.0 : 1.8) << clip_name(c);
      EXPECT_LT(stride, c == Clip::kWalk ? 1.7 : 2.6) << clip_name(c);
      EXPECT_NEAR(p2.root_translation.y - p1.root_translation.y, stride, 1e-9);
      // Forward travel grows monotonically over a cycle; in place it does not.
      double last = -1;
      for (int k = 0; k <= 30; ++k) {
        double y = clip_pose(c, {.phase = k / 30.0}, rest, style).root_translation.y;
        EXPECT_GT(y, last);
        last = y;
        EXPECT_EQ(
            clip_pose(c, {.phase = k / 30.0, .in_place = true}, rest, style).root_translation.y,
            0.0);
      }
      // Faster is further per cycle.
      Pose fast = clip_pose(c, {.speed = 2.0, .phase = 1.0}, rest, style);
      EXPECT_GT(fast.root_translation.y, stride * 1.3);
    }
  }
}

TEST(MotionClips, WalkSwingsLegsAndArmsInOpposition) {
  RestJoints rest = test_rest(1.75);
  MotionStyle style;
  // At phase 0 the left heel strikes: left foot ahead of the right, left hand behind.
  Posed posed = forward_kinematics(rest, clip_pose(Clip::kWalk, {.phase = 0.0}, rest, style));
  auto pos = [&](Joint j) { return posed.position[index(j)]; };
  EXPECT_GT(pos(Joint::kLeftAnkle).y, pos(Joint::kRightAnkle).y + 0.3);
  EXPECT_LT(pos(Joint::kLeftWrist).y, pos(Joint::kRightWrist).y - 0.1);
  posed = forward_kinematics(rest, clip_pose(Clip::kWalk, {.phase = 0.5}, rest, style));
  EXPECT_LT(pos(Joint::kLeftAnkle).y, pos(Joint::kRightAnkle).y - 0.3);
  // Mid swing (phase 0.72 for the left leg): the knee is clearly bent.
  Pose mid = clip_pose(Clip::kWalk, {.phase = 0.72}, rest, style);
  EXPECT_LT(matrix_to_euler(mid.local[index(Joint::kLeftKnee)]).x, -45);
}

TEST(MotionClips, RunHasFlight) {
  RestJoints rest = test_rest(1.75);
  MotionStyle style;
  double highest = -1;
  for (int k = 0; k < 50; ++k) {
    highest = std::max(highest,
                       sole_height(rest, clip_pose(Clip::kRun, {.phase = k / 50.0}, rest, style)));
  }
  EXPECT_GT(highest, 0.03);
}

TEST(MotionClips, SitEndsSeatedWithFeetOnTheFloor) {
  RestJoints rest = test_rest(1.75);
  MotionStyle style;
  Pose stand = clip_pose(Clip::kSit, {.phase = 0.0}, rest, style);
  Pose seated = clip_pose(Clip::kSit, {.phase = 1.0}, rest, style);
  Vec3 hip = matrix_to_euler(seated.local[index(Joint::kLeftHip)]);
  Vec3 knee = matrix_to_euler(seated.local[index(Joint::kRightKnee)]);
  Vec3 pelvis = matrix_to_euler(seated.local[index(Joint::kPelvis)]);
  EXPECT_NEAR(hip.x + pelvis.x, 90, 5);  // thigh horizontal
  EXPECT_NEAR(hip.x, 90, 15);
  EXPECT_NEAR(knee.x, -90, 10);
  EXPECT_LT(seated.root_translation.z, -0.15 * 1.75);
  EXPECT_NEAR(stand.root_translation.z, 0.0, 1e-9);
  Posed p0 = forward_kinematics(rest, stand), p1 = forward_kinematics(rest, seated);
  // Seated thighs are horizontal: knees at hip height.
  EXPECT_NEAR(p1.position[index(Joint::kLeftKnee)].z, p1.position[index(Joint::kLeftHip)].z, 0.05);
  for (double phase : {0.0, 0.3, 0.6, 1.0, 1.5}) {
    Pose p = clip_pose(Clip::kSit, {.phase = phase}, rest, style);
    Posed posed = forward_kinematics(rest, p);
    for (Joint a : {Joint::kLeftAnkle, Joint::kRightAnkle}) {
      Vec3 d = posed.position[index(a)] - rest[index(a)];
      EXPECT_LT(length(d), 0.01) << phase;  // the feet stay put
    }
    EXPECT_GT(sole_height(rest, p), -0.01);
  }
  EXPECT_LT(p1.position[0].z, p0.position[0].z - 0.2);  // lower pelvis
}

TEST(MotionClips, WaveRaisesTheChosenHand) {
  RestJoints rest = test_rest(1.75);
  MotionStyle style;
  style.wave_left = false;
  for (int k = 0; k < 10; ++k) {
    for (int variant : {0, 1}) {
      Pose p = clip_pose(Clip::kWave, {.phase = k / 10.0, .variant = variant}, rest, style);
      Posed posed = forward_kinematics(rest, p);
      int wrist = index(variant == 0 ? Joint::kRightWrist : Joint::kLeftWrist);
      int other = index(variant == 0 ? Joint::kLeftWrist : Joint::kRightWrist);
      EXPECT_GT(posed.position[wrist].z, posed.position[index(Joint::kHead)].z - 0.1);
      EXPECT_LT(posed.position[other].z, posed.position[index(Joint::kPelvis)].z + 0.1);
    }
  }
}

TEST(MotionClips, ConsecutiveFramesAreSmooth) {
  RestJoints rest = test_rest(1.75);
  Pcg32 rng = Pcg32::for_purpose(11, "style");
  MotionStyle style = draw_motion_style(rng);
  const double dt = 1.0 / 30.0;
  for (Clip c : kAllClips) {
    for (double speed : {1.0, 2.0}) {
      double cycle = clip_cycle_seconds(c, style, speed);
      double max_step_deg = 0, max_move_m = 0;
      Pose prev = clip_pose(c, {.speed = speed, .phase = 0}, rest, style);
      for (int k = 1; k <= 90; ++k) {
        Pose p = clip_pose(c, {.speed = speed, .phase = k * dt / cycle}, rest, style);
        for (int j = 0; j < kJointCount; ++j) {
          max_step_deg = std::max(max_step_deg, rotation_angle_deg(prev.local[j], p.local[j]));
        }
        max_move_m = std::max(max_move_m, length(p.root_translation - prev.root_translation));
        prev = p;
      }
      // Running knees reach ~1000 deg/s; nothing else comes close.
      double limit = c == Clip::kRun ? 35.0 : 20.0;
      EXPECT_LT(max_step_deg, limit) << clip_name(c) << " speed " << speed;
      EXPECT_LT(max_move_m, 0.25) << clip_name(c) << " speed " << speed;  // < 7.5 m/s
    }
  }
}

}  // namespace
}  // namespace synthfarm::humans
