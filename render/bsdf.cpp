// glTF metallic-roughness BSDF: Lambert + GGX with visible-normal sampling (see bsdf.h).
#include "render/internal/bsdf.h"

#include <algorithm>
#include <cmath>

#include "render/internal/sampler.h"

namespace synthfarm::render {

namespace {

double schlick_weight(double cos) {
  double m = std::clamp(1.0 - cos, 0.0, 1.0);
  double m2 = m * m;
  return m2 * m2 * m;
}

// The directional albedo of the dielectric specular lobe, E(cos_o) = F0 e1 + (1 - F0) ew
// (Schlick's Fresnel is linear in F0), tabulated over cos_o and perceptual roughness on a
// kGrid x kGrid grid of nodes 0 .. 1, with its cosine-weighted hemispherical mean
// E_avg = 2 int E(mu) mu dmu per roughness. Each node integrates the single-scattering GGX
// lobe with kSide x kSide stratified visible normals (weight G2 / G1 times the Fresnel term);
// everything is + - * / sqrt and the portable trigonometry, so the table is the same bits
// on every machine. Built once per process, at the first use (a few milliseconds).
struct SpecularAlbedo {
  static constexpr int kGrid = SpecularAlbedoRow::kNodes, kSide = 16;
  std::array<std::array<double, kGrid>, kGrid> e1{}, ew{};  // [roughness][cos]
  std::array<double, kGrid> avg1{}, avgw{};

  SpecularAlbedo() {
    for (int r = 0; r < kGrid; ++r) {
      const PrincipledBsdf lobe({1, 1, 1}, 1.0, static_cast<double>(r) / (kGrid - 1), 0.5);
      for (int c = 0; c < kGrid; ++c) {
        const double mu = std::max(1e-3, static_cast<double>(c) / (kGrid - 1));
        const Vec3 wo{std::sqrt(1.0 - mu * mu), 0, mu};
        const double lambda_o = lobe.lambda(wo);
        double sum1 = 0, sumw = 0;
        for (int i = 0; i < kSide; ++i) {
          for (int j = 0; j < kSide; ++j) {
            const Vec3 h = lobe.sample_visible_normal(wo, {(i + 0.5) / kSide, (j + 0.5) / kSide});
            const double cos_oh = dot(wo, h);
            const Vec3 wi = h * (2.0 * cos_oh) - wo;
            if (wi.z <= 0) continue;
            // G2 / G1(wo), height-correlated Smith.
            const double weight = (1.0 + lambda_o) / (1.0 + lambda_o + lobe.lambda(wi));
            sum1 += weight;
            sumw += weight * schlick_weight(cos_oh);
          }
        }
        e1[r][c] = sum1 / (kSide * kSide);
        ew[r][c] = sumw / (kSide * kSide);
      }
      // 2 int E mu dmu of the piecewise-linear E (exact for it: Simpson on each interval).
      double a1 = 0, aw = 0;
      for (int c = 0; c + 1 < kGrid; ++c) {
        const double m0 = static_cast<double>(c) / (kGrid - 1),
                     m1 = static_cast<double>(c + 1) / (kGrid - 1);
        const double dm = m1 - m0;
        // int over [m0, m1] of (E0 + (E1 - E0) t) (m0 + dm t) dm dt, t in [0, 1].
        auto part = [&](double y0, double y1) {
          return dm * (y0 * (m0 / 2 + dm / 6) + y1 * (m0 / 2 + dm / 3));
        };
        a1 += part(e1[r][c], e1[r][c + 1]);
        aw += part(ew[r][c], ew[r][c + 1]);
      }
      avg1[r] = 2.0 * a1;
      avgw[r] = 2.0 * aw;
    }
  }
};

const SpecularAlbedo& specular_albedo() {
  static const SpecularAlbedo table;
  return table;
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
  alpha2_ = alpha_ * alpha_;
  f0_ = 0.08 * std::clamp(specular, 0.0, 1.0);
  const double m = metallic_, dielectric = (1 - m) * f0_;
  f0_mix_ = {dielectric + m * base.r, dielectric + m * base.g, dielectric + m * base.b};
  const double row = r * (SpecularAlbedo::kGrid - 1);
  albedo_row_ = std::min(static_cast<int>(row), SpecularAlbedo::kGrid - 2);
  albedo_t_ = row - albedo_row_;
}

inline double PrincipledBsdf::specular_albedo_at(double cos) const {
  const double x = std::clamp(cos, 0.0, 1.0) * (SpecularAlbedo::kGrid - 1);
  const int c = std::min(static_cast<int>(x), SpecularAlbedo::kGrid - 2);
  const double tc = x - c;
  if (row_ != nullptr) return row_->e[c] + (row_->e[c + 1] - row_->e[c]) * tc;
  return table_albedo_at(c, tc);
}

double PrincipledBsdf::table_albedo_at(int c, double tc) const {
  const auto& t = specular_albedo();
  const double tr = albedo_t_;
  const int r = albedo_row_;
  auto at =
      [&](const std::array<std::array<double, SpecularAlbedo::kGrid>, SpecularAlbedo::kGrid>& e) {
        const double lo = e[r][c] + (e[r][c + 1] - e[r][c]) * tc;
        const double hi = e[r + 1][c] + (e[r + 1][c + 1] - e[r + 1][c]) * tc;
        return lo + (hi - lo) * tr;
      };
  return f0_ * at(t.e1) + (1.0 - f0_) * at(t.ew);
}

double PrincipledBsdf::specular_albedo_average() const {
  if (row_ != nullptr) return row_->average;
  const auto& t = specular_albedo();
  const int r = albedo_row_;
  const double a1 = t.avg1[r] + (t.avg1[r + 1] - t.avg1[r]) * albedo_t_;
  const double aw = t.avgw[r] + (t.avgw[r + 1] - t.avgw[r]) * albedo_t_;
  return f0_ * a1 + (1.0 - f0_) * aw;
}

SpecularAlbedoRow PrincipledBsdf::albedo_row() const {
  const auto& t = specular_albedo();
  const int r = albedo_row_;
  const double tr = albedo_t_;
  SpecularAlbedoRow row;
  for (int c = 0; c < SpecularAlbedoRow::kNodes; ++c) {
    const double e1 = t.e1[r][c] + (t.e1[r + 1][c] - t.e1[r][c]) * tr;
    const double ew = t.ew[r][c] + (t.ew[r + 1][c] - t.ew[r][c]) * tr;
    row.e[c] = f0_ * e1 + (1.0 - f0_) * ew;
  }
  row.average = specular_albedo_average();
  return row;
}

PrincipledBsdf PrincipledBsdf::lambertian(Spectrum albedo) {
  PrincipledBsdf bsdf;
  bsdf.base_ = albedo;
  bsdf.lambertian_ = true;
  return bsdf;
}

Spectrum PrincipledBsdf::specular_fresnel(double cos) const {
  const double w = schlick_weight(cos);
  return {f0_mix_.r + (1.0 - f0_mix_.r) * w, f0_mix_.g + (1.0 - f0_mix_.g) * w,
          f0_mix_.b + (1.0 - f0_mix_.b) * w};
}

double PrincipledBsdf::distribution(double cos_h) const {
  double c2 = cos_h * cos_h;
  double d = c2 * (alpha2_ - 1.0) + 1.0;
  return alpha2_ / (kPi * d * d);
}

double PrincipledBsdf::lambda(Vec3 w) const {
  double z2 = w.z * w.z;
  if (z2 <= 0) return 1e30;
  double tan2 = (w.x * w.x + w.y * w.y) / z2;
  return 0.5 * (std::sqrt(1.0 + alpha2_ * tan2) - 1.0);
}

Vec3 PrincipledBsdf::sample_visible_normal(Vec3 wo, std::array<double, 2> u) const {
  // Stretch the view to the configuration of a hemisphere of unit roughness, sample the
  // projected disk (warped towards the visible half), and unstretch. The disk point comes
  // from the concentric map (no full-range trigonometry).
  Vec3 vh = normalize(Vec3{alpha_ * wo.x, alpha_ * wo.y, wo.z});
  double len2 = vh.x * vh.x + vh.y * vh.y;
  Vec3 t1 = len2 > 0 ? Vec3{-vh.y, vh.x, 0} * (1.0 / std::sqrt(len2)) : Vec3{1, 0, 0};
  Vec3 t2 = cross(vh, t1);
  auto [p1, p2] = concentric_disk(u);
  double s = 0.5 * (1.0 + vh.z);
  p2 = (1.0 - s) * std::sqrt(std::max(0.0, 1.0 - p1 * p1)) + s * p2;
  Vec3 nh = t1 * p1 + t2 * p2 + vh * std::sqrt(std::max(0.0, 1.0 - p1 * p1 - p2 * p2));
  return normalize(Vec3{alpha_ * nh.x, alpha_ * nh.y, std::max(1e-9, nh.z)});
}

double PrincipledBsdf::specular_probability_with(double cos_o, double albedo_o) const {
  double spec = specular_fresnel(cos_o).luminance();
  double diffuse = (1.0 - metallic_) * (1.0 - albedo_o) * base_.luminance();
  double total = spec + diffuse;
  return total > 0 ? std::clamp(spec / total, 0.0, 1.0) : 1.0;
}

double PrincipledBsdf::specular_probability(Vec3 wo) const {
  if (lambertian_) return 0;
  double cos_o = std::clamp(wo.z, 0.0, 1.0);
  return specular_probability_with(cos_o, specular_albedo_at(cos_o));
}

PrincipledBsdf::Outgoing PrincipledBsdf::outgoing(Vec3 wo) const {
  Outgoing o;
  o.wo = wo;
  if (wo.z <= 0) return o;
  if (lambertian_) {
    o.diffuse = base_ * (1.0 / kPi);
    return o;
  }
  const double cos_o = std::min(wo.z, 1.0);
  const double albedo_o = specular_albedo_at(cos_o);
  o.smith = std::sqrt(cos_o * cos_o * (1.0 - alpha2_) + alpha2_);
  o.p_spec = specular_probability_with(cos_o, albedo_o);
  // G1(wo) / (4 cos_o) = 1 / (2 (cos_o + smith)).
  o.spec_pdf = o.p_spec / (2.0 * (cos_o + o.smith));
  const double transmit = (1.0 - albedo_o) / std::max(1e-6, 1.0 - specular_albedo_average());
  o.diffuse = base_ * ((1.0 - metallic_) * transmit / kPi);
  return o;
}

Spectrum PrincipledBsdf::eval(Vec3 wo, Vec3 wi) const { return eval(outgoing(wo), wi); }
double PrincipledBsdf::pdf(Vec3 wo, Vec3 wi) const { return pdf(outgoing(wo), wi); }
Spectrum PrincipledBsdf::eval(const Outgoing& o, Vec3 wi) const { return eval_pdf(o, wi).f; }
double PrincipledBsdf::pdf(const Outgoing& o, Vec3 wi) const { return eval_pdf(o, wi).pdf; }

BsdfEval PrincipledBsdf::eval_pdf(const Outgoing& o, Vec3 wi) const {
  const Vec3 wo = o.wo;
  if (wo.z <= 0 || wi.z <= 0) return {};
  if (lambertian_) return {o.diffuse * wi.z, wi.z / kPi};
  Vec3 h = wo + wi;
  const double hl2 = dot(h, h);
  if (!(hl2 > 0)) return {};
  h = h * (1.0 / std::sqrt(hl2));
  const double cos_oh = std::max(0.0, dot(wo, h));
  const double d = distribution(h.z);
  // The base gets what the specular layer does not reflect, on the way in and on the way
  // out, normalised so that a white base makes the sum of both lobes exactly 1.
  const Spectrum diffuse = o.diffuse * (1.0 - specular_albedo_at(wi.z));
  // Height-correlated Smith for unit directions: G2 / (4 cos_o cos_i) =
  // 1 / (2 (cos_i smith_o + cos_o smith_i)), with smith = sqrt(cos^2 (1 - alpha^2) + alpha^2).
  const double smith_i = std::sqrt(wi.z * wi.z * (1.0 - alpha2_) + alpha2_);
  const double spec = d / (2.0 * (wi.z * o.smith + wo.z * smith_i));
  // D_wo(h) / (4 wo.h) with D_wo(h) = G1(wo) max(0, wo.h) D(h) / cos_o, for the specular lobe.
  const double pdf = (1.0 - o.p_spec) * wi.z / kPi + o.spec_pdf * d;
  return {(diffuse + specular_fresnel(cos_oh) * spec) * wi.z, pdf};
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
  const BsdfEval e = eval_pdf(o, s.wi);
  if (!(e.pdf > 0)) return std::nullopt;
  s.pdf = e.pdf;
  s.weight = e.f * (1.0 / e.pdf);
  return s;
}

}  // namespace synthfarm::render
