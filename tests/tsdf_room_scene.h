// The room that depth fusion is measured on (tests/tsdf_room_test.cpp, bench/tsdf_fusion.cpp):
// a hand-made render::Scene, 4 x 3 x 2.5 m, closed (floor, four walls, ceiling) with three
// free-standing boxes, and cameras inside it; its depth maps rendered by render's
// renderer (label pass only: one exact ray per pixel, depth.Z = camera z).
// Hand-made rather than jobs::build_scene's room: that one has no ceiling, may drop a
// wall and draws its size from a seed, which would make the truth harder to state.
#pragma once

#include <string>
#include <tl/expected.hpp>
#include <vector>

#include "recon/tsdf.h"
#include "render/scene.h"

namespace synthfarm::testing {

render::Scene tsdf_room_scene();

// `count` cameras inside the room at 1.0 .. 1.9 m, each looking at a different point of
// the room (walls, corners, boxes), horizontal field of view 70 degrees.
std::vector<render::Camera> tsdf_room_cameras(int width, int height, int count);

// The depth maps of `scene` seen by `cameras`, as fusion input (name "view N").
tl::expected<std::vector<recon::DepthView>, std::string> render_depth_views(
    const render::Scene& scene, const std::vector<render::Camera>& cameras);

}  // namespace synthfarm::testing
