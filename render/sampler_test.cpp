// Tests of the sampler: Sobol values, stratification after Owen scrambling, determinism,
// warps and piecewise-constant distributions.
#include "render/internal/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

namespace synthfarm::render {
namespace {

TEST(SobolTest, FirstPointsOfTheFirstTwoDimensions) {
  const double d0[] = {0, 0.5, 0.25, 0.75, 0.125, 0.625, 0.375, 0.875};
  const double d1[] = {0,     0.5,   0.75,  0.25,
                       0.625, 0.125, 0.375, 0.875};  // index order, not Gray code
  for (uint32_t i = 0; i < 8; ++i) {
    EXPECT_EQ(sobol_dimension0(i) * 0x1p-32, d0[i]) << i;
    EXPECT_EQ(sobol_dimension1(i) * 0x1p-32, d1[i]) << i;
  }
}

TEST(SobolTest, OwenScrambleIsABijectionThatKeepsPrefixes) {
  // Values agreeing in their top k bits still agree in their top k bits after scrambling.
  const uint32_t seed = 0x1234567u;
  for (uint32_t x = 0; x < 4096; ++x) {
    uint32_t a = owen_scramble(x << 20, seed), b = owen_scramble((x << 20) | 0xfffffu, seed);
    EXPECT_EQ(a >> 20, b >> 20);
  }
  std::set<uint32_t> seen;
  for (uint32_t x = 0; x < 4096; ++x) seen.insert(owen_scramble(x << 20, seed) >> 20);
  EXPECT_EQ(seen.size(), 4096u);
}

// The first 2^k points of every slot are stratified: one per 1D interval of width 2^-k, and
// one per elementary 2D interval of every shape 2^-a x 2^-(k-a) ((0, 2)-sequence).
TEST(SobolTest, ScrambledPointsStayStratified) {
  constexpr int kLog = 8, kCount = 1 << kLog;
  for (uint64_t pixel : {0ull, 7ull, 123456ull}) {
    SobolSampler sampler(42, pixel);
    for (uint32_t slot : {0u, 3u, 17u}) {
      std::vector<std::array<double, 2>> points;
      std::set<int> strata;
      for (uint32_t i = 0; i < kCount; ++i) {
        sampler.start_sample(i);
        points.push_back(sampler.get2d(slot));
        strata.insert(static_cast<int>(sampler.get1d(slot) * kCount));
      }
      EXPECT_EQ(strata.size(), static_cast<size_t>(kCount));
      for (int a = 0; a <= kLog; ++a) {
        std::set<int> cells;
        for (auto p : points) {
          cells.insert(static_cast<int>(p[0] * (1 << a)) * (1 << (kLog - a)) +
                       static_cast<int>(p[1] * (1 << (kLog - a))));
        }
        EXPECT_EQ(cells.size(), static_cast<size_t>(kCount))
            << "pixel " << pixel << " slot " << slot << " a " << a;
      }
    }
  }
}

TEST(SobolTest, DeterministicAndDecorrelated) {
  SobolSampler a(1, 5), b(1, 5), c(1, 6), d(2, 5);
  a.start_sample(3);
  b.start_sample(3);
  c.start_sample(3);
  d.start_sample(3);
  EXPECT_EQ(a.get2d(4), b.get2d(4));
  EXPECT_NE(a.get2d(4), c.get2d(4));
  EXPECT_NE(a.get2d(4), d.get2d(4));
  EXPECT_NE(a.get2d(4), a.get2d(5));
  // Means of a slot over many samples are close to 1/2.
  double sum = 0;
  for (uint32_t i = 0; i < 1024; ++i) {
    a.start_sample(i);
    sum += a.get1d(9);
  }
  EXPECT_NEAR(sum / 1024, 0.5, 1e-3);
}

TEST(WarpTest, ConcentricDiskAndCosineHemisphere) {
  SobolSampler s(3, 0);
  double sum_r2 = 0, sum_z = 0;
  constexpr int kN = 4096;
  for (uint32_t i = 0; i < kN; ++i) {
    s.start_sample(i);
    auto p = concentric_disk(s.get2d(0));
    double r2 = p[0] * p[0] + p[1] * p[1];
    EXPECT_LE(r2, 1.0 + 1e-12);
    sum_r2 += r2;
    Vec3 w = cosine_hemisphere(s.get2d(1));
    EXPECT_NEAR(length(w), 1.0, 1e-12);
    EXPECT_GE(w.z, 0.0);
    sum_z += w.z;
  }
  EXPECT_NEAR(sum_r2 / kN, 0.5, 2e-3);       // uniform disk: E[r^2] = 1/2
  EXPECT_NEAR(sum_z / kN, 2.0 / 3.0, 2e-3);  // cosine lobe: E[cos] = 2/3
}

TEST(PiecewiseDistributionTest, OneAndTwoDimensionalPdfsMatchTheirFunctions) {
  Distribution1D d({1, 0, 3, 4});
  EXPECT_DOUBLE_EQ(d.integral(), 2.0);
  EXPECT_DOUBLE_EQ(d.cell_probability(2), 3.0 / 8);
  double pdf = 0;
  size_t cell = 9;
  for (double u : {0.0, 0.1, 0.124, 0.126, 0.5, 0.99}) {
    double x = d.sample_continuous(u, &pdf, &cell);
    EXPECT_NE(cell, 1u) << "an empty cell is never sampled";
    EXPECT_EQ(static_cast<size_t>(x * 4), cell);
    EXPECT_DOUBLE_EQ(pdf, d.func(cell) / 2.0);
  }
  std::vector<double> f = {1, 2, 0, 4, 5, 6};  // 3 x 2
  Distribution2D d2(f, 3, 2);
  SobolSampler s(9, 9);
  for (uint32_t i = 0; i < 64; ++i) {
    s.start_sample(i);
    double p = 0;
    auto uv = d2.sample(s.get2d(0), &p);
    EXPECT_NEAR(p, d2.pdf(uv[0], uv[1]), 1e-12);
    EXPECT_GT(p, 0);
  }
  // Density = f / mean(f) = f * 6 / 18.
  EXPECT_DOUBLE_EQ(d2.pdf(0.5, 0.75), 5.0 / 3.0);
}

}  // namespace
}  // namespace synthfarm::render
