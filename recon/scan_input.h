// Reading a user's 3D scan of a person for reconstruction (PeopleFitter::fit_scan): a point
// cloud or mesh as .ply or .obj, into points and triangles. It never reads files itself
// (callers pass the bytes and the file's name, which picks the format and names the file
// in errors) and knows nothing of fitting.
//
// Formats (docs/recon.md, "Inputs"):
//   .ply  ascii, binary_little_endian and binary_big_endian 1.0. The `vertex` element's
//         x, y, z (any scalar type; float and double in practice) are the points; its other
//         properties (normals, colours, ...) and any other element are skipped. An optional
//         `face` element with a list property `vertex_indices` (or `vertex_index`) gives
//         polygons. Vertices are numbered from 0, as the faces index them.
//   .obj  `v x y z [w | r g b]` lines are the points (numbered from 1, as OBJ does);
//         `f` lines in any of the forms v, v/vt, v//vn, v/vt/vn, with negative indices
//         counting back from the last vertex so far; every other statement is skipped.
//   Polygons are fan-triangulated: (0, k, k + 1) for k = 1 .. n - 2.
// Units and axes are the file's; the fitter brings the scan into its own frame.
// Errors name the file and the element: "scan.ply: vertex 12: y is NaN", "scan.obj:40:
// f: vertex index 210 is out of range (200 vertices so far)", "scan.ply: face 7: the data
// ends inside this element (truncated file?)". Also: no points, an unknown format.
// Thread-safe: pure functions.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "base/math.h"

namespace synthfarm::recon {

struct Scan {
  std::vector<Vec3> points;                        // at least one, all finite
  std::vector<std::array<uint32_t, 3>> triangles;  // indices into points; may be empty
};

// By the name's extension (.ply or .obj, any case).
tl::expected<Scan, std::string> read_scan(std::string_view bytes, std::string_view file_name);
tl::expected<Scan, std::string> read_ply(std::string_view bytes, std::string_view file_name);
tl::expected<Scan, std::string> read_obj(std::string_view bytes, std::string_view file_name);

}  // namespace synthfarm::recon
