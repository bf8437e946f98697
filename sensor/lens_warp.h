// Lens distortion applied to a rendered frame: the frame is rendered with the wide undistorted
// pinhole (lens.h's wide_pinhole), then every output pixel centre is undistorted, mapped into
// the wide render and sampled, each layer by the rule that keeps it a true label:
//   rgb (linear radiance):        bilinear;
//   albedo, uv:                   bilinear over the neighbours that see the same instance
//                                 (uv: the same body part) as the nearest wide pixel, so
//                                 values never blend across an object's or a part's edge;
//   instance, semantic, part:     nearest (ids are never blended);
//   depth (camera z), normal (camera space): nearest; a lens remaps rays, it does not move
//                                 points, so both keep their values;
//   motion (forward flow, px):    the nearest wide pixel's flow, mapped through the lens: the
//                                 end point (wide centre + flow) and the start point (the
//                                 wide centre) each go to output pixels through the forward
//                                 distortion, and the flow is their difference. An end point
//                                 beyond the lens's valid radius uses the distortion's
//                                 Jacobian at the start instead.
// Pixels whose ray misses the wide render (none, when it comes from wide_pinhole) get the
// background: 0, and depth +inf. Keypoints are re-projected from their 3-D points through
// the lens; their visibility comes from the wide render's ray casts.
//
// Works on render::Frame; knows nothing of the spec. Deterministic and single-threaded per
// frame: the output depends on nothing but the inputs.
#pragma once

#include <optional>
#include <string>
#include <tl/expected.hpp>
#include <vector>

#include "base/math.h"
#include "render/renderer.h"
#include "render/scene.h"
#include "sensor/lens.h"

namespace synthfarm::sensor {

// One lens between one wide camera and one output camera, with the per-pixel map built
// once (the expensive part: an undistortion per output pixel) and reused for every frame
// of a clip. Immutable after create(): thread-safe to share.
class LensWarp {
 public:
  // Errors: a camera that is not a camera, a model that folds within the output image, an
  // output pixel whose undistortion does not converge.
  static tl::expected<LensWarp, std::string> create(const Distortion& distortion,
                                                    const Pinhole& wide, const Pinhole& output);

  // `wide` rendered with the wide camera into `out`, at the output's size: every layer
  // `wide` holds (the others are emptied), by the rules above. Keypoints are left to
  // project_keypoints(); invalid_samples is copied.
  void warp(const render::Frame& wide, render::Frame& out) const;

  // out.keypoints from the 3-D points of `sets` (world) seen by `camera` (its pose; its
  // intrinsics are not used), projected through the lens into the output image. v is the
  // wide render's (its ray cast towards the point); v = 0 and x = y = 0 when the point is
  // behind the camera, beyond the lens's valid radius, or outside the output image.
  void project_keypoints(const render::Camera& camera, const std::vector<render::KeypointSet>& sets,
                         const render::Frame& wide, render::Frame& out) const;

  // The output pixel position of a camera-space point through the lens; nullopt behind
  // the camera or beyond the valid radius (it may lie outside the image).
  std::optional<Point2> project(Vec3 camera_point) const;

  const Distortion& distortion() const { return distortion_; }
  const Pinhole& wide() const { return wide_; }
  const Pinhole& output() const { return output_; }
  // The undistorted normalised radius up to which the lens images points (unfolded_radius).
  double valid_radius() const { return valid_radius_; }

 private:
  LensWarp(const Distortion& distortion, const Pinhole& wide, const Pinhole& output,
           double valid_radius)
      : distortion_(distortion), wide_(wide), output_(output), valid_radius_(valid_radius) {}
  // A wide-render pixel position (pixels) through the lens into the output image.
  Point2 wide_to_output(double u, double v) const;

  Distortion distortion_;
  Pinhole wide_, output_;
  double valid_radius_ = 0;
  // Per output pixel (row-major), the wide-render position (u, v) in pixels of its centre's
  // undistorted ray; NaN where it has none. Double, so the nearest pixel is the one the
  // exact ray falls in (16 bytes per output pixel: 33 MB at 1920 x 1080).
  std::vector<double> map_;
};

// The one-frame form: builds the map and warps `wide` into `out` (keypoints untouched).
tl::expected<void, std::string> warp_frame(const render::Frame& wide, const Pinhole& wide_camera,
                                           const Distortion& distortion, const Pinhole& output,
                                           render::Frame& out);

}  // namespace synthfarm::sensor
