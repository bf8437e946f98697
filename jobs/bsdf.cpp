// glTF metallic-roughness BSDF: Lambert + GGX with visible-normal sampling (see bsdf.h).
#include "jobs/bsdf.h"

#include <algorithm>
#include <cmath>

#include "jobs/sampler.h"

namespace synthfarm::jobs {

namespace {

double schlick_weight(double cos) {
  double m = std::clamp(1.0 - cos, 0.0, 1.0);
  double m2 = m * m;
  return m2 * m2 * m;
}

}  // namespace

ShadingFrame ShadingFrame::from_normal(Vec3 n) {
  double sign = std::copysign(1.0, n.z);
  double a = -1.0 / (sign + n.z), b = n.x * n.y * a;
  return {{1.0 + sign * n.x * n.x * a, sign * b, -sign * n.x}, {b, sign + n.y * n.y * a, -n.y}, n};
}

PrincipledBsdf::PrincipledBsdf(Spectrum base, double metallic, double roughness, double specular) {
  base_ = base;
  metallic_ = std::clamp(metallic, 0.0, 1.0);
  double r = std::clamp(roughness, 0.0, 1.0);
  alpha_ = std::max(r * r, kMinAlpha);
  f0_ = 0.08 * std::clamp(specular, 0.0, 1.0);
}

PrincipledBsdf PrincipledBsdf::lambertian(Spectrum albedo) {
  PrincipledBsdf bsdf;
  bsdf.base_ = albedo;
  bsdf.lambertian_ = true;
  return bsdf;
}

double PrincipledBsdf::dielectric_fresnel(double cos) const {
  return f0_ + (1.0 - f0_) * schlick_weight(cos);
}

Spectrum PrincipledBsdf::specular_fresnel(double cos) const {
  double w = schlick_weight(cos);
  double fd = f0_ + (1.0 - f0_) * w;
  auto conductor = [&](double f0) { return f0 + (1.0 - f0) * w; };
  double m = metallic_;
  return {(1 - m) * fd + m * conductor(base_.r), (1 - m) * fd + m * conductor(base_.g),
          (1 - m) * fd + m * conductor(base_.b)};
}

double PrincipledBsdf::distribution(double cos_h) const {
  double a2 = alpha_ * alpha_;
  double c2 = cos_h * cos_h;
  double d = c2 * (a2 - 1.0) + 1.0;
  return a2 / (kPi * d * d);
}

double PrincipledBsdf::lambda(Vec3 w) const {
  double z2 = w.z * w.z;
  if (z2 <= 0) return 1e30;
  double tan2 = (w.x * w.x + w.y * w.y) / z2;
  return 0.5 * (std::sqrt(1.0 + alpha_ * alpha_ * tan2) - 1.0);
}

Vec3 PrincipledBsdf::sample_visible_normal(Vec3 wo, std::array<double, 2> u) const {
  // Stretch the view to the configuration of a hemisphere of unit roughness, sample the
  // projected disk (warped towards the visible half), and unstretch.
  Vec3 vh = normalize(Vec3{alpha_ * wo.x, alpha_ * wo.y, wo.z});
  double len2 = vh.x * vh.x + vh.y * vh.y;
  Vec3 t1 = len2 > 0 ? Vec3{-vh.y, vh.x, 0} * (1.0 / std::sqrt(len2)) : Vec3{1, 0, 0};
  Vec3 t2 = cross(vh, t1);
  double r = std::sqrt(u[0]);
  double phi = 2.0 * kPi * u[1];
  double p1 = r * portable_cos(phi), p2 = r * portable_sin(phi);
  double s = 0.5 * (1.0 + vh.z);
  p2 = (1.0 - s) * std::sqrt(std::max(0.0, 1.0 - p1 * p1)) + s * p2;
  Vec3 nh = t1 * p1 + t2 * p2 + vh * std::sqrt(std::max(0.0, 1.0 - p1 * p1 - p2 * p2));
  return normalize(Vec3{alpha_ * nh.x, alpha_ * nh.y, std::max(1e-9, nh.z)});
}

double PrincipledBsdf::specular_probability(Vec3 wo) const {
  if (lambertian_) return 0;
  double cos_o = std::clamp(wo.z, 0.0, 1.0);
  double spec = specular_fresnel(cos_o).luminance();
  double diffuse = (1.0 - metallic_) * (1.0 - dielectric_fresnel(cos_o)) * base_.luminance();
  double total = spec + diffuse;
  return total > 0 ? std::clamp(spec / total, 0.0, 1.0) : 1.0;
}

PrincipledBsdf::Outgoing PrincipledBsdf::outgoing(Vec3 wo) const {
  Outgoing o;
  o.wo = wo;
  if (wo.z <= 0 || lambertian_) return o;
  o.lambda = lambda(wo);
  o.transmit = 1.0 - dielectric_fresnel(wo.z);
  o.p_spec = specular_probability(wo);
  return o;
}

Spectrum PrincipledBsdf::eval(Vec3 wo, Vec3 wi) const { return eval(outgoing(wo), wi); }

Spectrum PrincipledBsdf::eval(const Outgoing& o, Vec3 wi) const {
  const Vec3 wo = o.wo;
  if (wo.z <= 0 || wi.z <= 0) return {};
  if (lambertian_) return base_ * (wi.z / kPi);
  Vec3 h = wo + wi;
  double hl = length(h);
  if (!(hl > 0)) return {};
  h = h * (1.0 / hl);
  double cos_oh = std::max(0.0, dot(wo, h));
  // The light the specular layer reflects on the way in and on the way out never reaches
  // the base: a reciprocal coupling that keeps the sum of both lobes within energy.
  double transmit = o.transmit * (1.0 - dielectric_fresnel(wi.z));
  Spectrum diffuse = base_ * ((1.0 - metallic_) * transmit / kPi);
  double g2 = 1.0 / (1.0 + o.lambda + lambda(wi));
  double spec = distribution(h.z) * g2 / (4.0 * wo.z * wi.z);
  return (diffuse + specular_fresnel(cos_oh) * spec) * wi.z;
}

double PrincipledBsdf::pdf(Vec3 wo, Vec3 wi) const { return pdf(outgoing(wo), wi); }

double PrincipledBsdf::pdf(const Outgoing& o, Vec3 wi) const {
  const Vec3 wo = o.wo;
  if (wo.z <= 0 || wi.z <= 0) return 0;
  double p_spec = o.p_spec;
  double pdf = (1.0 - p_spec) * wi.z / kPi;
  if (p_spec > 0) {
    Vec3 h = normalize(wo + wi);
    // D_wo(h) / (4 wo.h) with D_wo(h) = G1(wo) max(0, wo.h) D(h) / cos_o.
    double g1 = 1.0 / (1.0 + o.lambda);
    pdf += p_spec * g1 * distribution(h.z) / (4.0 * wo.z);
  }
  return pdf;
}

std::optional<BsdfSample> PrincipledBsdf::sample(Vec3 wo, double u_lobe,
                                                 std::array<double, 2> u) const {
  return sample(outgoing(wo), u_lobe, u);
}

std::optional<BsdfSample> PrincipledBsdf::sample(const Outgoing& o, double u_lobe,
                                                 std::array<double, 2> u) const {
  const Vec3 wo = o.wo;
  if (wo.z <= 0) return std::nullopt;
  BsdfSample s;
  if (lambertian_) {
    s.wi = cosine_hemisphere(u);
    if (s.wi.z <= 0) return std::nullopt;
    s.pdf = s.wi.z / kPi;
    s.weight = base_;
    return s;
  }
  if (u_lobe < o.p_spec) {
    Vec3 h = sample_visible_normal(wo, u);
    s.wi = h * (2.0 * dot(wo, h)) - wo;
  } else {
    s.wi = cosine_hemisphere(u);
  }
  if (s.wi.z <= 0) return std::nullopt;
  s.pdf = pdf(o, s.wi);
  if (!(s.pdf > 0)) return std::nullopt;
  s.weight = eval(o, s.wi) * (1.0 / s.pdf);
  return s;
}

}  // namespace synthfarm::jobs
