// glTF 2.0 export of a render scene as .glb (gltf.h's export_glb): meshes with normals and
// vertex colours, instance nodes with their extras, and the camera with its exact
// intrinsics kept in extras.
#include <fmt/format.h>
#include <tiny_gltf.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "gltf/gltf.h"

namespace synthfarm::gltf {

using render::Camera;
using render::Instance;
using render::Mesh;
using render::Scene;
using render::semantic_class_name;
namespace {

namespace tg = tinygltf;

// synthfarm's world (+z up) to glTF's frame (+y up).
Vec3 world_to_gltf(Vec3 p) { return {p.x, p.z, -p.y}; }

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

}  // namespace synthfarm::gltf
