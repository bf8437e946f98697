// Sky radiance: gradient, uniform and Preetham et al. 1999 (see scene.h's Sky).
#include "render/internal/sky.h"

#include <algorithm>
#include <cmath>

namespace synthfarm::render {

namespace {

Spectrum to_spectrum(Rgb c, double scale) { return {c.r * scale, c.g * scale, c.b * scale}; }

}  // namespace

double SkyModel::Perez::operator()(double cos_theta, double gamma, double cos_gamma) const {
  // cos(theta) is kept off 0 so the horizon stays finite.
  double ct = std::max(cos_theta, 1e-3);
  return (1.0 + a * portable_exp(b / ct)) *
         (1.0 + c * portable_exp(d * gamma) + e * cos_gamma * cos_gamma);
}

SkyModel::SkyModel(const Sky& sky, const Sun& sun) : sky_(sky) {
  if (sky.model != Sky::Model::kPreetham) return;
  Vec3 s = sun.direction;
  double len = length(s);
  s = len > 0 ? s * (1.0 / len) : Vec3{0, 0, 1};
  // The model is fitted for a sun above the horizon: one below it is lifted onto it.
  if (s.z < 0) s = normalize(Vec3{s.x, s.y, 0} + Vec3{0, 0, 1e-6});
  sun_ = s;
  const double t = std::clamp(sky.turbidity, 1.7, 10.0);
  const double theta_s = portable_acos(std::clamp(s.z, 0.0, 1.0));
  sun_theta_ = theta_s;
  perez_Y_ = {0.1787 * t - 1.4630, -0.3554 * t + 0.4275, -0.0227 * t + 5.3251, 0.1206 * t - 2.5771,
              -0.0670 * t + 0.3703};
  perez_x_ = {-0.0193 * t - 0.2592, -0.0665 * t + 0.0008, -0.0004 * t + 0.2125,
              -0.0641 * t - 0.8989, -0.0033 * t + 0.0452};
  perez_y_ = {-0.0167 * t - 0.2608, -0.0950 * t + 0.0092, -0.0079 * t + 0.2102,
              -0.0441 * t - 1.6537, -0.0109 * t + 0.0529};
  const double th = theta_s, th2 = th * th, th3 = th2 * th, t2 = t * t;
  zenith_x_ = t2 * (0.00166 * th3 - 0.00375 * th2 + 0.00209 * th) +
              t * (-0.02903 * th3 + 0.06377 * th2 - 0.03202 * th + 0.00394) +
              (0.11693 * th3 - 0.21196 * th2 + 0.06052 * th + 0.25886);
  zenith_y_ = t2 * (0.00275 * th3 - 0.00610 * th2 + 0.00317 * th) +
              t * (-0.04214 * th3 + 0.08970 * th2 - 0.04153 * th + 0.00516) +
              (0.15346 * th3 - 0.26756 * th2 + 0.06670 * th + 0.26688);
  // Values relative to the zenith (theta = 0, gamma = theta_s): luminance 1 there, scaled by
  // `intensity`, instead of the model's absolute kcd/m^2 which depend on the turbidity fit.
  const double cos_s = portable_cos(theta_s);
  norm_Y_ = perez_Y_(1.0, theta_s, cos_s);
  norm_x_ = perez_x_(1.0, theta_s, cos_s);
  norm_y_ = perez_y_(1.0, theta_s, cos_s);
}

Spectrum SkyModel::radiance(Vec3 d) const {
  switch (sky_.model) {
    case Sky::Model::kUniform:
      return to_spectrum(sky_.zenith, sky_.intensity);
    case Sky::Model::kGradient: {
      Rgb c = sky_.radiance(d);
      return {c.r, c.g, c.b};
    }
    case Sky::Model::kPreetham:
      break;
  }
  if (d.z < 0) return to_spectrum(sky_.ground, sky_.intensity);
  double cos_gamma = std::clamp(dot(d, sun_), -1.0, 1.0);
  double gamma = portable_acos(cos_gamma);
  double Y = perez_Y_(d.z, gamma, cos_gamma) / norm_Y_;
  double x = zenith_x_ * perez_x_(d.z, gamma, cos_gamma) / norm_x_;
  double y = zenith_y_ * perez_y_(d.z, gamma, cos_gamma) / norm_y_;
  if (!(Y > 0) || !(y > 0)) return {};
  // xyY -> XYZ -> linear sRGB (D65).
  double X = x * Y / y, Z = (1.0 - x - y) * Y / y;
  double r = 3.2404542 * X - 1.5371385 * Y - 0.4985314 * Z;
  double g = -0.9692660 * X + 1.8760108 * Y + 0.0415560 * Z;
  double b = 0.0556434 * X - 0.2040259 * Y + 1.0572252 * Z;
  double k = sky_.intensity;
  return {std::max(0.0, r) * k, std::max(0.0, g) * k, std::max(0.0, b) * k};
}

}  // namespace synthfarm::render
