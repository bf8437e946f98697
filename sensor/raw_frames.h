// Single-channel raw frames as files, for sensor calibration: 16-bit binary PGM (P5) and
// OpenEXR with a `raw.Y` or `Y` channel (the raw layer the sample pipeline writes), read
// from bytes in memory into floats in raw units (white level = 1), and PGM written. The
// frames are an operator's own files, read by a command-line tool: sizes are bounded and
// every problem is a message naming the file. EXRs are read by render/image_io.h's
// decode_exr_channel, which checks their header as it does untrusted environment maps.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

namespace synthfarm::sensor {

struct MonoImage {
  int width = 0, height = 0;
  std::vector<float> data;  // width * height, row-major
};

inline constexpr int kMaxFrameSide = 32768;

// P5, maxval 1..65535 (one byte per sample below 256, else two, most significant first),
// comments allowed in the header; values / maxval. `name` (the file) leads every message.
tl::expected<MonoImage, std::string> decode_pgm(std::string_view bytes, std::string_view name);
// A P5 file with maxval `maxval` (255 or more; two bytes per sample above 255): each value
// clamped to [0, 1], times maxval, rounded.
std::string encode_pgm(std::span<const float> values, int width, int height, int maxval = 65535);
// The first of the channels `raw.Y` and `Y`, as float.
tl::expected<MonoImage, std::string> decode_raw_exr(std::string_view bytes, std::string_view name);
// Either, told apart by their magic numbers.
tl::expected<MonoImage, std::string> decode_raw_frame(std::string_view bytes,
                                                      std::string_view name);

}  // namespace synthfarm::sensor
