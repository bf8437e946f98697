// Safe reading of glTF files parsed by tinygltf (private to gltf/, for the glTF
// importers gltf.cpp and scene_import.cpp only; it shows tinygltf types, so nothing outside
// those two files includes it).
//
// tinygltf checks few indices and byte ranges. Everything here checks them before use:
// container and JSON first (parse_model), then every accessor's bufferView, buffer, stride
// and count (Reader), the node tree (node_tree), node transforms and primitive indices. A
// hostile or broken file ends in an error message, never in an out-of-bounds read.
//
// Messages leave out the file name: the public loaders add it once, in front.
#pragma once

#include <fmt/format.h>
#include <tiny_gltf.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <utility>
#include <vector>

#include "gltf/gltf.h"

namespace synthfarm::gltf::internal {

namespace tg = tinygltf;

template <typename... Args>
tl::unexpected<std::string> fail(fmt::format_string<Args...> format, Args&&... args) {
  return tl::unexpected(fmt::format(format, std::forward<Args>(args)...));
}

// ---------------------------------------------------------------------------------------
// Parsing.

struct ParseOptions {
  // Entries of extensionsRequired the caller implements; any other one is an error.
  std::vector<std::string> supported_required_extensions;
  // Called by tinygltf for every image (tg::LoadImageDataFunction); nullptr keeps images
  // undecoded. For an image in a bufferView it receives bytes tinygltf did not range-check:
  // a loader must ignore them (image->bufferView >= 0) and read the view itself.
  tg::LoadImageDataFunction image_loader = nullptr;
  void* image_loader_data = nullptr;
};

// Parses a .glb (recognised by its "glTF" magic) or a .gltf (JSON; buffers must be embedded
// as data: URIs). Nothing is ever read from the file system: an image given as an external
// file stays undecoded (tinygltf warns). `file_name` only decides whether bytes without the
// magic are an error (a .glb) or JSON. tinygltf's own warnings are appended to `warnings`.
tl::expected<tg::Model, std::string> parse_model(std::string_view bytes, std::string_view file_name,
                                                 const ParseOptions& options,
                                                 std::vector<std::string>& warnings);

// ---------------------------------------------------------------------------------------
// Accessors.

// What kind of components a use of an accessor accepts.
enum class Components {
  kFloat,              // FLOAT only
  kFloatOrNormalized,  // FLOAT, or (unsigned) byte/short read as normalised [0, 1] / [-1, 1]
  kUnsigned,           // UNSIGNED_BYTE, UNSIGNED_SHORT, UNSIGNED_INT, read as integers
};

struct AccessorData {
  size_t count = 0;
  int components = 0;
  std::vector<double> values;  // count * components
  double at(size_t i, int c) const { return values[i * static_cast<size_t>(components) + c]; }
};

std::string type_name(int type);

// Reads accessors with every index and byte range checked first; every float must be
// finite. Thread-compatible (const reads of the model only).
class Reader {
 public:
  explicit Reader(const tg::Model& model) : model_(model) {}

  // `what` names the use ("mesh 'Table' primitive 0 POSITION"), `element` what one element
  // is in messages ("vertex"): "... POSITION (accessor 12) has a NaN at vertex 40".
  tl::expected<AccessorData, std::string> read(int index, const std::string& what,
                                               std::initializer_list<int> types, Components kind,
                                               std::string_view element = "element") const;

 private:
  const tg::Model& model_;
};

// The triangles (three indices each, into the primitive's vertices) of a primitive of `mode`
// TRIANGLES, TRIANGLE_STRIP or TRIANGLE_FAN: its indices accessor read and checked against
// `vertices`, or 0 .. vertices - 1 when it has none. `label` names the primitive.
tl::expected<std::vector<uint32_t>, std::string> primitive_triangles(const Reader& reader,
                                                                     const tg::Primitive& prim,
                                                                     int mode, size_t vertices,
                                                                     const std::string& label);

// ---------------------------------------------------------------------------------------
// Nodes.

// Every node's parent (-1 for roots) and depth (0 for roots), after checking that every
// child index exists, no node has two parents and there is no cycle.
struct NodeTree {
  std::vector<int> parent;
  std::vector<int> depth;
};
tl::expected<NodeTree, std::string> node_tree(const tg::Model& model);

// Node `index`'s name and rest local transform (gltf.h's GltfNode; parent left at -1), its
// numbers checked: finite, the right counts, a non-zero rotation (normalised here).
tl::expected<GltfNode, std::string> node_transform(const tg::Model& model, int index);

// "node 12" when the node has none, else its name.
std::string node_name(const tg::Model& model, int index);
// "node 'Hips'" or "node 12".
std::string node_label(const tg::Model& model, int index);
// "mesh 'Table'" or "mesh 3".
std::string mesh_name(const tg::Model& model, int index);

// ---------------------------------------------------------------------------------------
// Transforms (double precision, glTF's column-major Matrix4).

inline constexpr Matrix4 kIdentity4 = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1};
Matrix4 multiply(const Matrix4& a, const Matrix4& b);
// The affine part of m applied to a point.
std::array<double, 3> transform_point(const Matrix4& m, double x, double y, double z);
double determinant3(const Matrix4& m);
Matrix4 compose_trs(const std::array<double, 3>& t, const std::array<double, 4>& q,
                    const std::array<double, 3>& s);

// ---------------------------------------------------------------------------------------
// Small helpers.

bool finite_all(const std::vector<double>& v);
// Trailing newlines and spaces removed, inner newlines turned into ";" (one-line messages).
std::string trim(std::string s);
bool ends_with(std::string_view s, std::string_view suffix);

}  // namespace synthfarm::gltf::internal
