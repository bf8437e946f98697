// One label layer of a sample's EXR drawn as an 8-bit RGBA image, for the dashboard's
// sample viewer (GET /api/jobs/{id}/samples/{n}/layers/{layer}.png): depth as false colour,
// normals as RGB, ids (instance, semantic class, DensePose part) as palettes. The browser
// needs no EXR decoder; this is the coordinator's only image code. It reads EXRs with
// OpenEXRCore (the C library OpenEXR hardens against untrusted files) and writes PNGs with
// libpng; neither type leaves layer_image.cpp. It must not link the renderer (render/ holds
// the encoders the worker uses): tests/link_check.sh checks the coordinator binary.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

namespace synthfarm::coordinator {

// The layers the viewer can draw, and how:
//   depth     depth.Z: turbo colour map over the sample's own nearest..farthest finite depth,
//             nearest dark red, farthest dark blue; background (+inf, nothing hit) transparent
//   normal    normal.X/Y/Z (camera space) as RGB = n * 0.5 + 0.5; background transparent
//   albedo    albedo.R/G/B, linear, as sRGB; opaque
//   instance  instance.id: instance_colour(id); 0 (background) transparent
//   semantic  semantic.id: semantic_colour(class); 0 (background) transparent
//   part      part.id: part_colour(part), 24 DensePose parts; 0 (no part) transparent
//   uv        uv.U/V as red and green; where both are 0 (no part) transparent
enum class ViewLayer { kDepth, kNormal, kAlbedo, kInstance, kSemantic, kPart, kUv };
inline constexpr std::array<ViewLayer, 7> kViewLayers = {ViewLayer::kDepth,    ViewLayer::kNormal,
                                                         ViewLayer::kAlbedo,   ViewLayer::kInstance,
                                                         ViewLayer::kSemantic, ViewLayer::kPart,
                                                         ViewLayer::kUv};

std::string_view view_layer_name(ViewLayer layer);  // "depth", "normal", ...
std::optional<ViewLayer> view_layer_named(std::string_view name);
// "depth, normal, albedo, instance, semantic, part, uv": for messages.
std::string view_layer_list();

struct Rgba8Image {
  int width = 0, height = 0;
  std::vector<uint8_t> rgba;  // 4 bytes a pixel, row-major from the top-left
};

// Why a layer could not be drawn: the EXR lacks its channels (`available` then lists the
// view layers it has), or the bytes are not a readable EXR (the message says why).
struct LayerError {
  enum class Code { kNoSuchLayer, kUnreadable } code;
  std::string message;
  std::vector<ViewLayer> available;
};

// Draws `layer` of the EXR `exr` (single part, scanline; at most kMaxLayerSide pixels a
// side). `name` (the object's key) is used in messages.
inline constexpr int kMaxLayerSide = 16384;
tl::expected<Rgba8Image, LayerError> draw_layer(std::string_view exr, ViewLayer layer, std::string_view name);

// The image as PNG (8-bit RGBA). Throws std::runtime_error if libpng fails.
std::string encode_png_rgba8(const Rgba8Image& image);

// The palettes and the colour map, deterministic (the same id always the same colour), for
// the tests and for anyone matching colours to ids.
// Instance `id` >= 1: hues spread by the golden ratio, so nearby ids differ.
std::array<uint8_t, 3> instance_colour(uint32_t id);
// Semantic class >= 1: person, floor, wall, prop fixed; other ids as instance_colour.
std::array<uint8_t, 3> semantic_colour(uint32_t semantic_id);
// DensePose part 1..24: 24 hues, neighbouring part numbers far apart on the wheel.
std::array<uint8_t, 3> part_colour(uint32_t part);
// Turbo (a rainbow map with even perceived steps), t in [0, 1] from dark blue to dark red.
std::array<uint8_t, 3> turbo_colour(double t);

}  // namespace synthfarm::coordinator
