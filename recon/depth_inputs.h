// Readers of depth captures for fusion (tsdf.h): what a user brings, turned into
// DepthViews. Two formats:
//
// (a) The farm's own samples: `samples/{index:08d}.exr` (its `depth.Z` layer, the camera z
//     of the first hit in metres, +inf for the sky; optionally its linear R, G, B) with the
//     sample's JSON (`width`, `height`, `K` 3x3, `world_to_camera` 4x4 row-major, OpenCV
//     camera, world +z up, metres). A sample with lens distortion is refused: its layers
//     are not pinhole images.
//
// (b) Depth PNGs with a poses file (JSON):
//       {"frames": [{"depth": "d/000.png", "rgb": "c/000.png",
//                    "K": [[fx, 0, cx], [0, fy, cy], [0, 0, 1]], "width": W, "height": H,
//                    "world_to_camera": [[r00, r01, r02, tx], [..], [..], [0, 0, 0, 1]]}]}
//     Depth PNGs are 16-bit grey, camera z in millimetres, 0 = no measurement; "rgb" is
//     optional (8- or 16-bit sRGB PNG, grey or colour, the depth map's size); paths are
//     relative to the poses file. Unknown keys are errors.
//
// Errors name the file and the element: "poses.json: frames[3].width: 640 x 480, but
// d/003.png is 320 x 240". Readers never return a NaN camera; NaN or negative depth
// values pass through as what they are (no measurement), and fusion skips them.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

#include "recon/tsdf.h"

namespace synthfarm::recon {

// (a) from bytes; `exr_name` and `json_name` are used in messages and as the view's name.
tl::expected<DepthView, std::string> decode_farm_sample(std::string_view exr_bytes,
                                                        std::string_view exr_name,
                                                        std::string_view json_bytes,
                                                        std::string_view json_name,
                                                        bool with_colour);
// (a) from files.
tl::expected<DepthView, std::string> load_farm_sample(const std::filesystem::path& exr,
                                                      const std::filesystem::path& json,
                                                      bool with_colour);

// Reads a file of a capture by its path relative to the capture's own file.
using CaptureReader = std::function<tl::expected<std::string, std::string>(const std::string& relative)>;

// One capture file, what a fuse_depth job's input is: (b) a poses file, whose frames may
// also be farm samples (`{"sample": "samples/00000003"}`: that sample's EXR and JSON, (a));
// or a farm dataset's `manifest.json`: every EXR sample it lists, in key order. The views
// in order. Relative paths only, never "..": a capture reads only beside itself.
tl::expected<std::vector<DepthView>, std::string> parse_depth_capture(std::string_view bytes, std::string_view name,
                                                                      const CaptureReader& read, bool with_colour);
// The same from a file (relative paths resolved against its folder).
tl::expected<std::vector<DepthView>, std::string> load_depth_captures(const std::filesystem::path& poses_file,
                                                                      bool with_colour = true);

// A 16-bit grey PNG of camera z in millimetres (0 = none) as metres (0 where none).
struct DepthImage {
  int width = 0, height = 0;
  std::vector<float> depth_m;
};
tl::expected<DepthImage, std::string> decode_depth_png_mm(std::string_view bytes,
                                                          std::string_view name);
// The inverse, for tests, benches and tools: depth in metres rounded to millimetres,
// clamped to 1 .. 65535; values that are not finite or <= 0 become 0.
std::string encode_depth_png_mm(const std::vector<float>& depth_m, int width, int height);

// An 8- or 16-bit PNG (grey, grey + alpha, RGB, RGBA or palette) as linear RGB floats,
// 3 per pixel, decoded with the sRGB transfer function; alpha is ignored.
struct ColourImage {
  int width = 0, height = 0;
  std::vector<float> rgb;
};
tl::expected<ColourImage, std::string> decode_colour_png(std::string_view bytes,
                                                         std::string_view name);

}  // namespace synthfarm::recon
