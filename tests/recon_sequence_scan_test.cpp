// Accuracy of the sequence and scan fitters through the LibTorch plugin, as the farm runs
// them (recon/people_fit.h):
//   - scans: 20 of the body model's own posed meshes, in shapes and poses the pose prior
//     never saw, registered with fit_scan: mean point-to-surface error under 5 mm;
//   - a walk clip rendered by the farm (labels only), fitted from its sample JSONs' COCO
//     keypoints with fit_sequence, made a BVH clip (recon/fit_clip.h, humans::write_bvh)
//     and rendered again through humans.bvh: the re-rendered person's joint angles stay
//     within 10 degrees RMS of the walk's over the major joints.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <map>
#include <thread>
#include <vector>

#include "base/rng.h"
#include "humans/body.h"
#include "humans/bvh_writer.h"
#include "humans/motion.h"
#include "jobs/sample_testing.h"
#include "recon/fit_clip.h"
#include "recon/people_fit.h"

namespace synthfarm {
namespace {

std::shared_ptr<const recon::PeopleFitter> plugin_fitter() {
  static auto fitter = recon::plugin_people_fitter(1);
  EXPECT_TRUE(fitter.has_value()) << fitter.error();
  return fitter ? *fitter : nullptr;
}

// The pose prior (recon/torch/priors.h) is fitted on humans::random_static_pose draws from
// Pcg32(0x5eedf17, 0..3) for four fixed shapes and on humans::clip_pose at phases k / 16
// (k = 0..15, in place) for motion styles from Pcg32(0x5771e, 0..7). These scans use other
// seeds and shapes (stream 29), and half of them a walk, run or wave at a phase that is not
// a multiple of 1/16 with a style drawn from that stream.
struct PosedMesh {
  std::vector<Vec3> points;
  std::vector<std::array<uint32_t, 3>> triangles;
  humans::Shape shape;
  std::string what;
};

PosedMesh unseen_posed_mesh(int i) {
  Pcg32 rng(0xacc5ca9 + static_cast<uint64_t>(i), 29);
  PosedMesh m;
  m.shape.height_m = uniform(rng, 1.5, 1.95);
  m.shape.bmi = uniform(rng, 18, 34);
  m.shape.sex = rng.next_double();
  m.shape.age = uniform(rng, 20, 70);
  m.shape.shoulder_width = uniform(rng, 0.9, 1.1);
  m.shape.hip_width = uniform(rng, 0.9, 1.1);
  m.shape.leg_length = uniform(rng, 0.94, 1.06);
  m.shape.arm_length = uniform(rng, 0.94, 1.06);
  const humans::RestBody body = humans::build_rest_body(m.shape);
  m.shape = body.shape;
  humans::Pose pose;
  if (i % 2 == 0) {
    pose = humans::random_static_pose(rng, body.joints, body.radius);
    m.what = "static";
  } else {
    const humans::Clip clips[3] = {humans::Clip::kWalk, humans::Clip::kRun, humans::Clip::kWave};
    const humans::Clip clip = clips[(i / 2) % 3];
    const humans::MotionStyle style = humans::draw_motion_style(rng);
    humans::ClipParams params;
    params.phase = (std::floor(uniform(rng, 0, 16)) + 0.5) / 16;  // half-way between the prior's phases
    params.in_place = true;
    pose = humans::clip_pose(clip, params, body.joints, style);
    m.what = std::string(humans::clip_name(clip));
  }
  std::vector<Vec3> v;
  humans::skin(body, humans::forward_kinematics(body.joints, pose), v);
  const Mat3 r = Mat3::rotation_z(uniform(rng, 0, 2 * kPi));
  const Vec3 t{uniform(rng, -3, 3), uniform(rng, -3, 3), 0};
  for (const Vec3& p : v) m.points.push_back(r * Vec3{-p.x, p.y, p.z} + t);  // placed as the farm places bodies
  for (auto tri : humans::topology().triangles) m.triangles.push_back({tri[0], tri[2], tri[1]});
  return m;
}

TEST(ReconAccuracy, ScansOfTheModelsOwnMeshesRegisterUnderFiveMillimetres) {
  auto fitter = plugin_fitter();
  ASSERT_NE(fitter, nullptr);
  // The scans are independent: fitted on every core (a fit takes about half a minute on one).
  constexpr int kScans = 20;
  std::vector<PosedMesh> meshes;
  for (int i = 0; i < kScans; ++i) meshes.push_back(unseen_posed_mesh(i));
  std::vector<recon::ScanFitResult> results(kScans);
  std::atomic<int> next{0};
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < std::max(2u, std::thread::hardware_concurrency()); ++t) {
    threads.emplace_back([&] {
      for (int i = next++; i < kScans; i = next++) results[i] = fitter->fit_scan(meshes[i].points, meshes[i].triangles);
    });
  }
  for (std::thread& t : threads) t.join();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double sum_mm = 0, worst_mm = 0, height_mm = 0;
  for (int i = 0; i < kScans; ++i) {
    const PosedMesh& m = meshes[i];
    const recon::ScanFitResult& r = results[i];
    ASSERT_FALSE(r.fit.skipped);
    EXPECT_TRUE(r.fit.residual_px.empty()) << "a scan has no keypoints";
    const double mm = 1000 * r.mean_point_to_surface_m;
    std::printf("scan %2d (%s): %.2f mm, height %.3f m (true %.3f)\n", i, m.what.c_str(), mm, r.fit.shape.height_m,
                m.shape.height_m);
    sum_mm += mm / kScans;
    worst_mm = std::max(worst_mm, mm);
    height_mm += 1000 * std::abs(r.fit.shape.height_m - m.shape.height_m) / kScans;
  }
  std::printf("20 scans: mean point-to-surface error %.2f mm (worst %.2f mm), mean height error %.1f mm, %.1f s "
              "wall for all on %zu threads\n",
              sum_mm, worst_mm, height_mm, seconds, threads.size());
  EXPECT_LT(sum_mm, 5.0);
  EXPECT_LT(height_mm, 30.0);  // the fitted shape is the scan's build
}

// A labels-only clip of one person walking, the farm's way.
jobs::JobSpec walk_spec(int frames) {
  jobs::JobSpec spec;
  spec.name = "walk";
  spec.samples = 1;
  spec.seed = 2024;
  spec.camera.width = 320;
  spec.camera.height = 240;
  spec.camera.distance_m = jobs::Distribution::constant(6.0);
  spec.render.spp = 1;
  spec.output.layers = {render::Layer::kInstance};
  spec.output.preview_png = false;
  spec.scene.kind = {{"studio"}, {}};
  spec.scene.props = jobs::Distribution::constant(0);
  spec.humans.count = jobs::Distribution::constant(1);
  spec.humans.motion = {{"walk"}, {}};
  spec.humans.motion_speed = jobs::Distribution::constant(1.0);
  spec.clip.frames = frames;
  spec.clip.fps = 30;
  return spec;
}

std::vector<nlohmann::json> frames_of(const jobs::SampleObjects& objects) {
  std::vector<nlohmann::json> out = {nlohmann::json::parse(objects.json)};
  for (const jobs::FrameObjects& f : objects.later_frames) out.push_back(nlohmann::json::parse(f.json));
  return out;
}

const nlohmann::json& person_of(const nlohmann::json& frame) {
  for (const auto& instance : frame["instances"])
    if (instance.contains("pose")) return instance;
  static const nlohmann::json none;
  return none;
}

TEST(ReconAccuracy, AFittedWalkClipKeepsTheWalksJointAngles) {
  auto fitter = plugin_fitter();
  ASSERT_NE(fitter, nullptr);
  constexpr int kFrames = 45;
  std::map<std::string, std::string> files;
  auto renderer = jobs::sample_testing::make_renderer(1, [&](const std::string& uri) -> tl::expected<std::string, std::string> {
    auto it = files.find(uri);
    if (it == files.end()) return tl::unexpected(uri + ": no such file");
    return it->second;
  });
  ASSERT_NE(renderer, nullptr);
  const jobs::JobSpec spec = walk_spec(kFrames);
  const std::vector<nlohmann::json> walk = frames_of(jobs::sample_testing::render_ok(*renderer, spec, 0));
  ASSERT_EQ(walk.size(), size_t(kFrames));

  // The sequence from the sample JSONs: COCO keypoints and the camera's K.
  std::vector<recon::Keypoints> keypoints(kFrames);
  int labelled_frames = 0;
  for (int f = 0; f < kFrames; ++f) {
    const auto& person = person_of(walk[f]);
    ASSERT_FALSE(person.is_null());
    for (int k = 0; k < 51; ++k) keypoints[f].xyv[k] = person["keypoints"][k].get<double>();
    labelled_frames += keypoints[f].labelled() >= recon::kMinLabelledKeypoints ? 1 : 0;
  }
  const auto& k = walk[0]["K"];
  const recon::Intrinsics intrinsics{k[0][0].get<double>(), k[1][1].get<double>(), k[0][2].get<double>(),
                                     k[1][2].get<double>(), spec.camera.width, spec.camera.height};
  const auto start = std::chrono::steady_clock::now();
  const std::vector<recon::FitResult> fits = fitter->fit_sequence(keypoints, intrinsics, spec.clip.fps);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(fits.size(), size_t(kFrames));

  // The clip, written and served to the farm as humans.bvh.
  auto clip = recon::clip_from_fits(fits, fits[0].shape, spec.clip.fps);
  ASSERT_TRUE(clip.has_value()) << clip.error();
  auto text = humans::write_bvh(*clip);
  ASSERT_TRUE(text.has_value()) << text.error();
  files["file:///fitted/walk.bvh"] = *text;
  jobs::JobSpec again = spec;
  again.humans.motion = {{"bvh"}, {}};
  again.humans.bvh = {"file:///fitted/walk.bvh"};
  again.humans.motion_phase = jobs::Distribution::constant(0);  // the clip from its first frame
  const std::vector<nlohmann::json> redone = frames_of(jobs::sample_testing::render_ok(*renderer, again, 0));
  ASSERT_EQ(redone.size(), size_t(kFrames));

  // Per-joint Euler angles over the major joints.
  const char* joints[] = {"left_hip", "right_hip", "left_knee", "right_knee", "spine1", "spine2", "spine3",
                          "left_shoulder", "right_shoulder", "left_elbow", "right_elbow"};
  double sum2 = 0, knee2 = 0;
  int count = 0, knees = 0;
  for (int f = 0; f < kFrames; ++f) {
    const auto& a = person_of(walk[f])["pose"];
    const auto& b = person_of(redone[f])["pose"];
    ASSERT_EQ(person_of(redone[f])["motion"], "bvh");
    for (const char* j : joints)
      for (int c = 0; c < 3; ++c) {
        double d = b[j][c].get<double>() - a[j][c].get<double>();
        d -= 360 * std::round(d / 360);
        sum2 += d * d, ++count;
        if (std::string(j).find("knee") != std::string::npos && c == 0) knee2 += d * d, ++knees;
      }
  }
  const double rms = std::sqrt(sum2 / count);
  std::printf("walk of %d frames (%d with enough keypoints): fitted in %.2f s; re-rendered joint angles RMS %.2f degrees "
              "over %zu major joints (knee flexion %.2f)\n",
              kFrames, labelled_frames, seconds, rms, std::size(joints), std::sqrt(knee2 / knees));
  EXPECT_GT(labelled_frames, kFrames / 2);
  EXPECT_LT(rms, 10.0);
}

}  // namespace
}  // namespace synthfarm
