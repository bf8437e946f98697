// From linear sRGB to display-referred values: the sRGB transfer function (IEC 61966-2-1)
// and, optionally, Brooks et al.'s global tone curve (smoothstep, applied after the transfer
// function as their process() does). Exact functions for tests and a table for the image
// path; every transcendental through base/math.h, so the bytes are the same on every
// machine. It must not clip colours out of gamut or touch white balance: develop() does.
#pragma once

#include <algorithm>
#include <cmath>
#include <optional>
#include <string_view>
#include <vector>

namespace synthfarm::sensor {

enum class ToneCurve { kSmoothstep, kNone };

std::string_view tone_curve_name(ToneCurve tone);                      // "smoothstep", "none"
std::optional<ToneCurve> tone_curve_from_name(std::string_view name);  // nullopt if unknown

// The sRGB encoding function, linear [0, 1] -> [0, 1]; arguments outside are clamped.
double srgb_encode(double linear);
// 3 x^2 - 2 x^3 (Brooks et al.'s global tone curve), x clamped to [0, 1].
double smoothstep_tone(double x);
// smoothstep_tone(srgb_encode(linear)) for kSmoothstep, srgb_encode(linear) for kNone.
double display_transfer(double linear, ToneCurve tone);

// display_transfer() tabulated over sqrt(linear) (4097 entries, linear interpolation), so
// the steep part near black is sampled finely: within 1e-6 of the exact function. Building
// one costs about 4097 evaluations; use one per image.
class DisplayTransfer {
 public:
  explicit DisplayTransfer(ToneCurve tone);
  float operator()(float linear) const {
    if (!(linear > 0.0f)) return table_[0];
    if (linear >= 1.0f) return table_[kSteps];
    const float t = std::sqrt(linear) * static_cast<float>(kSteps);
    const int i = std::min(static_cast<int>(t), kSteps - 1);
    const float f = t - static_cast<float>(i);
    return table_[i] + (table_[i + 1] - table_[i]) * f;
  }

 private:
  static constexpr int kSteps = 4096;
  std::vector<float> table_;
};

}  // namespace synthfarm::sensor
