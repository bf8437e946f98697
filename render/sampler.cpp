// Owen-scrambled Sobol points, warps and piecewise-constant distributions (see sampler.h).
#include "render/internal/sampler.h"

#include <algorithm>
#include <cmath>
#include <cstddef>

#include "base/rng.h"

namespace synthfarm::render {

using sampler_internal::lk_permutation;
using sampler_internal::reverse_bits;
using sampler_internal::sobol1_reversed;

namespace {

// MurmurHash3's 32-bit finaliser.
constexpr uint32_t fmix32(uint32_t h) {
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  return h ^ (h >> 16);
}

}  // namespace

SobolSampler::SlotSeeds SobolSampler::slot_seeds(uint64_t pixel_seed, uint32_t slot) {
  uint64_t h = mix64(pixel_seed ^ (static_cast<uint64_t>(slot) * 0x9e3779b97f4a7c15ull));
  auto x = static_cast<uint32_t>(h >> 32);
  return {static_cast<uint32_t>(h), x, fmix32(x ^ 0x6a09e667u)};
}

uint32_t sobol_dimension0(uint32_t index) { return reverse_bits(index); }

uint32_t sobol_dimension1(uint32_t index) { return reverse_bits(sobol1_reversed(index)); }

uint32_t owen_scramble(uint32_t x, uint32_t seed) {
  return reverse_bits(lk_permutation(reverse_bits(x), seed));
}

SobolSampler::SobolSampler(uint64_t seed, uint64_t pixel)
    : pixel_seed_(mix64(seed ^ purpose_hash("sobol")) ^ mix64(pixel + 0x51ed270b27c9f4a5ull)) {}

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

}  // namespace synthfarm::render
