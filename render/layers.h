// The image layers a render can produce: what a spec's output.layers names, which buffers
// the renderer fills (RenderSettings::layers is a set of layer_bit()s) and which channels
// the EXR encoder writes. Plain data, shared by the spec and the renderer.
#pragma once

#include <cstdint>

namespace synthfarm::render {

enum class Layer { kRgb, kDepth, kNormal, kAlbedo, kInstance, kSemantic, kPart, kUv, kMotion };

// Bit of `layer` in RenderSettings::layers.
constexpr uint32_t layer_bit(Layer layer) { return 1u << static_cast<uint32_t>(layer); }
inline constexpr uint32_t kAllLayers =
    layer_bit(Layer::kRgb) | layer_bit(Layer::kDepth) | layer_bit(Layer::kNormal) |
    layer_bit(Layer::kAlbedo) | layer_bit(Layer::kInstance) | layer_bit(Layer::kSemantic) |
    layer_bit(Layer::kPart) | layer_bit(Layer::kUv) | layer_bit(Layer::kMotion);

}  // namespace synthfarm::render
