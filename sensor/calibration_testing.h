// Photon-transfer frames drawn from a known noise profile with add_noise(), for the noise,
// calibration and calibrate-sensor tests. Test code only.
#pragma once

#include <fmt/format.h>

#include <span>
#include <string>
#include <vector>

#include "sensor/noise.h"
#include "sensor/raw_image.h"

namespace synthfarm::sensor::calibration_testing {

// A realistic small-sensor profile (raw units, white level = 1): at ISO 100 the shot
// coefficient is 1.05e-4 and the read std 1.9 DN of 12 bits; at ISO 3200, 3.2e-3 and 13 DN.
inline constexpr NoiseProfile kProfile = {1.0e-6, 5.0e-6, 1.0e-12, 2.0e-7};

struct NamedFrame {
  std::string name;  // iso<N>-dark-<k>.pgm or iso<N>-flat-<tag>-<k>.pgm
  RawImage raw;
};

// A flat field of signal `level` above `black_level` with the profile's noise at `iso`.
inline RawImage noisy_flat(int width, int height, double black_level, double level,
                           const NoiseProfile& profile, int iso, int bit_depth, uint64_t seed) {
  RawImage raw;
  raw.width = width;
  raw.height = height;
  raw.black_level = black_level;
  raw.data.assign(static_cast<size_t>(width) * height, static_cast<float>(black_level + level));
  NoiseParams noise = profile_noise(profile, iso);
  noise.bit_depth = bit_depth;
  add_noise(raw, noise, seed);
  return raw;
}

// For each ISO: two dark frames and two flats at each level (tags a, b, c, ...).
inline std::vector<NamedFrame> photon_transfer_frames(const NoiseProfile& profile,
                                                      std::span<const int> isos,
                                                      std::span<const double> levels, int width,
                                                      int height, int bit_depth, double black_level,
                                                      uint64_t seed) {
  std::vector<NamedFrame> frames;
  uint64_t n = 0;
  for (int iso : isos) {
    for (int k = 1; k <= 2; ++k)
      frames.push_back(
          {fmt::format("iso{}-dark-{}.pgm", iso, k),
           noisy_flat(width, height, black_level, 0, profile, iso, bit_depth, seed + ++n)});
    for (size_t l = 0; l < levels.size(); ++l)
      for (int k = 1; k <= 2; ++k)
        frames.push_back({fmt::format("iso{}-flat-{}-{}.pgm", iso, static_cast<char>('a' + l), k),
                          noisy_flat(width, height, black_level, levels[l], profile, iso, bit_depth,
                                     seed + ++n)});
  }
  return frames;
}

}  // namespace synthfarm::sensor::calibration_testing
