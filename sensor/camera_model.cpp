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

// One colour plane of an interleaved RGB image scaled about the centre (cx, cy): lateral
// chromatic aberration magnifies a colour about the centre, so output pixel (x, y) reads the
// source at (cx + (x + 0.5 - cx) * scale, cy + (y + 0.5 - cy) * scale). The mapping
// separates, so where each column and each row reads from is worked out once. Bilinear,
// clamped to the edge.
class RadialScale {
 public:
  RadialScale(std::span<const float> rgb, int width, int height, int channel, double cx, double cy,
              double scale)
      : rgb_(rgb), width_(width), channel_(channel) {
    columns_.resize(width);
    for (int x = 0; x < width; ++x) columns_[x] = tap(cx + (x + 0.5 - cx) * scale, width);
    rows_.resize(height);
    for (int y = 0; y < height; ++y) rows_[y] = tap(cy + (y + 0.5 - cy) * scale, height);
  }
  double at(int x, int y) const {
    const Tap& row = rows_[y];
    const Tap& column = columns_[x];
    const float* top = rgb_.data() + 3 * static_cast<size_t>(row.i0) * width_ + channel_;
    const float* bottom = rgb_.data() + 3 * static_cast<size_t>(row.i1) * width_ + channel_;
    const size_t i0 = 3 * static_cast<size_t>(column.i0), i1 = 3 * static_cast<size_t>(column.i1);
    const double upper = top[i0] + (top[i1] - top[i0]) * column.t;
    const double lower = bottom[i0] + (bottom[i1] - bottom[i0]) * column.t;
    return upper + (lower - upper) * row.t;
  }

 private:
  struct Tap {
    int i0 = 0, i1 = 0;
    double t = 0;
  };
  // The two neighbours of continuous coordinate `c` (pixel centres at +0.5) and the weight of
  // the second.
  static Tap tap(double c, int n) {
    const double s = std::clamp(c - 0.5, 0.0, n - 1.0);
    const int i0 = std::min(static_cast<int>(s), n - 1);
    return {i0, std::min(i0 + 1, n - 1), s - i0};
  }
  std::span<const float> rgb_;
  int width_, channel_;
  std::vector<Tap> columns_, rows_;
};

// Reflection about the edge pixel (-1 -> 1, n -> n - 2).
inline int reflect(int i, int n) {
  while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i;
  return i;
}

// Unsharp mask in place on display values: x + amount * (x - blur(x)), clipped to [0, 1].
// The blur is the separable binomial [1 4 6 4 1] / 16 (sigma 1 px), mirrored at the borders.
// Both passes run over whole interleaved rows without branches: the horizontal one through a
// copy of the row with two mirrored pixels on each side, the vertical one from five row
// pointers.
void unsharp_mask(std::vector<float>& rgb, int width, int height, double amount) {
  constexpr float k0 = 1.0f / 16, k1 = 4.0f / 16, k2 = 6.0f / 16;
  const size_t stride = 3 * static_cast<size_t>(width);
  std::vector<float> across(rgb.size());
  std::vector<float> padded(stride + 12);
  for (int y = 0; y < height; ++y) {
    const float* row = rgb.data() + y * stride;
    for (int x = -2; x < width + 2; ++x)
      std::copy_n(row + 3 * reflect(x, width), 3, padded.data() + 3 * (x + 2));
    const float* p = padded.data() + 6;
    float* out = across.data() + y * stride;
    for (size_t i = 0; i < stride; ++i)
      out[i] = (p[i - 6] + p[i + 6]) * k0 + (p[i - 3] + p[i + 3]) * k1 + p[i] * k2;
  }
  const auto a = static_cast<float>(amount);
  for (int y = 0; y < height; ++y) {
    const float* r[5];
    for (int k = 0; k < 5; ++k) r[k] = across.data() + reflect(y + k - 2, height) * stride;
    float* row = rgb.data() + y * stride;
    for (size_t i = 0; i < stride; ++i) {
      const float blur = (r[0][i] + r[4][i]) * k0 + (r[1][i] + r[3][i]) * k1 + r[2][i] * k2;
      const float v = row[i];
      row[i] = std::clamp(v + a * (v - blur), 0.0f, 1.0f);
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
  const RadialScale red_plane(linear_rgb, width, height, 0, cx, cy, lateral ? red_scale : 1.0);
  const RadialScale blue_plane(linear_rgb, width, height, 2, cx, cy, lateral ? blue_scale : 1.0);
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
        red = static_cast<float>(red_plane.at(x, y));
        blue = static_cast<float>(blue_plane.at(x, y));
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
