#include "sensor/noise.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "base/math.h"

namespace synthfarm::sensor {
namespace {

// Pairs of standard normals by Marsaglia's polar method: one log and one sqrt per pair,
// and the rejection loop draws from the same stream, so it stays deterministic.
class NormalPairs {
 public:
  explicit NormalPairs(Pcg32& rng) : rng_(rng) {}
  double next() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    for (;;) {
      const double u = static_cast<double>(rng_.next_u32()) * 0x1p-31 - 1.0;
      const double v = static_cast<double>(rng_.next_u32()) * 0x1p-31 - 1.0;
      const double s = u * u + v * v;
      if (s >= 1.0 || s == 0.0) continue;
      const double f = std::sqrt(-2.0 * portable_log(s) / s);
      spare_ = v * f;
      has_spare_ = true;
      return u * f;
    }
  }

 private:
  Pcg32& rng_;
  double spare_ = 0;
  bool has_spare_ = false;
};

}  // namespace

double standard_normal(Pcg32& rng) { return NormalPairs(rng).next(); }

void add_noise(RawImage& raw, const NoiseParams& noise, uint64_t seed) {
  if (raw.width < 0 || raw.height < 0 ||
      raw.data.size() != static_cast<size_t>(raw.width) * raw.height)
    throw std::invalid_argument(fmt::format("add_noise: {} values is not a {} x {} raw image",
                                            raw.data.size(), raw.width, raw.height));
  const int width = raw.width;
  const double black = raw.black_level;
  const bool random = noise.shot > 0 || noise.read > 0 || noise.row > 0;
  const double levels = noise.bit_depth > 0 ? static_cast<double>((1u << noise.bit_depth) - 1u) : 0;
  for (int y = 0; y < raw.height; ++y) {
    float* row = raw.data.data() + static_cast<size_t>(y) * width;
    Pcg32 rng = Pcg32::for_purpose(seed, "sensor.noise", static_cast<uint64_t>(y));
    NormalPairs normal(rng);
    const double row_offset = random ? noise.row * normal.next() : 0.0;
    for (int x = 0; x < width; ++x) {
      double value = row[x];
      if (random) {
        const double signal = std::max(value - black, 0.0);
        const double variance = std::max(noise.shot * signal + noise.read, 0.0);
        value += std::sqrt(variance) * normal.next() + row_offset;
      }
      if (levels > 0) value = std::floor(value * levels + 0.5) / levels;
      row[x] = static_cast<float>(std::clamp(value, 0.0, 1.0));
    }
  }
}

NoiseParams brooks_noise(Pcg32& rng, double shot_lo, double shot_hi, double read_slope,
                         double read_intercept, double read_jitter) {
  const double log_shot = uniform(rng, portable_log(shot_lo), portable_log(shot_hi));
  const double log_read =
      read_slope * log_shot + read_intercept + read_jitter * standard_normal(rng);
  NoiseParams params;
  params.shot = portable_exp(log_shot);
  params.read = portable_exp(log_read);
  return params;
}

NoiseParams profile_noise(const NoiseProfile& profile, double iso) {
  NoiseParams params;
  params.shot = std::max(profile.s_gain * iso + profile.s_offset, 0.0);
  params.read = std::max(profile.o_gain * iso * iso + profile.o_offset, 0.0);
  return params;
}

}  // namespace synthfarm::sensor
