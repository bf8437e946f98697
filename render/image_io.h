// Encoders from a rendered Frame (renderer.h) to the bytes stored per sample. Both
// encoders write to memory and are deterministic: the same frame always gives
// the same bytes (no timestamps, fixed compression settings). OpenEXR and libpng stay
// inside image_io.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

#include "render/renderer.h"

namespace synthfarm::render {

// Single-part scanline OpenEXR, ZIP compression, with only the requested layers:
//   kRgb      R, G, B                      FLOAT, linear scene-referred radiance
//   kDepth    depth.Z                      FLOAT, camera z in metres, +inf = background
//   kNormal   normal.X, normal.Y, normal.Z HALF, camera space (OpenCV)
//   kAlbedo   albedo.R, albedo.G, albedo.B HALF, linear
//   kInstance instance.id                  UINT
//   kSemantic semantic.id                  UINT
//   kPart     part.id                      UINT
//   kUv       uv.U, uv.V                   FLOAT
//   kMotion   motion.X, motion.Y           FLOAT, pixels, forward (render.h)
// `extra` adds FLOAT channels after the layers (the camera stage's camera.R/G/B and raw.Y):
// each reads values[offset + stride * pixel] for the frame's width * height pixels.
// Throws std::runtime_error if OpenEXR fails.
struct ExtraChannel {
  std::string name;
  const float* values = nullptr;
  int stride = 1;  // floats between one pixel's value and the next's
};
std::string encode_exr(const Frame& frame, const std::vector<Layer>& layers,
                       const std::vector<ExtraChannel>& extra = {});

// The sRGB decoding function (IEC 61966-2-1), c in [0, 1] -> linear; portable bits (only
// + - * /), so decoded textures are the same on every machine.
double srgb_to_linear(double c);

// 8-bit sRGB PNG preview of frame.rgb: exposure, an extended-Reinhard shoulder (white
// point 4), then the exact sRGB transfer function rounded to the nearest code.
// Throws std::runtime_error if libpng fails.
std::string encode_png(const Frame& frame, double exposure = 1.0);
// An 8-bit RGB image (interleaved, row-major, 3 * width * height bytes) as PNG, the same
// settings as encode_png. Throws std::runtime_error if libpng fails.
std::string encode_png_rgb8(const std::vector<uint8_t>& rgb8, int width, int height);

// An equirectangular environment map from OpenEXR bytes (any compression, scanline or
// tiled, first part): the R, G, B channels (or Y alone, as grey), read as float. `name`
// (the file) is used in messages. Errors: not an EXR, a truncated file, no colour
// channels, a negative, NaN or infinite texel (named by its column and row). The result's
// intensity is 1 and its rotation 0.
tl::expected<Environment, std::string> decode_environment_exr(std::string_view bytes, std::string_view name);

// One FLOAT-readable channel of an OpenEXR image (scanline or tiled, first part): the first
// of `channels` the file has, read as float, row-major from the data window's top-left.
// The header is checked as for environment maps before OpenEXR reads it. Errors name the
// file: not an EXR, an unsafe header, a size outside 1..max_side, none of the channels, a
// value that is not finite (with its pixel; +inf is let through when `allow_positive_infinity`,
// as the depth layer writes it for the sky), a truncated file.
struct ExrChannel {
  std::string channel;  // which of `channels` was read
  int width = 0, height = 0;
  std::vector<float> values;
};
tl::expected<ExrChannel, std::string> decode_exr_channel(std::string_view bytes, std::string_view name,
                                                         const std::vector<std::string>& channels, int max_side,
                                                         bool allow_positive_infinity = false);

}  // namespace synthfarm::render
