// Sample generation for the path tracer (jobs-internal header): an Owen-scrambled Sobol
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

#include <array>
#include <cstdint>
#include <vector>

#include "jobs/math.h"

namespace synthfarm::jobs {

// Plain data (about 400 bytes); one per pixel being rendered, by one thread: get1d/get2d are
// const but fill a per-slot seed cache, so a sampler is not shared between threads.
class SobolSampler {
 public:
  // Slots whose scrambling seeds are hashed once per pixel (at their first use) rather than
  // at every get: the camera slots and six bounces' worth of a path. Later slots hash their
  // seeds on each call; the points are the same either way.
  static constexpr uint32_t kCachedSlots = 38;

  // `seed`: the frame's sample seed; `pixel`: the pixel's row-major index.
  SobolSampler(uint64_t seed, uint64_t pixel);

  // Selects sample `index` (0 .. spp - 1) of this pixel.
  void start_sample(uint32_t index);

  // The point of dimension slot `slot` for the current sample, in [0, 1).
  double get1d(uint32_t slot) const;
  std::array<double, 2> get2d(uint32_t slot) const;

  // The scrambling seeds of one slot: the index shuffle and the two dimensions' scrambles.
  struct SlotSeeds {
    uint32_t index, x, y;
  };

 private:
  SlotSeeds seeds(uint32_t slot) const;

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
std::array<double, 2> concentric_disk(std::array<double, 2> u);
// A cosine-weighted direction about +z (local frame): pdf cos(theta) / pi.
Vec3 cosine_hemisphere(std::array<double, 2> u);

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

}  // namespace synthfarm::jobs
