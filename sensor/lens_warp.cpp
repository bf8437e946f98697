#include "sensor/lens_warp.h"

#include <fmt/format.h>

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

namespace synthfarm::sensor {

using render::Frame;

namespace {

// Where an output pixel samples the wide render: the wide pixel containing its ray (nearest)
// and the four pixels around it with bilinear weights (indices clamped to the image).
struct Tap {
  bool hit = false;
  size_t nearest = 0;
  std::array<size_t, 4> at{};
  std::array<double, 4> weight{};
};

Tap locate(double u, double v, int width, int height) {
  Tap tap;
  if (!(u >= 0 && v >= 0 && u < width && v < height)) return tap;  // NaN: no ray
  tap.hit = true;
  const auto ni = static_cast<size_t>(u), nj = static_cast<size_t>(v);
  tap.nearest = nj * static_cast<size_t>(width) + ni;
  // Pixel centres are at integer + 0.5.
  const double s = u - 0.5, t = v - 0.5;
  const double i0 = std::floor(s), j0 = std::floor(t);
  const double fs = s - i0, ft = t - j0;
  auto clamp = [](double value, int size) {
    return static_cast<size_t>(value < 0 ? 0 : value > size - 1 ? size - 1 : value);
  };
  const size_t x0 = clamp(i0, width), x1 = clamp(i0 + 1, width);
  const size_t y0 = clamp(j0, height), y1 = clamp(j0 + 1, height);
  const auto w = static_cast<size_t>(width);
  tap.at = {y0 * w + x0, y0 * w + x1, y1 * w + x0, y1 * w + x1};
  tap.weight = {(1 - fs) * (1 - ft), fs * (1 - ft), (1 - fs) * ft, fs * ft};
  return tap;
}

// `channels` values of pixel `tap` by bilinear weights, counting only the neighbours whose
// key equals the nearest pixel's (all of them when `key` is empty).
void bilinear(const std::vector<float>& layer, int channels, const Tap& tap,
              const std::vector<uint32_t>& key, const std::vector<uint32_t>& key2, float* out) {
  std::array<double, 4> weight = tap.weight;
  double total = 0;
  for (int k = 0; k < 4; ++k) {
    if (!key.empty() && key[tap.at[k]] != key[tap.nearest]) weight[k] = 0;
    if (!key2.empty() && key2[tap.at[k]] != key2[tap.nearest]) weight[k] = 0;
    total += weight[k];
  }
  for (int c = 0; c < channels; ++c) {
    double sum = 0;
    for (int k = 0; k < 4; ++k) sum += weight[k] * layer[tap.at[k] * channels + c];
    out[c] = static_cast<float>(sum / total);
  }
}

// Sizes `out` like `wide` (output_pixels * channels, filled with `fill`), or empties it.
template <typename T>
void size_like(const std::vector<T>& wide, size_t output_pixels, int channels, T fill,
               std::vector<T>& out) {
  if (wide.empty()) {
    out.clear();
  } else {
    out.assign(output_pixels * static_cast<size_t>(channels), fill);
  }
}

template <typename T>
void copy_nearest(const std::vector<T>& wide, int channels, const Tap& tap, size_t pixel,
                  std::vector<T>& out) {
  if (wide.empty()) return;
  for (int c = 0; c < channels; ++c) out[pixel * channels + c] = wide[tap.nearest * channels + c];
}

}  // namespace

tl::expected<LensWarp, std::string> LensWarp::create(const Distortion& distortion,
                                                     const Pinhole& wide, const Pinhole& output) {
  for (const Pinhole* camera : {&wide, &output}) {
    if (!(camera->fx > 0 && camera->fy > 0 && camera->width > 0 && camera->height > 0 &&
          std::isfinite(camera->cx) && std::isfinite(camera->cy)))
      return tl::unexpected(
          fmt::format("lens warp: {} camera is not a camera (fx {}, fy {}, {} x {})",
                      camera == &wide ? "the wide" : "the output", camera->fx, camera->fy,
                      camera->width, camera->height));
  }
  if (distortion.model != LensModel::kNone) {
    if (auto radius = required_radius(distortion, output); !radius)
      return tl::unexpected(radius.error());
  }
  LensWarp warp(distortion, wide, output, unfolded_radius(distortion));
  const size_t pixels = static_cast<size_t>(output.width) * static_cast<size_t>(output.height);
  warp.map_.assign(2 * pixels, std::numeric_limits<double>::quiet_NaN());
  for (int j = 0; j < output.height; ++j) {
    for (int i = 0; i < output.width; ++i) {
      const double xd = (i + 0.5 - output.cx) / output.fx, yd = (j + 0.5 - output.cy) / output.fy;
      auto p = undistort(distortion, xd, yd);
      if (!p)
        return tl::unexpected(fmt::format("lens warp: output pixel ({}, {}): {}", i, j, p.error()));
      if (!(p->x * p->x + p->y * p->y <= warp.valid_radius_ * warp.valid_radius_)) continue;
      const size_t at = 2 * (static_cast<size_t>(j) * output.width + i);
      warp.map_[at] = wide.fx * p->x + wide.cx;
      warp.map_[at + 1] = wide.fy * p->y + wide.cy;
    }
  }
  return warp;
}

Point2 LensWarp::wide_to_output(double u, double v) const {
  const Point2 p = distort(distortion_, (u - wide_.cx) / wide_.fx, (v - wide_.cy) / wide_.fy);
  return {output_.fx * p.x + output_.cx, output_.fy * p.y + output_.cy};
}

void LensWarp::warp(const Frame& wide, Frame& out) const {
  const size_t pixels = static_cast<size_t>(output_.width) * static_cast<size_t>(output_.height);
  const float infinity = std::numeric_limits<float>::infinity();
  out.width = output_.width;
  out.height = output_.height;
  size_like(wide.rgb, pixels, 3, 0.0f, out.rgb);
  size_like(wide.depth, pixels, 1, infinity, out.depth);
  size_like(wide.normal, pixels, 3, 0.0f, out.normal);
  size_like(wide.albedo, pixels, 3, 0.0f, out.albedo);
  size_like(wide.instance, pixels, 1, 0u, out.instance);
  size_like(wide.semantic, pixels, 1, 0u, out.semantic);
  size_like(wide.part, pixels, 1, 0u, out.part);
  size_like(wide.uv, pixels, 2, 0.0f, out.uv);
  size_like(wide.motion, pixels, 2, 0.0f, out.motion);
  out.keypoints.clear();
  out.invalid_samples = wide.invalid_samples;
  const std::vector<uint32_t> no_key;
  for (size_t pixel = 0; pixel < pixels; ++pixel) {
    const Tap tap = locate(map_[2 * pixel], map_[2 * pixel + 1], wide.width, wide.height);
    if (!tap.hit) continue;  // background values, set above
    if (!wide.rgb.empty()) bilinear(wide.rgb, 3, tap, no_key, no_key, &out.rgb[3 * pixel]);
    if (!wide.albedo.empty())
      bilinear(wide.albedo, 3, tap, wide.instance, no_key, &out.albedo[3 * pixel]);
    if (!wide.uv.empty()) bilinear(wide.uv, 2, tap, wide.instance, wide.part, &out.uv[2 * pixel]);
    copy_nearest(wide.depth, 1, tap, pixel, out.depth);
    copy_nearest(wide.normal, 3, tap, pixel, out.normal);
    copy_nearest(wide.instance, 1, tap, pixel, out.instance);
    copy_nearest(wide.semantic, 1, tap, pixel, out.semantic);
    copy_nearest(wide.part, 1, tap, pixel, out.part);
    if (wide.motion.empty()) continue;
    const float dx = wide.motion[2 * tap.nearest], dy = wide.motion[2 * tap.nearest + 1];
    if (dx == 0 && dy == 0) continue;
    const double u = static_cast<double>(tap.nearest % static_cast<size_t>(wide.width)) + 0.5;
    const double v = static_cast<double>(tap.nearest / static_cast<size_t>(wide.width)) + 0.5;
    const double xe = (u + dx - wide_.cx) / wide_.fx, ye = (v + dy - wide_.cy) / wide_.fy;
    double flow_x = 0, flow_y = 0;
    if (xe * xe + ye * ye <= valid_radius_ * valid_radius_) {
      const Point2 start = wide_to_output(u, v), end = wide_to_output(u + dx, v + dy);
      flow_x = end.x - start.x;
      flow_y = end.y - start.y;
    } else {
      // The end point lies where the lens images nothing: the local linear map instead.
      const auto j =
          distortion_jacobian(distortion_, (u - wide_.cx) / wide_.fx, (v - wide_.cy) / wide_.fy);
      const double mx = dx / wide_.fx, my = dy / wide_.fy;
      flow_x = output_.fx * (j[0] * mx + j[1] * my);
      flow_y = output_.fy * (j[2] * mx + j[3] * my);
    }
    out.motion[2 * pixel] = static_cast<float>(flow_x);
    out.motion[2 * pixel + 1] = static_cast<float>(flow_y);
  }
}

std::optional<Point2> LensWarp::project(Vec3 camera_point) const {
  return project_point(distortion_, output_, camera_point.x, camera_point.y, camera_point.z,
                       valid_radius_);
}

void LensWarp::project_keypoints(const render::Camera& camera,
                                 const std::vector<render::KeypointSet>& sets, const Frame& wide,
                                 Frame& out) const {
  out.keypoints.assign(sets.size(), {});
  for (size_t s = 0; s < sets.size(); ++s) {
    out.keypoints[s].assign(sets[s].points.size(), Frame::Keypoint{});
    for (size_t k = 0; k < sets[s].points.size(); ++k) {
      const int v =
          s < wide.keypoints.size() && k < wide.keypoints[s].size() ? wide.keypoints[s][k].v : 0;
      if (v == 0) continue;  // behind the camera, unlabelled (NaN) or outside the wide render
      const auto p = project(camera.to_camera(sets[s].points[k]));
      if (!p || !(p->x >= 0 && p->y >= 0 && p->x < output_.width && p->y < output_.height))
        continue;
      out.keypoints[s][k] = {p->x, p->y, v};
    }
  }
}

tl::expected<void, std::string> warp_frame(const Frame& wide, const Pinhole& wide_camera,
                                           const Distortion& distortion, const Pinhole& output,
                                           Frame& out) {
  auto warp = LensWarp::create(distortion, wide_camera, output);
  if (!warp) return tl::unexpected(warp.error());
  if (wide.width != wide_camera.width || wide.height != wide_camera.height)
    return tl::unexpected(fmt::format("lens warp: the frame is {} x {}, the wide camera {} x {}",
                                      wide.width, wide.height, wide_camera.width,
                                      wide_camera.height));
  warp->warp(wide, out);
  return {};
}

}  // namespace synthfarm::sensor
