#include "sensor/raw_frames.h"

#include <OpenEXR/ImfChannelList.h>
#include <OpenEXR/ImfFrameBuffer.h>
#include <OpenEXR/ImfHeader.h>
#include <OpenEXR/ImfIO.h>
#include <OpenEXR/ImfInputFile.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <optional>
#include <stdexcept>

namespace synthfarm::sensor {
namespace {

// An Imf::IStream over bytes in memory; reads past the end throw, so a truncated file is
// an error message.
class MemoryIStream final : public Imf::IStream {
 public:
  explicit MemoryIStream(std::string_view bytes) : Imf::IStream("memory"), bytes_(bytes) {}
  bool read(char c[], int n) override {
    if (n < 0 || pos_ > bytes_.size() || static_cast<size_t>(n) > bytes_.size() - pos_)
      throw std::runtime_error("unexpected end of file");
    std::memcpy(c, bytes_.data() + pos_, static_cast<size_t>(n));
    pos_ += static_cast<size_t>(n);
    return pos_ < bytes_.size();
  }
  uint64_t tellg() override { return pos_; }
  void seekg(uint64_t pos) override { pos_ = static_cast<size_t>(pos); }

 private:
  std::string_view bytes_;
  size_t pos_ = 0;
};

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
  try {
    MemoryIStream stream(bytes);
    Imf::InputFile input(stream);
    const Imath::Box2i window = input.header().dataWindow();
    const int64_t width = int64_t{window.max.x} - window.min.x + 1,
                  height = int64_t{window.max.y} - window.min.y + 1;
    if (width < 1 || height < 1 || width > kMaxFrameSide || height > kMaxFrameSide)
      return tl::unexpected(
          fmt::format("{}: EXR size {} x {} is outside 1..{}", name, width, height, kMaxFrameSide));
    const Imf::ChannelList& channels = input.header().channels();
    const char* channel = channels.findChannel("raw.Y") ? "raw.Y"
                          : channels.findChannel("Y")   ? "Y"
                                                        : nullptr;
    if (!channel) return tl::unexpected(fmt::format("{}: EXR has no raw.Y or Y channel", name));
    MonoImage image;
    image.width = static_cast<int>(width);
    image.height = static_cast<int>(height);
    image.data.resize(static_cast<size_t>(width * height));
    // OpenEXR addresses a slice from the data window's origin: the base is where pixel
    // (0, 0) would be, computed as an integer since it may lie outside the vector.
    const size_t y_stride = sizeof(float) * static_cast<size_t>(width);
    const uintptr_t base = reinterpret_cast<uintptr_t>(image.data.data()) -
                           static_cast<uintptr_t>(window.min.x) * sizeof(float) -
                           static_cast<uintptr_t>(window.min.y) * y_stride;
    Imf::FrameBuffer buffer;
    buffer.insert(channel,
                  Imf::Slice(Imf::FLOAT, reinterpret_cast<char*>(base), sizeof(float), y_stride));
    input.setFrameBuffer(buffer);
    input.readPixels(window.min.y, window.max.y);
    for (size_t i = 0; i < image.data.size(); ++i) {
      if (!std::isfinite(image.data[i]))
        return tl::unexpected(fmt::format("{}: pixel ({}, {}) of {} is not finite", name,
                                          i % image.width, i / image.width, channel));
    }
    return image;
  } catch (const std::exception& e) {
    return tl::unexpected(fmt::format("{}: not a readable OpenEXR file: {}", name, e.what()));
  }
}

tl::expected<MonoImage, std::string> decode_raw_frame(std::string_view bytes,
                                                      std::string_view name) {
  if (bytes.size() >= 2 && bytes.substr(0, 2) == "P5") return decode_pgm(bytes, name);
  if (bytes.size() >= 4 && bytes.substr(0, 4) == std::string_view("\x76\x2f\x31\x01", 4))
    return decode_raw_exr(bytes, name);
  return tl::unexpected(fmt::format("{}: neither a binary PGM (P5) nor an OpenEXR file", name));
}

}  // namespace synthfarm::sensor
