// Colours of the scene generator and the people (base): linear RGB,
// palette draws and an HSV decode, all from + - * / only, so deterministic everywhere.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>

#include "base/rng.h"

namespace synthfarm {

// Linear (scene-referred) RGB.
struct Rgb {
  float r = 0, g = 0, b = 0;
  friend bool operator==(const Rgb&, const Rgb&) = default;
};

// Every channel times s, clamped to [0, 0.95] (no surface reflects more).
Rgb scaled(Rgb c, double s);

// A palette entry with a small brightness jitter (x 0.85 .. 1.15).
template <size_t N>
Rgb pick(Pcg32& rng, const std::array<Rgb, N>& palette) {
  Rgb c = palette[rng.next_below(static_cast<uint32_t>(N))];
  return scaled(c, uniform(rng, 0.85, 1.15));
}

// HSV (display-referred, h in [0, 1)) to linear RGB, with gamma 2 as a cheap, portable
// sRGB decode.
Rgb hsv_to_linear(double h, double s, double v);

}  // namespace synthfarm
