// The sky's radiance for the renderer: every Sky model of scene.h,
// with the Preetham model's coefficients worked out once per scene for its sun.
#pragma once

#include "render/internal/bsdf.h"
#include "render/scene.h"

namespace synthfarm::render {

// Immutable once built; thread-safe to share.
class SkyModel {
 public:
  SkyModel(const Sky& sky, const Sun& sun);

  // Radiance along unit world direction `d`.
  Spectrum radiance(Vec3 d) const;
  // True when the radiance is the same in every direction (nothing to importance-sample).
  bool is_uniform() const { return sky_.model == Sky::Model::kUniform; }
  Sky::Model model() const { return sky_.model; }

 private:
  // Perez et al.'s luminance distribution with coefficients A..E.
  struct Perez {
    double a, b, c, d, e;
    double operator()(double cos_theta, double gamma, double cos_gamma) const;
  };

  Sky sky_;
  Vec3 sun_;  // unit, towards the sun, at or above the horizon
  double sun_theta_ = 0;
  Perez perez_Y_{}, perez_x_{}, perez_y_{};
  // Zenith chromaticity over Perez(zenith) of each channel, so radiance() is one ratio each.
  double zenith_x_ = 0, zenith_y_ = 0;
  double norm_Y_ = 0, norm_x_ = 0, norm_y_ = 0;
};

}  // namespace synthfarm::render
