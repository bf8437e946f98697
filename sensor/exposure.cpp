#include "sensor/exposure.h"

#include <algorithm>
#include <cmath>

#include "base/math.h"

namespace synthfarm::sensor {

double auto_exposure(std::span<const float> linear_rgb, int width, int height) {
  if (width <= 0 || height <= 0 || linear_rgb.size() < static_cast<size_t>(width) * height * 3)
    return 1.0;
  double sum = 0;
  int64_t count = 0;
  for (int y = 0; y < height; y += 2) {
    const float* row = linear_rgb.data() + static_cast<size_t>(y) * width * 3;
    for (int x = 0; x < width; x += 2) {
      const float* p = row + 3 * x;
      const double luminance = 0.2126 * p[0] + 0.7152 * p[1] + 0.0722 * p[2];
      if (!std::isfinite(luminance)) continue;
      sum += portable_log(1e-4 + std::max(luminance, 0.0));
      ++count;
    }
  }
  if (count == 0) return 1.0;
  const double log_average = portable_exp(sum / static_cast<double>(count));
  return std::clamp(0.18 / log_average, 1e-4, 1e4);
}

double manual_exposure(double iso, double shutter_s, double f_number) {
  return kManualExposureCalibration * iso * shutter_s / (f_number * f_number);
}

}  // namespace synthfarm::sensor
