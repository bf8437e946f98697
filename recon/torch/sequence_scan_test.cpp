// recon/torch's fit_sequence and fit_scan on bodies made by the C++ model: a procedural walk
// seen by a camera (exact keypoints, a gap of unlabelled frames), and the model's own posed
// meshes as scans.
#include <gtest/gtest.h>

#include <cmath>

#include "base/rng.h"
#include "humans/body.h"
#include "humans/motion.h"
#include "recon/torch/fit_testing.h"
#include "recon/torch/fitter.h"

namespace synthfarm::recon::torch_fit {
namespace {

const TorchPeopleFitter& seq_fitter(int threads) { return fit_testing::shared_fitter(threads); }
using fit_testing::centred_error;

const Intrinsics kCamera{900, 900, 480, 270, 960, 540};

struct Walk {
  std::vector<Keypoints> keypoints;
  std::vector<std::array<Vec3, 24>> joints;  // camera frame
  std::vector<std::array<Vec3, 24>> euler_deg;
};

// A person walking across the view 5 m away, seen slightly from above, at 30 fps.
Walk make_walk(int frames, uint64_t seed) {
  Pcg32 rng(seed, 11);
  humans::Shape shape;
  shape.height_m = uniform(rng, 1.6, 1.85);
  shape.bmi = uniform(rng, 20, 28);
  shape.sex = rng.next_double();
  const humans::RestBody body = humans::build_rest_body(shape);
  const humans::MotionStyle style = humans::draw_motion_style(rng);
  const double cycle = humans::clip_cycle_seconds(humans::Clip::kWalk, style, 1.0);
  // Body forward (+y) to the camera's +x (across the view), up to -y, tilted 10 degrees: a
  // proper rotation (the fitter places bodies as X = R M p + T with R a rotation, M the
  // mirror; an improper R here would be a mirror-image person, fitted depth-flipped).
  const Mat3 r = Mat3::rotation_x(deg_to_rad(-10)) * Mat3::from_rows({0, 1, 0}, {0, 0, -1}, {-1, 0, 0}) *
                 Mat3::rotation_z(deg_to_rad(-20));
  const Vec3 t{-0.9, 0.9, 5.0};
  auto place = [&](Vec3 p) { return r * Vec3{-p.x, p.y, p.z} + t; };
  Walk w;
  for (int f = 0; f < frames; ++f) {
    humans::ClipParams params;
    params.phase = 0.1 + f / 30.0 / cycle;
    const humans::Pose pose = humans::clip_pose(humans::Clip::kWalk, params, body.joints, style);
    const humans::Posed posed = humans::forward_kinematics(body.joints, pose);
    std::vector<Vec3> v;
    humans::skin(body, posed, v);
    std::array<Vec3, 17> kp = humans::coco_keypoints(v, posed);
    for (Vec3& k : kp) k = place(k);
    Keypoints keypoints;
    for (int k = 0; k < 17; ++k) {
      keypoints.xyv[3 * k] = kCamera.fx * kp[k].x / kp[k].z + kCamera.cx;
      keypoints.xyv[3 * k + 1] = kCamera.fy * kp[k].y / kp[k].z + kCamera.cy;
      keypoints.xyv[3 * k + 2] = 2;
    }
    w.keypoints.push_back(keypoints);
    std::array<Vec3, 24> joints, euler;
    for (int j = 0; j < 24; ++j) joints[j] = place(posed.position[j]), euler[j] = humans::matrix_to_euler(pose.local[j]);
    w.joints.push_back(joints);
    w.euler_deg.push_back(euler);
  }
  return w;
}


TEST(SequenceFit, FitsAWalkAndFillsUnlabelledFrames) {
  const int frames = 36;
  Walk w = make_walk(frames, 3);
  for (int f = 16; f < 20; ++f) w.keypoints[f] = Keypoints{};  // the person hidden for 4 frames
  const std::vector<FitResult> r = seq_fitter(1).fit_sequence(w.keypoints, kCamera, 30);
  ASSERT_EQ(r.size(), size_t(frames));
  double observed_mm = 0, filled_mm = 0, residual = 0, knee2 = 0;
  int residuals = 0;
  for (int f = 0; f < frames; ++f) {
    const bool hidden = f >= 16 && f < 20;
    EXPECT_FALSE(r[f].skipped);
    EXPECT_EQ(r[f].converged, !hidden ? r[0].converged : false) << f;
    EXPECT_EQ(r[f].shape.height_m, r[0].shape.height_m);
    for (const Vec3& j : r[f].joints) ASSERT_TRUE(std::isfinite(j.x + j.y + j.z));
    const double e = 1000 * centred_error(r[f].joints, w.joints[f]);
    (hidden ? filled_mm : observed_mm) += e / (hidden ? 4 : frames - 4);
    for (double px : r[f].residual_px[0]) {
      EXPECT_EQ(std::isnan(px), hidden);
      if (!hidden) residual += px, ++residuals;
    }
    for (int knee : {4, 5}) knee2 += std::pow(r[f].pose_euler_deg[knee].x - w.euler_deg[f][knee].x, 2) / (2 * frames);
  }
  residual /= residuals;
  std::printf("walk of %d frames: centred joint error %.0f mm observed, %.0f mm filled; mean residual %.2f px; "
              "knee flexion RMS error %.1f degrees; converged %d, %d iterations\n",
              frames, observed_mm, filled_mm, residual, std::sqrt(knee2), int(r[0].converged), r[0].iterations);
  EXPECT_LT(observed_mm, 50);
  EXPECT_LT(filled_mm, 80);
  EXPECT_LT(residual, 3.0);
  EXPECT_LT(std::sqrt(knee2), 8.0);
}

TEST(SequenceFit, DeterministicForAnyThreadCountAndNeverNaN) {
  Walk w = make_walk(8, 9);
  w.keypoints[2].xyv[3 * 9] = std::numeric_limits<double>::quiet_NaN();  // ignored
  const std::vector<FitResult> a = seq_fitter(1).fit_sequence(w.keypoints, kCamera, 30);
  const std::vector<FitResult> b = seq_fitter(2).fit_sequence(w.keypoints, kCamera, 30);
  ASSERT_EQ(a.size(), 8u);
  for (int f = 0; f < 8; ++f) {
    EXPECT_EQ(a[f].loss, b[f].loss);
    for (int j = 0; j < 24; ++j) EXPECT_EQ(a[f].joints[j], b[f].joints[j]);
    EXPECT_TRUE(std::isfinite(a[f].loss));
  }
  EXPECT_TRUE(std::isnan(a[2].residual_px[0][9]));
  // Nothing to fit: every frame skipped; no frames: no results. Without intrinsics: a guess.
  const std::vector<Keypoints> blank(5);
  for (const FitResult& f : seq_fitter(1).fit_sequence(blank, kCamera, 30)) EXPECT_TRUE(f.skipped);
  EXPECT_TRUE(seq_fitter(1).fit_sequence({}, kCamera, 30).empty());
  const std::vector<FitResult> guessed = seq_fitter(1).fit_sequence(std::span(w.keypoints).first(4), Intrinsics{}, 0);
  for (const FitResult& f : guessed) EXPECT_TRUE(std::isfinite(f.loss) && !f.skipped);
}

struct ScanTruth {
  std::vector<Vec3> points;
  std::vector<std::array<uint32_t, 3>> triangles;
  humans::Shape shape;
};

// The model's own mesh in a pose the pose prior never saw (its own seeds), in the world.
ScanTruth make_scan(uint64_t seed, bool walking) {
  Pcg32 rng(seed, 17);
  ScanTruth s;
  s.shape.height_m = uniform(rng, 1.55, 1.95);
  s.shape.bmi = uniform(rng, 19, 32);
  s.shape.sex = rng.next_double();
  s.shape.shoulder_width = uniform(rng, 0.92, 1.08);
  const humans::RestBody body = humans::build_rest_body(s.shape);
  s.shape = body.shape;
  humans::Pose pose;
  if (walking) {
    const humans::MotionStyle style = humans::draw_motion_style(rng);
    humans::ClipParams params;
    params.phase = uniform(rng, 0, 1);
    params.in_place = true;
    pose = humans::clip_pose(humans::Clip::kWalk, params, body.joints, style);
  } else {
    pose = humans::random_static_pose(rng, body.joints, body.radius);
  }
  std::vector<Vec3> v;
  humans::skin(body, humans::forward_kinematics(body.joints, pose), v);
  const Mat3 r = Mat3::rotation_z(uniform(rng, 0, 2 * kPi));
  const Vec3 t{uniform(rng, -2, 2), uniform(rng, -2, 2), 0};
  for (const Vec3& p : v) s.points.push_back(r * Vec3{-p.x, p.y, p.z} + t);
  for (auto tri : humans::topology().triangles) s.triangles.push_back({tri[0], tri[2], tri[1]});  // mirrored: reversed
  return s;
}

// Meshes register under 5 mm: the 20 scans of tests/recon_sequence_scan_test.cpp. Here the
// path without triangles (point-to-point from the body) and bad points.
TEST(ScanFit, PointCloudsWithoutTrianglesAndBadPoints) {
  ScanTruth s = make_scan(72, false);
  s.points[10].y = std::numeric_limits<double>::quiet_NaN();  // dropped
  const ScanFitResult r = seq_fitter(1).fit_scan(s.points, {});
  std::printf("point cloud: mean point-to-surface %.2f mm\n", 1000 * r.mean_point_to_surface_m);
  EXPECT_FALSE(r.fit.skipped);
  EXPECT_LT(r.mean_point_to_surface_m, 0.01);  // about 1 mm (the body -> scan term is point-to-point)
  const std::vector<Vec3> few(20, Vec3{0, 0, 1});
  EXPECT_TRUE(seq_fitter(1).fit_scan(few, {}).fit.skipped);
  EXPECT_TRUE(seq_fitter(1).fit_scan({}, {}).fit.skipped);
}

}  // namespace
}  // namespace synthfarm::recon::torch_fit
