#include "base/colour.h"

#include <cmath>

namespace synthfarm {

Rgb scaled(Rgb c, double s) {
  auto f = [&](float v) { return static_cast<float>(std::clamp(v * s, 0.0, 0.95)); };
  return {f(c.r), f(c.g), f(c.b)};
}

Rgb hsv_to_linear(double h, double s, double v) {
  const double hp = h * 6.0;
  const int sector = static_cast<int>(hp);
  const double frac = hp - sector;
  const double p = v * (1 - s), q = v * (1 - s * frac), t = v * (1 - s * (1 - frac));
  double r, g, b;
  switch (sector % 6) {
    case 0: r = v, g = t, b = p; break;
    case 1: r = q, g = v, b = p; break;
    case 2: r = p, g = v, b = t; break;
    case 3: r = p, g = q, b = v; break;
    case 4: r = t, g = p, b = v; break;
    default: r = v, g = p, b = q; break;
  }
  return scaled({static_cast<float>(r * r), static_cast<float>(g * g), static_cast<float>(b * b)}, 1.0);
}

}  // namespace synthfarm
