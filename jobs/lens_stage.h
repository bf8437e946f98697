// The lens stage of the sample pipeline (spec.sensor.distortion): which lens a sample has,
// the wider undistorted camera its scene is rendered with, and the warp of that render
// into the distorted output image with every label layer and keypoint (sensor/lens_warp.h).
// Everything downstream (boxes, COCO masks, the JSON's keypoints) then comes from the
// warped frame. K in the sample JSON stays the output camera's, so
// cv2.undistortPoints(keypoint, K, coefficients, P=K) gives the pinhole projection.
//
// Draws only through draw_field, each coefficient from its own stream, so a lens never
// shifts another field's draw. Must not change anything when the sample has no lens: the
// render, the frame and the JSON stay byte for byte what they were.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <tl/expected.hpp>
#include <vector>

#include "base/math.h"
#include "jobs/scene.h"
#include "jobs/spec.h"
#include "render/renderer.h"
#include "render/scene.h"
#include "sensor/lens.h"
#include "sensor/lens_warp.h"

namespace synthfarm::jobs {

// The lens of the sample with seed `sample_seed`: the model drawn from
// sensor.distortion.model, then its coefficients (Brown-Conrady: k1, k2, p1, p2, k3, k4, k5,
// k6; fisheye: k1..k4), each from the field's own stream ("sensor.distortion.k1", ...).
// kNone when the spec has no sensor section or the model drawn is "none". Throws
// std::invalid_argument for a model name a validated spec cannot hold.
sensor::Distortion draw_distortion(const SensorSpec& sensor, uint64_t sample_seed);

// One sample's lens between its render and its output image. Immutable after create(); a
// clip's frames share it (one camera per sample), so the warp map is built once.
class LensStage {
 public:
  // The lens of sample `index` for the output `camera` (its intrinsics and size). Errors
  // name the sample's lens and what is wrong: it folds within the image, or needs a field
  // of view a pinhole render cannot cover.
  static tl::expected<LensStage, std::string> create(const JobSpec& spec, uint64_t index,
                                                     const render::Camera& camera);

  // False when the sample has no lens: render with the scene's camera, as without a stage.
  bool active() const { return warp_.has_value(); }
  // `camera` with the wide render's intrinsics and size (the pose and everything else
  // kept). Only when active().
  render::Camera wide_camera(const render::Camera& camera) const;
  // The wide render `wide` of `scene` (whose camera is the output camera) into `out`, the
  // output image: every layer warped, the keypoints projected through the lens with the
  // wide render's visibility. Only when active().
  void apply(const SampleScene& scene, const render::Frame& wide, render::Frame& out) const;

  // Pixel position in the output image of a camera-space point through the lens (the
  // pinhole's `camera.project` without one); nullopt behind the camera, or where the lens
  // does not image it (beyond its valid radius). It may lie outside the image.
  std::optional<std::array<double, 2>> project(const render::Camera& camera,
                                               Vec3 camera_point) const;

  const sensor::Distortion& distortion() const { return distortion_; }
  // The coefficients in OpenCV's order: 8 for brown_conrady, 4 for fisheye, none without.
  std::vector<double> coefficients() const;

 private:
  sensor::Distortion distortion_;
  std::optional<sensor::LensWarp> warp_;
};

}  // namespace synthfarm::jobs
