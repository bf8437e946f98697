// Tests of the principled BSDF without Embree: energy (directional albedo <= 1), agreement of
// eval, pdf and sample (two independent albedo estimates, a chi-square test of the sampled
// directions), and the exact Lambertian special case.
#include "render/internal/bsdf.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "render/internal/sampler.h"

namespace synthfarm::render {
namespace {

Vec3 view_at(double cos_theta) {
  return {std::sqrt(std::max(0.0, 1 - cos_theta * cos_theta)), 0, cos_theta};
}

// Directional albedo of `bsdf` for wo, two ways: with its own sampling (mean weight) and with
// uniform hemisphere sampling of eval (2 pi mean f cos).
struct Albedo {
  double sampled = 0, uniform = 0;
};
Albedo directional_albedo(const PrincipledBsdf& bsdf, Vec3 wo, int n) {
  SobolSampler s(77, 1);
  Albedo a;
  for (int i = 0; i < n; ++i) {
    s.start_sample(static_cast<uint32_t>(i));
    if (auto bs = bsdf.sample(wo, s.get1d(0), s.get2d(1))) a.sampled += bs->weight.g;
    auto u = s.get2d(2);
    double z = u[0], r = std::sqrt(std::max(0.0, 1 - z * z)), phi = 2 * kPi * u[1];
    Vec3 wi{r * std::cos(phi), r * std::sin(phi), z};
    a.uniform += bsdf.eval(wo, wi).g * 2 * kPi;
  }
  a.sampled /= n;
  a.uniform /= n;
  return a;
}

// The specular lobe alone (a white conductor: F = 1) conserves energy for every roughness and
// view angle, and both estimators agree (so eval and the sampling pdf are consistent).
TEST(BsdfTest, GgxDirectionalAlbedoIsAtMostOne) {
  for (double roughness : {0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0}) {
    PrincipledBsdf mirror({1, 1, 1}, 1.0, roughness, 0.5);
    for (double cos_o : {0.1, 0.3, 0.6, 0.9, 1.0}) {
      Vec3 wo = view_at(cos_o);
      Albedo a = directional_albedo(mirror, wo, 1 << 16);
      EXPECT_LE(a.sampled, 1.0 + 1e-3) << roughness << " " << cos_o;
      // Uniform directions find a sharp lobe too rarely for a tight estimate.
      if (roughness >= 0.3) {
        EXPECT_LE(a.uniform, 1.0 + 0.02) << roughness << " " << cos_o;
        EXPECT_NEAR(a.sampled, a.uniform, 0.02) << roughness << " " << cos_o;
      }
      // Single scattering loses energy to masking, up to about two thirds (rough, grazing).
      EXPECT_GT(a.sampled, 0.25) << roughness << " " << cos_o;
    }
  }
  // A near-mirror reflects everything it samples: F G2 / G1 = 1 when G2 = G1 (no shadowing).
  PrincipledBsdf smooth({1, 1, 1}, 1.0, 0.0, 0.5);
  EXPECT_NEAR(directional_albedo(smooth, view_at(0.8), 1024).sampled, 1.0, 1e-3);
}

TEST(BsdfTest, PrincipledDielectricAndMetalConserveEnergy) {
  for (double metallic : {0.0, 0.5, 1.0}) {
    for (double roughness : {0.2, 0.6, 1.0}) {
      PrincipledBsdf bsdf({1, 1, 1}, metallic, roughness, 1.0);
      for (double cos_o : {0.2, 0.7, 1.0}) {
        Albedo a = directional_albedo(bsdf, view_at(cos_o), 1 << 15);
        EXPECT_LE(a.sampled, 1.0 + 0.01) << metallic << " " << roughness << " " << cos_o;
        EXPECT_NEAR(a.sampled, a.uniform, 0.02) << metallic << " " << roughness << " " << cos_o;
        // A white dielectric loses nothing: what the specular layer does not reflect, the
        // base does (the coupling's normalisation), at every view angle.
        if (metallic == 0.0) {
          EXPECT_NEAR(a.sampled, 1.0, 0.01) << roughness << " " << cos_o;
        }
      }
    }
  }
}

// The sampled directions follow pdf(): a chi-square test over (cos theta, phi) bins whose
// expected counts come from integrating pdf() numerically.
TEST(BsdfTest, SampledDirectionsFollowThePdf) {
  constexpr int kTheta = 10, kPhi = 20, kSamples = 200000;
  for (double roughness : {0.3, 0.7}) {
    for (double metallic : {0.0, 1.0}) {
      PrincipledBsdf bsdf({0.7, 0.5, 0.3}, metallic, roughness, 0.5);
      Vec3 wo = normalize(Vec3{0.5, 0.2, 0.6});
      std::vector<double> observed(kTheta * kPhi, 0), expected(kTheta * kPhi, 0);
      auto bin = [&](Vec3 w) {
        int t = std::min(kTheta - 1, static_cast<int>(w.z * kTheta));
        double phi = std::atan2(w.y, w.x) + kPi;
        int p = std::min(kPhi - 1, static_cast<int>(phi / (2 * kPi) * kPhi));
        return t * kPhi + p;
      };
      SobolSampler s(5, 5);
      for (int i = 0; i < kSamples; ++i) {
        s.start_sample(static_cast<uint32_t>(i));
        auto bs = bsdf.sample(wo, s.get1d(0), s.get2d(1));
        if (!bs) continue;
        EXPECT_NEAR(bs->pdf, bsdf.pdf(wo, bs->wi), 1e-9 * bs->pdf);
        observed[bin(bs->wi)] += 1;
      }
      // Midpoint rule on a fine grid in (cos theta, phi): dw = dcos dphi.
      constexpr int kSub = 16;
      for (int t = 0; t < kTheta * kSub; ++t) {
        for (int p = 0; p < kPhi * kSub; ++p) {
          double z = (t + 0.5) / (kTheta * kSub), phi = (p + 0.5) / (kPhi * kSub) * 2 * kPi - kPi;
          double r = std::sqrt(1 - z * z);
          Vec3 w{r * std::cos(phi), r * std::sin(phi), z};
          double area = (1.0 / (kTheta * kSub)) * (2 * kPi / (kPhi * kSub));
          expected[bin(w)] += bsdf.pdf(wo, w) * area * kSamples;
        }
      }
      double chi2 = 0;
      int dof = 0;
      for (size_t b = 0; b < observed.size(); ++b) {
        if (expected[b] < 5) continue;
        chi2 += (observed[b] - expected[b]) * (observed[b] - expected[b]) / expected[b];
        ++dof;
      }
      // Low-discrepancy samples are more even than random ones: the statistic is small.
      EXPECT_LT(chi2, dof + 5 * std::sqrt(2.0 * dof)) << roughness << " " << metallic;
      EXPECT_GT(dof, 50);
    }
  }
}

TEST(BsdfTest, LambertianWeightIsTheAlbedo) {
  PrincipledBsdf lambert = PrincipledBsdf::lambertian({0.2, 0.5, 0.9});
  SobolSampler s(1, 2);
  for (uint32_t i = 0; i < 64; ++i) {
    s.start_sample(i);
    auto bs = lambert.sample(view_at(0.3), s.get1d(0), s.get2d(1));
    ASSERT_TRUE(bs.has_value());
    EXPECT_EQ(bs->weight.r, 0.2);
    EXPECT_EQ(bs->weight.b, 0.9);
    EXPECT_NEAR(lambert.eval(view_at(0.3), bs->wi).g, 0.5 * bs->wi.z / kPi, 1e-15);
    EXPECT_NEAR(lambert.pdf(view_at(0.3), bs->wi), bs->pdf, 1e-15);
  }
  EXPECT_EQ(lambert.specular_probability(view_at(0.5)), 0.0);
  // Below the surface nothing reflects.
  EXPECT_TRUE(lambert.eval(view_at(0.5), {0, 0, -1}).is_black());
  EXPECT_FALSE(lambert.sample({0, 0, -1}, 0.5, {0.5, 0.5}).has_value());
}

TEST(BsdfTest, VisibleNormalsFaceTheViewer) {
  PrincipledBsdf bsdf({1, 1, 1}, 1.0, 0.8, 0.5);
  SobolSampler s(2, 2);
  Vec3 wo = view_at(0.05);
  for (uint32_t i = 0; i < 1024; ++i) {
    s.start_sample(i);
    Vec3 h = bsdf.sample_visible_normal(wo, s.get2d(0));
    EXPECT_NEAR(length(h), 1.0, 1e-12);
    EXPECT_GE(dot(h, wo), -1e-12);
    EXPECT_GT(h.z, 0.0);
  }
}

// A BSDF that reads its row of the albedo table (what the renderer does for a material whose
// roughness has no texture) evaluates, weighs and samples as the one that reads the table.
TEST(BsdfTest, AlbedoRowGivesTheTablesValues) {
  SobolSampler s(5, 9);
  for (double roughness : {0.0, 0.15, 0.5, 0.77, 1.0}) {
    for (double specular : {0.0, 0.5, 1.0}) {
      const PrincipledBsdf table({0.7, 0.4, 0.2}, 0.3, roughness, specular);
      const SpecularAlbedoRow row = table.albedo_row();
      PrincipledBsdf with_row = table;
      with_row.use_albedo_row(&row);
      for (uint32_t i = 0; i < 256; ++i) {
        s.start_sample(i);
        const auto uo = s.get2d(0), ui = s.get2d(1);
        const Vec3 wo = view_at(uo[0]), wi = cosine_hemisphere(ui);
        const BsdfEval a = table.eval_pdf(table.outgoing(wo), wi);
        const BsdfEval b = with_row.eval_pdf(with_row.outgoing(wo), wi);
        EXPECT_NEAR(a.f.r, b.f.r, 1e-12 * (1 + a.f.r)) << roughness << " " << specular;
        EXPECT_NEAR(a.f.b, b.f.b, 1e-12 * (1 + a.f.b)) << roughness << " " << specular;
        EXPECT_NEAR(a.pdf, b.pdf, 1e-12 * (1 + a.pdf)) << roughness << " " << specular;
        EXPECT_NEAR(table.specular_probability(wo), with_row.specular_probability(wo), 1e-12);
      }
    }
  }
  // The row's ends are the table's: E at normal incidence and at grazing.
  const PrincipledBsdf rough({1, 1, 1}, 0.0, 0.6, 0.5);
  const SpecularAlbedoRow row = rough.albedo_row();
  PrincipledBsdf with_row = rough;
  with_row.use_albedo_row(&row);
  EXPECT_GT(row.e[SpecularAlbedoRow::kNodes - 1], 0.0);
  EXPECT_LT(row.e[SpecularAlbedoRow::kNodes - 1], row.e[0]);  // Fresnel grows towards grazing
  EXPECT_GT(row.average, 0.0);
  EXPECT_LT(row.average, 1.0);
}

}  // namespace
}  // namespace synthfarm::render
