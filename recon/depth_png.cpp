// The PNG side of depth_inputs.h: 16-bit millimetre depth maps in and out, colour PNGs in.
// libpng's classic interface, because its simplified one applies gamma rules to 16-bit
// data and depth must come back bit for bit. libpng reports errors by longjmp, so the
// functions that call it keep no object with a destructor alive across setjmp.
#include <fmt/format.h>
#include <png.h>

#include <algorithm>
#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <cstring>

#include "recon/depth_inputs.h"
#include "render/image_io.h"

namespace synthfarm::recon {
namespace {

constexpr int kMaxPngSide = 16384;

struct PngSource {
  const unsigned char* data = nullptr;
  size_t size = 0, offset = 0;
};

void read_from_memory(png_structp png, png_bytep out, size_t n) {
  auto* source = static_cast<PngSource*>(png_get_io_ptr(png));
  if (n > source->size - source->offset) png_error(png, "truncated file");
  std::memcpy(out, source->data + source->offset, n);
  source->offset += n;
}

void on_png_error(png_structp png, png_const_charp message) {
  std::snprintf(static_cast<char*>(png_get_error_ptr(png)), 256, "%s", message);
  png_longjmp(png, 1);
}
void on_png_warning(png_structp, png_const_charp) {}

// A PNG as stored, expanded to 8 or 16 bits per channel: channels 1 (grey), 2 (grey,
// alpha), 3 (RGB) or 4 (RGBA); 16-bit samples big-endian.
struct RawPng {
  int width = 0, height = 0, channels = 0, bit_depth = 0;
  std::vector<unsigned char> data;
};

// Returns "" or libpng's complaint. `message` must hold 256 chars.
const char* decode_raw_png(std::string_view bytes, RawPng* out, char* message) {
  if (bytes.size() < 8 || png_sig_cmp(reinterpret_cast<png_const_bytep>(bytes.data()), 0, 8) != 0) {
    return "not a PNG file";
  }
  png_structp png =
      png_create_read_struct(PNG_LIBPNG_VER_STRING, message, on_png_error, on_png_warning);
  if (!png) return "out of memory";
  png_infop info = png_create_info_struct(png);
  PngSource source{reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), 0};
  if (!info || setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    return message[0] ? message : "out of memory";
  }
  png_set_read_fn(png, &source, read_from_memory);
  png_set_user_limits(png, kMaxPngSide, kMaxPngSide);
  png_read_info(png, info);
  const int colour_type = png_get_color_type(png, info);
  if (colour_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (png_get_bit_depth(png, info) < 8) png_set_expand_gray_1_2_4_to_8(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  out->width = static_cast<int>(png_get_image_width(png, info));
  out->height = static_cast<int>(png_get_image_height(png, info));
  out->channels = png_get_channels(png, info);
  out->bit_depth = png_get_bit_depth(png, info);
  const size_t row_bytes = png_get_rowbytes(png, info);
  out->data.resize(row_bytes * static_cast<size_t>(out->height));
  const int passes = png_set_interlace_handling(png);
  for (int pass = 0; pass < passes; ++pass) {
    for (int y = 0; y < out->height; ++y)
      png_read_row(png, out->data.data() + row_bytes * y, nullptr);
  }
  png_read_end(png, nullptr);
  png_destroy_read_struct(&png, &info, nullptr);
  return "";
}

tl::expected<RawPng, std::string> read_png(std::string_view bytes, std::string_view name) {
  RawPng raw;
  char message[256] = "";
  const char* problem = decode_raw_png(bytes, &raw, message);
  if (problem[0]) return tl::unexpected(fmt::format("{}: {}", name, problem));
  return raw;
}

void write_to_string(png_structp png, png_bytep data, size_t n) {
  static_cast<std::string*>(png_get_io_ptr(png))->append(reinterpret_cast<const char*>(data), n);
}
void flush_nothing(png_structp) {}

// 16-bit grey, big-endian rows already laid out in `rows`. Returns "" or the problem.
const char* encode_gray16(const std::vector<unsigned char>& rows, int width, int height,
                          std::string* out, char* message) {
  png_structp png =
      png_create_write_struct(PNG_LIBPNG_VER_STRING, message, on_png_error, on_png_warning);
  if (!png) return "out of memory";
  png_infop info = png_create_info_struct(png);
  if (!info || setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return message[0] ? message : "out of memory";
  }
  png_set_write_fn(png, out, write_to_string, flush_nothing);
  png_set_IHDR(png, info, static_cast<png_uint_32>(width), static_cast<png_uint_32>(height), 16,
               PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  png_set_compression_level(png, 6);
  png_write_info(png, info);
  for (int y = 0; y < height; ++y)
    png_write_row(png, rows.data() + static_cast<size_t>(2 * width) * y);
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return "";
}

}  // namespace

tl::expected<DepthImage, std::string> decode_depth_png_mm(std::string_view bytes,
                                                          std::string_view name) {
  auto raw = read_png(bytes, name);
  if (!raw) return tl::unexpected(raw.error());
  if (raw->bit_depth != 16 || raw->channels != 1) {
    return tl::unexpected(fmt::format(
        "{}: {}-bit with {} channel(s); a depth map is a 16-bit grey PNG of millimetres", name,
        raw->bit_depth, raw->channels));
  }
  DepthImage out{raw->width, raw->height, {}};
  const size_t pixels = static_cast<size_t>(raw->width) * raw->height;
  out.depth_m.resize(pixels);
  for (size_t i = 0; i < pixels; ++i) {
    const unsigned mm = (unsigned{raw->data[2 * i]} << 8) | raw->data[2 * i + 1];
    out.depth_m[i] = static_cast<float>(mm * 0.001);
  }
  return out;
}

std::string encode_depth_png_mm(const std::vector<float>& depth_m, int width, int height) {
  std::vector<unsigned char> rows(2 * static_cast<size_t>(width) * height);
  for (size_t i = 0; i < depth_m.size() && i < rows.size() / 2; ++i) {
    const double d = depth_m[i];
    const unsigned mm = std::isfinite(d) && d > 0
                            ? static_cast<unsigned>(std::clamp(std::lround(d * 1000), 1l, 65535l))
                            : 0;
    rows[2 * i] = static_cast<unsigned char>(mm >> 8);
    rows[2 * i + 1] = static_cast<unsigned char>(mm & 0xff);
  }
  std::string out;
  char message[256] = "";
  const char* problem = encode_gray16(rows, width, height, &out, message);
  if (problem[0]) throw std::runtime_error(std::string("encode_depth_png_mm: ") + problem);
  return out;
}

tl::expected<ColourImage, std::string> decode_colour_png(std::string_view bytes,
                                                         std::string_view name) {
  auto raw = read_png(bytes, name);
  if (!raw) return tl::unexpected(raw.error());
  ColourImage out{raw->width, raw->height, {}};
  const size_t pixels = static_cast<size_t>(raw->width) * raw->height;
  out.rgb.resize(3 * pixels);
  const int bytes_per_sample = raw->bit_depth == 16 ? 2 : 1;
  const double full = raw->bit_depth == 16 ? 65535.0 : 255.0;
  // Each code's linear value once, not once per pixel.
  std::vector<float> linear(raw->bit_depth == 16 ? 65536 : 256);
  for (size_t code = 0; code < linear.size(); ++code) {
    linear[code] = static_cast<float>(render::srgb_to_linear(code / full));
  }
  const int colour_channels = raw->channels >= 3 ? 3 : 1;
  for (size_t i = 0; i < pixels; ++i) {
    for (int ch = 0; ch < 3; ++ch) {
      const size_t at = (i * raw->channels + (colour_channels == 3 ? ch : 0)) * bytes_per_sample;
      const unsigned code = bytes_per_sample == 2
                                ? (unsigned{raw->data[at]} << 8) | raw->data[at + 1]
                                : raw->data[at];
      out.rgb[3 * i + ch] = linear[code];
    }
  }
  return out;
}

}  // namespace synthfarm::recon
