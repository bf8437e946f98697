// OpenEXR and PNG encoders to memory. See image_io.h for the channel layout.
#include "render/image_io.h"

#include <Imath/half.h>
#include <OpenEXR/ImfChannelList.h>
#include <OpenEXR/ImfCompression.h>
#include <OpenEXR/ImfFrameBuffer.h>
#include <OpenEXR/ImfHeader.h>
#include <OpenEXR/ImfIO.h>
#include <OpenEXR/ImfInputFile.h>
#include <OpenEXR/ImfOutputFile.h>
#include <fmt/format.h>
#include <png.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <optional>
#include <stdexcept>

namespace synthfarm::render {

namespace {

// zlib level for EXR ZIP blocks: 4 is OpenEXR 3's default, a good speed/size balance for
// noisy float data.
constexpr int kZipLevel = 4;

// An Imf::OStream that writes into a std::string. OpenEXR seeks back to fill in the line
// offset table when the file is closed, so writes may land anywhere.
class StringOStream final : public Imf::OStream {
 public:
  explicit StringOStream(std::string& out) : Imf::OStream("memory"), out_(out) {}

  void write(const char c[], int n) override {
    size_t end = pos_ + static_cast<size_t>(n);
    if (end > out_.size()) out_.resize(end);
    std::memcpy(out_.data() + pos_, c, static_cast<size_t>(n));
    pos_ = end;
  }
  uint64_t tellp() override { return pos_; }
  void seekp(uint64_t pos) override { pos_ = static_cast<size_t>(pos); }

 private:
  std::string& out_;
  size_t pos_ = 0;
};

// An Imf::IStream over bytes in memory. Reads past the end throw (OpenEXR turns that into
// its own exception, caught by the caller), so a truncated file is an error, not a crash.
class StringIStream final : public Imf::IStream {
 public:
  explicit StringIStream(std::string_view bytes) : Imf::IStream("memory"), bytes_(bytes) {}

  bool read(char c[], int n) override {
    // OpenEXR seeks to offsets read from the file: pos_ may be anywhere, and pos_ + n
    // may wrap (it did, found by fuzzing), so compare without adding to it.
    if (n < 0 || pos_ > bytes_.size() || static_cast<size_t>(n) > bytes_.size() - pos_) {
      throw std::runtime_error("unexpected end of file");
    }
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

// The header of an environment map, walked the way OpenEXR 3.1's Header::readFrom walks it,
// before OpenEXR sees it: nullopt when it is safe to hand over, else what is wrong.
// OpenEXR allocates from header values before reading what they describe (an attribute's
// declared size, a string vector's entry sizes, a preview's width x height, line buffers
// from the data window and the channels), so a file of a few bytes could make it allocate
// gigabytes; all found by fuzzing. The walk must stay in step with OpenEXR's: its readers
// of known types read their own layout and ignore the declared size (a channel list reads
// entries until an empty name), so a declared size that differs from the layout is refused
// here, since past it the two walks would see different attributes.
// Layout: magic, version, then attributes of name\0 type\0 int32 size and value, the list
// ending in an empty name. Multi-part and deep files are refused: a map is one image.
constexpr int64_t kMaxEnvironmentWidth = 32768, kMaxEnvironmentHeight = 16384, kMaxEnvironmentChannels = 16;
constexpr size_t kMaxExrName = 255;  // OpenEXR's Name::MAX_LENGTH

// The size OpenEXR's reader of a known fixed-layout type consumes, or -1 for types read by
// their declared size (string, floatvector, unknown types kept opaque) or checked apart.
int fixed_attribute_size(std::string_view type) {
  static const std::pair<std::string_view, int> kSizes[] = {
      {"box2i", 16},   {"box2f", 16}, {"chromaticities", 32}, {"compression", 1}, {"deepImageState", 1},
      {"double", 8},   {"envmap", 1}, {"float", 4},           {"int", 4},         {"keycode", 28},
      {"lineOrder", 1}, {"m33f", 36}, {"m33d", 72},           {"m44f", 64},       {"m44d", 128},
      {"rational", 8}, {"tiledesc", 9}, {"timecode", 8},      {"v2i", 8},         {"v2f", 8},
      {"v2d", 16},     {"v3i", 12},   {"v3f", 12},            {"v3d", 24}};
  for (const auto& [name, size] : kSizes) {
    if (name == type) return size;
  }
  return -1;
}

// What the walk learns of the image, to bound what OpenEXR will allocate for one chunk.
struct ExrFacts {
  int64_t width = 0;           // the data window's
  int64_t bytes_per_pixel = 0;  // over the channels: 2 for HALF, 4 for UINT and FLOAT
  int64_t lines_per_chunk = 1;  // from the compression
  int64_t tile_width = 0, tile_height = 0;
  int64_t channels = 0;  // OpenEXR adds a repeated "channels" attribute's entries to the list
};
// OpenEXR sizes a line buffer or a tile buffer, and its compressor's, before reading it.
constexpr int64_t kMaxExrChunkBytes = int64_t{256} << 20;

int32_t read_i32(std::string_view bytes, size_t pos) {
  int32_t v = 0;
  std::memcpy(&v, bytes.data() + pos, 4);  // little-endian, as x86-64
  return v;
}

// What is wrong with one attribute's value (bytes [pos, pos + size)), or nullopt.
std::optional<std::string> bad_attribute_value(std::string_view bytes, std::string_view name, std::string_view type,
                                               size_t pos, size_t size, ExrFacts& facts) {
  if (const int fixed = fixed_attribute_size(type); fixed >= 0) {
    if (size != static_cast<size_t>(fixed)) {
      return fmt::format("header attribute '{}' of type {} declares {} bytes, not {}", name, type, size, fixed);
    }
  } else if (type == "chlist") {
    // Entries of name\0 and 16 bytes (type, pLinear, 3 reserved, xSampling, ySampling); an
    // empty name ends the list, which must be the attribute's last byte.
    const bool image_channels = name == "channels";
    size_t p = pos;
    const size_t end = pos + size;
    while (p < end && bytes[p] != '\0') {
      const size_t nul = bytes.find('\0', p);
      if (nul == std::string_view::npos || nul >= end || nul - p > kMaxExrName || end - (nul + 1) < 16) {
        return fmt::format("header attribute '{}': a channel entry runs past its {} bytes", name, size);
      }
      p = nul + 1 + 16;
      if (!image_channels) continue;
      facts.bytes_per_pixel += read_i32(bytes, nul + 1) == 1 ? 2 : 4;  // HALF, else UINT or FLOAT
      if (++facts.channels > kMaxEnvironmentChannels) {
        return fmt::format("more than {} channels; an environment map has at most {}", kMaxEnvironmentChannels,
                           kMaxEnvironmentChannels);
      }
    }
    if (p + 1 != end) {
      return fmt::format("header attribute '{}': the channel list does not end at its declared {} bytes", name, size);
    }
  } else if (type == "stringvector") {
    // Entries of int32 length and bytes; OpenEXR sizes each string from its length.
    for (size_t p = pos; p < pos + size;) {
      if (pos + size - p < 4) return fmt::format("header attribute '{}': a truncated string entry", name);
      const int32_t length = read_i32(bytes, p);
      p += 4;
      if (length < 0 || static_cast<size_t>(length) > pos + size - p) {
        return fmt::format("header attribute '{}': a string entry of {} bytes runs past the attribute", name, length);
      }
      p += static_cast<size_t>(length);
    }
  } else if (type == "preview") {
    // Width and height, then 4 bytes a pixel: OpenEXR allocates width x height first.
    if (size < 8 || uint64_t{static_cast<uint32_t>(read_i32(bytes, pos))} *
                            static_cast<uint32_t>(read_i32(bytes, pos + 4)) * 4 != size - 8) {
      return fmt::format("header attribute '{}': the preview's size does not match its {} bytes", name, size);
    }
  } else if (type == "idmanifest") {
    return fmt::format("header attribute '{}': an ID manifest has no place in an environment map", name);
  }
  if (name == "compression" && type == "compression") {
    // Scan lines per chunk: none, RLE, ZIPS 1; ZIP, PXR24 16; PIZ, B44(A), DWAA 32; DWAB 256.
    static constexpr int64_t kLines[] = {1, 1, 1, 16, 32, 16, 32, 32, 32, 256};
    const auto method = static_cast<unsigned char>(bytes[pos]);
    facts.lines_per_chunk = method < std::size(kLines) ? kLines[method] : 256;
  }
  if (name == "tiles" && type == "tiledesc") {
    facts.tile_width = static_cast<uint32_t>(read_i32(bytes, pos));
    facts.tile_height = static_cast<uint32_t>(read_i32(bytes, pos + 4));
  }
  if (name == "dataWindow" && type == "box2i") {
    const int64_t width = int64_t{read_i32(bytes, pos + 8)} - read_i32(bytes, pos) + 1;
    const int64_t height = int64_t{read_i32(bytes, pos + 12)} - read_i32(bytes, pos + 4) + 1;
    if (width < 2 || height < 1 || width > kMaxEnvironmentWidth || height > kMaxEnvironmentHeight) {
      return fmt::format("an environment map must be 2x1 to {}x{} texels, not {}x{}", kMaxEnvironmentWidth,
                         kMaxEnvironmentHeight, width, height);
    }
    facts.width = width;
  }
  return std::nullopt;
}

// Bytes of one chunk as OpenEXR buffers it (an upper bound: subsampling only shrinks it).
std::optional<std::string> oversized_chunk(const ExrFacts& facts) {
  const bool tiled = facts.tile_width > 0 || facts.tile_height > 0;
  const bool tile_fits = facts.tile_width <= kMaxEnvironmentWidth && facts.tile_height <= kMaxEnvironmentWidth;
  if ((!tiled || tile_fits) &&
      facts.bytes_per_pixel * (tiled ? facts.tile_width * facts.tile_height : facts.width * facts.lines_per_chunk) <=
          kMaxExrChunkBytes) {
    return std::nullopt;
  }
  return tiled ? fmt::format("tiles of {}x{} texels are too large for an environment map", facts.tile_width,
                             facts.tile_height)
               : fmt::format("{}-texel rows of {} bytes a texel in chunks of {} rows are too large to buffer",
                             facts.width, facts.bytes_per_pixel, facts.lines_per_chunk);
}

std::optional<std::string> unsafe_exr_header(std::string_view bytes) {
  if (bytes.size() < 8) return std::nullopt;  // OpenEXR says what is wrong with it
  const auto flags = static_cast<unsigned char>(bytes[5]);  // version bits 8..15
  if (flags & 0x18) return std::string("a multi-part or deep OpenEXR file is not an environment map");
  ExrFacts facts;
  size_t pos = 8;
  auto c_string = [&](std::string_view& out) {
    const size_t end = bytes.find('\0', pos);
    if (end == std::string_view::npos || end - pos > kMaxExrName) return false;
    out = bytes.substr(pos, end - pos);
    pos = end + 1;
    return true;
  };
  for (;;) {
    std::string_view name, type;
    if (!c_string(name)) return std::string("the header ends inside an attribute name");
    if (name.empty()) return oversized_chunk(facts);
    if (!c_string(type) || bytes.size() - pos < 4) {
      return fmt::format("the header ends inside attribute '{}'", name);
    }
    const int32_t declared = read_i32(bytes, pos);
    pos += 4;
    if (declared < 0 || static_cast<size_t>(declared) > bytes.size() - pos) {
      return fmt::format("header attribute '{}' declares {} bytes, but only {} follow", name, declared,
                         bytes.size() - pos);
    }
    const auto size = static_cast<size_t>(declared);
    if (auto problem = bad_attribute_value(bytes, name, type, pos, size, facts)) return problem;
    pos += size;
  }
}

// x^(1/5) for x in [0, 1] by Newton's method from above: only + - * / (portable bits).
double fifth_root(double x) {
  if (x <= 0) return 0;
  double y = 1.0;
  for (int i = 0; i < 200; ++i) {
    double y2 = y * y;
    double next = (4.0 * y + x / (y2 * y2)) / 5.0;
    if (!(next < y)) break;
    y = next;
  }
  return y;
}

}  // namespace

double srgb_to_linear(double c) {
  if (c <= 0.04045) return c / 12.92;
  double x = (c + 0.055) / 1.055;
  double x2 = x * x;
  return x2 * fifth_root(x2);  // x^2.4
}

namespace {

// Linear values at which the 8-bit sRGB code steps up: code k covers
// [threshold[k - 1], threshold[k]), so encoding rounds to the nearest code.
const std::array<double, 255>& srgb_thresholds() {
  static const std::array<double, 255> thresholds = [] {
    std::array<double, 255> t{};
    for (int k = 0; k < 255; ++k) t[k] = srgb_to_linear((k + 0.5) / 255.0);
    return t;
  }();
  return thresholds;
}

uint8_t encode_srgb8(double linear) {
  const auto& t = srgb_thresholds();
  return static_cast<uint8_t>(std::upper_bound(t.begin(), t.end(), linear) - t.begin());
}

// Extended Reinhard with white point 4: keeps shadows and mid-tones nearly linear and
// rolls highlights off to 1 at four times the exposure-scaled reference white.
double tone_map(double v) {
  if (!(v > 0)) return 0;  // also maps NaN to 0
  constexpr double kWhite2 = 16.0;
  return std::min(1.0, v * (1.0 + v / kWhite2) / (1.0 + v));
}

}  // namespace

std::string encode_exr(const Frame& frame, const std::vector<Layer>& layers, const std::vector<ExtraChannel>& extra) {
  Imf::Header header(frame.width, frame.height);
  header.compression() = Imf::ZIP_COMPRESSION;
  // Fixed, not the process-wide default: the level changes the bytes. Not stored in the file.
  header.zipCompressionLevel() = kZipLevel;
  Imf::FrameBuffer buffer;
  const size_t row = static_cast<size_t>(frame.width);
  auto add = [&](const char* name, Imf::PixelType type, const void* base, size_t pixel_stride) {
    header.channels().insert(name, Imf::Channel(type));
    buffer.insert(name, Imf::Slice(type, static_cast<char*>(const_cast<void*>(base)), pixel_stride,
                                   pixel_stride * row));
  };
  // OpenEXR converts pixel types when reading but not when writing: HALF channels need
  // half buffers (Imath rounds to nearest even, in software or F16C alike).
  std::vector<Imath::half> normal_half, albedo_half;
  auto to_half = [](const std::vector<float>& values, std::vector<Imath::half>& out) {
    out.assign(values.begin(), values.end());
    return out.data();
  };
  constexpr size_t kF = sizeof(float), kH = sizeof(Imath::half), kU = sizeof(uint32_t);
  for (Layer layer : layers) {
    switch (layer) {
      case Layer::kRgb:
        add("R", Imf::FLOAT, frame.rgb.data(), 3 * kF);
        add("G", Imf::FLOAT, frame.rgb.data() + 1, 3 * kF);
        add("B", Imf::FLOAT, frame.rgb.data() + 2, 3 * kF);
        break;
      case Layer::kDepth:
        add("depth.Z", Imf::FLOAT, frame.depth.data(), kF);
        break;
      case Layer::kNormal: {
        const Imath::half* n = to_half(frame.normal, normal_half);
        add("normal.X", Imf::HALF, n, 3 * kH);
        add("normal.Y", Imf::HALF, n + 1, 3 * kH);
        add("normal.Z", Imf::HALF, n + 2, 3 * kH);
        break;
      }
      case Layer::kAlbedo: {
        const Imath::half* a = to_half(frame.albedo, albedo_half);
        add("albedo.R", Imf::HALF, a, 3 * kH);
        add("albedo.G", Imf::HALF, a + 1, 3 * kH);
        add("albedo.B", Imf::HALF, a + 2, 3 * kH);
        break;
      }
      case Layer::kInstance:
        add("instance.id", Imf::UINT, frame.instance.data(), kU);
        break;
      case Layer::kSemantic:
        add("semantic.id", Imf::UINT, frame.semantic.data(), kU);
        break;
      case Layer::kPart:
        add("part.id", Imf::UINT, frame.part.data(), kU);
        break;
      case Layer::kUv:
        add("uv.U", Imf::FLOAT, frame.uv.data(), 2 * kF);
        add("uv.V", Imf::FLOAT, frame.uv.data() + 1, 2 * kF);
        break;
      case Layer::kMotion:
        add("motion.X", Imf::FLOAT, frame.motion.data(), 2 * kF);
        add("motion.Y", Imf::FLOAT, frame.motion.data() + 1, 2 * kF);
        break;
    }
  }
  for (const ExtraChannel& channel : extra) {
    add(channel.name.c_str(), Imf::FLOAT, channel.values, static_cast<size_t>(channel.stride) * kF);
  }
  std::string out;
  {
    StringOStream stream(out);
    // numThreads = 0: encode on this thread; OpenEXR's global pool is process state.
    Imf::OutputFile file(stream, header, /*numThreads=*/0);
    file.setFrameBuffer(buffer);
    file.writePixels(frame.height);
  }  // the destructor writes the line offset table
  return out;
}

std::string encode_png(const Frame& frame, double exposure) {
  const size_t pixels = static_cast<size_t>(frame.width) * frame.height;
  std::vector<uint8_t> rgb8(3 * pixels);
  for (size_t i = 0; i < 3 * pixels; ++i) rgb8[i] = encode_srgb8(tone_map(exposure * frame.rgb[i]));
  return encode_png_rgb8(rgb8, frame.width, frame.height);
}

std::string encode_png_rgb8(const std::vector<uint8_t>& rgb8, int width, int height) {
  if (rgb8.size() != 3 * static_cast<size_t>(width) * static_cast<size_t>(height)) {
    throw std::runtime_error("png: the image has " + std::to_string(rgb8.size()) + " bytes, not 3 * " +
                             std::to_string(width) + " * " + std::to_string(height));
  }
  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  image.width = static_cast<png_uint_32>(width);
  image.height = static_cast<png_uint_32>(height);
  image.format = PNG_FORMAT_RGB;
  image.flags = PNG_IMAGE_FLAG_FAST;  // a preview: speed over size
  png_alloc_size_t size = 0;
  if (!png_image_write_to_memory(&image, nullptr, &size, 0, rgb8.data(), 0, nullptr)) {
    std::string message = image.message;
    png_image_free(&image);
    throw std::runtime_error("png: " + message);
  }
  std::string out(size, '\0');
  if (!png_image_write_to_memory(&image, out.data(), &size, 0, rgb8.data(), 0, nullptr)) {
    std::string message = image.message;
    png_image_free(&image);
    throw std::runtime_error("png: " + message);
  }
  out.resize(size);
  return out;
}

namespace {

// Why `bytes` must not reach OpenEXR: not an EXR at all, or a header unsafe_exr_header
// refuses; nullopt when it may.
std::optional<std::string> unreadable_exr(std::string_view bytes) {
  if (bytes.size() < 4 || static_cast<unsigned char>(bytes[0]) != 0x76 || static_cast<unsigned char>(bytes[1]) != 0x2f ||
      static_cast<unsigned char>(bytes[2]) != 0x31 || static_cast<unsigned char>(bytes[3]) != 0x01) {
    return "not an OpenEXR file";
  }
  return unsafe_exr_header(bytes);
}

}  // namespace

tl::expected<Environment, std::string> decode_environment_exr(std::string_view bytes, std::string_view name) {
  const std::string file(name);
  if (auto problem = unreadable_exr(bytes)) return tl::unexpected(file + ": " + *problem);
  Environment env;
  env.name = file;
  try {
    StringIStream stream(bytes);
    Imf::InputFile input(stream);
    const Imath::Box2i window = input.header().dataWindow();
    const int64_t width = int64_t{window.max.x} - window.min.x + 1, height = int64_t{window.max.y} - window.min.y + 1;
    if (width < 2 || height < 1 || width > kMaxEnvironmentWidth || height > kMaxEnvironmentHeight) {
      return tl::unexpected(fmt::format("{}: an environment map must be 2x1 to {}x{} texels, not {}x{}", file,
                                        kMaxEnvironmentWidth, kMaxEnvironmentHeight, width, height));
    }
    const Imf::ChannelList& channels = input.header().channels();
    const bool rgb = channels.findChannel("R") && channels.findChannel("G") && channels.findChannel("B");
    if (!rgb && !channels.findChannel("Y")) {
      return tl::unexpected(file + ": no colour channels (expected R, G, B or Y)");
    }
    env.width = static_cast<int>(width);
    env.height = static_cast<int>(height);
    // A strip of rows at a time, the texels growing as rows arrive: a short file whose
    // header claims a huge map fails at its first missing rows, instead of the reader first
    // allocating and clearing what the header claims (up to 6 GiB).
    constexpr int64_t kStripRows = 64;
    const size_t row_floats = 3 * static_cast<size_t>(width);
    const size_t x_stride = 3 * sizeof(float), y_stride = x_stride * static_cast<size_t>(width);
    for (int64_t first = window.min.y; first <= window.max.y; first += kStripRows) {
      const int64_t last = std::min<int64_t>(first + kStripRows - 1, window.max.y);
      env.texels.resize(row_floats * static_cast<size_t>(last - window.min.y + 1), 0.0f);
      // OpenEXR addresses a slice from the data window's origin, which need not be (0, 0):
      // the base is where texel (0, 0) would be. Computed as an integer, since it can lie
      // outside the vector (C++ pointer arithmetic may not).
      const uintptr_t base = reinterpret_cast<uintptr_t>(env.texels.data()) -
                             static_cast<uintptr_t>(window.min.x) * x_stride -
                             static_cast<uintptr_t>(window.min.y) * y_stride;
      Imf::FrameBuffer buffer;
      for (int c = 0; c < (rgb ? 3 : 1); ++c) {
        buffer.insert(rgb ? std::string(1, "RGB"[c]) : std::string("Y"),
                      Imf::Slice(Imf::FLOAT, reinterpret_cast<char*>(base + c * sizeof(float)), x_stride, y_stride));
      }
      input.setFrameBuffer(buffer);
      input.readPixels(static_cast<int>(first), static_cast<int>(last));
    }
    if (!rgb) {
      for (size_t i = 0; i < env.texels.size(); i += 3) env.texels[i + 1] = env.texels[i + 2] = env.texels[i];
    }
  } catch (const std::exception& e) {
    return tl::unexpected(file + ": " + e.what());
  }
  for (size_t i = 0; i < env.texels.size(); ++i) {
    const float v = env.texels[i];
    if (!std::isfinite(v) || v < 0) {
      const size_t texel = i / 3;
      return tl::unexpected(fmt::format("{}: texel ({}, {}) channel {} is {} (radiance must be finite and >= 0)",
                                        file, texel % static_cast<size_t>(env.width),
                                        texel / static_cast<size_t>(env.width), "RGB"[i % 3], v));
    }
  }
  return env;
}

tl::expected<ExrChannel, std::string> decode_exr_channel(std::string_view bytes, std::string_view name,
                                                         const std::vector<std::string>& channels, int max_side,
                                                         bool allow_positive_infinity) {
  const std::string file(name);
  if (auto problem = unreadable_exr(bytes)) return tl::unexpected(file + ": " + *problem);
  try {
    StringIStream stream(bytes);
    Imf::InputFile input(stream);
    const Imath::Box2i window = input.header().dataWindow();
    const int64_t width = int64_t{window.max.x} - window.min.x + 1, height = int64_t{window.max.y} - window.min.y + 1;
    if (width < 1 || height < 1 || width > max_side || height > max_side) {
      return tl::unexpected(fmt::format("{}: EXR size {} x {} is outside 1..{}", file, width, height, max_side));
    }
    ExrChannel out;
    for (const std::string& channel : channels) {
      if (input.header().channels().findChannel(channel)) {
        out.channel = channel;
        break;
      }
    }
    if (out.channel.empty()) {
      std::string names;
      for (const std::string& channel : channels) names += (names.empty() ? "" : " or ") + channel;
      return tl::unexpected(fmt::format("{}: EXR has no {} channel", file, names));
    }
    out.width = static_cast<int>(width);
    out.height = static_cast<int>(height);
    out.values.resize(static_cast<size_t>(width * height));
    // OpenEXR addresses a slice from the data window's origin: the base is where pixel (0, 0)
    // would be, computed as an integer since it may lie outside the vector.
    const size_t y_stride = sizeof(float) * static_cast<size_t>(width);
    const uintptr_t base = reinterpret_cast<uintptr_t>(out.values.data()) -
                           static_cast<uintptr_t>(window.min.x) * sizeof(float) -
                           static_cast<uintptr_t>(window.min.y) * y_stride;
    Imf::FrameBuffer buffer;
    buffer.insert(out.channel, Imf::Slice(Imf::FLOAT, reinterpret_cast<char*>(base), sizeof(float), y_stride));
    input.setFrameBuffer(buffer);
    input.readPixels(window.min.y, window.max.y);
    for (size_t i = 0; i < out.values.size(); ++i) {
      const float v = out.values[i];
      if (!std::isfinite(v) && !(allow_positive_infinity && std::isinf(v) && v > 0)) {
        return tl::unexpected(fmt::format("{}: pixel ({}, {}) of {} is not finite", file, i % out.width,
                                          i / out.width, out.channel));
      }
    }
    return out;
  } catch (const std::exception& e) {
    return tl::unexpected(fmt::format("{}: not a readable OpenEXR file: {}", file, e.what()));
  }
}

}  // namespace synthfarm::render
