// Tests for the deterministic generators in base/rng.h.
#include "base/rng.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <set>
#include <vector>

namespace synthfarm {
namespace {

// Reference output of pcg32-global-demo / pcg_basic.c: pcg32_srandom_r(&rng, 42u, 54u)
// followed by pcg32_random_r(&rng) (pcg-random.org, "pcg-c-basic").
TEST(Pcg32, MatchesThePcgReference) {
  Pcg32 rng(42, 54);
  const std::array<uint32_t, 6> want = {0xa15c02b7, 0x7b47f409, 0xba1d3330,
                                        0x83d2f293, 0xbfa4784b, 0xcbed606e};
  for (uint32_t w : want) EXPECT_EQ(rng.next_u32(), w);
}

TEST(Pcg32, StreamsDiffer) {
  Pcg32 a(42, 54), b(42, 55), c(43, 54);
  uint32_t x = a.next_u32();
  EXPECT_NE(x, b.next_u32());
  EXPECT_NE(x, c.next_u32());
}

TEST(Pcg32, AdvanceEqualsStepping) {
  for (uint64_t delta : {0ull, 1ull, 2ull, 3ull, 64ull, 1000ull, 12345ull}) {
    Pcg32 jumped(2024, 7), stepped(2024, 7);
    jumped.advance(delta);
    for (uint64_t i = 0; i < delta; ++i) stepped.next_u32();
    for (int i = 0; i < 4; ++i) EXPECT_EQ(jumped.next_u32(), stepped.next_u32()) << delta;
  }
}

TEST(Pcg32, AdvanceWrapsAroundThePeriod) {
  // The period is 2^64, so advancing by -n (mod 2^64) undoes advancing by n.
  Pcg32 a(9, 9), start(9, 9);
  a.advance(1'000'000'007ull);
  a.advance(0ull - 1'000'000'007ull);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(a.next_u32(), start.next_u32());
}

TEST(Pcg32, NextBelowStaysBelowTheBound) {
  Pcg32 rng(1, 1);
  for (uint32_t bound : {2u, 3u, 7u, 10u, 1000u, 0x80000001u, 0xffffffffu}) {
    for (int i = 0; i < 2000; ++i) EXPECT_LT(rng.next_below(bound), bound) << bound;
  }
}

TEST(Pcg32, NextBelowOneOrZeroIsZeroWithoutADraw) {
  Pcg32 rng(5, 6), reference(5, 6);
  EXPECT_EQ(rng.next_below(0), 0u);
  EXPECT_EQ(rng.next_below(1), 0u);
  EXPECT_EQ(rng.next_u32(), reference.next_u32());
}

TEST(Pcg32, NextBelowIsUniform) {
  Pcg32 rng(3, 4);
  std::array<int, 6> counts{};
  const int n = 60000;
  for (int i = 0; i < n; ++i) ++counts[rng.next_below(6)];
  for (int c : counts) EXPECT_NEAR(c, n / 6, n / 6 * 0.05);
}

TEST(Pcg32, UnitIntervals) {
  Pcg32 rng(11, 12);
  double lo = 1, hi = 0;
  for (int i = 0; i < 10000; ++i) {
    double d = rng.next_double();
    float f = rng.next_float();
    EXPECT_GE(d, 0.0);
    EXPECT_LT(d, 1.0);
    EXPECT_GE(f, 0.0f);
    EXPECT_LT(f, 1.0f);
    lo = std::min(lo, d);
    hi = std::max(hi, d);
  }
  EXPECT_LT(lo, 0.001);
  EXPECT_GT(hi, 0.999);
}

TEST(Pcg32, NextDoubleUsesTwoDraws) {
  Pcg32 rng(42, 54);
  double d = rng.next_double();
  // From the first two reference outputs: 27 high bits of one, 26 of the other.
  uint64_t hi = 0xa15c02b7u >> 5, lo = 0x7b47f409u >> 6;
  EXPECT_EQ(d, static_cast<double>((hi << 26) | lo) * 0x1p-53);
  EXPECT_EQ(rng.next_u32(), 0xba1d3330u);
}

TEST(Mix64, IsSplitMix64) {
  // First output of SplitMix64 seeded with 0 (Vigna's splitmix64.c).
  static_assert(mix64(0) == 0xe220a8397b1dcdafull);
  EXPECT_NE(mix64(1), mix64(2));
}

TEST(PurposeHash, IsFnv1a) {
  static_assert(purpose_hash("") == 0xcbf29ce484222325ull);
  static_assert(purpose_hash("a") == 0xaf63dc4c8601ec8cull);
  EXPECT_NE(purpose_hash("camera"), purpose_hash("humans"));
}

TEST(SampleSeed, DiffersAcrossIndicesAndJobs) {
  std::set<uint64_t> seen;
  for (uint64_t i = 0; i < 100000; ++i) EXPECT_TRUE(seen.insert(sample_seed(1234, i)).second) << i;
  EXPECT_NE(sample_seed(1, 0), sample_seed(2, 0));
  EXPECT_NE(sample_seed(0, 1), sample_seed(1, 0));  // not symmetric in (seed, index)
  static_assert(sample_seed(7, 3) == sample_seed(7, 3));
}

TEST(SampleSeed, NeighbouringSeedsGiveUnrelatedStreams) {
  // Adjacent indices must not give overlapping or shifted sequences.
  Pcg32 a = Pcg32::for_purpose(sample_seed(5, 0), "camera");
  Pcg32 b = Pcg32::for_purpose(sample_seed(5, 1), "camera");
  std::vector<uint32_t> xs, ys;
  for (int i = 0; i < 64; ++i) {
    xs.push_back(a.next_u32());
    ys.push_back(b.next_u32());
  }
  std::set<uint32_t> xset(xs.begin(), xs.end());
  int shared = 0;
  for (uint32_t y : ys) shared += xset.count(y);
  EXPECT_EQ(shared, 0);
}

TEST(ForPurpose, PurposeAndSubIndexSelectDifferentStreams) {
  uint64_t seed = sample_seed(99, 42);
  uint32_t camera = Pcg32::for_purpose(seed, "camera").next_u32();
  EXPECT_NE(camera, Pcg32::for_purpose(seed, "humans").next_u32());
  EXPECT_NE(camera, Pcg32::for_purpose(seed, "camera", 1).next_u32());
  EXPECT_EQ(camera, Pcg32::for_purpose(seed, "camera", 0).next_u32());
  EXPECT_NE(Pcg32::for_purpose(seed, "humans", 1).next_u32(),
            Pcg32::for_purpose(seed, "humans", 2).next_u32());
}

}  // namespace
}  // namespace synthfarm
