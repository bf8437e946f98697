// Static glTF scenes as renderable Scenes; see gltf_scene.h for what is read and how units
// are converted. Every index and byte range goes through gltf_reader.h's checks first.
#include "gltf/scene_import.h"

#include <fmt/format.h>
#include <tiny_gltf.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cmath>
#include <cstring>
#include <map>
#include <optional>
#include <utility>

#include "gltf/internal/reader.h"
#include "render/image_io.h"

namespace synthfarm::gltf {

using render::Camera;
using render::Light;
using render::Material;
using render::Mesh;
using render::MeshShape;
using render::Scene;
using render::SemanticClass;
using render::Sky;
using render::Sun;
using render::Texture;
using render::srgb_to_linear;
namespace {

namespace tg = tinygltf;
using internal::AccessorData;
using internal::Components;
using internal::fail;
using internal::finite_all;
using internal::mesh_name;
using internal::node_label;
using internal::node_name;
using internal::Reader;

// Blender's PBR_WATTS_TO_LUMENS: its glTF exporter writes W * 683 as lumens and its importer
// divides by it again. Using the same constant keeps synthfarm's radiometric lights equal
// to what Cycles renders from the same file.
constexpr double kLumensPerWatt = 683.0;

// Largest texture accepted (texels); a bigger image falls back to its factor.
constexpr size_t kMaxTexels = size_t{1} << 26;

// Required extensions this importer implements (gltf_scene.h).
const std::vector<std::string>& supported_required_extensions() {
  static const std::vector<std::string> supported = {"KHR_lights_punctual",
                                                     "KHR_materials_emissive_strength",
                                                     "KHR_materials_specular", "KHR_materials_ior"};
  return supported;
}

// glTF (X, Y, Z) -> synthfarm (X, -Z, Y): a proper rotation, so cross products carry over.
Vec3 to_world(double x, double y, double z) { return {x, -z, y}; }
Vec3 to_world(const std::array<double, 3>& p) { return to_world(p[0], p[1], p[2]); }

// The linear part of m applied to a direction.
std::array<double, 3> transform_vector(const Matrix4& m, double x, double y, double z) {
  return {m[0] * x + m[4] * y + m[8] * z, m[1] * x + m[5] * y + m[9] * z,
          m[2] * x + m[6] * y + m[10] * z};
}

// The cofactor matrix of m's 3x3 part, column-major: det(m) times the inverse transpose,
// which carries normals (after normalising, with the determinant's sign) and needs no
// division, so a singular transform gives zero normals instead of infinities.
std::array<double, 9> cofactor3(const Matrix4& m) {
  const double a = m[0], b = m[4], c = m[8], d = m[1], e = m[5], f = m[9], g = m[2], h = m[6],
               i = m[10];
  // Rows of the cofactor matrix C (C = det * inverse transpose).
  const double r0[3] = {e * i - f * h, f * g - d * i, d * h - e * g};
  const double r1[3] = {c * h - b * i, a * i - c * g, b * g - a * h};
  const double r2[3] = {b * f - c * e, c * d - a * f, a * e - b * d};
  return {r0[0], r1[0], r2[0], r0[1], r1[1], r2[1], r0[2], r1[2], r2[2]};
}

double luminance(double r, double g, double b) { return 0.2126 * r + 0.7152 * g + 0.0722 * b; }

double tan_half(double angle) { return portable_sin(0.5 * angle) / portable_cos(0.5 * angle); }

double degrees(double radians) { return radians * (180.0 / kPi); }

// Images that tinygltf handed over as bytes (data: URIs) are decoded while it parses; those
// in bufferViews later, once their byte range is checked. Failures are kept per image.
struct ImageDecoding {
  std::map<int, std::string> failures;
};

bool decode_embedded_image(tg::Image* image, const int index, std::string*, std::string* warn, int,
                           int, const unsigned char* bytes, int size, void* user_data) {
  if (image->bufferView >= 0) return true;  // bytes not range-checked: decoded later
  auto* decoding = static_cast<ImageDecoding*>(user_data);
  std::string error;
  if (size <= 0 || !tg::LoadImageData(image, index, &error, warn, 0, 0, bytes, size, nullptr)) {
    decoding->failures[index] = error.empty() ? "no image data" : internal::trim(error);
    image->image.clear();
  }
  return true;  // a texture that cannot be decoded falls back; the file still loads
}

// Warnings, each kind reported once with its first place and a count of the others.
class Warnings {
 public:
  void add(const std::string& kind, std::string message) {
    auto [it, inserted] = index_.try_emplace(kind, messages_.size());
    if (inserted) {
      messages_.push_back(std::move(message));
      counts_.push_back(0);
    } else {
      ++counts_[it->second];
    }
  }
  std::vector<std::string> finish() const {
    std::vector<std::string> out;
    for (size_t i = 0; i < messages_.size(); ++i) {
      out.push_back(counts_[i] == 0
                        ? messages_[i]
                        : fmt::format("{} (and {} more like it)", messages_[i], counts_[i]));
    }
    return out;
  }

 private:
  std::map<std::string, size_t> index_;
  std::vector<std::string> messages_;
  std::vector<int> counts_;
};

// One use of a texture in a material.
struct TextureUse {
  int index = -1;     // glTF texture index
  int tex_coord = 0;  // TEXCOORD_n it reads
  const tg::ExtensionMap* extensions = nullptr;
};

class Importer {
 public:
  Importer(const tg::Model& model, const ImageDecoding& decoding, const GltfSceneOptions& options)
      : model_(model), reader_(model), decoding_(decoding), options_(options) {}

  tl::expected<GltfScene, std::string> run(std::vector<std::string> parse_warnings) {
    for (auto& w : parse_warnings) warnings_.add(w, w);
    scene_.kind = "gltf";
    scene_.sky = Sky::uniform(options_.background);
    // Meshes that several nodes use become shapes, placed once per node (Mesh::shape).
    mesh_uses_.assign(model_.meshes.size(), 0);
    for (const tg::Node& node : model_.nodes) {
      if (node.mesh >= 0 && static_cast<size_t>(node.mesh) < model_.meshes.size())
        ++mesh_uses_[static_cast<size_t>(node.mesh)];
    }

    auto tree = internal::node_tree(model_);
    if (!tree) return tl::unexpected(tree.error());
    auto roots = scene_roots(tree->parent);
    if (!roots) return tl::unexpected(roots.error());

    // Depth-first, pre-order, children in file order: the order of instances and of the
    // "first" camera.
    std::vector<bool> visited(model_.nodes.size(), false);
    std::vector<std::pair<int, Matrix4>> stack;
    for (auto it = roots->rbegin(); it != roots->rend(); ++it) {
      stack.emplace_back(*it, internal::kIdentity4);
    }
    bool have_camera = false;
    while (!stack.empty()) {
      auto [n, parent_global] = stack.back();
      stack.pop_back();
      if (visited[static_cast<size_t>(n)]) continue;
      visited[static_cast<size_t>(n)] = true;
      auto local = internal::node_transform(model_, n);
      if (!local) return tl::unexpected(local.error());
      const Matrix4 global = internal::multiply(parent_global, local->local);
      if (!finite_all(std::vector<double>(global.begin(), global.end()))) {
        return fail("{}: its world transform is not finite", node_label(model_, n));
      }
      const tg::Node& node = model_.nodes[static_cast<size_t>(n)];
      if (node.mesh >= 0) {
        if (auto added = add_mesh_node(n, global); !added) return tl::unexpected(added.error());
      }
      if (node.camera >= 0 && !have_camera) {
        if (auto camera = add_camera(n, global); !camera) return tl::unexpected(camera.error());
        have_camera = true;
      }
      if (auto light = add_light(n, global); !light) return tl::unexpected(light.error());
      const auto& children = node.children;
      for (auto it = children.rbegin(); it != children.rend(); ++it)
        stack.emplace_back(*it, global);
    }
    if (!have_camera && options_.require_camera) {
      return fail("no camera: the scene needs a node with a perspective camera to look through");
    }
    if (!model_.animations.empty()) {
      warnings_.add("animations", "animations ignored (the scene is imported in its rest pose)");
    }
    GltfScene out;
    out.triangle_count = triangles_;
    out.scene = std::move(scene_);
    out.warnings = warnings_.finish();  // the caller adds the file name
    return out;
  }

 private:
  // The root nodes of the default scene (scenes[scene], else scene 0), or every parentless
  // node of a file without scenes.
  tl::expected<std::vector<int>, std::string> scene_roots(const std::vector<int>& parent) const {
    std::vector<int> roots;
    if (model_.scenes.empty()) {
      for (size_t n = 0; n < model_.nodes.size(); ++n) {
        if (parent[n] < 0) roots.push_back(static_cast<int>(n));
      }
      return roots;
    }
    const int s = model_.defaultScene >= 0 ? model_.defaultScene : 0;
    if (static_cast<size_t>(s) >= model_.scenes.size()) {
      return fail("scene {} does not exist (the file has {})", s, model_.scenes.size());
    }
    for (int n : model_.scenes[static_cast<size_t>(s)].nodes) {
      if (n < 0 || static_cast<size_t>(n) >= model_.nodes.size()) {
        return fail("scene {}: node {} does not exist (the file has {} nodes)", s, n,
                    model_.nodes.size());
      }
      if (parent[static_cast<size_t>(n)] >= 0) {
        return fail("scene {}: {} is a root of the scene but also a child of {}", s,
                    node_label(model_, n), node_label(model_, parent[static_cast<size_t>(n)]));
      }
      roots.push_back(n);
    }
    return roots;
  }

  // ---- Geometry.

  tl::expected<void, std::string> add_mesh_node(int n, const Matrix4& global) {
    const tg::Node& node = model_.nodes[static_cast<size_t>(n)];
    if (static_cast<size_t>(node.mesh) >= model_.meshes.size()) {
      return fail("{}: mesh {} does not exist (the file has {})", node_label(model_, n), node.mesh,
                  model_.meshes.size());
    }
    if (node.skin >= 0) {
      warnings_.add("skin", fmt::format("{}: skinned; imported in its bind pose without skinning",
                                        node_label(model_, n)));
    }
    const tg::Mesh& mesh = model_.meshes[static_cast<size_t>(node.mesh)];
    const uint32_t instance_id = static_cast<uint32_t>(scene_.instances.size() + 1);
    const size_t meshes_before = scene_.meshes.size();
    for (size_t pi = 0; pi < mesh.primitives.size(); ++pi) {
      const std::string label = fmt::format("{} primitive {}", mesh_name(model_, node.mesh), pi);
      const bool shared = options_.instancing && mesh_uses_[static_cast<size_t>(node.mesh)] > 1;
      auto added = add_primitive(mesh.primitives[pi], label, global, instance_id,
                                 shared ? std::optional(std::pair(node.mesh, pi)) : std::nullopt);
      if (!added) return added;
    }
    if (scene_.meshes.size() > meshes_before) {
      scene_.instances.push_back({instance_id, SemanticClass::kProp, node_name(model_, n)});
    }
    return {};
  }

  // `shape`: the (mesh, primitive) this one is, when several nodes use its mesh.
  tl::expected<void, std::string> add_primitive(const tg::Primitive& prim, const std::string& label,
                                                const Matrix4& global, uint32_t instance_id,
                                                std::optional<std::pair<int, size_t>> shape) {
    const int mode = prim.mode < 0 ? TINYGLTF_MODE_TRIANGLES : prim.mode;
    if (mode != TINYGLTF_MODE_TRIANGLES && mode != TINYGLTF_MODE_TRIANGLE_STRIP &&
        mode != TINYGLTF_MODE_TRIANGLE_FAN) {
      warnings_.add("mode", fmt::format("{}: not triangles (mode {}); skipped", label, mode));
      return {};
    }
    auto attribute = [&](const char* name) -> int {
      auto it = prim.attributes.find(name);
      return it == prim.attributes.end() ? -1 : it->second;
    };
    if (attribute("POSITION") < 0) return fail("{}: no POSITION", label);
    if (!prim.targets.empty()) {
      warnings_.add("targets", fmt::format("{}: morph targets ignored", label));
    }
    auto positions = reader_.read(attribute("POSITION"), label + " POSITION", {TINYGLTF_TYPE_VEC3},
                                  Components::kFloat, "vertex");
    if (!positions) return tl::unexpected(positions.error());
    const size_t vertices = positions->count;
    std::optional<AccessorData> normals, texcoords;
    if (attribute("NORMAL") >= 0) {
      auto read = reader_.read(attribute("NORMAL"), label + " NORMAL", {TINYGLTF_TYPE_VEC3},
                               Components::kFloatOrNormalized, "vertex");
      if (!read) return tl::unexpected(read.error());
      if (read->count != vertices) {
        return fail("{}: NORMAL has {} entries for {} vertices", label, read->count, vertices);
      }
      normals = std::move(*read);
    }
    if (attribute("TEXCOORD_0") >= 0) {
      auto read = reader_.read(attribute("TEXCOORD_0"), label + " TEXCOORD_0", {TINYGLTF_TYPE_VEC2},
                               Components::kFloatOrNormalized, "vertex");
      if (!read) return tl::unexpected(read.error());
      if (read->count != vertices) {
        return fail("{}: TEXCOORD_0 has {} entries for {} vertices", label, read->count, vertices);
      }
      texcoords = std::move(*read);
    }
    std::optional<AccessorData> colours;  // COLOR_0: linear RGB(A), multiplies the base colour
    if (attribute("COLOR_0") >= 0) {
      auto read = reader_.read(attribute("COLOR_0"), label + " COLOR_0",
                               {TINYGLTF_TYPE_VEC3, TINYGLTF_TYPE_VEC4},
                               Components::kFloatOrNormalized, "vertex");
      if (!read) return tl::unexpected(read.error());
      if (read->count != vertices) {
        return fail("{}: COLOR_0 has {} entries for {} vertices", label, read->count, vertices);
      }
      for (size_t v = 0; v < vertices; ++v) {
        for (int c = 0; c < 3; ++c) {
          const double x = read->at(v, c);
          if (!(x >= 0 && x <= 1)) {
            return fail("{}: COLOR_0 of vertex {} is {} (colours are 0 .. 1)", label, v, x);
          }
        }
      }
      colours = std::move(*read);
    }
    auto triangles = internal::primitive_triangles(reader_, prim, mode, vertices, label);
    if (!triangles) return tl::unexpected(triangles.error());
    if (triangles->empty()) return {};
    auto material = material_index(prim.material, label);
    if (!material) return tl::unexpected(material.error());

    Mesh mesh;
    mesh.instance_id = instance_id;
    mesh.semantic = SemanticClass::kProp;
    mesh.material = *material;
    const Material& m = scene_.materials[static_cast<size_t>(*material)];
    mesh.albedo = {std::min(m.base_color.r, 0.95f), std::min(m.base_color.g, 0.95f),
                   std::min(m.base_color.b, 0.95f)};
    mesh.positions.resize(3 * vertices);
    for (size_t v = 0; v < vertices; ++v) {
      const Vec3 p = to_world(internal::transform_point(
          global, positions->at(v, 0), positions->at(v, 1), positions->at(v, 2)));
      const float x = static_cast<float>(p.x), y = static_cast<float>(p.y),
                  z = static_cast<float>(p.z);
      if (!std::isfinite(x) || !std::isfinite(y) || !std::isfinite(z)) {
        return fail("{}: vertex {} is not finite once transformed to the world", label, v);
      }
      mesh.positions[3 * v] = x;
      mesh.positions[3 * v + 1] = y;
      mesh.positions[3 * v + 2] = z;
    }
    const double det = internal::determinant3(global);
    if (normals) {
      const std::array<double, 9> c = cofactor3(global);
      const double sign = det < 0 ? -1.0 : 1.0;
      mesh.normals.resize(3 * vertices);
      for (size_t v = 0; v < vertices; ++v) {
        const double x = normals->at(v, 0), y = normals->at(v, 1), z = normals->at(v, 2);
        Vec3 nw = to_world(c[0] * x + c[3] * y + c[6] * z, c[1] * x + c[4] * y + c[7] * z,
                           c[2] * x + c[5] * y + c[8] * z) *
                  sign;
        const double len = length(nw);
        // Zero normals stay zero: the renderer then shades with the geometric normal.
        nw = len > 0 && std::isfinite(len) ? nw * (1.0 / len) : Vec3{};
        mesh.normals[3 * v] = static_cast<float>(nw.x);
        mesh.normals[3 * v + 1] = static_cast<float>(nw.y);
        mesh.normals[3 * v + 2] = static_cast<float>(nw.z);
      }
    }
    if (texcoords) {
      mesh.texcoords.resize(2 * vertices);
      for (size_t i = 0; i < 2 * vertices; ++i) {
        mesh.texcoords[i] = static_cast<float>(texcoords->values[i]);
      }
    }
    if (colours) {
      mesh.colors.resize(3 * vertices);
      for (size_t v = 0; v < vertices; ++v) {
        for (int c = 0; c < 3; ++c) {
          mesh.colors[3 * v + static_cast<size_t>(c)] = static_cast<float>(colours->at(v, c));
        }
      }
    }
    if (shape) {
      auto [it, added] = shapes_.try_emplace(*shape, static_cast<int>(scene_.shapes.size()));
      if (added) {
        MeshShape& s = scene_.shapes.emplace_back();
        s.positions.resize(3 * vertices);
        for (size_t v = 0; v < vertices; ++v) {
          const Vec3 p = to_world(positions->at(v, 0), positions->at(v, 1), positions->at(v, 2));
          s.positions[3 * v] = static_cast<float>(p.x);
          s.positions[3 * v + 1] = static_cast<float>(p.y);
          s.positions[3 * v + 2] = static_cast<float>(p.z);
        }
        s.indices = *triangles;
      }
      // World = C * (G * local): in shape space (C * local), C * G3 * C^T and C * G's offset.
      const Mat3 c = Mat3::from_rows({1, 0, 0}, {0, 0, -1}, {0, 1, 0});
      const Mat3 g =
          Mat3::from_rows({global[0], global[4], global[8]}, {global[1], global[5], global[9]},
                          {global[2], global[6], global[10]});
      mesh.shape = it->second;
      mesh.shape_linear = c * g * c.transposed();
      mesh.shape_offset = to_world(global[12], global[13], global[14]);
    }
    mesh.indices = std::move(*triangles);
    if (det < 0) {
      // A mirroring transform turns the winding round; keep glTF's counter-clockwise fronts.
      for (size_t t = 0; t + 2 < mesh.indices.size(); t += 3) {
        std::swap(mesh.indices[t + 1], mesh.indices[t + 2]);
      }
    }
    triangles_ += mesh.triangle_count();
    scene_.meshes.push_back(std::move(mesh));
    return {};
  }

  // ---- Materials.

  tl::expected<int, std::string> material_index(int gltf_material, const std::string& label) {
    if (gltf_material < 0) {
      if (default_material_ < 0) {
        Material m;  // glTF's default material
        m.name = "glTF default material";
        m.base_color = {1, 1, 1};
        m.metallic = 1;
        m.roughness = 1;
        default_material_ = static_cast<int>(scene_.materials.size());
        scene_.materials.push_back(std::move(m));
      }
      return default_material_;
    }
    if (static_cast<size_t>(gltf_material) >= model_.materials.size()) {
      return fail("{}: material {} does not exist (the file has {})", label, gltf_material,
                  model_.materials.size());
    }
    if (auto it = materials_.find(gltf_material); it != materials_.end()) return it->second;
    auto m = convert_material(gltf_material);
    if (!m) return tl::unexpected(m.error());
    const int index = static_cast<int>(scene_.materials.size());
    scene_.materials.push_back(std::move(*m));
    materials_[gltf_material] = index;
    return index;
  }

  tl::expected<Material, std::string> convert_material(int index) {
    const tg::Material& gm = model_.materials[static_cast<size_t>(index)];
    const std::string label =
        gm.name.empty() ? fmt::format("material {}", index) : fmt::format("material '{}'", gm.name);
    const auto& pbr = gm.pbrMetallicRoughness;
    Material m;
    m.name = gm.name.empty() ? fmt::format("material {}", index) : gm.name;
    auto factor3 = [&](const std::vector<double>& v, const char* what,
                       std::array<double, 3> fallback) -> tl::expected<Rgb, std::string> {
      std::array<double, 3> c = fallback;
      if (!v.empty()) {
        if (v.size() < 3) return fail("{}: {} needs at least 3 numbers", label, what);
        if (!finite_all(v)) return fail("{}: {} is not finite", label, what);
        c = {v[0], v[1], v[2]};
      }
      return Rgb{static_cast<float>(std::max(c[0], 0.0)), static_cast<float>(std::max(c[1], 0.0)),
                 static_cast<float>(std::max(c[2], 0.0))};
    };
    auto scalar = [&](double v, const char* what) -> tl::expected<float, std::string> {
      if (!std::isfinite(v)) return fail("{}: {} is not finite", label, what);
      return static_cast<float>(std::clamp(v, 0.0, 1.0));
    };
    auto base = factor3(pbr.baseColorFactor, "baseColorFactor", {1, 1, 1});
    if (!base) return tl::unexpected(base.error());
    m.base_color = {std::min(base->r, 1.0f), std::min(base->g, 1.0f), std::min(base->b, 1.0f)};
    auto metallic = scalar(pbr.metallicFactor, "metallicFactor");
    if (!metallic) return tl::unexpected(metallic.error());
    m.metallic = *metallic;
    auto roughness = scalar(pbr.roughnessFactor, "roughnessFactor");
    if (!roughness) return tl::unexpected(roughness.error());
    m.roughness = *roughness;
    auto emissive = factor3(gm.emissiveFactor, "emissiveFactor", {0, 0, 0});
    if (!emissive) return tl::unexpected(emissive.error());
    double strength = 1;
    double specular = 0.5;  // F0 0.04: glTF's ior 1.5
    for (const auto& [name, value] : gm.extensions) {
      if (name == "KHR_materials_emissive_strength") {
        auto s = number(value, "emissiveStrength", 1.0);
        if (!s || *s < 0) return fail("{}: {}.emissiveStrength must be a number >= 0", label, name);
        strength = *s;
      } else if (name == "KHR_materials_ior") {
        auto ior = number(value, "ior", 1.5);
        if (!ior || *ior < 1) return fail("{}: {}.ior must be a number >= 1", label, name);
        const double f0 = (*ior - 1) * (*ior - 1) / ((*ior + 1) * (*ior + 1));
        specular *= f0 / 0.04;
      } else if (name == "KHR_materials_specular") {
        auto f = number(value, "specularFactor", 1.0);
        if (!f || *f < 0) return fail("{}: {}.specularFactor must be a number >= 0", label, name);
        std::array<double, 3> colour = {1, 1, 1};
        if (value.IsObject() && value.Has("specularColorFactor")) {
          const tg::Value& c = value.Get("specularColorFactor");
          if (!c.IsArray() || c.ArrayLen() != 3)
            return fail("{}: {}.specularColorFactor needs 3 numbers", label, name);
          for (int k = 0; k < 3; ++k) {
            const tg::Value& e = c.Get(k);
            if (!e.IsNumber() || !std::isfinite(e.GetNumberAsDouble()) || e.GetNumberAsDouble() < 0)
              return fail("{}: {}.specularColorFactor needs 3 numbers >= 0", label, name);
            colour[static_cast<size_t>(k)] = e.GetNumberAsDouble();
          }
        }
        specular *= *f * luminance(colour[0], colour[1], colour[2]);
        if (value.IsObject() &&
            (value.Has("specularTexture") || value.Has("specularColorTexture"))) {
          warnings_.add("specular texture",
                        fmt::format("{}: specular textures ignored (factors only)", label));
        }
      } else {
        warnings_.add("extension " + name, fmt::format("{}: extension {} ignored", label, name));
      }
    }
    // Material::specular is 0..1 (F0 up to 0.08): the renderer's dielectric range.
    if (specular > 1) {
      warnings_.add("specular range",
                    fmt::format("{}: dielectric reflectance F0 {:.4f} clamped to 0.08", label,
                                0.08 * specular));
    }
    m.specular = static_cast<float>(std::clamp(specular, 0.0, 1.0));
    m.emission = {static_cast<float>(emissive->r * strength),
                  static_cast<float>(emissive->g * strength),
                  static_cast<float>(emissive->b * strength)};
    if (!std::isfinite(m.emission.r) || !std::isfinite(m.emission.g) ||
        !std::isfinite(m.emission.b)) {
      return fail("{}: emission (emissiveFactor x emissiveStrength) overflows", label);
    }
    if (gm.alphaMode == "BLEND" || gm.alphaMode == "MASK") {
      warnings_.add("alpha", fmt::format("{}: alphaMode {} ignored (surfaces are opaque)", label,
                                         gm.alphaMode));
    }
    if (gm.normalTexture.index >= 0) {
      warnings_.add("normal texture", fmt::format("{}: normal texture ignored", label));
    }
    if (gm.occlusionTexture.index >= 0) {
      warnings_.add("occlusion texture", fmt::format("{}: occlusion texture ignored", label));
    }
    m.base_color_texture = texture({pbr.baseColorTexture.index, pbr.baseColorTexture.texCoord,
                                    &pbr.baseColorTexture.extensions},
                                   true, label, "baseColorTexture");
    m.metallic_roughness_texture =
        texture({pbr.metallicRoughnessTexture.index, pbr.metallicRoughnessTexture.texCoord,
                 &pbr.metallicRoughnessTexture.extensions},
                false, label, "metallicRoughnessTexture");
    m.emission_texture = texture(
        {gm.emissiveTexture.index, gm.emissiveTexture.texCoord, &gm.emissiveTexture.extensions},
        true, label, "emissiveTexture");
    return m;
  }

  // A number member of an extension object, `fallback` when absent; empty when not a
  // finite number.
  static std::optional<double> number(const tg::Value& object, const char* key, double fallback) {
    if (!object.IsObject() || !object.Has(key)) return fallback;
    const tg::Value& v = object.Get(key);
    if (!v.IsNumber() || !std::isfinite(v.GetNumberAsDouble())) return std::nullopt;
    return v.GetNumberAsDouble();
  }

  // ---- Textures.

  // The Scene::textures index for a use of a glTF texture, or -1 (no texture, or the
  // documented fallback with a warning).
  int texture(const TextureUse& use, bool srgb, const std::string& material_label,
              const char* slot) {
    if (use.index < 0) return -1;
    const std::string where = fmt::format("{}: {}", material_label, slot);
    auto fallback = [&](const std::string& why) {
      warnings_.add("texture " + where, fmt::format("{} {}; the factor is used alone", where, why));
      return -1;
    };
    if (static_cast<size_t>(use.index) >= model_.textures.size()) {
      return fallback(fmt::format("names texture {}, which does not exist (the file has {})",
                                  use.index, model_.textures.size()));
    }
    if (use.tex_coord != 0) {
      return fallback(fmt::format("reads TEXCOORD_{} (only TEXCOORD_0 is read)", use.tex_coord));
    }
    if (use.extensions != nullptr && use.extensions->contains("KHR_texture_transform")) {
      warnings_.add("texture transform", fmt::format("{}: KHR_texture_transform ignored", where));
    }
    const tg::Texture& t = model_.textures[static_cast<size_t>(use.index)];
    if (t.sampler >= 0 && static_cast<size_t>(t.sampler) < model_.samplers.size()) {
      const tg::Sampler& s = model_.samplers[static_cast<size_t>(t.sampler)];
      if (s.wrapS != TINYGLTF_TEXTURE_WRAP_REPEAT || s.wrapT != TINYGLTF_TEXTURE_WRAP_REPEAT) {
        warnings_.add("wrap",
                      fmt::format("{}: sampler wrap mode ignored (textures repeat)", where));
      }
    }
    if (t.source < 0 || static_cast<size_t>(t.source) >= model_.images.size()) {
      return fallback(fmt::format("uses texture {} without a PNG or JPEG source", use.index));
    }
    const auto key = std::make_pair(t.source, srgb);
    if (auto it = textures_.find(key); it != textures_.end()) {
      if (it->second < 0) return fallback(image_failures_.at(t.source));
      return it->second;
    }
    auto decoded = decode(t.source, srgb);
    if (!decoded) {
      image_failures_[t.source] = decoded.error();
      textures_[key] = -1;
      return fallback(decoded.error());
    }
    const int index = static_cast<int>(scene_.textures.size());
    scene_.textures.push_back(std::move(*decoded));
    textures_[key] = index;
    return index;
  }

  // Image `i` as linear RGBA floats; the error says why it cannot be used.
  tl::expected<Texture, std::string> decode(int i, bool srgb) const {
    const tg::Image& image = model_.images[static_cast<size_t>(i)];
    const std::string name = image.name.empty() ? fmt::format("image {}", i)
                                                : fmt::format("image {} '{}'", i, image.name);
    tg::Image decoded;
    const tg::Image* pixels = &image;
    if (image.bufferView >= 0) {
      if (static_cast<size_t>(image.bufferView) >= model_.bufferViews.size()) {
        return fail("reads {}, whose bufferView {} does not exist", name, image.bufferView);
      }
      const tg::BufferView& view = model_.bufferViews[static_cast<size_t>(image.bufferView)];
      if (view.buffer < 0 || static_cast<size_t>(view.buffer) >= model_.buffers.size()) {
        return fail("reads {}, whose bufferView names buffer {}, which does not exist", name,
                    view.buffer);
      }
      const auto& data = model_.buffers[static_cast<size_t>(view.buffer)].data;
      if (view.byteOffset > data.size() || view.byteLength > data.size() - view.byteOffset ||
          view.byteLength == 0 || view.byteLength > static_cast<size_t>(INT_MAX)) {
        return fail("reads {}, whose bufferView {} lies outside its buffer", name,
                    image.bufferView);
      }
      decoded.name = image.name;
      std::string error, warn;
      if (!tg::LoadImageData(&decoded, i, &error, &warn, 0, 0, data.data() + view.byteOffset,
                             static_cast<int>(view.byteLength), nullptr)) {
        return fail("reads {}, which cannot be decoded ({})", name, internal::trim(error));
      }
      pixels = &decoded;
    } else if (auto it = decoding_.failures.find(i); it != decoding_.failures.end()) {
      return fail("reads {}, which cannot be decoded ({})", name, it->second);
    } else if (image.image.empty()) {
      return fail("reads {}{}, which is not embedded in the file", name,
                  image.uri.empty() ? "" : fmt::format(" (the external file '{}')", image.uri));
    }
    const size_t w = static_cast<size_t>(std::max(pixels->width, 0));
    const size_t h = static_cast<size_t>(std::max(pixels->height, 0));
    const int bytes_per_channel = pixels->bits == 16 ? 2 : 1;
    if (w == 0 || h == 0 || w * h > kMaxTexels || pixels->component != 4 ||
        (pixels->bits != 8 && pixels->bits != 16) ||
        pixels->image.size() != w * h * 4 * static_cast<size_t>(bytes_per_channel)) {
      return fail("reads {}, which is empty, too large or of an unexpected layout ({}x{})", name,
                  pixels->width, pixels->height);
    }
    Texture texture;
    texture.name = name;
    texture.width = static_cast<int>(w);
    texture.height = static_cast<int>(h);
    texture.texels.resize(w * h * 4);
    std::array<float, 256> srgb8{}, linear8{};
    for (int k = 0; k < 256; ++k) {
      srgb8[static_cast<size_t>(k)] = static_cast<float>(srgb_to_linear(k / 255.0));
      linear8[static_cast<size_t>(k)] = static_cast<float>(k / 255.0);
    }
    const unsigned char* src = pixels->image.data();
    for (size_t t = 0; t < w * h * 4; ++t) {
      const bool colour = srgb && t % 4 != 3;  // alpha is always linear
      if (bytes_per_channel == 1) {
        texture.texels[t] = colour ? srgb8[src[t]] : linear8[src[t]];
      } else {
        uint16_t v;
        std::memcpy(&v, src + 2 * t, 2);
        const double x = v / 65535.0;
        texture.texels[t] = static_cast<float>(colour ? srgb_to_linear(x) : x);
      }
    }
    return texture;
  }

  // ---- Camera and lights.

  tl::expected<void, std::string> add_camera(int n, const Matrix4& global) {
    const tg::Node& node = model_.nodes[static_cast<size_t>(n)];
    const std::string label = node_label(model_, n);
    if (static_cast<size_t>(node.camera) >= model_.cameras.size()) {
      return fail("{}: camera {} does not exist (the file has {})", label, node.camera,
                  model_.cameras.size());
    }
    const tg::Camera& gc = model_.cameras[static_cast<size_t>(node.camera)];
    if (gc.type != "perspective") {
      return fail("{}: camera {} is '{}'; only perspective cameras are supported", label,
                  node.camera, gc.type);
    }
    const double yfov = gc.perspective.yfov;
    if (!(yfov > 0 && yfov < kPi)) {
      return fail("{}: camera {} has yfov {} (radians; it must be in (0, pi))", label, node.camera,
                  yfov);
    }
    // A glTF camera looks down its local -z with +y up and +x right.
    const auto x = transform_vector(global, 1, 0, 0), z = transform_vector(global, 0, 0, 1);
    const Vec3 x_axis = to_world(x), back = to_world(z);
    const double back_len = length(back);
    if (!(back_len > 1e-12)) return fail("{}: the camera's transform is singular", label);
    const Vec3 forward = back * (-1.0 / back_len);
    Vec3 right = x_axis - forward * dot(x_axis, forward);
    const double right_len = length(right);
    if (!(right_len > 1e-12)) return fail("{}: the camera's transform is singular", label);
    right = right * (1.0 / right_len);
    const Vec3 down = cross(forward, right);

    Camera& cam = scene_.camera;
    cam.width = options_.width;
    cam.height = options_.height;
    cam.fy = (0.5 * options_.height) / tan_half(yfov);
    cam.fx = cam.fy;
    cam.cx = 0.5 * options_.width;
    cam.cy = 0.5 * options_.height;
    cam.fov_deg = degrees(2 * portable_atan2(0.5 * options_.width, cam.fx));
    cam.rotation = Mat3::from_rows(right, down, forward);
    cam.position = to_world(internal::transform_point(global, 0, 0, 0));
    cam.height_m = cam.position.z;
    cam.distance_m = 0;
    return {};
  }

  tl::expected<void, std::string> add_light(int n, const Matrix4& global) {
    const tg::Node& node = model_.nodes[static_cast<size_t>(n)];
    auto ext = node.extensions.find("KHR_lights_punctual");
    if (ext == node.extensions.end()) return {};
    const std::string label = node_label(model_, n);
    const tg::Value& v = ext->second;
    if (!v.IsObject() || !v.Has("light") || !v.Get("light").IsNumber()) {
      return fail("{}: KHR_lights_punctual without a light index", label);
    }
    const double index = v.Get("light").GetNumberAsDouble();
    if (!(index >= 0 && index < static_cast<double>(model_.lights.size())) ||
        index != std::floor(index)) {
      return fail("{}: light {} does not exist (the file has {})", label, index,
                  model_.lights.size());
    }
    const tg::Light& gl = model_.lights[static_cast<size_t>(index)];
    const std::string light_label = gl.name.empty() ? fmt::format("{} light {}", label, index)
                                                    : fmt::format("{} light '{}'", label, gl.name);
    Rgb colour = {1, 1, 1};
    if (!gl.color.empty()) {
      if (gl.color.size() != 3 || !finite_all(gl.color) ||
          *std::min_element(gl.color.begin(), gl.color.end()) < 0) {
        return fail("{}: color needs 3 numbers >= 0", light_label);
      }
      colour = {static_cast<float>(gl.color[0]), static_cast<float>(gl.color[1]),
                static_cast<float>(gl.color[2])};
    }
    if (!(std::isfinite(gl.intensity) && gl.intensity >= 0)) {
      return fail("{}: intensity {} is not a number >= 0", light_label, gl.intensity);
    }
    const auto d = transform_vector(global, 0, 0, -1);  // lights shine down their local -z
    const Vec3 towards = to_world(d);
    const double len = length(towards);
    if (!(len > 1e-12)) return fail("{}: the light's transform is singular", light_label);
    const Vec3 direction = towards * (1.0 / len);
    const Vec3 position = to_world(internal::transform_point(global, 0, 0, 0));

    if (gl.type == "directional") {
      if (have_sun_) {
        warnings_.add(
            "suns", fmt::format("{}: a second directional light; ignored (one sun)", light_label));
        return {};
      }
      have_sun_ = true;
      const double lum = luminance(colour.r, colour.g, colour.b);
      if (colour.r != colour.g || colour.g != colour.b) {
        warnings_.add("sun colour",
                      fmt::format("{}: colour ({}, {}, {}) kept as its luminance {:.4f} (the sun "
                                  "is white)",
                                  light_label, colour.r, colour.g, colour.b, lum));
      }
      Sun& sun = scene_.sun;
      sun.direction = -direction;
      // lux -> W/m^2 (Blender) -> radiance of a white Lambertian surface facing it.
      sun.intensity = gl.intensity / kLumensPerWatt / kPi * lum;
      sun.elevation_deg =
          degrees(portable_atan2(sun.direction.z, std::hypot(sun.direction.x, sun.direction.y)));
      sun.azimuth_deg = degrees(portable_atan2(sun.direction.x, sun.direction.y));
      if (sun.azimuth_deg < 0) sun.azimuth_deg += 360;
      sun.angular_diameter_deg = options_.sun_angle_deg;
      return {};
    }
    if (gl.type != "point" && gl.type != "spot") {
      warnings_.add("light type " + gl.type,
                    fmt::format("{}: light type '{}' ignored", light_label, gl.type));
      return {};
    }
    Light light;
    light.kind = gl.type == "point" ? Light::Kind::kPoint : Light::Kind::kSpot;
    light.color = colour;
    // candela -> W/sr, as Blender (P = I * 4 pi / 683 W) and Cycles (P / 4 pi W/sr) make it.
    light.intensity = gl.intensity / kLumensPerWatt;
    light.position = position;
    light.direction = direction;
    light.radius = options_.point_radius_m;
    light.visible = false;  // a light, not an object: only reflections show it
    if (light.kind == Light::Kind::kSpot) {
      const double inner = gl.spot.innerConeAngle, outer = gl.spot.outerConeAngle;
      if (!(inner >= 0 && inner < outer && outer <= 0.5 * kPi + 1e-9)) {
        return fail(
            "{}: spot cone angles {} and {} must satisfy 0 <= inner < outer <= pi/2 (radians)",
            light_label, inner, outer);
      }
      light.inner_cone_deg = degrees(inner);
      light.outer_cone_deg = degrees(outer);
    }
    scene_.lights.push_back(light);
    return {};
  }

  const tg::Model& model_;
  const Reader reader_;
  const ImageDecoding& decoding_;
  const GltfSceneOptions& options_;
  Scene scene_;
  Warnings warnings_;
  size_t triangles_ = 0;
  bool have_sun_ = false;
  int default_material_ = -1;
  std::map<int, int> materials_;                  // glTF material -> Scene::materials
  std::vector<int> mesh_uses_;                    // nodes using each glTF mesh (any scene)
  std::map<std::pair<int, size_t>, int> shapes_;  // (mesh, primitive) -> Scene::shapes
  std::map<std::pair<int, bool>, int> textures_;  // (image, sRGB) -> Scene::textures or -1
  std::map<int, std::string> image_failures_;     // image -> why it cannot be used
};

}  // namespace

tl::expected<GltfScene, std::string> load_gltf_scene(std::string_view bytes,
                                                     std::string_view file_name,
                                                     const GltfSceneOptions& options) {
  const std::string file(file_name);
  auto with_file = [&](const std::string& message) {
    return tl::unexpected(fmt::format("{}: {}", file, message));
  };
  if (options.width <= 0 || options.height <= 0 || options.width > 65536 ||
      options.height > 65536) {
    return with_file(
        fmt::format("image size {}x{} is not in 1..65536", options.width, options.height));
  }
  if (!(std::isfinite(options.point_radius_m) && options.point_radius_m >= 0)) {
    return with_file(
        fmt::format("point light radius {} is not a number >= 0", options.point_radius_m));
  }
  if (!(std::isfinite(options.sun_angle_deg) && options.sun_angle_deg >= 0 &&
        options.sun_angle_deg <= 90)) {
    return with_file(fmt::format("sun angle {} is not in 0 .. 90 degrees", options.sun_angle_deg));
  }
  if (!(std::isfinite(options.background) && options.background >= 0)) {
    return with_file(fmt::format("background {} is not a number >= 0", options.background));
  }
  try {
    ImageDecoding decoding;
    internal::ParseOptions parse;
    parse.supported_required_extensions = supported_required_extensions();
    parse.image_loader = &decode_embedded_image;
    parse.image_loader_data = &decoding;
    std::vector<std::string> warnings;
    auto model = internal::parse_model(bytes, file_name, parse, warnings);
    if (!model) return with_file(model.error());
    Importer importer(*model, decoding, options);
    auto scene = importer.run(std::move(warnings));
    if (!scene) return with_file(scene.error());
    for (std::string& w : scene->warnings) w = fmt::format("{}: {}", file, w);
    return scene;
  } catch (const std::exception& e) {
    return with_file(fmt::format("cannot be read: {}", e.what()));
  }
}

}  // namespace synthfarm::gltf
