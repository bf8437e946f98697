// JPEG as a camera writes it: 8-bit RGB encoded with libjpeg-turbo at a quality (YCbCr,
// 4:2:0 chroma subsampling, the integer "slow" DCT, standard Huffman tables: the defaults a
// camera's encoder uses), and decoded back so the camera image carries the artefacts.
// Deterministic: the same pixels and quality always give the same bytes. libjpeg stays
// inside jpeg.cpp; its errors come back as messages, never as exit() or a longjmp out.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

namespace synthfarm::sensor {

struct Rgb8Image {
  int width = 0, height = 0;
  std::vector<uint8_t> pixels;  // RGB interleaved, row-major
};

// `rgb`: width * height * 3 bytes. quality 1..100.
tl::expected<std::string, std::string> encode_jpeg(std::span<const uint8_t> rgb, int width,
                                                   int height, int quality);
// Any baseline or progressive JPEG, converted to RGB.
tl::expected<Rgb8Image, std::string> decode_jpeg(std::string_view bytes);

}  // namespace synthfarm::sensor
