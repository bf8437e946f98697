// The passes Renderer::render (renderer.cpp) runs over a frame: per tile, the label layers
// (label_pass.cpp) and the colour (path_tracer.cpp); then the keypoints' visibility
// (label_pass.cpp). Tiles write disjoint pixels, so render threads run them side by side.
#pragma once

#include <cstdint>

#include "render/renderer.h"

namespace synthfarm::render::internal {

class SceneTracer;  // embree_scene.h
class FrameTracer;  // frame_tracer.h

struct TileRect {
  int x0, y0, x1, y1;
};

// The label layers of the pixels of `tile`, one ray through each pixel centre.
void label_tile(const SceneTracer& tracer, const TileRect& tile, Frame& frame);

// The rgb layer of the pixels of `tile`, RenderSettings::spp paths each. Returns the dropped
// samples (Frame::invalid_samples).
uint64_t shade_tile(const FrameTracer& tracer, const TileRect& tile, Frame& frame);

// Frame::keypoints: every keypoint set's points, projected, and their visibility.
void label_keypoints(const SceneTracer& tracer, Frame& frame);

}  // namespace synthfarm::render::internal
