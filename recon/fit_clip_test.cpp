// recon/fit_clip.h: a known skeleton clip, placed in a tilted camera's frame as the fitter
// reports bodies, comes back as the same motion relative to its first frame; it survives
// the BVH writer and reader; bad fits are refused with the frame named.
#include "recon/fit_clip.h"

#include <gtest/gtest.h>

#include <cmath>

#include "humans/mocap_bvh.h"
#include "humans/motion.h"

namespace synthfarm::recon {
namespace {

const Mat3 kMirror = Mat3::from_rows({-1, 0, 0}, {0, 1, 0}, {0, 0, 1});

double max_difference(const Mat3& a, const Mat3& b) {
  double worst = 0;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) worst = std::max(worst, std::abs(a.m[i][j] - b.m[i][j]));
  return worst;
}

struct Known {
  humans::Shape shape;
  std::vector<humans::Pose> poses;  // body frame, with root rotation and travel
  std::vector<FitResult> fits;
};

// A walk with a turning pelvis, seen by a camera 3 m away looking down 20 degrees.
Known known_walk(int frames) {
  Known k;
  k.shape.height_m = 1.8;
  k.shape.bmi = 24;
  const humans::RestBody body = humans::build_rest_body(k.shape);
  Pcg32 rng(42, 3);
  const humans::MotionStyle style = humans::draw_motion_style(rng);
  const double cycle = humans::clip_cycle_seconds(humans::Clip::kWalk, style, 1.0);
  const Mat3 camera = Mat3::rotation_x(deg_to_rad(-110)) * Mat3::rotation_z(deg_to_rad(30));
  const Vec3 camera_t{0.2, 0.8, 3.0};
  for (int f = 0; f < frames; ++f) {
    humans::ClipParams params;
    params.phase = 0.3 + f / 30.0 / cycle;
    humans::Pose pose = humans::clip_pose(humans::Clip::kWalk, params, body.joints, style);
    pose.local[0] = humans::euler_to_matrix({3, -4, 10.0 + f}) * pose.local[0];  // a visible root turn
    k.poses.push_back(pose);
    humans::Pose rootless = pose;
    rootless.local[0] = Mat3{};
    rootless.root_translation = {};
    FitResult fit;
    fit.shape = k.shape;
    for (int j = 1; j < humans::kJointCount; ++j) fit.pose_euler_deg[j] = humans::matrix_to_euler(pose.local[j]);
    // X = C M p'(t) + Tc with p'(t) = Q(t) (p(t) - rest0) + rest0 + rt(t): R(t) = C M Q(t) M.
    fit.global_rotation = camera * kMirror * pose.local[0] * kMirror;
    const Vec3 pelvis = body.joints[0] + pose.root_translation;
    fit.joints[0] = camera * (kMirror * pelvis) + camera_t;
    fit.translation = fit.joints[0] - fit.global_rotation * (kMirror * body.joints[0]);
    fit.converged = true;
    k.fits.push_back(fit);
  }
  return k;
}

TEST(FitClip, TheMotionComesBackRelativeToTheFirstFrame) {
  const Known k = known_walk(12);
  auto clip = clip_from_fits(k.fits, k.shape, 30);
  ASSERT_TRUE(clip.has_value()) << clip.error();
  ASSERT_EQ(clip->frames.size(), 12u);
  EXPECT_EQ(clip->fps, 30);
  EXPECT_EQ(clip->rest, humans::build_rest_body(k.shape).joints);
  const Mat3 q0t = k.poses[0].local[0].transposed();
  double worst_rotation = 0, worst_translation = 0;
  for (size_t f = 0; f < k.poses.size(); ++f) {
    worst_rotation = std::max(worst_rotation, max_difference(clip->frames[f].local[0], q0t * k.poses[f].local[0]));
    for (int j = 1; j < humans::kJointCount; ++j)
      worst_rotation = std::max(worst_rotation, max_difference(clip->frames[f].local[j], k.poses[f].local[j]));
    const Vec3 expected = q0t * (k.poses[f].root_translation - k.poses[0].root_translation);
    worst_translation = std::max(worst_translation, length(clip->frames[f].root_translation - expected));
  }
  EXPECT_LT(worst_rotation, 1e-9);
  EXPECT_LT(worst_translation, 1e-9);
  EXPECT_EQ(clip->frames[0].root_translation, (Vec3{0, 0, 0}));
  // The walk travels forward in the clip's frame (+y), about 1 m/s.
  EXPECT_GT(clip->frames.back().root_translation.y, 0.2);
}

TEST(FitClip, SurvivesTheBvhWriterAndReader) {
  const Known k = known_walk(8);
  auto clip = clip_from_fits(k.fits, k.shape, 25);
  ASSERT_TRUE(clip.has_value()) << clip.error();
  auto text = humans::write_bvh(*clip);
  ASSERT_TRUE(text.has_value()) << text.error();
  auto motion = humans::parse_bvh(*text, "fitted.bvh");
  ASSERT_TRUE(motion.has_value()) << motion.error().to_string();
  EXPECT_NEAR(motion->frame_time_s, 1.0 / 25, 1e-12);
  auto map = humans::resolve_joint_map(*motion, "auto");
  ASSERT_TRUE(map.has_value()) << map.error().to_string();
  double worst = 0;
  for (int f = 0; f < 8; ++f) {
    const humans::Pose back = humans::retarget_frame(*motion, *map, clip->rest, f);
    for (int j = 0; j < humans::kJointCount; ++j)
      worst = std::max(worst, max_difference(back.local[j], clip->frames[f].local[j]));
  }
  EXPECT_LT(worst, 1e-9);
}

TEST(FitClip, SkippedFramesHoldAndBadFitsAreRefused) {
  Known k = known_walk(5);
  k.fits[0] = FitResult{};
  k.fits[0].skipped = true;
  k.fits[3].skipped = true;
  auto clip = clip_from_fits(k.fits, k.shape, 30);
  ASSERT_TRUE(clip.has_value()) << clip.error();
  EXPECT_LT(max_difference(clip->frames[0].local[4], clip->frames[1].local[4]), 1e-12);  // leading: the first fitted
  EXPECT_LT(max_difference(clip->frames[3].local[4], clip->frames[2].local[4]), 1e-12);  // held
  EXPECT_EQ(clip->frames[3].root_translation, clip->frames[2].root_translation);

  EXPECT_FALSE(clip_from_fits({}, k.shape, 30).has_value());
  EXPECT_FALSE(clip_from_fits(k.fits, k.shape, 0).has_value());
  std::vector<FitResult> none(3);
  for (FitResult& f : none) f.skipped = true;
  EXPECT_EQ(clip_from_fits(none, k.shape, 30).error(), "no frame of the sequence was fitted");
  k.fits[2].global_rotation.m[1][1] = std::nan("");
  EXPECT_EQ(clip_from_fits(k.fits, k.shape, 30).error(), "frame 2: the global rotation is not finite");
  k.fits[2].global_rotation = Mat3{};
  k.fits[4].pose_euler_deg[7].y = INFINITY;
  EXPECT_EQ(clip_from_fits(k.fits, k.shape, 30).error(), "frame 4: the rotation of left_ankle is not finite");
}

}  // namespace
}  // namespace synthfarm::recon
