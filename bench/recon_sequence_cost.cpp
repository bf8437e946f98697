// What fitting a tracked person's video costs: a procedural walk of --frames frames (100 by
// default) seen by one camera, its exact COCO keypoints fitted through the LibTorch plugin on
// one thread (a) as one sequence (PeopleFitter::fit_sequence: one shape, smoothness) and (b)
// as that many independent single images (fit_images), the peer, in the same run. Prints
// both times, their ratio and each one's mean centred joint error against the truth.
//
//   build/bin/recon_sequence_cost [--frames 100]
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <vector>

#include "base/rng.h"
#include "humans/body.h"
#include "humans/motion.h"
#include "recon/people_fit.h"

using namespace synthfarm;

namespace {

const recon::Intrinsics kCamera{900, 900, 480, 270, 960, 540};

struct Walk {
  std::vector<recon::Keypoints> keypoints;
  std::vector<std::array<Vec3, 24>> joints;  // camera frame
};

// A person walking across the view 5 m away (as recon/torch/sequence_scan_test.cpp).
Walk make_walk(int frames) {
  Pcg32 rng(3, 11);
  humans::Shape shape;
  shape.height_m = 1.74;
  shape.bmi = 24;
  const humans::RestBody body = humans::build_rest_body(shape);
  const humans::MotionStyle style = humans::draw_motion_style(rng);
  const double cycle = humans::clip_cycle_seconds(humans::Clip::kWalk, style, 1.0);
  const Mat3 r = Mat3::rotation_x(deg_to_rad(-10)) * Mat3::from_rows({0, 1, 0}, {0, 0, -1}, {-1, 0, 0}) *
                 Mat3::rotation_z(deg_to_rad(-20));
  const double speed_m_per_frame = 1.2 / 30;
  Walk w;
  for (int f = 0; f < frames; ++f) {
    humans::ClipParams params;
    params.phase = f / 30.0 / cycle;
    params.in_place = true;
    const humans::Pose pose = humans::clip_pose(humans::Clip::kWalk, params, body.joints, style);
    const humans::Posed posed = humans::forward_kinematics(body.joints, pose);
    std::vector<Vec3> v;
    humans::skin(body, posed, v);
    // Back and forth across the view so that a long clip stays in the picture.
    const double along = 1.5 * std::sin(f * speed_m_per_frame / 1.5);
    const Vec3 t{along, 0.9, 5.0};
    auto place = [&](Vec3 p) { return r * Vec3{-p.x, p.y, p.z} + t; };
    std::array<Vec3, 17> kp = humans::coco_keypoints(v, posed);
    for (Vec3& k : kp) k = place(k);
    recon::Keypoints keypoints;
    for (int k = 0; k < 17; ++k) {
      keypoints.xyv[3 * k] = kCamera.fx * kp[k].x / kp[k].z + kCamera.cx;
      keypoints.xyv[3 * k + 1] = kCamera.fy * kp[k].y / kp[k].z + kCamera.cy;
      keypoints.xyv[3 * k + 2] = 2;
    }
    w.keypoints.push_back(keypoints);
    std::array<Vec3, 24> joints;
    for (int j = 0; j < 24; ++j) joints[j] = place(posed.position[j]);
    w.joints.push_back(joints);
  }
  return w;
}

double mean_centred_error_mm(const std::vector<recon::FitResult>& fits, const Walk& w) {
  double sum = 0;
  for (size_t f = 0; f < fits.size(); ++f) {
    Vec3 ca, cb;
    for (int j = 0; j < 24; ++j) ca = ca + fits[f].joints[j] * (1.0 / 24), cb = cb + w.joints[f][j] * (1.0 / 24);
    for (int j = 0; j < 24; ++j) sum += 1000 * length((fits[f].joints[j] - ca) - (w.joints[f][j] - cb)) / 24;
  }
  return sum / static_cast<double>(fits.size());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"cost of fitting a tracked person's video"};
  int frames = 100;
  app.add_option("--frames", frames, "frames of the walk")->check(CLI::Range(3, 100000));
  CLI11_PARSE(app, argc, argv);

  auto fitter = recon::plugin_people_fitter(1);
  if (!fitter) {
    fmt::print(stderr, "{}\n", fitter.error());
    return 1;
  }
  fmt::print("{}\n", (*fitter)->describe());
  const Walk w = make_walk(frames);
  using Clock = std::chrono::steady_clock;

  const auto t0 = Clock::now();
  const std::vector<recon::FitResult> sequence = (*fitter)->fit_sequence(w.keypoints, kCamera, 30);
  const double sequence_s = std::chrono::duration<double>(Clock::now() - t0).count();

  std::vector<recon::ImagePerson> images;
  for (const recon::Keypoints& k : w.keypoints) images.push_back({k, kCamera});
  const auto t1 = Clock::now();
  const std::vector<recon::FitResult> alone = (*fitter)->fit_images(images);
  const double images_s = std::chrono::duration<double>(Clock::now() - t1).count();

  fmt::print("{} frames, one thread\n", frames);
  fmt::print("  fit_sequence:           {:7.2f} s ({:5.1f} ms/frame), mean centred joint error {:5.1f} mm\n", sequence_s,
             1000 * sequence_s / frames, mean_centred_error_mm(sequence, w));
  fmt::print("  fit_images (peer):      {:7.2f} s ({:5.1f} ms/frame), mean centred joint error {:5.1f} mm\n", images_s,
             1000 * images_s / frames, mean_centred_error_mm(alone, w));
  fmt::print("  sequence / images:      {:7.2f}\n", sequence_s / images_s);
  return 0;
}
