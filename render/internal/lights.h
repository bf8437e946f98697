// Light sampling for next-event estimation: the scene's point, spot,
// rect and disk lights (Scene::lights) and its background (an environment map or the sky),
// with the densities that multiple importance sampling needs. The sun, a delta light with
// nothing to weigh, stays with the integrator (render.cpp).
//
//   Local lights: one is chosen per shading point with probability proportional to an
//     estimate of its power (point 4 pi I, spot 2 pi (1 - cos of the mean cone angle) I,
//     area pi A L, luminance of colour * intensity), then sampled: point and spot exactly
//     (delta), rect and disk uniformly by area, converted to solid angle
//     (pdf = distance^2 / (area cos_light)), spheres (point and spot lights with a radius)
//     uniformly over the cone of directions they subtend (pdf = 1 / (2 pi (1 - cos
//     theta_max))). Area and sphere lights are not in the BVH: rays meet them analytically
//     (intersect()) and they cast no shadows; rect and disk lights emit from their front
//     face only (the side `direction` points to). Rect axes must be perpendicular.
//   Background: an environment map is sampled by a piecewise-constant 2D distribution over
//     its texels (luminance * sin(theta)), built once per render; the Preetham sky the same
//     way over a 256 x 128 table of its luminance. The Preetham sky's radiance itself is
//     tabulated too, once per render: 129 x 129 RGB samples of the upper hemisphere in a
//     Lambert azimuthal equal-area map (only + * / sqrt to look up, no trigonometry),
//     bilinearly interpolated, about 1 degree apart; below the horizon it is the ground
//     colour exactly. Gradient and uniform skies are smooth and
//     dim, and are left to BSDF sampling (which is exact for a uniform sky over Lambertian
//     surfaces): importance_sampled() is false for them.
// Immutable once built; thread-safe to share between render threads.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <vector>

#include "render/internal/bsdf.h"
#include "render/internal/sampler.h"
#include "render/scene.h"
#include "render/internal/sky.h"

namespace synthfarm::render {

struct LightSample {
  Vec3 wi;              // unit world direction from the shading point to the light
  double distance = 0;  // to the sampled point; +infinity for the background
  Spectrum radiance;    // incident radiance; for delta lights radiant intensity / r^2
  double pdf = 0;       // solid angle, times the selection probability; delta: the latter
  bool delta = false;   // point and spot lights (no MIS)
};

// A ray meeting an area light.
struct AreaLightHit {
  size_t light = 0;  // Scene::lights index
  double t = 0;      // distance along the unit ray direction
  Spectrum radiance;
};

class LocalLights {
 public:
  explicit LocalLights(const std::vector<Light>& lights);

  bool empty() const { return selection_.integral() <= 0; }
  // More than one light to choose from (sample() ignores u_select otherwise).
  bool needs_choice() const { return lights_.size() > 1; }
  // Some light has an extent (sample() ignores u when every light is a point or spot).
  bool needs_point() const { return has_area_; }
  // One light chosen by power (u_select) and a point on it (u), seen from world point `p`.
  // Empty when the chosen light does not shine on p.
  std::optional<LightSample> sample(Vec3 p, double u_select, std::array<double, 2> u) const;
  // The density sample() gives the direction `wi` from `p` that meets area or sphere light
  // `light` at distance t (solid angle, with the selection probability).
  double pdf(size_t light, Vec3 p, Vec3 wi, double t) const;
  // The nearest area light front face or light sphere along the ray (o, unit d) closer
  // than t_max. `camera_ray`: lights with visible = false are skipped.
  std::optional<AreaLightHit> intersect(Vec3 o, Vec3 d, double t_max, bool camera_ray) const;

 private:
  struct Prepared {
    Light light;
    Vec3 normal;          // unit, front side
    Vec3 axis_u, axis_v;  // rect: half extents; disk: unit basis of the plane
    double area = 0;
    double cos_inner = 1, cos_outer = 0;  // spot
    Spectrum emitted;                     // colour * intensity; spheres: their radiance
    bool sphere = false;                  // a point or spot light with a radius
  };
  // The spot falloff of light `l` towards world point `p` (1 for other kinds).
  static double falloff_towards(const Prepared& l, Vec3 p);
  std::vector<Prepared> lights_;
  Distribution1D selection_;
  bool has_area_ = false;
};

class Background {
 public:
  // The environment when the scene has one, else its sky (lit by its sun for Preetham).
  explicit Background(const Scene& scene);

  Spectrum radiance(Vec3 d) const;  // unit world direction
  bool importance_sampled() const { return !distribution_.empty(); }
  // A direction by the tabulated distribution; empty when not importance-sampled.
  std::optional<LightSample> sample(std::array<double, 2> u) const;
  // Solid-angle density of sample() choosing unit direction d.
  double pdf(Vec3 d) const;

  // Equirectangular mapping of world directions (with the environment's rotation).
  std::array<double, 2> direction_to_uv(Vec3 d) const;
  Vec3 uv_to_direction(std::array<double, 2> uv) const;

 private:
  // The tabulated Preetham sky (see above), kSkyMapSize^2 RGB vertices, row-major.
  static constexpr int kSkyMapSize = 129;
  Spectrum sky_map_radiance(Vec3 d) const;

  std::shared_ptr<const Environment> environment_;
  SkyModel sky_;
  std::vector<Spectrum> sky_map_;
  double rotation_rad_ = 0;
  Distribution2D distribution_;
};

}  // namespace synthfarm::render
