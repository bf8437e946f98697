// Safe reading of glTF files parsed by tinygltf; see gltf_reader.h.
#include "gltf/internal/reader.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

namespace synthfarm::gltf::internal {

// ---------------------------------------------------------------------------------------
// Transforms.

Matrix4 multiply(const Matrix4& a, const Matrix4& b) {
  Matrix4 c{};
  for (int col = 0; col < 4; ++col) {
    for (int row = 0; row < 4; ++row) {
      double s = 0;
      for (int k = 0; k < 4; ++k) s += a[4 * k + row] * b[4 * col + k];
      c[4 * col + row] = s;
    }
  }
  return c;
}

std::array<double, 3> transform_point(const Matrix4& m, double x, double y, double z) {
  return {m[0] * x + m[4] * y + m[8] * z + m[12], m[1] * x + m[5] * y + m[9] * z + m[13],
          m[2] * x + m[6] * y + m[10] * z + m[14]};
}

double determinant3(const Matrix4& m) {
  return m[0] * (m[5] * m[10] - m[9] * m[6]) - m[4] * (m[1] * m[10] - m[9] * m[2]) +
         m[8] * (m[1] * m[6] - m[5] * m[2]);
}

Matrix4 compose_trs(const std::array<double, 3>& t, const std::array<double, 4>& q,
                    const std::array<double, 3>& s) {
  const double x = q[0], y = q[1], z = q[2], w = q[3];
  const double r[3][3] = {{1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)},
                          {2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)},
                          {2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)}};
  Matrix4 m = kIdentity4;
  for (int col = 0; col < 3; ++col) {
    for (int row = 0; row < 3; ++row) m[4 * col + row] = r[row][col] * s[col];
  }
  m[12] = t[0];
  m[13] = t[1];
  m[14] = t[2];
  return m;
}

// ---------------------------------------------------------------------------------------
// Accessors.

std::string type_name(int type) {
  switch (type) {
    case TINYGLTF_TYPE_SCALAR:
      return "SCALAR";
    case TINYGLTF_TYPE_VEC2:
      return "VEC2";
    case TINYGLTF_TYPE_VEC3:
      return "VEC3";
    case TINYGLTF_TYPE_VEC4:
      return "VEC4";
    case TINYGLTF_TYPE_MAT2:
      return "MAT2";
    case TINYGLTF_TYPE_MAT3:
      return "MAT3";
    case TINYGLTF_TYPE_MAT4:
      return "MAT4";
    default:
      return fmt::format("type {}", type);
  }
}

tl::expected<AccessorData, std::string> Reader::read(int index, const std::string& what,
                                                     std::initializer_list<int> types,
                                                     Components kind,
                                                     std::string_view element) const {
  const auto& accessors = model_.accessors;
  if (index < 0 || static_cast<size_t>(index) >= accessors.size()) {
    return fail("{}: accessor {} does not exist (the file has {})", what, index, accessors.size());
  }
  const tg::Accessor& a = accessors[static_cast<size_t>(index)];
  const std::string where = fmt::format("{} (accessor {})", what, index);
  if (a.sparse.isSparse) return fail("{}: sparse accessors are not supported", where);
  if (std::find(types.begin(), types.end(), a.type) == types.end()) {
    std::string expected;
    for (int t : types) expected += (expected.empty() ? "" : " or ") + type_name(t);
    return fail("{}: expected {}, got {}", where, expected, type_name(a.type));
  }
  const int components = tg::GetNumComponentsInType(static_cast<uint32_t>(a.type));
  const int size = tg::GetComponentSizeInBytes(static_cast<uint32_t>(a.componentType));
  const int ct = a.componentType;
  bool ok = false;
  switch (kind) {
    case Components::kFloat:
      ok = ct == TINYGLTF_COMPONENT_TYPE_FLOAT;
      break;
    case Components::kFloatOrNormalized:
      ok = ct == TINYGLTF_COMPONENT_TYPE_FLOAT || ct == TINYGLTF_COMPONENT_TYPE_BYTE ||
           ct == TINYGLTF_COMPONENT_TYPE_UNSIGNED_BYTE || ct == TINYGLTF_COMPONENT_TYPE_SHORT ||
           ct == TINYGLTF_COMPONENT_TYPE_UNSIGNED_SHORT;
      break;
    case Components::kUnsigned:
      ok = ct == TINYGLTF_COMPONENT_TYPE_UNSIGNED_BYTE ||
           ct == TINYGLTF_COMPONENT_TYPE_UNSIGNED_SHORT ||
           ct == TINYGLTF_COMPONENT_TYPE_UNSIGNED_INT;
      break;
  }
  if (!ok || components <= 0 || size <= 0) {
    return fail("{}: component type {} is not allowed here", where, ct);
  }
  if (a.count == 0) return fail("{}: has no elements", where);
  if (a.bufferView < 0 || static_cast<size_t>(a.bufferView) >= model_.bufferViews.size()) {
    return fail("{}: bufferView {} does not exist (the file has {})", where, a.bufferView,
                model_.bufferViews.size());
  }
  const tg::BufferView& view = model_.bufferViews[static_cast<size_t>(a.bufferView)];
  if (view.buffer < 0 || static_cast<size_t>(view.buffer) >= model_.buffers.size()) {
    return fail("{}: bufferView {} names buffer {}, which does not exist", where, a.bufferView,
                view.buffer);
  }
  const std::vector<unsigned char>& data = model_.buffers[static_cast<size_t>(view.buffer)].data;
  if (view.byteOffset > data.size() || view.byteLength > data.size() - view.byteOffset) {
    return fail("{}: bufferView {} (bytes {}..{}) runs past the end of buffer {} ({} bytes)", where,
                a.bufferView, view.byteOffset, view.byteOffset + view.byteLength, view.buffer,
                data.size());
  }
  const size_t element_bytes = static_cast<size_t>(size) * static_cast<size_t>(components);
  size_t stride = element_bytes;
  if (view.byteStride != 0) {
    if (view.byteStride < element_bytes || view.byteStride % static_cast<size_t>(size) != 0 ||
        view.byteStride > 252) {
      return fail("{}: byteStride {} does not fit elements of {} bytes", where, view.byteStride,
                  element_bytes);
    }
    stride = view.byteStride;
  }
  // count <= byteLength bounds every product below well inside 64 bits.
  if (a.count > view.byteLength || a.byteOffset > view.byteLength ||
      (a.count - 1) * stride + element_bytes > view.byteLength - a.byteOffset) {
    return fail("{}: {} elements from byte {} do not fit in bufferView {} ({} bytes)", where,
                a.count, a.byteOffset, a.bufferView, view.byteLength);
  }
  const unsigned char* base = data.data() + view.byteOffset + a.byteOffset;
  AccessorData out;
  out.count = a.count;
  out.components = components;
  out.values.resize(a.count * static_cast<size_t>(components));
  for (size_t i = 0; i < a.count; ++i) {
    for (int c = 0; c < components; ++c) {
      const unsigned char* p = base + i * stride + static_cast<size_t>(c * size);
      double v = 0;
      switch (ct) {
        case TINYGLTF_COMPONENT_TYPE_FLOAT: {
          float f;
          std::memcpy(&f, p, 4);
          if (!std::isfinite(f)) {
            return fail("{} has {} at {} {}", where, std::isnan(f) ? "a NaN" : "an infinity",
                        element, i);
          }
          v = f;
          break;
        }
        case TINYGLTF_COMPONENT_TYPE_UNSIGNED_BYTE:
          v = *p;
          break;
        case TINYGLTF_COMPONENT_TYPE_BYTE:
          v = static_cast<int8_t>(*p);
          break;
        case TINYGLTF_COMPONENT_TYPE_UNSIGNED_SHORT: {
          uint16_t s;
          std::memcpy(&s, p, 2);
          v = s;
          break;
        }
        case TINYGLTF_COMPONENT_TYPE_SHORT: {
          int16_t s;
          std::memcpy(&s, p, 2);
          v = s;
          break;
        }
        case TINYGLTF_COMPONENT_TYPE_UNSIGNED_INT: {
          uint32_t u;
          std::memcpy(&u, p, 4);
          v = u;
          break;
        }
        default:
          break;
      }
      if (kind == Components::kFloatOrNormalized) {
        // The glTF rule for normalised integers; exporters that forget the flag still mean it.
        if (ct == TINYGLTF_COMPONENT_TYPE_UNSIGNED_BYTE) v /= 255.0;
        if (ct == TINYGLTF_COMPONENT_TYPE_UNSIGNED_SHORT) v /= 65535.0;
        if (ct == TINYGLTF_COMPONENT_TYPE_BYTE) v = std::max(v / 127.0, -1.0);
        if (ct == TINYGLTF_COMPONENT_TYPE_SHORT) v = std::max(v / 32767.0, -1.0);
      }
      out.values[i * static_cast<size_t>(components) + static_cast<size_t>(c)] = v;
    }
  }
  return out;
}

tl::expected<std::vector<uint32_t>, std::string> primitive_triangles(const Reader& reader,
                                                                     const tg::Primitive& prim,
                                                                     int mode, size_t vertices,
                                                                     const std::string& label) {
  std::vector<uint32_t> local_indices;
  if (prim.indices >= 0) {
    auto idx = reader.read(prim.indices, label + " indices", {TINYGLTF_TYPE_SCALAR},
                           Components::kUnsigned);
    if (!idx) return tl::unexpected(idx.error());
    local_indices.reserve(idx->count);
    for (size_t i = 0; i < idx->count; ++i) {
      double v = idx->values[i];
      if (v >= static_cast<double>(vertices)) {
        return fail("{}: index {} at position {} is beyond its {} vertices", label, v, i, vertices);
      }
      local_indices.push_back(static_cast<uint32_t>(v));
    }
  } else {
    for (size_t i = 0; i < vertices; ++i) local_indices.push_back(static_cast<uint32_t>(i));
  }
  if (mode == TINYGLTF_MODE_TRIANGLES) {
    if (local_indices.size() % 3 != 0) {
      return fail("{}: {} indices do not make whole triangles", label, local_indices.size());
    }
    return local_indices;
  }
  std::vector<uint32_t> triangles;
  for (size_t i = 2; i < local_indices.size(); ++i) {
    if (mode == TINYGLTF_MODE_TRIANGLE_FAN) {
      triangles.insert(triangles.end(), {local_indices[0], local_indices[i - 1], local_indices[i]});
    } else if (i % 2 == 0) {
      triangles.insert(triangles.end(),
                       {local_indices[i - 2], local_indices[i - 1], local_indices[i]});
    } else {
      triangles.insert(triangles.end(),
                       {local_indices[i - 1], local_indices[i - 2], local_indices[i]});
    }
  }
  return triangles;
}

// ---------------------------------------------------------------------------------------
// Nodes.

std::string node_name(const tg::Model& model, int index) {
  const std::string& name = model.nodes[static_cast<size_t>(index)].name;
  return name.empty() ? fmt::format("node {}", index) : name;
}

std::string node_label(const tg::Model& model, int index) {
  const std::string& name = model.nodes[static_cast<size_t>(index)].name;
  return name.empty() ? fmt::format("node {}", index) : fmt::format("node '{}'", name);
}

std::string mesh_name(const tg::Model& model, int index) {
  const std::string& name = model.meshes[static_cast<size_t>(index)].name;
  return name.empty() ? fmt::format("mesh {}", index) : fmt::format("mesh '{}'", name);
}

tl::expected<NodeTree, std::string> node_tree(const tg::Model& model) {
  const size_t node_count = model.nodes.size();
  NodeTree tree;
  tree.parent.assign(node_count, -1);
  for (size_t n = 0; n < node_count; ++n) {
    for (int child : model.nodes[n].children) {
      if (child < 0 || static_cast<size_t>(child) >= node_count) {
        return fail("{}: child {} does not exist (the file has {} nodes)",
                    node_label(model, static_cast<int>(n)), child, node_count);
      }
      if (tree.parent[static_cast<size_t>(child)] != -1 || static_cast<size_t>(child) == n) {
        return fail("{} has more than one parent", node_label(model, child));
      }
      tree.parent[static_cast<size_t>(child)] = static_cast<int>(n);
    }
  }
  tree.depth.assign(node_count, 0);
  for (size_t n = 0; n < node_count; ++n) {
    int d = 0;
    for (int p = tree.parent[n]; p >= 0; p = tree.parent[static_cast<size_t>(p)]) {
      if (++d > static_cast<int>(node_count)) {
        return fail("{} is its own ancestor (the node tree has a cycle)",
                    node_label(model, static_cast<int>(n)));
      }
    }
    tree.depth[n] = d;
  }
  return tree;
}

bool finite_all(const std::vector<double>& v) {
  return std::all_of(v.begin(), v.end(), [](double x) { return std::isfinite(x); });
}

tl::expected<GltfNode, std::string> node_transform(const tg::Model& model, int n) {
  const tg::Node& node = model.nodes[static_cast<size_t>(n)];
  GltfNode out;
  out.name = node_name(model, n);
  const std::string label = node_label(model, n);
  if (!finite_all(node.translation) || !finite_all(node.rotation) || !finite_all(node.scale) ||
      !finite_all(node.matrix)) {
    return fail("{}: its transform is not finite", label);
  }
  if (!node.matrix.empty()) {
    if (node.matrix.size() != 16)
      return fail("{}: matrix has {} numbers, not 16", label, node.matrix.size());
    std::copy(node.matrix.begin(), node.matrix.end(), out.local.begin());
    out.has_matrix = true;
    return out;
  }
  if (!node.translation.empty()) {
    if (node.translation.size() != 3) return fail("{}: translation needs 3 numbers", label);
    std::copy(node.translation.begin(), node.translation.end(), out.translation.begin());
  }
  if (!node.rotation.empty()) {
    if (node.rotation.size() != 4) return fail("{}: rotation needs 4 numbers", label);
    double len =
        std::sqrt(node.rotation[0] * node.rotation[0] + node.rotation[1] * node.rotation[1] +
                  node.rotation[2] * node.rotation[2] + node.rotation[3] * node.rotation[3]);
    if (!(len > 1e-9)) return fail("{}: rotation is not a unit quaternion", label);
    for (size_t k = 0; k < 4; ++k) out.rotation[k] = node.rotation[k] / len;
  }
  if (!node.scale.empty()) {
    if (node.scale.size() != 3) return fail("{}: scale needs 3 numbers", label);
    std::copy(node.scale.begin(), node.scale.end(), out.scale.begin());
  }
  out.local = compose_trs(out.translation, out.rotation, out.scale);
  return out;
}

// ---------------------------------------------------------------------------------------
// Parsing.

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  for (char& c : s) {
    if (c == '\n') c = ';';
  }
  return s;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

namespace {

uint32_t read_u32(std::string_view bytes, size_t offset) {
  uint32_t v;
  std::memcpy(&v, bytes.data() + offset, 4);
  return v;  // little-endian, as on every machine synthfarm runs on
}

// The JSON text of a .glb or .gltf after checking the container; error text without the
// file name.
tl::expected<std::string_view, std::string> json_text(std::string_view bytes, bool binary,
                                                      bool& glb_length_ok, size_t& glb_length) {
  if (!binary) return bytes;
  if (bytes.size() < 12) {
    return fail("truncated .glb header ({} bytes; a .glb starts with a 12-byte header)",
                bytes.size());
  }
  const uint32_t version = read_u32(bytes, 4), length = read_u32(bytes, 8);
  if (version != 2) return fail(".glb version {} is not supported (only glTF 2)", version);
  if (length > bytes.size()) {
    return fail("truncated .glb: the header says {} bytes but there are {}", length, bytes.size());
  }
  if (length < 20) return fail("truncated .glb: no JSON chunk");
  const uint32_t chunk_length = read_u32(bytes, 12), chunk_type = read_u32(bytes, 16);
  if (chunk_type != 0x4E4F534A) return fail(".glb: the first chunk is not JSON");
  if (chunk_length > length - 20) {
    return fail("truncated .glb: the JSON chunk ({} bytes) runs past the end ({} bytes)",
                chunk_length, length);
  }
  glb_length_ok = true;
  glb_length = length;
  return bytes.substr(20, chunk_length);
}

// What tinygltf would load without complaint but synthfarm cannot use, found in the JSON.
std::string unsupported_in_json(const nlohmann::json& doc, const ParseOptions& options) {
  if (!doc.is_object()) return "the JSON is not an object";
  if (auto it = doc.find("buffers"); it != doc.end() && it->is_array()) {
    for (size_t i = 0; i < it->size(); ++i) {
      const auto& buffer = (*it)[i];
      if (!buffer.is_object() || !buffer.contains("uri") || !buffer["uri"].is_string()) continue;
      std::string uri = buffer["uri"].get<std::string>();
      if (uri.rfind("data:", 0) != 0) {
        return fmt::format(
            "buffer {} is the external file '{}': only .glb files and .gltf files with "
            "embedded (data:) buffers can be loaded",
            i, uri);
      }
    }
  }
  if (auto it = doc.find("extensionsRequired"); it != doc.end() && it->is_array()) {
    for (const auto& e : *it) {
      if (!e.is_string()) continue;
      const std::string name = e.get<std::string>();
      const auto& supported = options.supported_required_extensions;
      if (std::find(supported.begin(), supported.end(), name) == supported.end()) {
        return fmt::format("requires the extension {}, which is not supported", name);
      }
    }
  }
  return {};
}

// File access is refused: every byte must come with the file itself.
bool no_file_exists(const std::string&, void*) { return false; }
std::string same_path(const std::string& path, void*) { return path; }
bool no_read(std::vector<unsigned char>*, std::string* err, const std::string& path, void*) {
  if (err) *err = "external file '" + path + "' not loaded";
  return false;
}
bool no_write(std::string* err, const std::string&, const std::vector<unsigned char>&, void*) {
  if (err) *err = "writing is not supported";
  return false;
}
// Keeps images undecoded.
bool skip_image(tg::Image*, const int, std::string*, std::string*, int, int, const unsigned char*,
                int, void*) {
  return true;
}

}  // namespace

tl::expected<tg::Model, std::string> parse_model(std::string_view bytes, std::string_view file_name,
                                                 const ParseOptions& options,
                                                 std::vector<std::string>& warnings) {
  if (bytes.empty()) return fail("empty file");
  const bool binary = bytes.size() >= 4 && bytes.substr(0, 4) == "glTF";
  if (!binary && ends_with(file_name, ".glb")) {
    return fail("not a binary glTF file (it does not start with 'glTF')");
  }
  bool glb_ok = false;
  size_t glb_length = 0;
  auto text = json_text(bytes, binary, glb_ok, glb_length);
  if (!text) return tl::unexpected(text.error());
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text->begin(), text->end());
  } catch (const nlohmann::json::exception& e) {
    return fail("invalid JSON: {}", e.what());
  }
  if (std::string problem = unsupported_in_json(doc, options); !problem.empty()) {
    return tl::unexpected(problem);
  }

  tg::TinyGLTF loader;
  loader.SetFsCallbacks({&no_file_exists, &same_path, &no_read, &no_write, nullptr});
  if (options.image_loader != nullptr) {
    loader.SetImageLoader(options.image_loader, options.image_loader_data);
  } else {
    loader.SetImageLoader(&skip_image, nullptr);
  }
  tg::Model model;
  std::string err, warn;
  bool ok = false;
  if (binary) {
    ok = loader.LoadBinaryFromMemory(&model, &err, &warn,
                                     reinterpret_cast<const unsigned char*>(bytes.data()),
                                     static_cast<unsigned int>(glb_length), "");
  } else {
    if (bytes.size() > std::numeric_limits<unsigned int>::max()) return fail("file too large");
    ok = loader.LoadASCIIFromString(&model, &err, &warn, bytes.data(),
                                    static_cast<unsigned int>(bytes.size()), "");
  }
  if (!ok) return fail("not a valid glTF file: {}", err.empty() ? trim(warn) : trim(err));
  if (!warn.empty()) warnings.push_back(trim(warn));
  return model;
}

}  // namespace synthfarm::gltf::internal
