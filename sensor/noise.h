// The sensor's noise: a heteroscedastic Gaussian model of shot and read noise (the
// Gaussian approximation of Poisson-Gaussian noise that Brooks et al. 2019 use), a
// per-row offset (banding), quantisation to the ADC's bit depth and clipping to the white
// level; and the ways its parameters are drawn or looked up. Every random draw comes from
// Pcg32 streams named by purpose and row, so the noise never depends on threads. It must
// not touch colour: it sees photosite values only.
#pragma once

#include <cstdint>

#include "base/rng.h"
#include "sensor/raw_image.h"

namespace synthfarm::sensor {

// For a photosite whose signal above the black level is x (raw units, white level = 1):
// variance shot * x + read. `row`: std of an offset shared by all photosites of one row.
// bit_depth: 0 = no quantisation, else 8..16 bits between 0 and the white level.
struct NoiseParams {
  double shot = 0;
  double read = 0;
  double row = 0;
  int bit_depth = 0;
  friend bool operator==(const NoiseParams&, const NoiseParams&) = default;
};

// The DNG NoiseProfile / Android SENSOR_NOISE_PROFILE form: S(iso) = s_gain * iso + s_offset
// is the shot coefficient, O(iso) = o_gain * iso^2 + o_offset the read variance.
struct NoiseProfile {
  double s_gain = 0, s_offset = 0, o_gain = 0, o_offset = 0;
  friend bool operator==(const NoiseProfile&, const NoiseProfile&) = default;
};

// Adds noise to every photosite of `raw` in place: x + sqrt(shot * x + read) * N(0, 1) plus
// the row's offset, then quantisation, then clipping to [0, 1]. Row y draws from
// Pcg32::for_purpose(seed, "sensor.noise", y): its offset first, then its photosites left
// to right, so the result depends only on (raw, noise, seed). A raw whose data does not
// hold width * height values is a caller's bug (std::invalid_argument).
void add_noise(RawImage& raw, const NoiseParams& noise, uint64_t seed);

// Brooks et al.'s draw: log(shot) uniform in [log shot_lo, log shot_hi], log(read) =
// read_slope * log(shot) + read_intercept + N(0, read_jitter). bit_depth and row are 0.
NoiseParams brooks_noise(Pcg32& rng, double shot_lo, double shot_hi, double read_slope,
                         double read_intercept, double read_jitter);

// shot = S(iso), read = O(iso), each at least 0; bit_depth and row are 0.
NoiseParams profile_noise(const NoiseProfile& profile, double iso);

// One standard normal draw (Marsaglia's polar method; log through base/math.h).
double standard_normal(Pcg32& rng);

}  // namespace synthfarm::sensor
