#include "sensor/demosaic.h"

#include <stdexcept>
#include <string>

namespace synthfarm::sensor {
namespace {

constexpr int kPad = 2;  // the 5 x 5 filters reach two photosites out

// Reflection about the edge photosite (-1 -> 1, n -> n - 2): the index keeps its parity,
// so a mirrored photosite has the colour the CFA gives its position.
int mirror(int i, int n) {
  while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i;
  return i;
}

// The mosaic with a mirrored border of kPad photosites on every side.
struct Padded {
  int stride = 0;
  std::vector<float> values;
  Padded(std::span<const float> mosaic, int width, int height) : stride(width + 2 * kPad) {
    values.resize(static_cast<size_t>(stride) * (height + 2 * kPad));
    for (int py = 0; py < height + 2 * kPad; ++py) {
      const float* src = mosaic.data() + static_cast<size_t>(mirror(py - kPad, height)) * width;
      float* dst = values.data() + static_cast<size_t>(py) * stride;
      for (int px = 0; px < width + 2 * kPad; ++px) dst[px] = src[mirror(px - kPad, width)];
    }
  }
};

// The neighbourhood of one photosite in the padded mosaic; at(dx, dy) reads an offset.
struct Window {
  const float* centre;
  int stride;
  float at(int dx, int dy) const { return centre[dy * stride + dx]; }
  float cross1() const { return at(-1, 0) + at(1, 0) + at(0, -1) + at(0, 1); }
  float cross2() const { return at(-2, 0) + at(2, 0) + at(0, -2) + at(0, 2); }
  float diagonal() const { return at(-1, -1) + at(1, -1) + at(-1, 1) + at(1, 1); }
  float horizontal1() const { return at(-1, 0) + at(1, 0); }
  float horizontal2() const { return at(-2, 0) + at(2, 0); }
  float vertical1() const { return at(0, -1) + at(0, 1); }
  float vertical2() const { return at(0, -2) + at(0, 2); }
};

// Malvar-He-Cutler's four filters (their Fig. 2, coefficients in eighths).
struct Malvar {
  // Green at a red or blue photosite.
  static float green(const Window& w) {
    return (4 * w.at(0, 0) + 2 * w.cross1() - w.cross2()) * 0.125f;
  }
  // Red or blue at a green photosite whose horizontal neighbours have that colour.
  static float from_horizontal(const Window& w) {
    return (5 * w.at(0, 0) + 4 * w.horizontal1() - w.horizontal2() - w.diagonal() +
            0.5f * w.vertical2()) *
           0.125f;
  }
  // The same when the vertical neighbours have it.
  static float from_vertical(const Window& w) {
    return (5 * w.at(0, 0) + 4 * w.vertical1() - w.vertical2() - w.diagonal() +
            0.5f * w.horizontal2()) *
           0.125f;
  }
  // Blue at a red photosite, red at a blue one.
  static float opposite(const Window& w) {
    return (6 * w.at(0, 0) + 2 * w.diagonal() - 1.5f * w.cross2()) * 0.125f;
  }
};

struct Bilinear {
  static float green(const Window& w) { return w.cross1() * 0.25f; }
  static float from_horizontal(const Window& w) { return w.horizontal1() * 0.5f; }
  static float from_vertical(const Window& w) { return w.vertical1() * 0.5f; }
  static float opposite(const Window& w) { return w.diagonal() * 0.25f; }
};

template <class Filters>
void interpolate(const Padded& padded, int width, int height, Cfa cfa, float* out) {
  for (int y = 0; y < height; ++y) {
    // The colours along this row and whether its green photosites have red neighbours
    // left and right (else blue): both alternate with x only.
    const int colour_even = cfa_colour(cfa, 0, y), colour_odd = cfa_colour(cfa, 1, y);
    const bool red_row = colour_even == 0 || colour_odd == 0;
    const float* row = padded.values.data() + static_cast<size_t>(y + kPad) * padded.stride + kPad;
    for (int x = 0; x < width; ++x) {
      const Window w{row + x, padded.stride};
      float* rgb = out + 3 * (static_cast<size_t>(y) * width + x);
      const int colour = (x & 1) ? colour_odd : colour_even;
      if (colour == 1) {
        const float along = Filters::from_horizontal(w), across = Filters::from_vertical(w);
        rgb[0] = red_row ? along : across;
        rgb[1] = w.at(0, 0);
        rgb[2] = red_row ? across : along;
      } else {
        const float opposite = Filters::opposite(w);
        rgb[colour] = w.at(0, 0);
        rgb[1] = Filters::green(w);
        rgb[2 - colour] = opposite;
      }
    }
  }
}

}  // namespace

std::string_view demosaic_name(Demosaic method) {
  return method == Demosaic::kBilinear ? "bilinear" : "malvar";
}

std::optional<Demosaic> demosaic_from_name(std::string_view name) {
  if (name == "malvar") return Demosaic::kMalvar;
  if (name == "bilinear") return Demosaic::kBilinear;
  return std::nullopt;
}

std::vector<float> demosaic(std::span<const float> mosaic, int width, int height, Cfa cfa,
                            Demosaic method) {
  if (width < 2 || height < 2 || mosaic.size() != static_cast<size_t>(width) * height) {
    throw std::invalid_argument(
        "demosaic: a " + std::to_string(width) + " x " + std::to_string(height) +
        " mosaic needs at least 2 x 2 photosites and that many values, got " +
        std::to_string(mosaic.size()));
  }
  const Padded padded(mosaic, width, height);
  std::vector<float> rgb(static_cast<size_t>(width) * height * 3);
  if (method == Demosaic::kBilinear) {
    interpolate<Bilinear>(padded, width, height, cfa, rgb.data());
  } else {
    interpolate<Malvar>(padded, width, height, cfa, rgb.data());
  }
  return rgb;
}

}  // namespace synthfarm::sensor
