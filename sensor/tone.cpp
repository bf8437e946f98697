#include "sensor/tone.h"

#include "base/math.h"

namespace synthfarm::sensor {

std::string_view tone_curve_name(ToneCurve tone) {
  return tone == ToneCurve::kNone ? "none" : "smoothstep";
}

std::optional<ToneCurve> tone_curve_from_name(std::string_view name) {
  if (name == "smoothstep") return ToneCurve::kSmoothstep;
  if (name == "none") return ToneCurve::kNone;
  return std::nullopt;
}

double srgb_encode(double linear) {
  const double c = std::clamp(linear, 0.0, 1.0);
  if (c <= 0.0031308) return 12.92 * c;
  return 1.055 * portable_exp(portable_log(c) / 2.4) - 0.055;
}

double smoothstep_tone(double x) {
  const double c = std::clamp(x, 0.0, 1.0);
  return c * c * (3.0 - 2.0 * c);
}

double display_transfer(double linear, ToneCurve tone) {
  const double encoded = srgb_encode(linear);
  return tone == ToneCurve::kSmoothstep ? smoothstep_tone(encoded) : encoded;
}

DisplayTransfer::DisplayTransfer(ToneCurve tone) : table_(kSteps + 1) {
  for (int i = 0; i <= kSteps; ++i) {
    const double u = static_cast<double>(i) / kSteps;
    table_[i] = static_cast<float>(display_transfer(u * u, tone));
  }
}

}  // namespace synthfarm::sensor
