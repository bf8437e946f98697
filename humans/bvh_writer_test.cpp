// The BVH writer (humans/bvh_writer.h) against the farm's own reader: a written clip reads
// back through parse_bvh + the "auto" joint map + retarget_frame with the local rotations
// it was written with, onto the same body and onto a body of other proportions.
#include "humans/bvh_writer.h"

#include <gtest/gtest.h>

#include <cmath>

#include "base/rng.h"
#include "humans/mocap_bvh.h"
#include "humans/test_skeleton.h"

namespace synthfarm::humans {
namespace {

// The angle of the rotation taking a to b, degrees.
double angle_between_deg(const Mat3& a, const Mat3& b) {
  const Mat3 d = a.transposed() * b;
  const double c = std::clamp((d.m[0][0] + d.m[1][1] + d.m[2][2] - 1) / 2, -1.0, 1.0);
  // acos loses precision near 0; the skew part gives the small angles exactly enough.
  const double s = std::sqrt((d.m[2][1] - d.m[1][2]) * (d.m[2][1] - d.m[1][2]) +
                             (d.m[0][2] - d.m[2][0]) * (d.m[0][2] - d.m[2][0]) +
                             (d.m[1][0] - d.m[0][1]) * (d.m[1][0] - d.m[0][1])) / 2;
  return std::atan2(s, c) * 180.0 / kPi;
}

// Frames of random poses within the joint limits and a wandering root.
BvhClip random_clip(int frames) {
  Pcg32 rng = Pcg32::for_purpose(7, "bvh_writer_test", 0);
  BvhClip clip;
  clip.rest = test_rest(1.75);
  clip.fps = 24;
  for (int f = 0; f < frames; ++f) {
    std::array<Vec3, kJointCount> euler{};
    for (int j = 0; j < kJointCount; ++j) {
      const JointLimit& limit = joint_limits()[j];
      euler[j] = {uniform(rng, limit.min_deg.x, limit.max_deg.x), uniform(rng, limit.min_deg.y, limit.max_deg.y),
                  uniform(rng, limit.min_deg.z, limit.max_deg.z)};
    }
    euler[0] = {uniform(rng, -30, 30), uniform(rng, -20, 20), uniform(rng, -180, 180)};
    clip.frames.push_back(Pose::from_euler(euler, {0.3 * f, -0.1 * f, 0.02 * f}));
  }
  return clip;
}

TEST(BvhWriter, ReadsBackWithTheWrittenRotations) {
  const BvhClip clip = random_clip(5);
  auto text = write_bvh(clip);
  ASSERT_TRUE(text.has_value()) << text.error();
  auto motion = parse_bvh(*text, "fit.bvh");
  ASSERT_TRUE(motion.has_value()) << motion.error().to_string();
  EXPECT_EQ(motion->joints.size(), static_cast<size_t>(kJointCount));
  EXPECT_EQ(motion->frame_count, 5);
  EXPECT_DOUBLE_EQ(motion->frame_time_s, 1.0 / 24);
  auto map = resolve_joint_map(*motion, "auto");
  ASSERT_TRUE(map.has_value()) << map.error().to_string();
  EXPECT_EQ(map->preset, "mixamo");
  for (int j = 0; j < kJointCount; ++j) {
    ASSERT_GE(map->source[j], 0) << kJointNames[j];
    EXPECT_EQ(motion->joints[map->source[j]].name, kBvhJointNames[j]);
  }

  double worst_deg = 0, worst_m = 0;
  for (int f = 0; f < 5; ++f) {
    const Pose pose = retarget_frame(*motion, *map, clip.rest, f);
    for (int j = 0; j < kJointCount; ++j) {
      worst_deg = std::max(worst_deg, angle_between_deg(pose.local[j], clip.frames[f].local[j]));
    }
    // The reader starts the clip at the rest position: translations are relative to frame 0.
    const Vec3 moved = clip.frames[f].root_translation - clip.frames[0].root_translation;
    worst_m = std::max(worst_m, length(pose.root_translation - moved));
  }
  std::printf("round trip: worst rotation error %.3g degrees, worst root error %.3g m\n", worst_deg, worst_m);
  EXPECT_LT(worst_deg, 1e-6);
  EXPECT_LT(worst_m, 1e-9);

  // The same clip on a smaller body: test_rest scales uniformly, so every bone points the
  // same way and the rotations carry over unchanged; root motion scales with the legs.
  const RestJoints small = test_rest(1.4);
  const Pose last = retarget_frame(*motion, *map, small, 4);
  for (int j = 0; j < kJointCount; ++j) {
    EXPECT_LT(angle_between_deg(last.local[j], clip.frames[4].local[j]), 1e-6) << kJointNames[j];
  }
  const Vec3 moved = (clip.frames[4].root_translation - clip.frames[0].root_translation) * (1.4 / 1.75);
  EXPECT_LT(length(last.root_translation - moved), 1e-9);
}

TEST(BvhWriter, WritesTheRestPoseAsOffsetsInCentimetres) {
  BvhClip clip;
  clip.rest = test_rest(1.75);
  clip.frames = {Pose::rest()};
  auto text = write_bvh(clip);
  ASSERT_TRUE(text.has_value()) << text.error();
  auto motion = parse_bvh(*text, "rest.bvh").value();
  // The left knee's offset from the hip: body (0, 0.005, -0.22) * 1.75 m -> file (x, z, y) cm.
  const BvhJoint& knee = motion.joints[*motion.find_joint("LeftLeg")];
  EXPECT_NEAR(knee.offset.x, 0, 1e-12);
  EXPECT_NEAR(knee.offset.y, -0.22 * 175, 1e-9);
  EXPECT_NEAR(knee.offset.z, 0.005 * 175, 1e-9);
  EXPECT_TRUE(motion.joints[*motion.find_joint("Head")].end_site.has_value());
  // The root's position channels hold the rest pelvis, Y up.
  EXPECT_NEAR(motion.frame(0)[1], 0.53 * 175, 1e-9);

  EXPECT_FALSE(write_bvh(BvhClip{clip.rest, {}, 30}).has_value());
  EXPECT_EQ(write_bvh(BvhClip{clip.rest, clip.frames, 0}).error(), "frame rate 0 is not a positive number");
  BvhClip broken = clip;
  broken.frames[0].local[5].m[0][0] = std::nan("");
  EXPECT_EQ(write_bvh(broken).error(), "frame 0: the rotation of right_knee is not finite");
}

}  // namespace
}  // namespace synthfarm::humans
