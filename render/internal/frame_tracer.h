// The path tracer of one frame (FrameTracer): SceneTracer's rays plus the frame's lights,
// background and per-mesh shading setup, and the Sobol slots a path reads its decisions
// from. radiance() and the shading setup are path_tracer.cpp's; the small functions that
// shade_tile() and radiance() call per sample (camera_ray, sun_direction, add, offset_origin)
// are defined here so that they stay inlined there.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <vector>

#include "render/internal/bsdf.h"
#include "render/internal/embree_scene.h"
#include "render/internal/lights.h"
#include "render/renderer.h"
#include "render/internal/sampler.h"
#include "render/scene.h"

namespace synthfarm::render::internal {

// Sobol dimension slots of a path (sampler.h): fixed, so every sample of a pixel uses the same
// slot for the same decision.
constexpr uint32_t kSlotPixel = 0;
constexpr uint32_t kSlotLens = 1;
constexpr uint32_t kSlotsCamera = 2;
constexpr uint32_t kSlotLightChoice = 0, kSlotLightPoint = 1, kSlotBackground = 2, kSlotLobe = 3,
                   kSlotDirection = 4, kSlotRoulette = 5, kSlotSun = 6, kSlotShadow = 7,
                   kSlotsPerBounce = 8;
static_assert(kSlotsCamera + 6 * kSlotsPerBounce == SobolSampler::kCachedSlots,
              "the sampler caches the seeds of the camera slots and six bounces");
// The path's moment in the shutter (motion blur only). A slot of its own far above every
// bounce's (2 + 8 * depth), rather than one more camera slot: that would move every
// bounce's slots and so change every render, motion-blurred or not. The padded sampler
// scrambles each slot independently, so its number does not matter to its quality; read
// only when Scene::motion_blur is on, it leaves every other slot's points as they were.
constexpr uint32_t kSlotTime = 0x8000'0000u;

// What shading needs of a mesh, worked out once per frame: when it looks the same all over
// (uniform_look), its BSDF and emission; and its material's row of the specular albedo table
// unless it has none or a texture varies its roughness.
struct MeshShading {
  std::optional<PrincipledBsdf> bsdf;  // empty: the look varies over the mesh
  Spectrum emission;
  const SpecularAlbedoRow* row = nullptr;  // in FrameTracer::material_rows_
};

// Everything one frame's render threads share, read-only once built.
class FrameTracer : public SceneTracer {
 public:
  // `tie_break`, `instanced`: as SceneTracer's.
  FrameTracer(RTCScene rtc_scene, const Scene& scene, const RenderSettings& settings,
              bool tie_break, bool instanced)
      : SceneTracer(rtc_scene, scene, tie_break, instanced),
        settings_(settings),
        local_lights_(settings.labels_only ? std::vector<Light>{} : scene.lights),
        camera_to_world_(scene.camera.rotation.transposed()),
        camera_moves_(scene.motion_blur && scene.camera.shutter_positions.has_value()),
        sun_frame_(ShadingFrame::from_normal(scene.sun.direction)) {
    // The background's sampling tables cost a pass over the environment, and the meshes'
    // shading setup one over the meshes: only when shading.
    if (!settings.labels_only) {
      background_.emplace(scene);
      prepare_shading();
    }
    // 1 - cos of the sun disk's angular radius: 2 sin^2(radius / 2), exact for tiny disks.
    const double half_radius =
        0.25 * deg_to_rad(std::clamp(scene.sun.angular_diameter_deg, 0.0, 90.0));
    const double s = portable_sin(half_radius);
    sun_one_minus_cos_ = 2.0 * s * s;
  }

  FrameTracer(const FrameTracer&) = delete;  // shading_ points into material_rows_
  FrameTracer& operator=(const FrameTracer&) = delete;

  // The moment in the shutter of the path of sample `sampler` (0 = open, 1 = close): uniform
  // over the shutter (a box shutter) with motion blur, else mid-shutter without reading a
  // slot. Every ray of the path (bounces, shadow rays) traces at it.
  float shutter_time(const SobolSampler& sampler) const {
    if (!scene_.motion_blur) return kMidShutter;
    // Rounded to float once, Embree's precision: the double triangle (SceneTracer::triangle)
    // is then taken at the very moment Embree traced.
    return static_cast<float>(sampler.get1d(kSlotTime));
  }

  // The camera ray of sample `sampler` of pixel (x, y) at shutter time `time`: jittered in
  // the pixel, through the thin lens when the camera has an aperture, from where the camera
  // is at `time` (Camera::position_at). `direction` is unit.
  void camera_ray(int x, int y, const SobolSampler& sampler, float time, Vec3& origin,
                  Vec3& direction) const {
    const Camera& cam = scene_.camera;
    auto jitter = sampler.get2d(kSlotPixel);
    Vec3 d_cam{(x + jitter[0] - cam.cx) / cam.fx, (y + jitter[1] - cam.cy) / cam.fy, 1.0};
    origin = camera_moves_ ? cam.position_at(time) : cam.position;
    if (cam.aperture_radius_m > 0) {
      auto lens = concentric_disk(sampler.get2d(kSlotLens));
      Vec3 lens_point{lens[0] * cam.aperture_radius_m, lens[1] * cam.aperture_radius_m, 0};
      Vec3 focus = d_cam * cam.focus_distance_m;  // on the plane camera z = focus distance
      d_cam = focus - lens_point;
      origin = origin + camera_to_world_ * lens_point;
    }
    direction = normalize(camera_to_world_ * d_cam);
  }

  // Radiance arriving at `origin` from unit direction `direction` along a camera ray.
  //
  // Next-event estimation at each vertex first works out what every light would give if
  // nothing were in the way (the sun; one local light chosen by power; the background when
  // importance-sampled), then traces shadow rays: to all of them at the first vertex, and to
  // one of them deeper down, chosen with probability proportional to its unoccluded
  // contribution and divided by that probability. Choosing is an unbiased estimate of the
  // sum of the lights' estimates (Russian roulette on the shadow rays), so the MIS weights
  // stay those of the lights' own densities; where every light is visible it is exact.
  // `first`: the camera ray's hit, traced by the caller (camera rays go in coherent streams).
  // `time`: the path's moment in the shutter (shutter_time()), shared by all its rays.
  Spectrum radiance(Vec3 origin, Vec3 direction, const Hit& first, const SobolSampler& sampler,
                    float time) const;

  const RenderSettings& settings() const { return settings_; }

 private:
  // material_rows_ (every material's row, as if its roughness had no texture), then
  // shading_.
  void prepare_shading();

  // Lift secondary ray origins off the surface they start from (scaled with the
  // coordinates' magnitude, since float spacing grows with it).
  static Vec3 offset_origin(Vec3 p, Vec3 n) {
    double scale = std::max({std::abs(p.x), std::abs(p.y), std::abs(p.z)});
    return p + n * (1e-4 + 1e-5 * scale);
  }

  // A direction towards the sun: uniform over its disk, by the concentric map as for
  // spheres (lights.cpp), or its centre when it has no extent.
  Vec3 sun_direction(const SobolSampler& sampler, uint32_t slot) const {
    if (!(sun_one_minus_cos_ > 0)) return scene_.sun.direction;
    const auto [x, y] = concentric_disk(sampler.get2d(slot));
    const double omc = (x * x + y * y) * sun_one_minus_cos_;
    const double scale = std::sqrt(sun_one_minus_cos_ * (2.0 - omc));
    // Unit by construction: (x^2 + y^2) scale^2 + (1 - omc)^2 = 1.
    return sun_frame_.to_world({x * scale, y * scale, 1.0 - omc});
  }

  // Adds one light contribution to a path's sum. Light that has bounced at least once
  // (`bounces` > 0) is clamped to RenderSettings::clamp_indirect, as the sum of its
  // channels, the way Cycles clamps indirect light.
  void add(Spectrum& sum, Spectrum contribution, int bounces) const {
    const double limit = settings_.clamp_indirect;
    if (bounces > 0 && limit > 0) {
      const double total = contribution.r + contribution.g + contribution.b;
      if (total > limit) contribution = contribution * (limit / total);
    }
    sum += contribution;
  }

  const RenderSettings& settings_;
  LocalLights local_lights_;
  std::optional<Background> background_;
  Mat3 camera_to_world_;
  bool camera_moves_;  // motion blur with Camera::shutter_positions
  ShadingFrame sun_frame_;        // about Sun::direction
  double sun_one_minus_cos_ = 0;  // of the sun disk's angular radius; 0: a delta light
  std::vector<SpecularAlbedoRow> material_rows_;  // per Scene::materials
  std::vector<MeshShading> shading_;              // per Scene::meshes; only when shading
};

}  // namespace synthfarm::render::internal
