// Sample generation for the path tracer: an Owen-scrambled Sobol
// sequence, the warps that turn its points into directions, and piecewise-constant
// distributions for importance sampling tabulated functions (environment maps, lights).
//
// SobolSampler follows Burley 2020, "Practical Hash-based Owen Scrambling": every
// dimension slot of a path (pixel jitter, lens, each bounce's light and BSDF choices) is
// its own padded 1D or 2D Sobol sequence. The sample index is shuffled by a nested uniform
// scramble seeded by (pixel seed, slot), which decorrelates slots while keeping each one's
// stratification, and the Sobol point is then Owen-scrambled with another hash of the same.
// Points depend only on (seed, pixel, sample index, slot): never on tiles, threads or the
// order pixels are visited in. Only integer arithmetic, so bit-identical everywhere.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "base/math.h"

namespace synthfarm::render {

namespace sampler_internal {

constexpr uint32_t reverse_bits(uint32_t x) {
  x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
  x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
  x = ((x >> 4) & 0x0f0f0f0fu) | ((x & 0x0f0f0f0fu) << 4);
  return __builtin_bswap32(x);
}

constexpr uint64_t reverse_bits64(uint64_t x) {
  x = ((x >> 1) & 0x5555555555555555u) | ((x & 0x5555555555555555u) << 1);
  x = ((x >> 2) & 0x3333333333333333u) | ((x & 0x3333333333333333u) << 2);
  x = ((x >> 4) & 0x0f0f0f0f0f0f0f0fu) | ((x & 0x0f0f0f0f0f0f0f0fu) << 4);
  return __builtin_bswap64(x);
}

// Generator matrix columns of Sobol's second dimension: primitive polynomial x + 1, initial
// direction number m_1 = 1, so m_k = 2 m_{k-1} xor m_{k-1}; column k-1 is m_k / 2^k.
constexpr std::array<uint32_t, 32> make_dimension1_matrix() {
  std::array<uint32_t, 32> columns{};
  uint64_t m = 1;
  for (int k = 1; k <= 32; ++k) {
    if (k > 1) m = (m << 1) ^ m;
    columns[k - 1] = static_cast<uint32_t>(m << (32 - k));
  }
  return columns;
}

// The same matrix applied a byte of the index at a time, with its output bit-reversed (the
// order the Owen scramble works in): four lookups instead of a loop over 32 index bits.
struct ReversedByteTables {
  std::array<std::array<uint32_t, 256>, 4> table{};
};
constexpr ReversedByteTables make_dimension1_tables() {
  const std::array<uint32_t, 32> columns = make_dimension1_matrix();
  ReversedByteTables t;
  for (int byte = 0; byte < 4; ++byte) {
    for (uint32_t value = 0; value < 256; ++value) {
      uint32_t out = 0;
      for (int bit = 0; bit < 8; ++bit) {
        if (value & (1u << bit)) out ^= reverse_bits(columns[8 * byte + bit]);
      }
      t.table[byte][value] = out;
    }
  }
  return t;
}
inline constexpr ReversedByteTables kDimension1 = make_dimension1_tables();

inline uint32_t sobol1_reversed(uint32_t index) {
  return kDimension1.table[0][index & 0xffu] ^ kDimension1.table[1][(index >> 8) & 0xffu] ^
         kDimension1.table[2][(index >> 16) & 0xffu] ^ kDimension1.table[3][index >> 24];
}

// A hash in which every output bit depends only on input bits at the same or lower
// positions (xor with even multiples, addition, odd multiplication): applied to reversed
// bits it flips each bit according to the bits above it, which is exactly an Owen scramble.
// The constants are the Laine-Karras-style permutation refined by N. Vegdahl.
constexpr uint32_t lk_permutation(uint32_t x, uint32_t seed) {
  x ^= x * 0x3d20adeau;
  x += seed;
  x *= (seed >> 16) | 1u;
  x ^= x * 0x05526c56u;
  x ^= x * 0x53a22864u;
  return x;
}

inline constexpr double kToUnit = 0x1p-32;

}  // namespace sampler_internal

// Plain data (about 600 bytes); one per pixel being rendered, by one thread: get1d/get2d are
// const but fill a per-slot seed cache, so a sampler is not shared between threads. The
// per-sample calls are defined here, to be inlined into the path tracer's loop.
class SobolSampler {
 public:
  // Slots whose scrambling seeds are hashed once per pixel (at their first use) rather than
  // at every get: the camera slots and six bounces' worth of a path. Later slots hash their
  // seeds on each call; the points are the same either way.
  static constexpr uint32_t kCachedSlots = 50;

  // `seed`: the frame's sample seed; `pixel`: the pixel's row-major index.
  SobolSampler(uint64_t seed, uint64_t pixel);

  // Selects sample `index` (0 .. spp - 1) of this pixel.
  void start_sample(uint32_t index) { reversed_index_ = sampler_internal::reverse_bits(index); }

  // The point of dimension slot `slot` for the current sample, in [0, 1).
  //
  // With every value kept bit-reversed where the scramble needs it, one 2D point costs three
  // reversals: shuffled = owen_scramble(index); x = owen_scramble(sobol0(shuffled)), where
  // sobol0 is itself a reversal; y = owen_scramble(sobol1(shuffled)). Shuffling the index by
  // an Owen scramble keeps the first 2^k points a (0, 1)-net.
  double get1d(uint32_t slot) const {
    using namespace sampler_internal;
    const SlotSeeds seeds = this->seeds(slot);
    uint32_t shuffled = reverse_bits(lk_permutation(reversed_index_, seeds.index));
    return reverse_bits(lk_permutation(shuffled, seeds.x)) * kToUnit;
  }
  std::array<double, 2> get2d(uint32_t slot) const {
    using namespace sampler_internal;
    const SlotSeeds seeds = this->seeds(slot);
    uint32_t shuffled = reverse_bits(lk_permutation(reversed_index_, seeds.index));
    // Both dimensions' final reversals at once: reversing a 64-bit word reverses each half
    // and swaps them.
    const uint64_t both = reverse_bits64((uint64_t{lk_permutation(shuffled, seeds.x)} << 32) |
                                         lk_permutation(sobol1_reversed(shuffled), seeds.y));
    return {static_cast<uint32_t>(both) * kToUnit, static_cast<uint32_t>(both >> 32) * kToUnit};
  }

  // The scrambling seeds of one slot: the index shuffle and the two dimensions' scrambles.
  struct SlotSeeds {
    uint32_t index, x, y;
  };

 private:
  static SlotSeeds slot_seeds(uint64_t pixel_seed, uint32_t slot);
  SlotSeeds seeds(uint32_t slot) const {
    static_assert(kCachedSlots <= 64);
    if (slot >= kCachedSlots) return slot_seeds(pixel_seed_, slot);
    const uint64_t bit = uint64_t{1} << slot;
    if ((cached_mask_ & bit) == 0) {
      cached_[slot] = slot_seeds(pixel_seed_, slot);
      cached_mask_ |= bit;
    }
    return cached_[slot];
  }

  uint64_t pixel_seed_;
  uint32_t reversed_index_ = 0;       // the sample index, bit-reversed
  mutable uint64_t cached_mask_ = 0;  // bit s: cached_[s] holds slot s's seeds
  mutable std::array<SlotSeeds, kCachedSlots> cached_;
};

// The Sobol sequence's first two dimensions (unscrambled, 32-bit fixed point): exposed for
// the tests of stratification.
uint32_t sobol_dimension0(uint32_t index);
uint32_t sobol_dimension1(uint32_t index);
// Nested uniform (Owen) scramble of the 32-bit fixed-point value `x` by `seed`.
uint32_t owen_scramble(uint32_t x, uint32_t seed);

// A uniform point on the unit disk from a point of the unit square (Shirley-Chiu concentric
// map: keeps strata compact, so low-discrepancy points stay well spread).
inline std::array<double, 2> concentric_disk(std::array<double, 2> u) {
  double a = 2.0 * u[0] - 1.0, b = 2.0 * u[1] - 1.0;
  if (a == 0 && b == 0) return {0, 0};
  // The wedge angle is within pi/4 of an axis, so no argument reduction is needed:
  // |a| > |b|: phi = pi/4 (b / a); else phi = pi/2 - psi with psi = pi/4 (a / b).
  if (std::abs(a) > std::abs(b)) {
    double phi = (kPi / 4) * (b / a);
    return {a * portable_cos_small(phi), a * portable_sin_small(phi)};
  }
  double psi = (kPi / 4) * (a / b);
  return {b * portable_sin_small(psi), b * portable_cos_small(psi)};
}

// A cosine-weighted direction about +z (local frame): pdf cos(theta) / pi.
inline Vec3 cosine_hemisphere(std::array<double, 2> u) {
  auto [x, y] = concentric_disk(u);
  return {x, y, std::sqrt(std::max(0.0, 1.0 - x * x - y * y))};
}

// Piecewise-constant 1D distribution over [0, 1) with func.size() equal cells.
class Distribution1D {
 public:
  Distribution1D() = default;
  // Negative or non-finite values count as 0.
  explicit Distribution1D(std::vector<double> func);

  size_t size() const { return func_.size(); }
  // Integral of func over [0, 1) (the mean of the cells).
  double integral() const { return integral_; }
  // Continuous sample: x in [0, 1), its density, and the cell it fell in. Returns the
  // density 0 when the function integrates to 0.
  double sample_continuous(double u, double* pdf, size_t* cell) const;
  // Discrete sample: the cell, with probability func[cell] / sum.
  size_t sample_discrete(double u, double* probability) const;
  double cell_probability(size_t cell) const;
  double func(size_t cell) const { return func_[cell]; }

 private:
  std::vector<double> func_;
  std::vector<double> cdf_;  // size() + 1 entries
  double integral_ = 0;
};

// Piecewise-constant 2D distribution over [0, 1)^2 of a width x height grid (row-major,
// row 0 at v = 0): the marginal over rows, then a conditional per row.
class Distribution2D {
 public:
  Distribution2D() = default;
  Distribution2D(const std::vector<double>& func, int width, int height);

  bool empty() const { return marginal_.integral() <= 0; }
  // (u, v) in [0, 1)^2 and its density with respect to area in the unit square.
  std::array<double, 2> sample(std::array<double, 2> u, double* pdf) const;
  double pdf(double u, double v) const;

 private:
  int width_ = 0, height_ = 0;
  std::vector<Distribution1D> conditional_;
  Distribution1D marginal_;
};

}  // namespace synthfarm::render
