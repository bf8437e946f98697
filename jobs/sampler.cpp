// Owen-scrambled Sobol points, warps and piecewise-constant distributions (see sampler.h).
#include "jobs/sampler.h"

#include <algorithm>
#include <cmath>
#include <cstddef>

#include "jobs/rng.h"

namespace synthfarm::jobs {

namespace {

constexpr uint32_t reverse_bits(uint32_t x) {
  x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
  x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
  x = ((x >> 4) & 0x0f0f0f0fu) | ((x & 0x0f0f0f0fu) << 4);
  return __builtin_bswap32(x);
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
constexpr ReversedByteTables kDimension1 = make_dimension1_tables();

uint32_t sobol1_reversed(uint32_t index) {
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

// MurmurHash3's 32-bit finaliser.
constexpr uint32_t fmix32(uint32_t h) {
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  return h ^ (h >> 16);
}

SobolSampler::SlotSeeds slot_seeds(uint64_t pixel_seed, uint32_t slot) {
  uint64_t h = mix64(pixel_seed ^ (static_cast<uint64_t>(slot) * 0x9e3779b97f4a7c15ull));
  auto x = static_cast<uint32_t>(h >> 32);
  return {static_cast<uint32_t>(h), x, fmix32(x ^ 0x6a09e667u)};
}

constexpr double kToUnit = 0x1p-32;

}  // namespace

uint32_t sobol_dimension0(uint32_t index) { return reverse_bits(index); }

uint32_t sobol_dimension1(uint32_t index) { return reverse_bits(sobol1_reversed(index)); }

uint32_t owen_scramble(uint32_t x, uint32_t seed) {
  return reverse_bits(lk_permutation(reverse_bits(x), seed));
}

SobolSampler::SobolSampler(uint64_t seed, uint64_t pixel)
    : pixel_seed_(mix64(seed ^ purpose_hash("sobol")) ^ mix64(pixel + 0x51ed270b27c9f4a5ull)) {}

SobolSampler::SlotSeeds SobolSampler::seeds(uint32_t slot) const {
  static_assert(kCachedSlots <= 64);
  if (slot >= kCachedSlots) return slot_seeds(pixel_seed_, slot);
  const uint64_t bit = uint64_t{1} << slot;
  if ((cached_mask_ & bit) == 0) {
    cached_[slot] = slot_seeds(pixel_seed_, slot);
    cached_mask_ |= bit;
  }
  return cached_[slot];
}

void SobolSampler::start_sample(uint32_t index) { reversed_index_ = reverse_bits(index); }

// With every value kept bit-reversed where the scramble needs it, one 2D point costs three
// reversals: shuffled = owen_scramble(index); x = owen_scramble(sobol0(shuffled)), where
// sobol0 is itself a reversal; y = owen_scramble(sobol1(shuffled)).
double SobolSampler::get1d(uint32_t slot) const {
  const SlotSeeds seeds = this->seeds(slot);
  // Shuffling the index by an Owen scramble keeps the first 2^k points a (0, 1)-net.
  uint32_t shuffled = reverse_bits(lk_permutation(reversed_index_, seeds.index));
  return reverse_bits(lk_permutation(shuffled, seeds.x)) * kToUnit;
}

std::array<double, 2> SobolSampler::get2d(uint32_t slot) const {
  const SlotSeeds seeds = this->seeds(slot);
  uint32_t shuffled = reverse_bits(lk_permutation(reversed_index_, seeds.index));
  return {reverse_bits(lk_permutation(shuffled, seeds.x)) * kToUnit,
          reverse_bits(lk_permutation(sobol1_reversed(shuffled), seeds.y)) * kToUnit};
}

std::array<double, 2> concentric_disk(std::array<double, 2> u) {
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

Vec3 cosine_hemisphere(std::array<double, 2> u) {
  auto [x, y] = concentric_disk(u);
  return {x, y, std::sqrt(std::max(0.0, 1.0 - x * x - y * y))};
}

Distribution1D::Distribution1D(std::vector<double> func) : func_(std::move(func)) {
  for (double& f : func_) {
    if (!(f > 0) || !std::isfinite(f)) f = 0;
  }
  const size_t n = func_.size();
  cdf_.assign(n + 1, 0.0);
  for (size_t i = 0; i < n; ++i) cdf_[i + 1] = cdf_[i] + func_[i] / static_cast<double>(n);
  integral_ = n > 0 ? cdf_[n] : 0.0;
  if (integral_ > 0) {
    for (size_t i = 1; i <= n; ++i) cdf_[i] /= integral_;
    cdf_[n] = 1.0;
  }
}

double Distribution1D::sample_continuous(double u, double* pdf, size_t* cell) const {
  const size_t n = func_.size();
  if (integral_ <= 0 || n == 0) {
    *pdf = 0;
    if (cell != nullptr) *cell = 0;
    return u;
  }
  // The last cdf entry <= u, skipping empty cells (equal cdf entries).
  size_t i = static_cast<size_t>(std::upper_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin());
  i = std::clamp<size_t>(i, 1, n) - 1;
  while (func_[i] == 0 && i + 1 < n) ++i;
  double du = u - cdf_[i];
  double width = cdf_[i + 1] - cdf_[i];
  if (width > 0) du /= width;
  du = std::clamp(du, 0.0, 1.0);
  *pdf = func_[i] / integral_;
  if (cell != nullptr) *cell = i;
  double x = (static_cast<double>(i) + du) / static_cast<double>(n);
  return std::min(x, 1.0 - 0x1p-53);
}

size_t Distribution1D::sample_discrete(double u, double* probability) const {
  double pdf = 0;
  size_t cell = 0;
  sample_continuous(u, &pdf, &cell);
  if (probability != nullptr) *probability = cell_probability(cell);
  return cell;
}

double Distribution1D::cell_probability(size_t cell) const {
  if (integral_ <= 0) return 0;
  return func_[cell] / (integral_ * static_cast<double>(func_.size()));
}

Distribution2D::Distribution2D(const std::vector<double>& func, int width, int height)
    : width_(width), height_(height) {
  std::vector<double> marginal(static_cast<size_t>(height));
  conditional_.reserve(static_cast<size_t>(height));
  for (int row = 0; row < height; ++row) {
    auto begin = func.begin() + static_cast<std::ptrdiff_t>(row) * width;
    conditional_.emplace_back(std::vector<double>(begin, begin + width));
    marginal[row] = conditional_.back().integral();
  }
  marginal_ = Distribution1D(std::move(marginal));
}

std::array<double, 2> Distribution2D::sample(std::array<double, 2> u, double* pdf) const {
  double pdf_v = 0, pdf_u = 0;
  size_t row = 0;
  double v = marginal_.sample_continuous(u[1], &pdf_v, &row);
  double x = conditional_[row].sample_continuous(u[0], &pdf_u, nullptr);
  *pdf = pdf_u * pdf_v;
  return {x, v};
}

double Distribution2D::pdf(double u, double v) const {
  if (empty() || !(u >= 0 && u <= 1 && v >= 0 && v <= 1)) return 0;
  int col = std::clamp(static_cast<int>(u * width_), 0, width_ - 1);
  int row = std::clamp(static_cast<int>(v * height_), 0, height_ - 1);
  return conditional_[row].func(col) / marginal_.integral();
}

}  // namespace synthfarm::jobs
