// The warp of a wide render into the distorted image (lens_warp.h), on synthetic frames whose
// layers are known functions of the ray, so every output pixel's expected value is known
// in closed form: bilinear layers reproduce a linear function exactly, nearest layers pick
// the wide pixel holding the ray, ids never blend, and flow goes through the lens.
#include "sensor/lens_warp.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>

namespace synthfarm::sensor {
namespace {

using render::Frame;

const Distortion kBarrel{LensModel::kBrownConrady, {-0.3, 0.09, 0.002, -0.001, 0, 0, 0, 0}};
const Distortion kFisheye{LensModel::kFisheye, {0.02, -0.01, 0.003, -0.0004, 0, 0, 0, 0}};
const Pinhole kOutput{150, 150, 80, 60, 160, 120};

// A wide frame whose rgb holds the normalised ray (x, y, 1) of each pixel centre, albedo the
// same, depth the wide pixel's index, instance 1 left of x = 0 and 2 right of it, part
// 3 above y = 0 and 4 below, uv the ray again, and a flow of (dx, dy) pixels everywhere.
Frame ray_frame(const Pinhole& wide, float dx, float dy) {
  Frame f;
  f.width = wide.width;
  f.height = wide.height;
  const size_t n = static_cast<size_t>(wide.width) * wide.height;
  f.rgb.resize(3 * n);
  f.albedo.resize(3 * n);
  f.normal.resize(3 * n);
  f.uv.resize(2 * n);
  f.motion.resize(2 * n);
  f.depth.resize(n);
  f.instance.resize(n);
  f.semantic.resize(n);
  f.part.resize(n);
  for (int j = 0; j < wide.height; ++j) {
    for (int i = 0; i < wide.width; ++i) {
      const size_t p = static_cast<size_t>(j) * wide.width + i;
      const double x = (i + 0.5 - wide.cx) / wide.fx, y = (j + 0.5 - wide.cy) / wide.fy;
      for (auto* layer : {&f.rgb, &f.albedo}) {
        (*layer)[3 * p] = static_cast<float>(x);
        (*layer)[3 * p + 1] = static_cast<float>(y);
        (*layer)[3 * p + 2] = 1;
      }
      f.normal[3 * p + 2] = static_cast<float>(p);
      f.uv[2 * p] = static_cast<float>(x);
      f.uv[2 * p + 1] = static_cast<float>(y);
      f.motion[2 * p] = dx;
      f.motion[2 * p + 1] = dy;
      f.depth[p] = static_cast<float>(p);
      f.instance[p] = x < 0 ? 1 : 2;
      f.semantic[p] = f.instance[p];
      f.part[p] = y < 0 ? 3 : 4;
    }
  }
  f.invalid_samples = 7;
  return f;
}

TEST(LensWarp, EveryLayerSamplesTheUndistortedRay) {
  for (const Distortion& d : {kBarrel, kFisheye}) {
    auto wide = wide_pinhole(d, kOutput);
    ASSERT_TRUE(wide.has_value()) << wide.error();
    auto warp = LensWarp::create(d, *wide, kOutput);
    ASSERT_TRUE(warp.has_value()) << warp.error();
    const Frame in = ray_frame(*wide, 0, 0);
    Frame out;
    warp->warp(in, out);
    ASSERT_EQ(out.width, kOutput.width);
    ASSERT_EQ(out.height, kOutput.height);
    EXPECT_EQ(out.invalid_samples, 7u);
    double rgb_error = 0, blended_ids = 0;
    for (int j = 0; j < kOutput.height; ++j) {
      for (int i = 0; i < kOutput.width; ++i) {
        const size_t p = static_cast<size_t>(j) * kOutput.width + i;
        auto ray =
            undistort(d, (i + 0.5 - kOutput.cx) / kOutput.fx, (j + 0.5 - kOutput.cy) / kOutput.fy);
        ASSERT_TRUE(ray.has_value());
        // Bilinear reproduces the linear ray exactly (to float precision).
        rgb_error = std::max(
            {rgb_error, std::abs(out.rgb[3 * p] - ray->x), std::abs(out.rgb[3 * p + 1] - ray->y)});
        // Nearest: the wide pixel that contains the ray.
        const double u = wide->fx * ray->x + wide->cx, v = wide->fy * ray->y + wide->cy;
        const size_t expected =
            static_cast<size_t>(std::floor(v)) * wide->width + static_cast<size_t>(std::floor(u));
        EXPECT_EQ(out.depth[p], static_cast<float>(expected)) << i << ", " << j;
        EXPECT_EQ(out.normal[3 * p + 2], static_cast<float>(expected));
        EXPECT_EQ(out.instance[p], in.instance[expected]);
        EXPECT_EQ(out.semantic[p], in.semantic[expected]);
        EXPECT_EQ(out.part[p], in.part[expected]);
        // Albedo only blends pixels of the same instance: its x keeps the instance's sign.
        const float albedo_x = out.albedo[3 * p];
        blended_ids += out.instance[p] == 1 ? albedo_x >= 0 : albedo_x < 0;
        // uv blends within one instance and part: the quadrant's signs hold.
        EXPECT_EQ(out.uv[2 * p] < 0, out.instance[p] == 1) << i << ", " << j;
        EXPECT_EQ(out.uv[2 * p + 1] < 0, out.part[p] == 3) << i << ", " << j;
      }
    }
    std::printf("%s: rgb (bilinear) max error %.3g against the undistorted ray\n",
                std::string(lens_model_name(d.model)).c_str(), rgb_error);
    EXPECT_LT(rgb_error, 2e-6);
    EXPECT_EQ(blended_ids, 0);
  }
}

// A flow of (3, -2) wide pixels everywhere: each output pixel's flow is where the end point
// of its ray lands through the lens minus where it starts, up to the flow's change over
// the half pixel between the ray and the nearest wide pixel centre.
TEST(LensWarp, MotionGoesThroughTheLens) {
  for (const Distortion& d : {kBarrel, kFisheye}) {
    auto wide = wide_pinhole(d, kOutput);
    ASSERT_TRUE(wide.has_value()) << wide.error();
    auto warp = LensWarp::create(d, *wide, kOutput);
    ASSERT_TRUE(warp.has_value()) << warp.error();
    Frame out;
    warp->warp(ray_frame(*wide, 3, -2), out);
    double max_error = 0, max_change = 0;
    for (int j = 0; j < kOutput.height; ++j) {
      for (int i = 0; i < kOutput.width; ++i) {
        const size_t p = static_cast<size_t>(j) * kOutput.width + i;
        auto ray =
            undistort(d, (i + 0.5 - kOutput.cx) / kOutput.fx, (j + 0.5 - kOutput.cy) / kOutput.fy);
        ASSERT_TRUE(ray.has_value());
        const Point2 end = distort(d, ray->x + 3 / wide->fx, ray->y - 2 / wide->fy);
        const double fx = kOutput.fx * end.x + kOutput.cx - (i + 0.5),
                     fy = kOutput.fy * end.y + kOutput.cy - (j + 0.5);
        max_error = std::max(
            {max_error, std::abs(out.motion[2 * p] - fx), std::abs(out.motion[2 * p + 1] - fy)});
        max_change = std::max(
            {max_change, std::abs(out.motion[2 * p] - 3.0), std::abs(out.motion[2 * p + 1] + 2.0)});
      }
    }
    std::printf("%s: flow max error %.3g px (the lens changes it by up to %.3g px)\n",
                std::string(lens_model_name(d.model)).c_str(), max_error, max_change);
    EXPECT_LT(max_error, 0.02);
    EXPECT_GT(max_change, 0.3) << "the lens must change the flow, or the test shows nothing";
  }
}

TEST(LensWarp, LayersNotRenderedStayEmptyAndMissedRaysAreBackground) {
  auto wide = wide_pinhole(kBarrel, kOutput);
  ASSERT_TRUE(wide.has_value());
  Frame in = ray_frame(*wide, 0, 0);
  in.rgb.clear();
  in.motion.clear();
  // A wide camera too narrow for the lens: the outer output pixels' rays miss it.
  Pinhole narrow = *wide;
  narrow.width = wide->width / 2;
  narrow.cx -= wide->width / 4.0;
  Frame small = ray_frame(narrow, 0, 0);
  Frame out;
  ASSERT_TRUE(warp_frame(small, narrow, kBarrel, kOutput, out).has_value());
  EXPECT_EQ(out.instance[0], 0u) << "the top-left corner's ray misses the narrow render";
  EXPECT_EQ(out.depth[0], std::numeric_limits<float>::infinity());
  EXPECT_NE(out.instance[60 * 160 + 80], 0u);
  ASSERT_TRUE(warp_frame(in, *wide, kBarrel, kOutput, out).has_value());
  EXPECT_TRUE(out.rgb.empty());
  EXPECT_TRUE(out.motion.empty());
  EXPECT_EQ(out.depth.size(), 160u * 120u);
  EXPECT_FALSE(warp_frame(in, narrow, kBarrel, kOutput, out).has_value())
      << "frame and camera sizes differ";
}

// Keypoints: the 3-D point through the lens, the wide render's visibility; 0 outside.
TEST(LensWarp, KeypointsAreProjectedThroughTheLens) {
  auto wide = wide_pinhole(kBarrel, kOutput);
  ASSERT_TRUE(wide.has_value());
  auto warp = LensWarp::create(kBarrel, *wide, kOutput);
  ASSERT_TRUE(warp.has_value());
  render::Camera camera;  // at the origin, looking down +z: world = camera space
  render::KeypointSet set;
  set.points = {{0.4, -0.3, 2}, {0.1, 0.05, 1}, {3, 0, 2}, {0, 0, -1}, {0.5, 0.3, 1}};
  set.depth.assign(set.points.size(), 0);
  Frame in;
  in.keypoints = {{{0, 0, 2}, {0, 0, 1}, {0, 0, 2}, {0, 0, 0}, {0, 0, 0}}};
  Frame out;
  warp->project_keypoints(camera, {set}, in, out);
  ASSERT_EQ(out.keypoints.size(), 1u);
  const auto& k = out.keypoints[0];
  const Point2 a = distort(kBarrel, 0.2, -0.15);
  EXPECT_DOUBLE_EQ(k[0].x, 150 * a.x + 80);
  EXPECT_DOUBLE_EQ(k[0].y, 150 * a.y + 60);
  EXPECT_EQ(k[0].v, 2);
  EXPECT_EQ(k[1].v, 1) << "occluded in the wide render";
  EXPECT_EQ(k[2].v, 0) << "r = 1.5 lies outside the image";
  EXPECT_EQ(k[2].x, 0);
  EXPECT_EQ(k[3].v, 0) << "behind the camera";
  EXPECT_EQ(k[4].v, 0) << "the wide render did not see it";
}

}  // namespace
}  // namespace synthfarm::sensor
