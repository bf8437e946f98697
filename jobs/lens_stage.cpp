#include "jobs/lens_stage.h"

#include <fmt/format.h>

#include <stdexcept>

#include "base/rng.h"

namespace synthfarm::jobs {

using sensor::Distortion;
using sensor::LensModel;

namespace {

sensor::Pinhole pinhole_of(const render::Camera& camera) {
  return {camera.fx, camera.fy, camera.cx, camera.cy, camera.width, camera.height};
}

}  // namespace

Distortion draw_distortion(const SensorSpec& sensor, uint64_t sample_seed) {
  Distortion d;
  if (!sensor.enabled) return d;
  const SensorDistortionSpec& spec = sensor.distortion;
  const std::string& name = draw_field(spec.model, sample_seed, "sensor.distortion.model");
  const auto model = sensor::lens_model_from_name(name);
  if (!model)
    throw std::invalid_argument(fmt::format("sensor.distortion.model: unknown model \"{}\"", name));
  d.model = *model;
  auto draw = [&](const Distribution& field, const char* path) {
    return draw_field(field, sample_seed, path);
  };
  if (d.model == LensModel::kBrownConrady) {
    d.k = {draw(spec.k1, "sensor.distortion.k1"), draw(spec.k2, "sensor.distortion.k2"),
           draw(spec.p1, "sensor.distortion.p1"), draw(spec.p2, "sensor.distortion.p2"),
           draw(spec.k3, "sensor.distortion.k3"), draw(spec.k4, "sensor.distortion.k4"),
           draw(spec.k5, "sensor.distortion.k5"), draw(spec.k6, "sensor.distortion.k6")};
  } else if (d.model == LensModel::kFisheye) {
    d.k = {draw(spec.k1, "sensor.distortion.k1"),
           draw(spec.k2, "sensor.distortion.k2"),
           draw(spec.k3, "sensor.distortion.k3"),
           draw(spec.k4, "sensor.distortion.k4"),
           0,
           0,
           0,
           0};
  }
  return d;
}

tl::expected<LensStage, std::string> LensStage::create(const JobSpec& spec, uint64_t index,
                                                       const render::Camera& camera) {
  LensStage stage;
  stage.distortion_ = draw_distortion(spec.sensor, sample_seed(spec.seed, index));
  if (stage.distortion_.model == LensModel::kNone) return stage;
  const sensor::Pinhole output = pinhole_of(camera);
  auto wide = sensor::wide_pinhole(stage.distortion_, output);
  if (!wide) return tl::unexpected(fmt::format("sensor.distortion: {}", wide.error()));
  auto warp = sensor::LensWarp::create(stage.distortion_, *wide, output);
  if (!warp) return tl::unexpected(fmt::format("sensor.distortion: {}", warp.error()));
  stage.warp_ = std::move(*warp);
  return stage;
}

render::Camera LensStage::wide_camera(const render::Camera& camera) const {
  render::Camera wide = camera;
  const sensor::Pinhole& p = warp_->wide();
  wide.fx = p.fx;
  wide.fy = p.fy;
  wide.cx = p.cx;
  wide.cy = p.cy;
  wide.width = p.width;
  wide.height = p.height;
  return wide;
}

void LensStage::apply(const SampleScene& scene, const render::Frame& wide,
                      render::Frame& out) const {
  warp_->warp(wide, out);
  warp_->project_keypoints(scene.camera, scene.keypoints, wide, out);
}

std::optional<std::array<double, 2>> LensStage::project(const render::Camera& camera,
                                                        Vec3 camera_point) const {
  if (!warp_) {
    if (!(camera_point.z > 1e-9)) return std::nullopt;
    return camera.project(camera_point);
  }
  const auto p = warp_->project(camera_point);
  if (!p) return std::nullopt;
  return std::array<double, 2>{p->x, p->y};
}

std::vector<double> LensStage::coefficients() const {
  const int count = sensor::coefficient_count(distortion_.model);
  return {distortion_.k.begin(), distortion_.k.begin() + count};
}

}  // namespace synthfarm::jobs
