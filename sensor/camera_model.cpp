#include "sensor/camera_model.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "sensor/jpeg.h"

namespace synthfarm::sensor {
namespace {

void require_rgb(std::span<const float> rgb, int width, int height, const char* stage) {
  if (width <= 0 || height <= 0 || rgb.size() != static_cast<size_t>(width) * height * 3)
    throw std::invalid_argument(
        fmt::format("{}: {} floats is not a {} x {} RGB image", stage, rgb.size(), width, height));
}

// `value` in [lo, hi] and finite, else a message naming the field.
tl::expected<void, std::string> in_range(const char* field, double value, double lo, double hi) {
  if (std::isfinite(value) && value >= lo && value <= hi) return {};
  return tl::unexpected(
      fmt::format("camera: {} must be between {} and {}, got {}", field, lo, hi, value));
}

tl::expected<void, std::string> positive(const char* field, double value) {
  if (std::isfinite(value) && value > 0) return {};
  return tl::unexpected(
      fmt::format("camera: {} must be positive and finite, got {}", field, value));
}

// The gains develop() multiplies camera red, green and blue by.
std::array<double, 3> white_balance(const CameraParams& p) {
  return {p.rgb_gain * p.red_gain, p.rgb_gain, p.rgb_gain * p.blue_gain};
}

// One colour plane of an interleaved RGB image sampled bilinearly at continuous
// coordinates (pixel centres at +0.5), clamped to the edge.
float sample(std::span<const float> rgb, int width, int height, int channel, double fx, double fy) {
  const double sx = std::clamp(fx - 0.5, 0.0, width - 1.0),
               sy = std::clamp(fy - 0.5, 0.0, height - 1.0);
  const int x0 = std::min(static_cast<int>(sx), width - 1),
            y0 = std::min(static_cast<int>(sy), height - 1);
  const int x1 = std::min(x0 + 1, width - 1), y1 = std::min(y0 + 1, height - 1);
  const double tx = sx - x0, ty = sy - y0;
  auto at = [&](int x, int y) {
    return static_cast<double>(rgb[3 * (static_cast<size_t>(y) * width + x) + channel]);
  };
  const double top = at(x0, y0) + (at(x1, y0) - at(x0, y0)) * tx;
  const double bottom = at(x0, y1) + (at(x1, y1) - at(x0, y1)) * tx;
  return static_cast<float>(top + (bottom - top) * ty);
}

// Binomial [1 4 6 4 1] / 16 blur of one row or column position, mirrored at the ends.
inline int reflect(int i, int n) {
  while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i;
  return i;
}

// Unsharp mask in place on display values: x + amount * (x - blur(x)), clipped to [0, 1].
// The blur is separable binomial (sigma 1 px).
void unsharp_mask(std::vector<float>& rgb, int width, int height, double amount) {
  constexpr float kTaps[5] = {1.0f / 16, 4.0f / 16, 6.0f / 16, 4.0f / 16, 1.0f / 16};
  std::vector<float> across(rgb.size());
  for (int y = 0; y < height; ++y) {
    const float* row = rgb.data() + static_cast<size_t>(y) * width * 3;
    float* out = across.data() + static_cast<size_t>(y) * width * 3;
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < 3; ++c) {
        float sum = 0;
        for (int k = -2; k <= 2; ++k) sum += kTaps[k + 2] * row[3 * reflect(x + k, width) + c];
        out[3 * x + c] = sum;
      }
  }
  const auto a = static_cast<float>(amount);
  for (int y = 0; y < height; ++y) {
    float* row = rgb.data() + static_cast<size_t>(y) * width * 3;
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < 3; ++c) {
        float blur = 0;
        for (int k = -2; k <= 2; ++k)
          blur += kTaps[k + 2] *
                  across[3 * (static_cast<size_t>(reflect(y + k, height)) * width + x) + c];
        const float v = row[3 * x + c];
        row[3 * x + c] = std::clamp(v + a * (v - blur), 0.0f, 1.0f);
      }
  }
}

tl::expected<void, std::string> check_raw(const RawImage& raw) {
  if (raw.width < 2 || raw.height < 2 ||
      raw.data.size() != static_cast<size_t>(raw.width) * raw.height)
    return tl::unexpected(
        fmt::format("develop: a raw image needs at least 2 x 2 photosites and width * height "
                    "values; got {} x {} with {} values",
                    raw.width, raw.height, raw.data.size()));
  if (!(raw.black_level >= 0 && raw.black_level <= 0.5))
    return tl::unexpected(
        fmt::format("develop: raw black_level must be between 0 and 0.5, got {}", raw.black_level));
  return {};
}

}  // namespace

tl::expected<void, std::string> check_camera_params(const CameraParams& p) {
  for (auto& check :
       {positive("exposure", p.exposure), positive("rgb_gain", p.rgb_gain),
        positive("red_gain", p.red_gain), positive("blue_gain", p.blue_gain),
        in_range("noise.shot", p.noise.shot, 0, 1), in_range("noise.read", p.noise.read, 0, 1),
        in_range("noise.row", p.noise.row, 0, 1), in_range("jpeg_quality", p.jpeg_quality, 0, 100),
        in_range("vignetting", p.vignetting, 0, 1),
        in_range("chromatic_aberration", p.chromatic_aberration, 0, 10),
        in_range("sharpen", p.sharpen, 0, 4), in_range("black_level", p.black_level, 0, 0.5)}) {
    if (!check) return check;
  }
  if (p.noise.bit_depth != 0 && (p.noise.bit_depth < 8 || p.noise.bit_depth > 16))
    return tl::unexpected(fmt::format("camera: noise.bit_depth must be 0 (none) or 8..16, got {}",
                                      p.noise.bit_depth));
  for (int i = 0; i < 3; ++i) {
    const double sum = p.ccm[3 * i] + p.ccm[3 * i + 1] + p.ccm[3 * i + 2];
    if (!(std::abs(sum - 1.0) <= 1e-4))
      return tl::unexpected(
          fmt::format("camera: ccm row {} sums to {}, must sum to 1 (white stays white)", i, sum));
  }
  if (!invert(p.ccm)) return tl::unexpected(std::string("camera: ccm is singular"));
  return {};
}

std::vector<float> expose(std::span<const float> linear_rgb, int width, int height,
                          const CameraParams& p) {
  require_rgb(linear_rgb, width, height, "expose");
  std::vector<float> out(linear_rgb.size());
  const double cx = 0.5 * width, cy = 0.5 * height;
  const double corner = std::sqrt(cx * cx + cy * cy);
  // 1 / (1 + k)^2 = 1 - vignetting at the corner (r = 1).
  const double keep = 1.0 - std::clamp(p.vignetting, 0.0, 0.999999);
  const double k = 1.0 / std::sqrt(keep) - 1.0;
  // Red at radius r is seen at r (1 + shift), blue at r (1 - shift): sample back.
  const double shift = std::min(p.chromatic_aberration / corner, 0.5);
  const double red_scale = 1.0 / (1.0 + shift), blue_scale = 1.0 / (1.0 - shift);
  const bool lateral = p.chromatic_aberration > 0;
  for (int y = 0; y < height; ++y) {
    const double dy = y + 0.5 - cy;
    for (int x = 0; x < width; ++x) {
      const double dx = x + 0.5 - cx;
      const size_t i = 3 * (static_cast<size_t>(y) * width + x);
      const double r2 = (dx * dx + dy * dy) / (corner * corner);
      const double falloff = 1.0 + k * r2;
      const double gain = p.exposure / (falloff * falloff);
      float red = linear_rgb[i], blue = linear_rgb[i + 2];
      if (lateral) {
        red = sample(linear_rgb, width, height, 0, cx + dx * red_scale, cy + dy * red_scale);
        blue = sample(linear_rgb, width, height, 2, cx + dx * blue_scale, cy + dy * blue_scale);
      }
      out[i] = static_cast<float>(red * gain);
      out[i + 1] = static_cast<float>(linear_rgb[i + 1] * gain);
      out[i + 2] = static_cast<float>(blue * gain);
    }
  }
  return out;
}

RawImage mosaic(std::span<const float> exposed_rgb, int width, int height, const CameraParams& p) {
  require_rgb(exposed_rgb, width, height, "mosaic");
  const auto rgb_to_camera = invert(p.ccm);
  if (!rgb_to_camera) throw std::invalid_argument("mosaic: ccm is singular");
  const auto gains = white_balance(p);
  RawImage raw;
  raw.width = width;
  raw.height = height;
  raw.cfa = p.cfa;
  raw.black_level = p.black_level;
  raw.data.resize(static_cast<size_t>(width) * height);
  const double range = 1.0 - p.black_level;
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      const int c = cfa_colour(p.cfa, x, y);
      const size_t i = static_cast<size_t>(y) * width + x;
      const float* rgb = exposed_rgb.data() + 3 * i;
      const double* m = rgb_to_camera->data() + 3 * c;
      const double camera = (m[0] * rgb[0] + m[1] * rgb[1] + m[2] * rgb[2]) / gains[c];
      raw.data[i] = static_cast<float>(std::clamp(camera, 0.0, 1.0) * range + p.black_level);
    }
  }
  return raw;
}

tl::expected<CameraImage, std::string> develop(const RawImage& raw, const CameraParams& p) {
  if (auto ok = check_camera_params(p); !ok) return tl::unexpected(ok.error());
  if (auto ok = check_raw(raw); !ok) return tl::unexpected(ok.error());
  const int width = raw.width, height = raw.height;
  const size_t pixels = static_cast<size_t>(width) * height;
  // Black level off, normalised to the white level, white balanced, clipped as Brooks et
  // al.'s process() does before demosaicing.
  const auto wb = white_balance(p);
  const double range = 1.0 - raw.black_level;
  std::vector<float> balanced(pixels);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      const size_t i = static_cast<size_t>(y) * width + x;
      const double gain = wb[cfa_colour(raw.cfa, x, y)] / range;
      balanced[i] =
          static_cast<float>(std::clamp((raw.data[i] - raw.black_level) * gain, 0.0, 1.0));
    }
  }
  CameraImage image;
  image.width = width;
  image.height = height;
  image.display = demosaic(balanced, width, height, raw.cfa, p.demosaic);
  balanced = {};
  const DisplayTransfer transfer(p.tone);
  const auto& m = p.ccm;
  for (size_t i = 0; i < pixels; ++i) {
    float* px = image.display.data() + 3 * i;
    const double r = px[0], g = px[1], b = px[2];
    for (int c = 0; c < 3; ++c) {
      const double v = m[3 * c] * r + m[3 * c + 1] * g + m[3 * c + 2] * b;
      px[c] = transfer(static_cast<float>(std::clamp(v, 0.0, 1.0)));
    }
  }
  if (p.sharpen > 0) unsharp_mask(image.display, width, height, p.sharpen);
  image.srgb8.resize(image.display.size());
  for (size_t i = 0; i < image.display.size(); ++i)
    image.srgb8[i] = static_cast<uint8_t>(image.display[i] * 255.0f + 0.5f);
  if (p.jpeg_quality > 0) {
    auto jpeg = encode_jpeg(image.srgb8, width, height, p.jpeg_quality);
    if (!jpeg) return tl::unexpected(jpeg.error());
    auto decoded = decode_jpeg(*jpeg);
    if (!decoded) return tl::unexpected(decoded.error());
    image.jpeg = std::move(*jpeg);
    image.srgb8 = std::move(decoded->pixels);
  }
  return image;
}

tl::expected<CameraImage, std::string> apply_camera(std::span<const float> linear_rgb, int width,
                                                    int height, const CameraParams& p,
                                                    uint64_t seed) {
  if (auto ok = check_camera_params(p); !ok) return tl::unexpected(ok.error());
  if (width < 2 || height < 2 || linear_rgb.size() != static_cast<size_t>(width) * height * 3)
    return tl::unexpected(
        fmt::format("camera: a {} x {} image needs at least 2 x 2 pixels and width * height * 3 "
                    "floats, got {}",
                    width, height, linear_rgb.size()));
  RawImage raw = mosaic(expose(linear_rgb, width, height, p), width, height, p);
  add_noise(raw, p.noise, seed);
  return develop(raw, p);
}

}  // namespace synthfarm::sensor
