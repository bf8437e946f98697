// The lens stage in the sample pipeline (lens_stage.h): the labels of distorted samples,
// read back from the bytes the pipeline stores (EXR and per-sample JSON) — keypoints on
// their person's distorted mask, COCO boxes that are their masks' boxes, keypoints that
// undistort to the pinhole projection of their 3-D points — and the determinism contract.
#include "sensor/lens.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "jobs/coco_testing.h"
#include "jobs/lens_stage.h"
#include "jobs/sample.h"
#include "jobs/sample_testing.h"
#include "render/exr_testing.h"

namespace synthfarm::jobs {
namespace {

using sample_testing::make_renderer;
using sample_testing::render_ok;

using nlohmann::json;
using render::Layer;

// Labels only (no light transport), small images, several people, a strong lens.
JobSpec lens_spec(const std::string& model) {
  JobSpec spec;
  spec.name = "lens";
  spec.samples = 1000;
  spec.seed = 4242;
  spec.camera.width = 160;
  spec.camera.height = 120;
  spec.output.layers = {Layer::kInstance};
  spec.output.preview_png = false;
  spec.humans.count = Distribution::uniform_int(2, 4);
  spec.humans.motion = {{"static", "walk", "run", "idle", "wave", "sit"}, {}};
  // Close, and aimed near the people rather than at them: people reach the image's edges,
  // where the lens moves them most, and some come in only through the lens.
  spec.camera.keep_in_frame = "none";
  spec.camera.distance_m = Distribution::uniform(2.0, 4.0);
  spec.sensor.enabled = true;
  SensorDistortionSpec& d = spec.sensor.distortion;
  d.model = Choice{{model}, {}};
  if (model == "brown_conrady") {
    // Strong barrel; k2 > 0.08 keeps r (1 + k1 r^2 + k2 r^4) increasing at every radius.
    d.k1 = Distribution::uniform(-0.35, -0.2);
    d.k2 = Distribution::uniform(0.08, 0.12);
    d.p1 = Distribution::uniform(-0.003, 0.003);
    d.p2 = Distribution::uniform(-0.003, 0.003);
  } else {
    // Equidistant-like fisheyes over 50-80 degree (horizontal, distorted) views: the
    // corners come from rays up to 64 degrees off the axis.
    spec.camera.fov_deg = Distribution::uniform(50, 80);
    d.k1 = Distribution::uniform(-0.05, 0.05);
    d.k2 = Distribution::uniform(-0.01, 0.01);
    d.k3 = Distribution::uniform(-0.002, 0.002);
  }
  return spec;
}

sensor::Distortion distortion_of(const json& j) {
  sensor::Distortion d;
  d.model = *sensor::lens_model_from_name(j["distortion"]["model"].get<std::string>());
  const auto coefficients = j["distortion"]["coefficients"].get<std::vector<double>>();
  EXPECT_EQ(static_cast<int>(coefficients.size()), sensor::coefficient_count(d.model));
  std::copy(coefficients.begin(), coefficients.end(), d.k.begin());
  return d;
}

// A stored pixel position, undistorted through the JSON's lens and K back onto the pinhole
// image, against the pinhole projection of the 3-D camera point; the larger coordinate
// error in pixels.
double undistortion_error(const sensor::Distortion& d, const json& K, double u, double v,
                          const json& point) {
  const double fx = K[0][0], cx = K[0][2], fy = K[1][1], cy = K[1][2];
  auto p = sensor::undistort(d, (u - cx) / fx, (v - cy) / fy);
  EXPECT_TRUE(p.has_value()) << p.error();
  if (!p) return 1e9;
  const double X = point[0], Y = point[1], Z = point[2];
  return std::max(std::abs(fx * p->x + cx - (fx * X / Z + cx)),
                  std::abs(fy * p->y + cy - (fy * Y / Z + cy)));
}

struct LabelCounts {
  int samples = 0, visible = 0, inside = 0, occluded = 0, brought_in = 0, moved = 0, joints = 0,
      boxes = 0;
  double max_undistortion_error = 0, max_shift = 0;
};

// Every label check on one sample's stored EXR and JSON.
void check_sample(const SampleObjects& objects, const std::string& model, LabelCounts& counts) {
  const json j = json::parse(objects.json);
  const auto exr = render::exr_testing::read_exr(objects.exr);
  ASSERT_EQ(exr.width, 160);
  ASSERT_EQ(exr.height, 120);
  ASSERT_EQ(j["width"], 160);
  ASSERT_TRUE(j.contains("distortion"));
  ASSERT_EQ(j["distortion"]["model"], model);
  const sensor::Distortion d = distortion_of(j);
  const json& K = j["K"];
  const std::vector<uint32_t>& ids = exr.uints.at("instance.id");
  ++counts.samples;
  for (const json& instance : j["instances"]) {
    const uint32_t id = instance["id"];
    // The COCO mask is the distorted instance layer's, and the box is the mask's box.
    auto runs = coco_testing::decode_counts(instance["segmentation"]["counts"].get<std::string>());
    ASSERT_TRUE(runs.has_value());
    auto mask = coco_testing::decode_mask(*runs, 120, 160);
    ASSERT_TRUE(mask.has_value());
    int x0 = 160, y0 = 120, x1 = -1, y1 = -1, area = 0;
    for (int y = 0; y < 120; ++y) {
      for (int x = 0; x < 160; ++x) {
        const size_t p = static_cast<size_t>(y) * 160 + x;
        ASSERT_EQ((*mask)[p] == 1, ids[p] == id) << "instance " << id << " at " << x << ", " << y;
        if (!(*mask)[p]) continue;
        x0 = std::min(x0, x), y0 = std::min(y0, y), x1 = std::max(x1, x), y1 = std::max(y1, y);
        ++area;
      }
    }
    const json box =
        area == 0 ? json::array({0, 0, 0, 0}) : json::array({x0, y0, x1 - x0 + 1, y1 - y0 + 1});
    EXPECT_EQ(instance["bbox"], box) << "instance " << id;
    EXPECT_EQ(instance["area"], area);
    ++counts.boxes;
    if (!instance.contains("keypoints")) continue;
    const json& keypoints = instance["keypoints"];
    for (int k = 0; k < 17; ++k) {
      const double x = keypoints[3 * k], y = keypoints[3 * k + 1];
      const int v = keypoints[3 * k + 2];
      const json& point = instance["keypoints_3d_camera"][k];
      if (v == 0) {
        EXPECT_EQ(x, 0);
        EXPECT_EQ(y, 0);
        continue;
      }
      ASSERT_TRUE(x >= 0 && y >= 0 && x < 160 && y < 120);
      counts.max_undistortion_error =
          std::max(counts.max_undistortion_error, undistortion_error(d, K, x, y, point));
      // Inside the distorted image, outside the pinhole one: the lens brought it in.
      const double X = point[0], Y = point[1], Z = point[2];
      const double pu = double(K[0][0]) * X / Z + double(K[0][2]),
                   pv = double(K[1][1]) * Y / Z + double(K[1][2]);
      counts.brought_in += !(pu >= 0 && pv >= 0 && pu < 160 && pv < 120);
      const double shift = std::hypot(x - pu, y - pv);
      counts.moved += shift > 1;
      counts.max_shift = std::max(counts.max_shift, shift);
      if (v == 1) {
        ++counts.occluded;
        continue;
      }
      ++counts.visible;
      bool in = false;  // on the person's mask, or within 1 px of it
      for (int dy = -1; dy <= 1; ++dy) {
        for (int dx = -1; dx <= 1; ++dx) {
          const int px = static_cast<int>(x) + dx, py = static_cast<int>(y) + dy;
          if (px >= 0 && py >= 0 && px < 160 && py < 120)
            in |= ids[static_cast<size_t>(py) * 160 + px] == id;
        }
      }
      counts.inside += in;
    }
    // joints_2d: through the same lens.
    for (auto& [name, uv] : instance["joints_2d"].items()) {
      if (uv.is_null()) continue;
      const double u = uv[0], v = uv[1];
      if (!(u >= 0 && v >= 0 && u < 160 && v < 120)) continue;
      ++counts.joints;
      counts.max_undistortion_error =
          std::max(counts.max_undistortion_error,
                   undistortion_error(d, K, u, v, instance["joints_3d_camera"][name]));
    }
  }
}

// 200 samples (100 barrel, 100 fisheye) of 2-4 people each.
TEST(LensStage, DistortedLabelsAgreeWithTheDistortedMasksAndThePinhole) {
  const auto start = std::chrono::steady_clock::now();
  auto renderer = make_renderer(1);
  ASSERT_TRUE(renderer);
  for (const std::string model : {"brown_conrady", "fisheye"}) {
    const JobSpec spec = lens_spec(model);
    LabelCounts counts;
    for (uint64_t index = 0; index < 100; ++index) {
      auto objects = renderer->render(spec, index);
      ASSERT_TRUE(objects.has_value()) << objects.error();
      check_sample(*objects, model, counts);
      if (HasFatalFailure()) return;
    }
    std::printf(
        "%s: %d samples, %d boxes; %d visible keypoints, %d (%.2f%%) on their person's distorted "
        "mask "
        "(within 1 px), %d occluded; %d moved > 1 px by the lens (at most %.1f px), %d inside only "
        "because "
        "of it; %d joints_2d in the image; undistorted keypoints vs pinhole: max %.3g px\n",
        model.c_str(), counts.samples, counts.boxes, counts.visible, counts.inside,
        100.0 * counts.inside / counts.visible, counts.occluded, counts.moved, counts.max_shift,
        counts.brought_in, counts.joints, counts.max_undistortion_error);
    EXPECT_GT(counts.visible, 1000);
    EXPECT_GE(counts.inside, 0.98 * counts.visible) << model;
    EXPECT_LT(counts.max_undistortion_error, 1e-6) << model;
    EXPECT_GT(counts.moved, counts.visible / 2) << model << ": the lens must move the keypoints";
    EXPECT_GT(counts.brought_in, 0)
        << model << ": the lens shows more than the pinhole with the same K";
  }
  std::printf("200 samples in %.1f s\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
}

// Distorted samples with every layer, light transport and a two-frame clip (motion
// vectors): the same bytes at 1 and 2 render threads.
TEST(LensStage, IdenticalBytesForOneAndTwoThreads) {
  auto one = make_renderer(1), two = make_renderer(2);
  ASSERT_TRUE(one && two);
  for (const std::string model : {"brown_conrady", "fisheye"}) {
    JobSpec spec = lens_spec(model);
    spec.camera.width = 64;
    spec.camera.height = 48;
    spec.render.spp = 2;
    spec.output.layers = {Layer::kRgb,    Layer::kDepth,    Layer::kNormal,
                          Layer::kAlbedo, Layer::kInstance, Layer::kSemantic,
                          Layer::kPart,   Layer::kUv,       Layer::kMotion};
    spec.output.preview_png = true;
    spec.clip.frames = 2;
    spec.humans.motion = {{"walk"}, {}};
    for (uint64_t index = 0; index < 2; ++index) {
      auto a = one->render(spec, index), b = two->render(spec, index);
      ASSERT_TRUE(a.has_value()) << a.error();
      ASSERT_TRUE(b.has_value()) << b.error();
      ASSERT_EQ(a->later_frames.size(), 1u);
      EXPECT_TRUE(a->exr == b->exr) << model << " sample " << index;
      EXPECT_TRUE(a->png == b->png) << model << " sample " << index;
      EXPECT_EQ(a->json, b->json) << model << " sample " << index;
      EXPECT_TRUE(a->later_frames[0].exr == b->later_frames[0].exr) << model << " sample " << index;
      EXPECT_EQ(a->later_frames[0].json, b->later_frames[0].json);
      // People walk: some pixels carry flow (through the lens).
      const auto exr = render::exr_testing::read_exr(a->exr);
      const auto& flow = exr.floats.at("motion.X");
      EXPECT_TRUE(std::any_of(flow.begin(), flow.end(), [](float f) { return f != 0; })) << model;
    }
  }
}

// A sensor section without a lens changes nothing: the same bytes as no sensor section.
TEST(LensStage, NoLensIsByteForByteTheSampleWithoutOne) {
  auto renderer = make_renderer(1);
  ASSERT_TRUE(renderer);
  JobSpec plain = lens_spec("none");
  plain.sensor.enabled = false;
  JobSpec none = lens_spec("none");
  for (uint64_t index = 0; index < 3; ++index) {
    auto a = renderer->render(plain, index), b = renderer->render(none, index);
    ASSERT_TRUE(a.has_value() && b.has_value());
    EXPECT_TRUE(a->exr == b->exr);
    EXPECT_EQ(a->json, b->json);
    EXPECT_EQ(json::parse(a->json).count("distortion"), 0u);
  }
}

// Each coefficient draws from its own stream: the others' distributions do not shift it,
// and the lens does not shift the scene's draws.
TEST(LensStage, DrawsAreIndependentPerField) {
  JobSpec spec = lens_spec("brown_conrady");
  const uint64_t seed = sample_seed(spec.seed, 5);
  const sensor::Distortion a = draw_distortion(spec.sensor, seed);
  EXPECT_EQ(a.model, sensor::LensModel::kBrownConrady);
  EXPECT_GE(a.k[0], -0.35);
  EXPECT_LE(a.k[0], -0.2);
  spec.sensor.distortion.k2 = Distribution::constant(0.1);
  spec.sensor.distortion.k6 = Distribution::uniform(0, 0.01);
  const sensor::Distortion b = draw_distortion(spec.sensor, seed);
  EXPECT_EQ(a.k[0], b.k[0]);
  EXPECT_EQ(a.k[2], b.k[2]);
  EXPECT_EQ(b.k[1], 0.1);
  spec.sensor.enabled = false;
  EXPECT_EQ(draw_distortion(spec.sensor, seed).model, sensor::LensModel::kNone);
  // The scene (camera, people) is the same with and without the lens.
  JobSpec without = lens_spec("brown_conrady");
  without.sensor.enabled = false;
  const SampleScene with_lens = build_scene(lens_spec("brown_conrady"), 5),
                    plain = build_scene(without, 5);
  EXPECT_EQ(with_lens.camera.fx, plain.camera.fx);
  EXPECT_EQ(with_lens.humans.size(), plain.humans.size());
}

// A lens that folds within the image is a sample error naming it, not a crash.
TEST(LensStage, AFoldingLensIsAnError) {
  JobSpec spec = lens_spec("brown_conrady");
  spec.sensor.distortion.k1 = Distribution::constant(-0.9);
  spec.sensor.distortion.k2 = Distribution::constant(0);
  auto renderer = make_renderer(1);
  ASSERT_TRUE(renderer);
  auto objects = renderer->render(spec, 0);
  ASSERT_FALSE(objects.has_value());
  EXPECT_NE(objects.error().find("sensor.distortion: brown_conrady (k1 = -0.9"), std::string::npos)
      << objects.error();
  EXPECT_NE(objects.error().find("fold"), std::string::npos) << objects.error();
}

}  // namespace
}  // namespace synthfarm::jobs
