// glTF 2.0 import of skinned characters, their posing and COCO joint maps; see gltf.h.
// The export of scenes is export.cpp's.
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

namespace {

namespace tg = tinygltf;
using internal::compose_trs;
using internal::determinant3;
using internal::kIdentity4;
using internal::multiply;
using internal::transform_point;

// ---------------------------------------------------------------------------------------
// Frames and small transform math (double precision, glTF's column-major order).

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

}  // namespace

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

// The stages of extract(), in file order. Each reads the parsed model and fills part of the
// character; error text without the file name.

// Every node with both a mesh and a skin (the skinned meshes), checking the indices.
tl::expected<std::vector<int>, std::string> skinned_mesh_nodes(const tg::Model& model) {
  const size_t node_count = model.nodes.size();
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

  return skinned_nodes;
}

// The union of the skins' joints, each with one inverse bind matrix.
struct SkinJoints {
  std::map<int, int> joint_of_node;             // file node -> character joint
  std::vector<int> joint_nodes;                 // character joint -> file node
  std::map<int, std::vector<int>> skin_joints;  // skin -> character joint of each skin joint
};

tl::expected<SkinJoints, std::string> gather_joints(const tg::Model& model, const Reader& reader,
                                                    const std::vector<int>& skinned_nodes,
                                                    GltfCharacter& character) {
  const size_t node_count = model.nodes.size();
  SkinJoints found;
  std::map<int, int>& joint_of_node = found.joint_of_node;
  std::vector<int>& joint_nodes = found.joint_nodes;
  std::map<int, std::vector<int>>& skin_joints = found.skin_joints;
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

  return found;
}

// The nodes joints hang from (every joint and every ancestor, parents first), and each
// joint's node, parent joint and rest transform. Returns file node -> character node.
tl::expected<std::unordered_map<int, int>, std::string> gather_nodes(
    const tg::Model& model, const internal::NodeTree& tree, const SkinJoints& joints,
    GltfCharacter& character) {
  const size_t node_count = model.nodes.size();
  const std::vector<int>& parent = tree.parent;
  const std::vector<int>& depth = tree.depth;
  const std::vector<int>& joint_nodes = joints.joint_nodes;
  const std::map<int, int>& joint_of_node = joints.joint_of_node;
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

  return character_node;
}

// Which once-per-file warnings about ignored features were given.
struct GeometryWarnings {
  bool textures = false, targets = false, influences = false;
};

// One triangle primitive of a skinned mesh node, appended in the bind pose.
tl::expected<void, std::string> read_primitive(const tg::Model& model, const Reader& reader,
                                               const tg::Node& node, const tg::Primitive& prim,
                                               size_t pi, const std::vector<int>& joints_of_skin,
                                               GeometryWarnings& warned, GltfCharacter& character) {
  bool& warned_textures = warned.textures;
  bool& warned_targets = warned.targets;
  bool& warned_influences = warned.influences;
  const std::string label = fmt::format("{} primitive {}", mesh_name(model, node.mesh), pi);
  const int mode = prim.mode < 0 ? TINYGLTF_MODE_TRIANGLES : prim.mode;
  if (mode != TINYGLTF_MODE_TRIANGLES && mode != TINYGLTF_MODE_TRIANGLE_STRIP &&
      mode != TINYGLTF_MODE_TRIANGLE_FAN) {
    character.warnings.push_back(
        fmt::format("{}: not triangles (mode {}); skipped", label, mode));
    return {};
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
  return {};
}

// Every triangle primitive of every skinned mesh node, in the bind pose.
tl::expected<void, std::string> read_geometry(const tg::Model& model, const Reader& reader,
                                              const std::vector<int>& skinned_nodes,
                                              const SkinJoints& joints, GltfCharacter& character) {
  GeometryWarnings warned;
  for (int n : skinned_nodes) {
    const tg::Node& node = model.nodes[static_cast<size_t>(n)];
    const tg::Mesh& mesh = model.meshes[static_cast<size_t>(node.mesh)];
    const std::vector<int>& joints_of_skin = joints.skin_joints.at(node.skin);
    for (size_t pi = 0; pi < mesh.primitives.size(); ++pi) {
      auto read = read_primitive(model, reader, node, mesh.primitives[pi], pi, joints_of_skin, warned,
                                 character);
      if (!read) return read;
    }
  }
  if (character.indices.empty()) return fail("the skinned meshes have no triangles");
  return {};
}

// One channel of an animation: nullopt when it moves nothing the skin depends on (or
// something ignored, with a warning).
tl::expected<std::optional<GltfChannel>, std::string> read_channel(
    const tg::Model& model, const Reader& reader, const tg::Animation& animation, size_t ci,
    const std::string& label, const std::unordered_map<int, int>& character_node,
    bool& warned_weights, GltfCharacter& character) {
  const size_t node_count = model.nodes.size();
  const std::optional<GltfChannel> none;
  const tg::AnimationChannel& channel = animation.channels[ci];
  const std::string where = fmt::format("{} channel {}", label, ci);
  if (channel.target_node < 0) return none;  // targets something else (an extension)
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
    return none;
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
  if (node_it == character_node.end()) return none;  // moves nothing the skin depends on
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
  return std::optional<GltfChannel>(std::move(c));
}

// Animations of the nodes joints hang from.
tl::expected<void, std::string> read_animations(const tg::Model& model, const Reader& reader,
                                                const std::unordered_map<int, int>& character_node,
                                                GltfCharacter& character) {
  bool warned_weights = false;
  for (size_t ai = 0; ai < model.animations.size(); ++ai) {
    const tg::Animation& animation = model.animations[ai];
    GltfAnimation out;
    out.name = animation.name.empty() ? fmt::format("animation {}", ai) : animation.name;
    const std::string label = fmt::format("animation '{}'", out.name);
    for (size_t ci = 0; ci < animation.channels.size(); ++ci) {
      auto channel =
          read_channel(model, reader, animation, ci, label, character_node, warned_weights, character);
      if (!channel) return tl::unexpected(channel.error());
      if (*channel) out.channels.push_back(std::move(**channel));
    }
    character.animations.push_back(std::move(out));
  }
  return {};
}

// Everything after tinygltf parsed the file; error text without the file name.
tl::expected<GltfCharacter, std::string> extract(const tg::Model& model, GltfCharacter character) {
  const Reader reader(model);
  // The node tree: every child index valid, one parent each, no cycles.
  auto tree = internal::node_tree(model);
  if (!tree) return tl::unexpected(tree.error());
  auto skinned_nodes = skinned_mesh_nodes(model);
  if (!skinned_nodes) return tl::unexpected(skinned_nodes.error());
  auto joints = gather_joints(model, reader, *skinned_nodes, character);
  if (!joints) return tl::unexpected(joints.error());
  auto character_node = gather_nodes(model, *tree, *joints, character);
  if (!character_node) return tl::unexpected(character_node.error());
  if (auto geometry = read_geometry(model, reader, *skinned_nodes, *joints, character); !geometry) {
    return tl::unexpected(geometry.error());
  }
  if (auto animations = read_animations(model, reader, *character_node, character); !animations) {
    return tl::unexpected(animations.error());
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
