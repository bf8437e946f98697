// The outline of a binary mask as polygons, for label formats that describe a region by
// its boundary (Ultralytics YOLO segmentation). Internal to cli/.
//
// Outlines follow the pixels' edges, so a vertex is a pixel corner (x, y) with x in
// 0..width and y in 0..height (pixel (x, y) covers [x, x + 1) x [y, y + 1)): a polygon
// encloses exactly the mask's pixels, not a shape through their centres that loses half a
// pixel on every side (what OpenCV's findContours returns, and why the project does not
// take on OpenCV for this). Foreground is 4-connected: two pixels that touch only at a
// corner belong to different outlines. Straight runs keep only their end vertices.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

namespace synthfarm::cli {

using Polygon = std::vector<std::array<int, 2>>;  // pixel-corner coordinates (x, y)

// The outer boundary of every 4-connected region of `mask` (row-major, width * height, 0 =
// background), each clockwise on the image (y down), starting at its top-left corner, in
// the order of those corners (top to bottom, left to right). Holes are left out.
std::vector<Polygon> outer_outlines(std::span<const uint8_t> mask, int width, int height);

// One polygon from several, as a format with one polygon per instance needs: each next
// outline is joined to the polygon so far at their closest pair of vertices, by a
// zero-width bridge walked out and back (the way Ultralytics' own COCO converter joins a
// person split in two). Empty for no outlines.
Polygon join_outlines(const std::vector<Polygon>& outlines);

}  // namespace synthfarm::cli
