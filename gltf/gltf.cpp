// glTF 2.0 export of scenes and import of skinned characters; see gltf.h.
//
// tinygltf parses and serialises; everything it hands back is checked before use
// (gltf_reader.h: tinygltf checks few indices and byte ranges), so a hostile or broken file
// ends in an error message, never in an out-of-bounds read.
#include "gltf/gltf.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <tiny_gltf.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <unordered_map>

#include "gltf/internal/reader.h"

namespace synthfarm::gltf {

using render::Camera;
using render::Instance;
using render::Mesh;
using render::Scene;
using render::semantic_class_name;
namespace {

namespace tg = tinygltf;
using internal::compose_trs;
using internal::determinant3;
using internal::kIdentity4;
using internal::multiply;
using internal::transform_point;

// ---------------------------------------------------------------------------------------
// Frames and small transform math (double precision, glTF's column-major order).

Vec3 world_to_gltf(Vec3 p) { return {p.x, p.z, -p.y}; }
Vec3 gltf_to_world(double x, double y, double z) { return {x, -z, y}; }

// Where an affine transform sends the origin's preimage: the translation of m's inverse,
// i.e. the point p with m * p = 0. For an inverse bind matrix that is the joint's position.
std::array<double, 3> inverse_translation(const Matrix4& m) {
  const double det = determinant3(m);
  // Rows of the 3x3 inverse (adjugate / det), times -t.
  const double a = m[0], b = m[4], c = m[8], d = m[1], e = m[5], f = m[9], g = m[2], h = m[6],
               i = m[10];
  const double inv[3][3] = {{e * i - f * h, c * h - b * i, b * f - c * e},
                            {f * g - d * i, a * i - c * g, c * d - a * f},
                            {d * h - e * g, b * g - a * h, a * e - b * d}};
  const double t[3] = {m[12], m[13], m[14]};
  std::array<double, 3> p{};
  for (int r = 0; r < 3; ++r)
    p[r] = -(inv[r][0] * t[0] + inv[r][1] * t[1] + inv[r][2] * t[2]) / det;
  return p;
}

// Unit quaternion (x, y, z, w) of a proper rotation matrix (Shepperd's method: pivot on
// the largest of the trace and the diagonal, so no division by a small number).
std::array<double, 4> quaternion_from_matrix(const Mat3& r) {
  const auto& m = r.m;
  const double trace = m[0][0] + m[1][1] + m[2][2];
  std::array<double, 4> q{};
  if (trace > 0) {
    double s = 2 * std::sqrt(1 + trace);
    q = {(m[2][1] - m[1][2]) / s, (m[0][2] - m[2][0]) / s, (m[1][0] - m[0][1]) / s, 0.25 * s};
  } else if (m[0][0] > m[1][1] && m[0][0] > m[2][2]) {
    double s = 2 * std::sqrt(1 + m[0][0] - m[1][1] - m[2][2]);
    q = {0.25 * s, (m[0][1] + m[1][0]) / s, (m[0][2] + m[2][0]) / s, (m[2][1] - m[1][2]) / s};
  } else if (m[1][1] > m[2][2]) {
    double s = 2 * std::sqrt(1 + m[1][1] - m[0][0] - m[2][2]);
    q = {(m[0][1] + m[1][0]) / s, 0.25 * s, (m[1][2] + m[2][1]) / s, (m[0][2] - m[2][0]) / s};
  } else {
    double s = 2 * std::sqrt(1 + m[2][2] - m[0][0] - m[1][1]);
    q = {(m[0][2] + m[2][0]) / s, (m[1][2] + m[2][1]) / s, 0.25 * s, (m[1][0] - m[0][1]) / s};
  }
  double n = std::sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]);
  for (double& c : q) c /= n;
  if (q[3] < 0) {
    for (double& c : q) c = -c;
  }
  return q;
}

std::array<double, 4> slerp(std::array<double, 4> a, std::array<double, 4> b, double u) {
  double d = a[0] * b[0] + a[1] * b[1] + a[2] * b[2] + a[3] * b[3];
  if (d < 0) {  // the shorter way round
    for (double& c : b) c = -c;
    d = -d;
  }
  double wa = 1 - u, wb = u;
  if (d < 0.9995) {
    double theta = std::acos(d), s = std::sin(theta);
    wa = std::sin((1 - u) * theta) / s;
    wb = std::sin(u * theta) / s;
  }
  std::array<double, 4> q{};
  double n = 0;
  for (int k = 0; k < 4; ++k) {
    q[k] = wa * a[k] + wb * b[k];
    n += q[k] * q[k];
  }
  n = std::sqrt(n);
  for (double& c : q) c /= n;
  return q;
}

// ---------------------------------------------------------------------------------------
// Export.

tg::Value::Object object() { return {}; }

class GlbWriter {
 public:
  GlbWriter() {
    model_.asset.version = "2.0";
    model_.asset.generator = "synthfarm";
    model_.buffers.emplace_back();
  }

  tg::Model& model() { return model_; }

  // A tightly packed accessor over `data` (4-byte components only, so every view stays
  // 4-byte aligned as glTF requires).
  template <typename T>
  int add_accessor(const std::vector<T>& data, int component_type, int type, int components,
                   int target, bool bounds) {
    std::vector<unsigned char>& bin = model_.buffers[0].data;
    tg::BufferView view;
    view.buffer = 0;
    view.byteOffset = bin.size();
    view.byteLength = data.size() * sizeof(T);
    view.target = target;
    bin.resize(bin.size() + view.byteLength);
    std::memcpy(bin.data() + view.byteOffset, data.data(), view.byteLength);
    model_.bufferViews.push_back(std::move(view));

    tg::Accessor accessor;
    accessor.bufferView = static_cast<int>(model_.bufferViews.size() - 1);
    accessor.componentType = component_type;
    accessor.type = type;
    accessor.count = data.size() / static_cast<size_t>(components);
    if (bounds) {
      accessor.minValues.assign(components, std::numeric_limits<double>::infinity());
      accessor.maxValues.assign(components, -std::numeric_limits<double>::infinity());
      for (size_t i = 0; i < data.size(); ++i) {
        auto c = i % static_cast<size_t>(components);
        accessor.minValues[c] = std::min<double>(accessor.minValues[c], data[i]);
        accessor.maxValues[c] = std::max<double>(accessor.maxValues[c], data[i]);
      }
    }
    model_.accessors.push_back(std::move(accessor));
    return static_cast<int>(model_.accessors.size() - 1);
  }

  // One diffuse material per distinct colour.
  int material(Rgb colour, const std::string& name) {
    auto key = std::array<float, 3>{colour.r, colour.g, colour.b};
    auto it = materials_.find(key);
    if (it != materials_.end()) return it->second;
    tg::Material m;
    m.name = name;
    m.pbrMetallicRoughness.baseColorFactor = {colour.r, colour.g, colour.b, 1.0};
    m.pbrMetallicRoughness.metallicFactor = 0;
    m.pbrMetallicRoughness.roughnessFactor = 1;
    model_.materials.push_back(std::move(m));
    int index = static_cast<int>(model_.materials.size() - 1);
    materials_.emplace(key, index);
    return index;
  }

 private:
  tg::Model model_;
  std::map<std::array<float, 3>, int> materials_;
};

// Checks one scene mesh; an empty string when it can be written.
std::string mesh_problem(const Mesh& mesh) {
  if (mesh.positions.size() % 3 != 0) return "positions are not x, y, z triples";
  const size_t vertices = mesh.positions.size() / 3;
  if (mesh.indices.size() % 3 != 0) return "indices are not triangles";
  for (size_t i = 0; i < mesh.indices.size(); ++i) {
    if (mesh.indices[i] >= vertices) {
      return fmt::format("index {} at position {} is beyond its {} vertices", mesh.indices[i], i,
                         vertices);
    }
  }
  for (float p : mesh.positions) {
    if (!std::isfinite(p)) return "a position is not finite";
  }
  if (!mesh.colors.empty() && mesh.colors.size() != mesh.positions.size()) {
    return fmt::format("{} colour values for {} vertices", mesh.colors.size(), vertices);
  }
  return {};
}

// Area-weighted vertex normals (the cross product of two edges is twice the area).
std::vector<Vec3> vertex_normals(const Mesh& mesh) {
  std::vector<Vec3> normals(mesh.positions.size() / 3);
  for (size_t t = 0; t + 2 < mesh.indices.size(); t += 3) {
    uint32_t a = mesh.indices[t], b = mesh.indices[t + 1], c = mesh.indices[t + 2];
    Vec3 n = cross(mesh.vertex(b) - mesh.vertex(a), mesh.vertex(c) - mesh.vertex(a));
    normals[a] = normals[a] + n;
    normals[b] = normals[b] + n;
    normals[c] = normals[c] + n;
  }
  for (Vec3& n : normals) {
    double len = length(n);
    n = len > 0 && std::isfinite(len) ? n * (1.0 / len) : Vec3{0, 0, 1};
  }
  return normals;
}

int add_mesh(GlbWriter& writer, const Mesh& mesh, const std::string& name) {
  const size_t vertices = mesh.positions.size() / 3;
  std::vector<float> positions(mesh.positions.size()), normals(mesh.positions.size());
  std::vector<Vec3> n = vertex_normals(mesh);
  for (size_t v = 0; v < vertices; ++v) {
    Vec3 p = world_to_gltf(mesh.vertex(static_cast<uint32_t>(v)));
    Vec3 q = world_to_gltf(n[v]);
    positions[3 * v] = static_cast<float>(p.x);
    positions[3 * v + 1] = static_cast<float>(p.y);
    positions[3 * v + 2] = static_cast<float>(p.z);
    normals[3 * v] = static_cast<float>(q.x);
    normals[3 * v + 1] = static_cast<float>(q.y);
    normals[3 * v + 2] = static_cast<float>(q.z);
  }
  tg::Primitive primitive;
  primitive.mode = TINYGLTF_MODE_TRIANGLES;
  primitive.attributes["POSITION"] =
      writer.add_accessor(positions, TINYGLTF_COMPONENT_TYPE_FLOAT, TINYGLTF_TYPE_VEC3, 3,
                          TINYGLTF_TARGET_ARRAY_BUFFER, true);
  primitive.attributes["NORMAL"] =
      writer.add_accessor(normals, TINYGLTF_COMPONENT_TYPE_FLOAT, TINYGLTF_TYPE_VEC3, 3,
                          TINYGLTF_TARGET_ARRAY_BUFFER, false);
  if (!mesh.colors.empty()) {
    primitive.attributes["COLOR_0"] =
        writer.add_accessor(mesh.colors, TINYGLTF_COMPONENT_TYPE_FLOAT, TINYGLTF_TYPE_VEC3, 3,
                            TINYGLTF_TARGET_ARRAY_BUFFER, false);
    primitive.material = writer.material({1, 1, 1}, "vertex colours");
  } else {
    primitive.material = writer.material(
        mesh.albedo,
        fmt::format("albedo {:.3f} {:.3f} {:.3f}", mesh.albedo.r, mesh.albedo.g, mesh.albedo.b));
  }
  primitive.indices =
      writer.add_accessor(mesh.indices, TINYGLTF_COMPONENT_TYPE_UNSIGNED_INT, TINYGLTF_TYPE_SCALAR,
                          1, TINYGLTF_TARGET_ELEMENT_ARRAY_BUFFER, false);
  tg::Mesh out;
  out.name = name;
  out.primitives.push_back(std::move(primitive));
  tg::Model& model = writer.model();
  model.meshes.push_back(std::move(out));
  return static_cast<int>(model.meshes.size() - 1);
}

tg::Node camera_node(tg::Model& model, const Camera& camera) {
  tg::Camera out;
  out.type = "perspective";
  out.name = "camera";
  out.perspective.yfov = 2 * std::atan(camera.height / (2 * camera.fy));
  out.perspective.aspectRatio = static_cast<double>(camera.width) / camera.height;
  out.perspective.znear = 0.01;  // metres
  out.perspective.zfar = 1000;   // tinygltf always writes zfar, and 0 would be invalid
  model.cameras.push_back(std::move(out));

  // Local axes of a glTF camera in glTF world coordinates: x right, y up, z backwards.
  const Vec3 right = camera.rotation.row(0), down = camera.rotation.row(1),
             forward = camera.rotation.row(2);
  Mat3 axes =
      Mat3::from_columns(world_to_gltf(right), world_to_gltf(-down), world_to_gltf(-forward));
  auto q = quaternion_from_matrix(axes);
  Vec3 t = world_to_gltf(camera.position);

  tg::Node node;
  node.name = "camera";
  node.camera = static_cast<int>(model.cameras.size() - 1);
  node.rotation = {q[0], q[1], q[2], q[3]};
  node.translation = {t.x, t.y, t.z};
  auto extras = object();
  extras["width"] = tg::Value(camera.width);
  extras["height"] = tg::Value(camera.height);
  extras["fx"] = tg::Value(camera.fx);
  extras["fy"] = tg::Value(camera.fy);
  extras["cx"] = tg::Value(camera.cx);
  extras["cy"] = tg::Value(camera.cy);
  extras["intrinsics"] =
      tg::Value(std::string("pixels, OpenCV: (0, 0) is the top-left corner of the top-left pixel"));
  node.extras = tg::Value(std::move(extras));
  return node;
}

}  // namespace

tl::expected<std::string, std::string> export_glb(
    const Scene& scene, const std::map<uint32_t, GlbInstanceExtras>& instance_extras) {
  for (size_t i = 0; i < scene.meshes.size(); ++i) {
    std::string problem = mesh_problem(scene.meshes[i]);
    if (!problem.empty()) {
      return tl::unexpected(
          fmt::format("mesh {} (instance {}): {}", i, scene.meshes[i].instance_id, problem));
    }
  }
  GlbWriter writer;
  tg::Model& model = writer.model();
  tg::Scene gltf_scene;
  gltf_scene.name = scene.kind.empty() ? "scene" : scene.kind;

  // One node per instance, its meshes as children; meshes of no listed instance go under
  // a node of their own.
  std::map<uint32_t, size_t> instance_of_id;
  for (size_t i = 0; i < scene.instances.size(); ++i) instance_of_id[scene.instances[i].id] = i;
  std::map<uint32_t, std::vector<size_t>> meshes_of_id;
  for (size_t i = 0; i < scene.meshes.size(); ++i) {
    const Mesh& m = scene.meshes[i];
    if (m.positions.empty() || m.indices.empty()) continue;
    meshes_of_id[m.instance_id].push_back(i);
  }
  auto add_group = [&](const std::string& name, tg::Value extras,
                       const std::vector<size_t>& meshes) {
    tg::Node group;
    group.name = name;
    group.extras = std::move(extras);
    for (size_t k = 0; k < meshes.size(); ++k) {
      std::string child_name = meshes.size() == 1 ? name : fmt::format("{} mesh {}", name, k);
      tg::Node child;
      child.name = child_name;
      child.mesh = add_mesh(writer, scene.meshes[meshes[k]], child_name);
      model.nodes.push_back(std::move(child));
      group.children.push_back(static_cast<int>(model.nodes.size() - 1));
    }
    model.nodes.push_back(std::move(group));
    gltf_scene.nodes.push_back(static_cast<int>(model.nodes.size() - 1));
  };
  for (const Instance& instance : scene.instances) {
    auto extras = object();
    extras["instance_id"] = tg::Value(static_cast<int>(instance.id));
    extras["semantic"] = tg::Value(std::string(semantic_class_name(instance.semantic)));
    extras["semantic_id"] = tg::Value(static_cast<int>(instance.semantic));
    if (auto more = instance_extras.find(instance.id); more != instance_extras.end()) {
      for (const auto& [key, value] : more->second.numbers) extras[key] = tg::Value(value);
      for (const auto& [key, value] : more->second.strings) extras[key] = tg::Value(value);
    }
    auto it = meshes_of_id.find(instance.id);
    add_group(fmt::format("{} {}", instance.name, instance.id), tg::Value(std::move(extras)),
              it == meshes_of_id.end() ? std::vector<size_t>{} : it->second);
  }
  std::vector<size_t> unassigned;
  for (const auto& [id, meshes] : meshes_of_id) {
    if (!instance_of_id.contains(id))
      unassigned.insert(unassigned.end(), meshes.begin(), meshes.end());
  }
  if (!unassigned.empty()) {
    auto extras = object();
    extras["instance_id"] = tg::Value(0);
    add_group("unassigned", tg::Value(std::move(extras)), unassigned);
  }

  const Camera& camera = scene.camera;
  if (camera.width > 0 && camera.height > 0 && camera.fy > 0) {
    model.nodes.push_back(camera_node(model, camera));
    gltf_scene.nodes.push_back(static_cast<int>(model.nodes.size() - 1));
  }
  auto extras = object();
  extras["up"] = tg::Value(std::string("+y; synthfarm world (x, y, z) is glTF (x, z, -y)"));
  extras["units"] = tg::Value(std::string("metres"));
  gltf_scene.extras = tg::Value(std::move(extras));
  model.scenes.push_back(std::move(gltf_scene));
  model.defaultScene = 0;
  if (model.buffers[0].data.empty()) model.buffers.clear();  // nothing to draw: no BIN chunk

  std::ostringstream out;
  tg::TinyGLTF gltf;
  if (!gltf.WriteGltfSceneToStream(&model, out, /*prettyPrint=*/false, /*writeBinary=*/true)) {
    return tl::unexpected(std::string("glTF serialisation failed"));
  }
  return out.str();
}

// ---------------------------------------------------------------------------------------
// Import.

namespace {

using internal::AccessorData;
using internal::Components;
using internal::fail;
using internal::finite_all;
using internal::mesh_name;
using internal::node_label;
using internal::node_name;
using internal::Reader;

// Everything after tinygltf parsed the file; error text without the file name.
tl::expected<GltfCharacter, std::string> extract(const tg::Model& model, GltfCharacter character) {
  const Reader reader(model);
  const size_t node_count = model.nodes.size();

  // The node tree: every child index valid, one parent each, no cycles.
  auto tree = internal::node_tree(model);
  if (!tree) return tl::unexpected(tree.error());
  const std::vector<int>& parent = tree->parent;
  const std::vector<int>& depth = tree->depth;

  // Skinned mesh nodes and their skins.
  std::vector<int> skinned_nodes;
  for (size_t n = 0; n < node_count; ++n) {
    const tg::Node& node = model.nodes[n];
    if (node.mesh >= 0 && static_cast<size_t>(node.mesh) >= model.meshes.size()) {
      return fail("{}: mesh {} does not exist (the file has {})",
                  node_label(model, static_cast<int>(n)), node.mesh, model.meshes.size());
    }
    if (node.skin >= 0 && static_cast<size_t>(node.skin) >= model.skins.size()) {
      return fail("{}: skin {} does not exist (the file has {})",
                  node_label(model, static_cast<int>(n)), node.skin, model.skins.size());
    }
    if (node.mesh >= 0 && node.skin >= 0) skinned_nodes.push_back(static_cast<int>(n));
  }
  if (skinned_nodes.empty()) return fail("no skinned mesh (no node has both a mesh and a skin)");

  // Joints: the union of the skins' joints, each with one inverse bind matrix.
  std::map<int, int> joint_of_node;             // file node -> character joint
  std::vector<int> joint_nodes;                 // character joint -> file node
  std::map<int, std::vector<int>> skin_joints;  // skin -> character joint of each skin joint
  for (int n : skinned_nodes) {
    const int s = model.nodes[static_cast<size_t>(n)].skin;
    if (skin_joints.contains(s)) continue;
    const tg::Skin& skin = model.skins[static_cast<size_t>(s)];
    const std::string skin_label =
        skin.name.empty() ? fmt::format("skin {}", s) : fmt::format("skin '{}'", skin.name);
    if (skin.joints.empty()) return fail("{} has no joints", skin_label);
    std::vector<Matrix4> inverse_binds(skin.joints.size(), kIdentity4);
    if (skin.inverseBindMatrices >= 0) {
      auto ibm = reader.read(skin.inverseBindMatrices, skin_label + " inverse bind matrices",
                             {TINYGLTF_TYPE_MAT4}, Components::kFloat);
      if (!ibm) return tl::unexpected(ibm.error());
      if (ibm->count < skin.joints.size()) {
        return fail("{}: {} inverse bind matrices for {} joints", skin_label, ibm->count,
                    skin.joints.size());
      }
      for (size_t j = 0; j < skin.joints.size(); ++j) {
        for (int k = 0; k < 16; ++k) inverse_binds[j][static_cast<size_t>(k)] = ibm->at(j, k);
        const double det = determinant3(inverse_binds[j]);
        if (!(std::abs(det) > 1e-12)) {
          return fail("{}: the inverse bind matrix of joint {} is singular", skin_label, j);
        }
      }
    }
    std::vector<int> mapping;
    for (size_t j = 0; j < skin.joints.size(); ++j) {
      const int jn = skin.joints[j];
      if (jn < 0 || static_cast<size_t>(jn) >= node_count) {
        return fail("{}: joint {} is node {}, which does not exist (the file has {} nodes)",
                    skin_label, j, jn, node_count);
      }
      auto [it, inserted] = joint_of_node.try_emplace(jn, static_cast<int>(joint_nodes.size()));
      if (inserted) {
        joint_nodes.push_back(jn);
        GltfJoint joint;
        joint.name = node_name(model, jn);
        joint.inverse_bind = inverse_binds[j];
        character.joints.push_back(std::move(joint));
      } else {
        const Matrix4& known = character.joints[static_cast<size_t>(it->second)].inverse_bind;
        for (int k = 0; k < 16; ++k) {
          if (std::abs(known[static_cast<size_t>(k)] - inverse_binds[j][static_cast<size_t>(k)]) >
              1e-5) {
            return fail(
                "{} binds joint '{}' with an inverse bind matrix that differs from another "
                "skin's (not supported)",
                skin_label, node_name(model, jn));
          }
        }
      }
      if (std::find(mapping.begin(), mapping.end(), it->second) != mapping.end()) {
        return fail("{} lists joint '{}' twice", skin_label, node_name(model, jn));
      }
      mapping.push_back(it->second);
    }
    skin_joints[s] = std::move(mapping);
  }

  // The nodes joints hang from: every joint and every ancestor, parents first.
  std::vector<int> needed;
  {
    std::vector<bool> is_needed(node_count, false);
    for (int jn : joint_nodes) {
      for (int p = jn; p >= 0 && !is_needed[static_cast<size_t>(p)];
           p = parent[static_cast<size_t>(p)]) {
        is_needed[static_cast<size_t>(p)] = true;
      }
    }
    for (size_t n = 0; n < node_count; ++n) {
      if (is_needed[n]) needed.push_back(static_cast<int>(n));
    }
    std::stable_sort(needed.begin(), needed.end(), [&](int a, int b) {
      return depth[static_cast<size_t>(a)] < depth[static_cast<size_t>(b)];
    });
  }
  std::unordered_map<int, int> character_node;  // file node -> index in character.nodes
  for (int n : needed) {
    auto transform = internal::node_transform(model, n);
    if (!transform) return tl::unexpected(transform.error());
    GltfNode out = std::move(*transform);
    out.parent =
        parent[static_cast<size_t>(n)] < 0 ? -1 : character_node.at(parent[static_cast<size_t>(n)]);
    character_node[n] = static_cast<int>(character.nodes.size());
    character.nodes.push_back(std::move(out));
  }
  {
    std::vector<Matrix4> global(character.nodes.size());
    for (size_t i = 0; i < character.nodes.size(); ++i) {
      const GltfNode& node = character.nodes[i];
      global[i] = node.parent < 0 ? node.local
                                  : multiply(global[static_cast<size_t>(node.parent)], node.local);
    }
    for (size_t j = 0; j < character.joints.size(); ++j) {
      GltfJoint& joint = character.joints[j];
      const int file_node = joint_nodes[j];
      joint.node = character_node.at(file_node);
      joint.rest_global = global[static_cast<size_t>(joint.node)];
      for (int p = parent[static_cast<size_t>(file_node)]; p >= 0;
           p = parent[static_cast<size_t>(p)]) {
        if (auto it = joint_of_node.find(p); it != joint_of_node.end()) {
          joint.parent = it->second;
          break;
        }
      }
    }
  }

  // Geometry: every triangle primitive of every skinned mesh node, in the bind pose.
  bool warned_textures = false, warned_targets = false, warned_influences = false;
  for (int n : skinned_nodes) {
    const tg::Node& node = model.nodes[static_cast<size_t>(n)];
    const tg::Mesh& mesh = model.meshes[static_cast<size_t>(node.mesh)];
    const std::vector<int>& joints_of_skin = skin_joints.at(node.skin);
    for (size_t pi = 0; pi < mesh.primitives.size(); ++pi) {
      const tg::Primitive& prim = mesh.primitives[pi];
      const std::string label = fmt::format("{} primitive {}", mesh_name(model, node.mesh), pi);
      const int mode = prim.mode < 0 ? TINYGLTF_MODE_TRIANGLES : prim.mode;
      if (mode != TINYGLTF_MODE_TRIANGLES && mode != TINYGLTF_MODE_TRIANGLE_STRIP &&
          mode != TINYGLTF_MODE_TRIANGLE_FAN) {
        character.warnings.push_back(
            fmt::format("{}: not triangles (mode {}); skipped", label, mode));
        continue;
      }
      auto attribute = [&](const char* name) -> int {
        auto it = prim.attributes.find(name);
        return it == prim.attributes.end() ? -1 : it->second;
      };
      if (attribute("POSITION") < 0) return fail("{}: no POSITION", label);
      if (attribute("JOINTS_0") < 0 || attribute("WEIGHTS_0") < 0) {
        return fail("{}: no JOINTS_0/WEIGHTS_0 (every primitive of a skinned mesh needs them)",
                    label);
      }
      if (!prim.targets.empty() && !warned_targets) {
        character.warnings.push_back(fmt::format("{}: morph targets ignored", label));
        warned_targets = true;
      }
      if (attribute("JOINTS_1") >= 0 && !warned_influences) {
        character.warnings.push_back(
            fmt::format("{}: JOINTS_1/WEIGHTS_1 ignored (4 influences per vertex)", label));
        warned_influences = true;
      }
      auto positions = reader.read(attribute("POSITION"), label + " POSITION", {TINYGLTF_TYPE_VEC3},
                                   Components::kFloat);
      if (!positions) return tl::unexpected(positions.error());
      const size_t vertices = positions->count;
      auto joints = reader.read(attribute("JOINTS_0"), label + " JOINTS_0", {TINYGLTF_TYPE_VEC4},
                                Components::kUnsigned);
      if (!joints) return tl::unexpected(joints.error());
      auto weights = reader.read(attribute("WEIGHTS_0"), label + " WEIGHTS_0", {TINYGLTF_TYPE_VEC4},
                                 Components::kFloatOrNormalized);
      if (!weights) return tl::unexpected(weights.error());
      if (joints->count != vertices || weights->count != vertices) {
        return fail("{}: JOINTS_0 has {} and WEIGHTS_0 {} entries for {} vertices", label,
                    joints->count, weights->count, vertices);
      }
      std::optional<AccessorData> colors;
      if (attribute("COLOR_0") >= 0) {
        auto c =
            reader.read(attribute("COLOR_0"), label + " COLOR_0",
                        {TINYGLTF_TYPE_VEC3, TINYGLTF_TYPE_VEC4}, Components::kFloatOrNormalized);
        if (!c) return tl::unexpected(c.error());
        if (c->count != vertices) {
          return fail("{}: COLOR_0 has {} entries for {} vertices", label, c->count, vertices);
        }
        colors = std::move(*c);
      }
      std::array<double, 3> factor = {1, 1, 1};
      if (prim.material >= 0) {
        if (static_cast<size_t>(prim.material) >= model.materials.size()) {
          return fail("{}: material {} does not exist (the file has {})", label, prim.material,
                      model.materials.size());
        }
        const tg::Material& material = model.materials[static_cast<size_t>(prim.material)];
        const auto& f = material.pbrMetallicRoughness.baseColorFactor;
        if (f.size() >= 3 && finite_all(f)) factor = {f[0], f[1], f[2]};
        if (material.pbrMetallicRoughness.baseColorTexture.index >= 0 && !warned_textures) {
          character.warnings.push_back(fmt::format(
              "{}: base colour texture ignored (colours come from baseColorFactor and COLOR_0)",
              label));
          warned_textures = true;
        }
      }
      auto triangles = internal::primitive_triangles(reader, prim, mode, vertices, label);
      if (!triangles) return tl::unexpected(triangles.error());

      const size_t base = character.vertex_count();
      if (base + vertices > std::numeric_limits<uint32_t>::max()) return fail("too many vertices");
      for (size_t v = 0; v < vertices; ++v) {
        double sum = 0;
        for (int k = 0; k < 4; ++k) {
          const double w = weights->at(v, k);
          const double j = joints->at(v, k);
          if (w < 0) return fail("{}: WEIGHTS_0 of vertex {} is negative", label, v);
          if (j >= static_cast<double>(joints_of_skin.size())) {
            return fail("{}: JOINTS_0 of vertex {} names joint {}, but its skin has {} joints",
                        label, v, j, joints_of_skin.size());
          }
          sum += w;
        }
        if (!(sum > 0)) return fail("{}: the WEIGHTS_0 of vertex {} sum to 0", label, v);
        for (int k = 0; k < 4; ++k) {
          character.vertex_joints.push_back(
              static_cast<uint32_t>(joints_of_skin[static_cast<size_t>(joints->at(v, k))]));
          character.vertex_weights.push_back(static_cast<float>(weights->at(v, k) / sum));
        }
        for (int c = 0; c < 3; ++c) {
          character.positions.push_back(static_cast<float>(positions->at(v, c)));
          double colour = factor[static_cast<size_t>(c)] * (colors ? colors->at(v, c) : 1.0);
          character.colors.push_back(static_cast<float>(colour));
        }
      }
      for (uint32_t i : *triangles) character.indices.push_back(static_cast<uint32_t>(base) + i);
    }
  }
  if (character.indices.empty()) return fail("the skinned meshes have no triangles");

  // Animations of the nodes joints hang from.
  bool warned_weights = false;
  for (size_t ai = 0; ai < model.animations.size(); ++ai) {
    const tg::Animation& animation = model.animations[ai];
    GltfAnimation out;
    out.name = animation.name.empty() ? fmt::format("animation {}", ai) : animation.name;
    const std::string label = fmt::format("animation '{}'", out.name);
    for (size_t ci = 0; ci < animation.channels.size(); ++ci) {
      const tg::AnimationChannel& channel = animation.channels[ci];
      const std::string where = fmt::format("{} channel {}", label, ci);
      if (channel.target_node < 0) continue;  // targets something else (an extension)
      if (static_cast<size_t>(channel.target_node) >= node_count) {
        return fail("{}: node {} does not exist (the file has {} nodes)", where,
                    channel.target_node, node_count);
      }
      GltfChannel c;
      if (channel.target_path == "translation") {
        c.path = GltfChannel::Path::kTranslation;
      } else if (channel.target_path == "rotation") {
        c.path = GltfChannel::Path::kRotation;
      } else if (channel.target_path == "scale") {
        c.path = GltfChannel::Path::kScale;
      } else if (channel.target_path == "weights") {
        if (!warned_weights) character.warnings.push_back(where + ": morph target weights ignored");
        warned_weights = true;
        continue;
      } else {
        return fail("{}: unknown path '{}'", where, channel.target_path);
      }
      if (channel.sampler < 0 ||
          static_cast<size_t>(channel.sampler) >= animation.samplers.size()) {
        return fail("{}: sampler {} does not exist (the animation has {})", where, channel.sampler,
                    animation.samplers.size());
      }
      const tg::AnimationSampler& sampler =
          animation.samplers[static_cast<size_t>(channel.sampler)];
      if (sampler.interpolation == "STEP") {
        c.step = true;
      } else if (sampler.interpolation == "CUBICSPLINE") {
        return fail("{}: CUBICSPLINE interpolation is not supported (export with LINEAR or STEP)",
                    where);
      } else if (sampler.interpolation != "LINEAR") {
        return fail("{}: unknown interpolation '{}'", where, sampler.interpolation);
      }
      auto node_it = character_node.find(channel.target_node);
      if (node_it == character_node.end()) continue;  // moves nothing the skin depends on
      c.node = node_it->second;
      if (character.nodes[static_cast<size_t>(c.node)].has_matrix) {
        return fail("{}: node '{}' is animated but given as a matrix (glTF requires TRS)", where,
                    character.nodes[static_cast<size_t>(c.node)].name);
      }
      auto input =
          reader.read(sampler.input, where + " input", {TINYGLTF_TYPE_SCALAR}, Components::kFloat);
      if (!input) return tl::unexpected(input.error());
      const bool rotation = c.path == GltfChannel::Path::kRotation;
      auto output = reader.read(sampler.output, where + " output",
                                {rotation ? TINYGLTF_TYPE_VEC4 : TINYGLTF_TYPE_VEC3},
                                rotation ? Components::kFloatOrNormalized : Components::kFloat);
      if (!output) return tl::unexpected(output.error());
      if (output->count != input->count) {
        return fail("{}: {} keys but {} values", where, input->count, output->count);
      }
      c.times_s = std::move(input->values);
      for (size_t k = 1; k < c.times_s.size(); ++k) {
        if (c.times_s[k] < c.times_s[k - 1])
          return fail("{}: key times decrease at key {}", where, k);
      }
      c.values = std::move(output->values);
      if (rotation) {
        for (size_t k = 0; k < c.times_s.size(); ++k) {
          double* q = &c.values[4 * k];
          double len = std::sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]);
          if (!(len > 1e-9))
            return fail("{}: key {} is not a rotation (zero quaternion)", where, k);
          for (int i = 0; i < 4; ++i) q[i] /= len;
        }
      }
      out.channels.push_back(std::move(c));
    }
    character.animations.push_back(std::move(out));
  }
  return character;
}

}  // namespace

tl::expected<GltfCharacter, std::string> load_gltf_character(std::string_view bytes,
                                                             std::string_view file_name) {
  const std::string file(file_name);
  auto with_file = [&](const std::string& message) {
    return tl::unexpected(fmt::format("{}: {}", file, message));
  };
  try {
    std::vector<std::string> warnings;
    auto model = internal::parse_model(bytes, file_name, {}, warnings);
    if (!model) return with_file(model.error());
    GltfCharacter character;
    character.file_name = file;
    character.warnings = std::move(warnings);
    auto result = extract(*model, std::move(character));
    if (!result) return with_file(result.error());
    return result;
  } catch (const std::exception& e) {
    return with_file(fmt::format("cannot be read: {}", e.what()));
  }
}

// ---------------------------------------------------------------------------------------
// Posing.

std::vector<std::string> GltfCharacter::joint_names() const {
  std::vector<std::string> names;
  names.reserve(joints.size());
  for (const GltfJoint& joint : joints) names.push_back(joint.name);
  return names;
}

double GltfCharacter::duration_s(int animation) const {
  if (animation < 0 || static_cast<size_t>(animation) >= animations.size()) {
    throw std::out_of_range(
        fmt::format("{}: no animation {} (it has {})", file_name, animation, animations.size()));
  }
  double end = 0;
  for (const GltfChannel& c : animations[static_cast<size_t>(animation)].channels) {
    end = std::max(end, c.times_s.back());
  }
  return end;
}

namespace {

// The channel's value at time t: held before the first and after the last key.
std::array<double, 4> sample(const GltfChannel& c, double t) {
  const int n = c.path == GltfChannel::Path::kRotation ? 4 : 3;
  auto key = [&](size_t k) {
    std::array<double, 4> v{};
    for (int i = 0; i < n; ++i)
      v[static_cast<size_t>(i)] = c.values[k * static_cast<size_t>(n) + static_cast<size_t>(i)];
    return v;
  };
  const auto& ts = c.times_s;
  if (!(t > ts.front())) return key(0);
  if (t >= ts.back()) return key(ts.size() - 1);
  const size_t k1 = static_cast<size_t>(std::upper_bound(ts.begin(), ts.end(), t) - ts.begin());
  const size_t k0 = k1 - 1;
  if (c.step) return key(k0);
  const double u = (t - ts[k0]) / (ts[k1] - ts[k0]);
  auto a = key(k0), b = key(k1);
  if (n == 4) return slerp(a, b, u);
  return {a[0] + (b[0] - a[0]) * u, a[1] + (b[1] - a[1]) * u, a[2] + (b[2] - a[2]) * u, 0};
}

}  // namespace

PosedCharacter GltfCharacter::pose(int animation, double time_s) const {
  if (animation != kBindPose &&
      (animation < 0 || static_cast<size_t>(animation) >= animations.size())) {
    throw std::out_of_range(
        fmt::format("{}: no animation {} (it has {})", file_name, animation, animations.size()));
  }
  PosedCharacter out;
  out.indices = indices;
  out.colors = colors;
  out.positions.resize(positions.size());
  out.joints.resize(joints.size());
  auto put = [&](size_t v, const std::array<double, 3>& p) {
    Vec3 w = gltf_to_world(p[0], p[1], p[2]);
    out.positions[3 * v] = static_cast<float>(w.x);
    out.positions[3 * v + 1] = static_cast<float>(w.y);
    out.positions[3 * v + 2] = static_cast<float>(w.z);
  };

  if (animation == kBindPose) {
    for (size_t v = 0; v < vertex_count(); ++v) {
      put(v, {positions[3 * v], positions[3 * v + 1], positions[3 * v + 2]});
    }
    for (size_t j = 0; j < joints.size(); ++j) {
      auto p = inverse_translation(joints[j].inverse_bind);
      out.joints[j] = gltf_to_world(p[0], p[1], p[2]);
    }
    return out;
  }

  // Local transforms: rest, with this animation's channels applied.
  std::vector<std::array<double, 3>> translation(nodes.size()), scale(nodes.size());
  std::vector<std::array<double, 4>> rotation(nodes.size());
  std::vector<bool> animated(nodes.size(), false);
  for (size_t i = 0; i < nodes.size(); ++i) {
    translation[i] = nodes[i].translation;
    rotation[i] = nodes[i].rotation;
    scale[i] = nodes[i].scale;
  }
  for (const GltfChannel& c : animations[static_cast<size_t>(animation)].channels) {
    const auto node = static_cast<size_t>(c.node);
    auto v = sample(c, time_s);
    animated[node] = true;
    switch (c.path) {
      case GltfChannel::Path::kTranslation:
        translation[node] = {v[0], v[1], v[2]};
        break;
      case GltfChannel::Path::kScale:
        scale[node] = {v[0], v[1], v[2]};
        break;
      case GltfChannel::Path::kRotation:
        rotation[node] = v;
        break;
    }
  }
  std::vector<Matrix4> global(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    Matrix4 local =
        animated[i] ? compose_trs(translation[i], rotation[i], scale[i]) : nodes[i].local;
    global[i] =
        nodes[i].parent < 0 ? local : multiply(global[static_cast<size_t>(nodes[i].parent)], local);
  }
  std::vector<Matrix4> skinning(joints.size());
  for (size_t j = 0; j < joints.size(); ++j) {
    const Matrix4& g = global[static_cast<size_t>(joints[j].node)];
    skinning[j] = multiply(g, joints[j].inverse_bind);
    out.joints[j] = gltf_to_world(g[12], g[13], g[14]);
  }
  for (size_t v = 0; v < vertex_count(); ++v) {
    std::array<double, 3> p = {0, 0, 0};
    for (size_t k = 0; k < 4; ++k) {
      const double w = vertex_weights[4 * v + k];
      if (w == 0) continue;
      auto q = transform_point(skinning[vertex_joints[4 * v + k]], positions[3 * v],
                               positions[3 * v + 1], positions[3 * v + 2]);
      for (size_t c = 0; c < 3; ++c) p[c] += w * q[c];
    }
    put(v, p);
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Keypoints.

tl::expected<std::array<int, kKeypointCount>, std::string> coco_joint_map(
    const GltfCharacter& character, const std::map<std::string, std::string>& coco_to_joint_name) {
  std::array<int, kKeypointCount> map;
  map.fill(-1);
  for (const auto& [keypoint, joint_name] : coco_to_joint_name) {
    auto k = std::find(kKeypointNames.begin(), kKeypointNames.end(), keypoint);
    if (k == kKeypointNames.end()) {
      return tl::unexpected(fmt::format("{}: '{}' is not a COCO keypoint (expected one of {})",
                                        character.file_name, keypoint,
                                        fmt::join(kKeypointNames, ", ")));
    }
    if (joint_name.empty()) continue;
    int found = -1;
    for (size_t j = 0; j < character.joints.size(); ++j) {
      if (character.joints[j].name == joint_name) {
        found = static_cast<int>(j);
        break;
      }
    }
    if (found < 0) {
      return tl::unexpected(
          fmt::format("{}: keypoint {}: no joint named '{}' (the skin has {} joints)",
                      character.file_name, keypoint, joint_name, character.joints.size()));
    }
    map[static_cast<size_t>(k - kKeypointNames.begin())] = found;
  }
  return map;
}

std::map<std::string, std::string> mixamo_coco_joint_names(std::string_view prefix) {
  const std::string p(prefix);
  return {{"nose", p + "Head"},
          {"left_eye", p + "Head"},
          {"right_eye", p + "Head"},
          {"left_ear", p + "Head"},
          {"right_ear", p + "Head"},
          {"left_shoulder", p + "LeftArm"},
          {"right_shoulder", p + "RightArm"},
          {"left_elbow", p + "LeftForeArm"},
          {"right_elbow", p + "RightForeArm"},
          {"left_wrist", p + "LeftHand"},
          {"right_wrist", p + "RightHand"},
          {"left_hip", p + "LeftUpLeg"},
          {"right_hip", p + "RightUpLeg"},
          {"left_knee", p + "LeftLeg"},
          {"right_knee", p + "RightLeg"},
          {"left_ankle", p + "LeftFoot"},
          {"right_ankle", p + "RightFoot"}};
}

}  // namespace synthfarm::gltf
