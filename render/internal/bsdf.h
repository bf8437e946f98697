// The renderer's surface scattering model: glTF 2.0's
// metallic-roughness BSDF as a plain value type, evaluated in a local shading frame
// (+z = shading normal), with no knowledge of rays, meshes or Embree.
//
//   f(wo, wi) = (1 - metallic) base (1 - E(cos_o)) (1 - E(cos_i)) / (pi (1 - E_avg))  diffuse
//             + [(1 - metallic) F_d(wo.h) + metallic F_m(wo.h)] D G2 / (4 cos_o cos_i)
// with F_d Schlick's Fresnel of a dielectric (F0 = 0.08 specular), F_m Schlick's with
// F0 = base colour (a conductor), D the isotropic GGX distribution (alpha = roughness^2,
// at least kMinAlpha), G2 Smith's height-correlated masking-shadowing. E(cos) is the
// directional albedo of the dielectric specular lobe and E_avg its cosine-weighted mean
// (tabulated once per process): the base gets what the specular layer does not reflect, on
// the way in and on the way out (Kelemen and Szirmay-Kalos' coupling), so the BSDF is
// reciprocal and a white dielectric reflects exactly all the energy it receives. glTF's
// reference `fresnel_mix` weighs the base by 1 - F_d(wo.h) and reflects up to 25% more than
// it receives at grazing angles; weighing it by 1 - F_d(cos_o) and 1 - F_d(cos_i) instead
// darkens rough surfaces seen at grazing angles by as much (F_d of the smooth surface, not
// the rough lobe's albedo).
//
// Sampling picks the specular lobe with probability (an estimate of its Fresnel-weighted
// albedo, F(cos_o)) / (that + the diffuse one), sampling the GGX distribution of visible
// normals (Heitz 2018) or a cosine-weighted direction otherwise; pdf() is the one-sample
// mixture of both, so eval / pdf / sample agree. A Lambertian BSDF (the scene's meshes without
// a material) is the diffuse lobe alone, with f * cos / pdf exactly the albedo.
//
// All arithmetic is + - * / sqrt and the portable trigonometry of math.h: deterministic.
#pragma once

#include <algorithm>
#include <array>
#include <optional>

#include "base/math.h"

namespace synthfarm::render {

// Linear RGB in double precision for path throughput and radiance.
struct Spectrum {
  double r = 0, g = 0, b = 0;
  friend Spectrum operator+(Spectrum a, Spectrum b) { return {a.r + b.r, a.g + b.g, a.b + b.b}; }
  friend Spectrum operator*(Spectrum a, Spectrum b) { return {a.r * b.r, a.g * b.g, a.b * b.b}; }
  friend Spectrum operator*(Spectrum a, double s) { return {a.r * s, a.g * s, a.b * s}; }
  Spectrum& operator+=(Spectrum o) { return *this = *this + o; }
  double max() const { return std::max(r, std::max(g, b)); }
  double luminance() const { return 0.2126 * r + 0.7152 * g + 0.0722 * b; }
  bool is_black() const { return r == 0 && g == 0 && b == 0; }
};

// An orthonormal basis around unit `n` (Duff et al. 2017, branchless).
struct ShadingFrame {
  Vec3 t, b, n;
  static ShadingFrame from_normal(Vec3 n);
  Vec3 to_local(Vec3 w) const { return {dot(w, t), dot(w, b), dot(w, n)}; }
  Vec3 to_world(Vec3 w) const { return t * w.x + b * w.y + n * w.z; }
};

struct BsdfSample {
  Vec3 wi;          // local frame, unit
  Spectrum weight;  // f(wo, wi) cos(wi) / pdf
  double pdf = 0;   // solid angle
};

// f(wo, wi) cos(wi) and the solid-angle density sample() has of choosing wi, from one
// evaluation (they share the half vector and the distribution term).
struct BsdfEval {
  Spectrum f;      // f(wo, wi) * cos(wi)
  double pdf = 0;  // solid angle
};

// E(cos) of one BSDF's dielectric specular lobe (its roughness and specular) at the albedo
// table's cos nodes, and its cosine-weighted mean E_avg: worked out once for a material that
// shades many points (PrincipledBsdf::albedo_row), so each evaluation interpolates one row
// instead of the table's four corners twice.
struct SpecularAlbedoRow {
  static constexpr int kNodes = 32;  // the table's cos nodes 0, 1/31, .. 1
  std::array<double, kNodes> e{};
  double average = 0;
};

class PrincipledBsdf {
 public:
  static constexpr double kMinAlpha = 1e-3;

  // base colour (linear), metallic and perceptual roughness in [0, 1], specular in [0, 1].
  PrincipledBsdf(Spectrum base, double metallic, double roughness, double specular);
  static PrincipledBsdf lambertian(Spectrum albedo);

  // f(wo, wi) * cos(wi); zero unless both directions are above the surface (local frame).
  Spectrum eval(Vec3 wo, Vec3 wi) const;
  // Solid-angle density of sample() choosing wi.
  double pdf(Vec3 wo, Vec3 wi) const;
  // u_lobe picks the lobe, u the direction. Empty when the sampled direction falls below
  // the surface or wo is not above it.
  std::optional<BsdfSample> sample(Vec3 wo, double u_lobe, std::array<double, 2> u) const;

  // What eval, pdf and sample need of one outgoing direction, worked out once for a shading
  // point that evaluates several directions (light samples, then the continuation). The
  // overloads below give exactly the same bits as the ones above.
  struct Outgoing {
    explicit Outgoing() = default;  // made by outgoing() only
    Vec3 wo;
    double smith =
        0;  // sqrt(cos_o^2 (1 - alpha^2) + alpha^2): Lambda(wo) = (this - cos_o) / (2 cos_o)
    double spec_pdf = 0;  // p_spec G1(wo) / (4 cos_o): the specular density is this * D(h)
    Spectrum diffuse;     // (1 - metallic) base (1 - E(cos_o)) / (pi (1 - E_avg))
    double p_spec = 0;    // specular_probability(wo)
  };
  Outgoing outgoing(Vec3 wo) const;
  Spectrum eval(const Outgoing& o, Vec3 wi) const;
  double pdf(const Outgoing& o, Vec3 wi) const;
  BsdfEval eval_pdf(const Outgoing& o, Vec3 wi) const;
  std::optional<BsdfSample> sample(const Outgoing& o, double u_lobe, std::array<double, 2> u) const;

  // Probability of sampling the specular lobe for this wo.
  double specular_probability(Vec3 wo) const;
  double alpha() const { return alpha_; }
  // This BSDF's row of the albedo table, and using one (which must outlive the BSDF) for
  // every later evaluation: the same values to within rounding (1e-15).
  SpecularAlbedoRow albedo_row() const;
  void use_albedo_row(const SpecularAlbedoRow* row) { row_ = row; }
  // Lambertian BSDFs ignore sample()'s u_lobe.
  bool is_lambertian() const { return lambertian_; }

  // GGX pieces, public for the tests.
  double distribution(double cos_h) const;
  double lambda(Vec3 w) const;
  // A visible normal for wo (local, wo.z > 0), Heitz 2018.
  Vec3 sample_visible_normal(Vec3 wo, std::array<double, 2> u) const;

 private:
  PrincipledBsdf() = default;
  // Schlick's Fresnel of the mixed dielectric and conductor lobes; linear in the Schlick
  // weight, so it is f0_mix_ + (1 - f0_mix_) w per channel.
  Spectrum specular_fresnel(double cos) const;
  // E(cos) and E_avg of the dielectric specular lobe at this roughness and F0.
  double specular_albedo_at(double cos) const;
  // The table's value at cos node c + tc (tc in [0, 1]), for a BSDF without a row.
  [[gnu::noinline]] double table_albedo_at(int c, double tc) const;
  double specular_albedo_average() const;
  double specular_probability_with(double cos_o, double albedo_o) const;

  Spectrum base_;
  Spectrum f0_mix_;  // (1 - metallic) f0 + metallic base
  double metallic_ = 0;
  double alpha_ = 1;
  double alpha2_ = 1;
  double f0_ = 0.04;  // dielectric
  bool lambertian_ = false;
  int albedo_row_ = 0;   // the roughness row of the albedo table below this BSDF's
  double albedo_t_ = 0;  // and the weight of the next row
  const SpecularAlbedoRow* row_ = nullptr;  // use_albedo_row()
};

}  // namespace synthfarm::render
