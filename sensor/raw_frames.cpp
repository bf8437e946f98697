#include "sensor/raw_frames.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <optional>
#include <stdexcept>

#include "render/image_io.h"

namespace synthfarm::sensor {
namespace {

// A PGM header: whitespace-separated decimal fields with '#' comments to the end of a line.
class HeaderReader {
 public:
  explicit HeaderReader(std::string_view bytes) : bytes_(bytes) {}
  std::optional<long> number() {
    skip_space();
    long value = 0;
    size_t start = pos_;
    while (pos_ < bytes_.size() && std::isdigit(static_cast<unsigned char>(bytes_[pos_]))) {
      value = value * 10 + (bytes_[pos_++] - '0');
      if (value > 1'000'000) return std::nullopt;
    }
    if (pos_ == start) return std::nullopt;
    return value;
  }
  // The single whitespace character that ends the header.
  bool end_of_header() {
    if (pos_ >= bytes_.size() || !std::isspace(static_cast<unsigned char>(bytes_[pos_])))
      return false;
    ++pos_;
    return true;
  }
  size_t position() const { return pos_; }

 private:
  void skip_space() {
    while (pos_ < bytes_.size()) {
      if (bytes_[pos_] == '#') {
        while (pos_ < bytes_.size() && bytes_[pos_] != '\n') ++pos_;
      } else if (std::isspace(static_cast<unsigned char>(bytes_[pos_]))) {
        ++pos_;
      } else {
        break;
      }
    }
  }
  std::string_view bytes_;
  size_t pos_ = 2;  // after "P5"
};

}  // namespace

tl::expected<MonoImage, std::string> decode_pgm(std::string_view bytes, std::string_view name) {
  if (bytes.size() < 2 || bytes.substr(0, 2) != "P5")
    return tl::unexpected(fmt::format("{}: not a binary PGM (P5) file", name));
  HeaderReader header(bytes);
  const auto width = header.number(), height = header.number(), maxval = header.number();
  if (!width || !height || !maxval || !header.end_of_header())
    return tl::unexpected(
        fmt::format("{}: malformed PGM header (expected P5 width height maxval)", name));
  if (*width < 1 || *height < 1 || *width > kMaxFrameSide || *height > kMaxFrameSide)
    return tl::unexpected(
        fmt::format("{}: PGM size {} x {} is outside 1..{}", name, *width, *height, kMaxFrameSide));
  if (*maxval < 1 || *maxval > 65535)
    return tl::unexpected(fmt::format("{}: PGM maxval must be 1..65535, got {}", name, *maxval));
  const size_t bytes_per_sample = *maxval < 256 ? 1 : 2;
  const size_t samples = static_cast<size_t>(*width) * static_cast<size_t>(*height);
  const std::string_view data = bytes.substr(header.position());
  if (data.size() < samples * bytes_per_sample)
    return tl::unexpected(
        fmt::format("{}: PGM data is truncated: {} bytes for {} x {} samples of {} byte(s)", name,
                    data.size(), *width, *height, bytes_per_sample));
  MonoImage image;
  image.width = static_cast<int>(*width);
  image.height = static_cast<int>(*height);
  image.data.resize(samples);
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  const double scale = 1.0 / static_cast<double>(*maxval);
  for (size_t i = 0; i < samples; ++i) {
    const long v = bytes_per_sample == 1 ? p[i] : (long{p[2 * i]} << 8) | p[2 * i + 1];
    if (v > *maxval)
      return tl::unexpected(fmt::format("{}: sample ({}, {}) is {}, above maxval {}", name,
                                        i % *width, i / *width, v, *maxval));
    image.data[i] = static_cast<float>(static_cast<double>(v) * scale);
  }
  return image;
}

std::string encode_pgm(std::span<const float> values, int width, int height, int maxval) {
  std::string out = fmt::format("P5\n{} {}\n{}\n", width, height, maxval);
  const bool wide = maxval > 255;
  out.reserve(out.size() + values.size() * (wide ? 2 : 1));
  for (float value : values) {
    const auto v = static_cast<unsigned>(
        std::floor(std::clamp(static_cast<double>(value), 0.0, 1.0) * maxval + 0.5));
    if (wide) out.push_back(static_cast<char>(v >> 8));
    out.push_back(static_cast<char>(v & 0xff));
  }
  return out;
}

tl::expected<MonoImage, std::string> decode_raw_exr(std::string_view bytes, std::string_view name) {
  auto layer = render::decode_exr_channel(bytes, name, {"raw.Y", "Y"}, kMaxFrameSide);
  if (!layer) return tl::unexpected(layer.error());
  return MonoImage{layer->width, layer->height, std::move(layer->values)};
}

tl::expected<MonoImage, std::string> decode_raw_frame(std::string_view bytes,
                                                      std::string_view name) {
  if (bytes.size() >= 2 && bytes.substr(0, 2) == "P5") return decode_pgm(bytes, name);
  if (bytes.size() >= 4 && bytes.substr(0, 4) == std::string_view("\x76\x2f\x31\x01", 4))
    return decode_raw_exr(bytes, name);
  return tl::unexpected(fmt::format("{}: neither a binary PGM (P5) nor an OpenEXR file", name));
}

}  // namespace synthfarm::sensor
