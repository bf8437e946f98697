// Tests of glTF export and skinned-character import. The exported files are read back
// with tinygltf itself; the skinned fixture is written with tinygltf here, so the importer
// is checked against a file it did not write.
#include "gltf/gltf.h"

#include <gtest/gtest.h>
#include <tiny_gltf.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "gltf/gltf_testing.h"
#include "render/scene.h"

namespace synthfarm::gltf {

using render::Camera;
using render::Instance;
using render::Mesh;
using render::Scene;
using render::SemanticClass;
using render::add_box;
using render::look_at_camera;
using render::semantic_class_name;
namespace {

namespace tg = tinygltf;
using gltf_testing::expect_near;
using gltf_testing::floats;
using gltf_testing::gltf_to_world;
using gltf_testing::ModelBuilder;
using gltf_testing::parse_glb;
using gltf_testing::to_glb;
using gltf_testing::to_gltf_json;


// ---------------------------------------------------------------------------------------
// Export.

TEST(GltfExportTest, VertexColoursBecomeColor0AndAlbedoAMaterial) {
  Scene scene;
  scene.kind = "test";
  scene.camera = look_at_camera(32, 24, 60, {0, -3, 1}, {0, 0, 0.5});
  Mesh plain;
  add_box(plain, {0, 0, 0.5}, Mat3{}, {0.5, 0.5, 0.5});
  plain.albedo = {0.5f, 0.25f, 0.125f};
  plain.instance_id = 1;
  plain.semantic = SemanticClass::kProp;
  Mesh painted = plain;
  painted.instance_id = 2;
  painted.colors.resize(painted.positions.size(), 0.75f);
  scene.meshes = {plain, painted};
  scene.instances = {{1, SemanticClass::kProp, "box"}, {2, SemanticClass::kProp, "box"}};

  auto glb = export_glb(scene);
  ASSERT_TRUE(glb) << glb.error();
  tg::Model model = parse_glb(*glb);
  ASSERT_EQ(model.meshes.size(), 2u);
  const tg::Primitive& a = model.meshes[0].primitives.at(0);
  const tg::Primitive& b = model.meshes[1].primitives.at(0);
  EXPECT_FALSE(a.attributes.contains("COLOR_0"));
  ASSERT_TRUE(b.attributes.contains("COLOR_0"));
  EXPECT_EQ(floats(model, b.attributes.at("COLOR_0")), painted.colors);
  const auto& pbr_a = model.materials.at(static_cast<size_t>(a.material)).pbrMetallicRoughness;
  const auto& pbr_b = model.materials.at(static_cast<size_t>(b.material)).pbrMetallicRoughness;
  EXPECT_EQ(pbr_a.baseColorFactor, (std::vector<double>{0.5, 0.25, 0.125, 1}));
  EXPECT_EQ(pbr_b.baseColorFactor, (std::vector<double>{1, 1, 1, 1}));
  EXPECT_EQ(pbr_a.metallicFactor, 0);
  EXPECT_EQ(pbr_a.roughnessFactor, 1);
  EXPECT_EQ(model.nodes[static_cast<size_t>(model.scenes[0].nodes[1])].name, "box 2");
}

TEST(GltfExportTest, RejectsAMeshWhoseIndicesOverrunItsVertices) {
  Scene scene;
  Mesh mesh;
  mesh.positions = {0, 0, 0, 1, 0, 0, 0, 1, 0};
  mesh.indices = {0, 1, 3};
  mesh.instance_id = 1;
  scene.meshes = {mesh};
  auto glb = export_glb(scene);
  ASSERT_FALSE(glb);
  EXPECT_NE(glb.error().find("index 3 at position 2 is beyond its 3 vertices"), std::string::npos)
      << glb.error();
}

// ---------------------------------------------------------------------------------------
// The skinned fixture: a vertical cylinder (glTF frame, +y up) of 5 rings of 4 vertices at
// y = 0, 0.5, 1, 1.5, 2 and radius 0.1, on two bones: "lower" at the origin and "upper" at
// y = 1, both under an "Armature" node. Rings below y = 1 follow the lower bone, above it
// the upper, the middle ring half each. The mesh node "Body" is a root of its own. Animation "Bend"
// turns the upper bone about +z from 0 to 90 degrees over one second.

constexpr int kRings = 5, kPerRing = 4;
constexpr double kRadius = 0.1;

Vec3 ring_vertex(int ring, int k) {
  double a = k * kPi / 2;
  return {kRadius * std::cos(a), 0.5 * ring, kRadius * std::sin(a)};
}

// Which accessor holds what in the fixture.
struct Fixture {
  tg::Model model;
  int positions = -1, joints = -1, weights = -1, indices = -1, inverse_binds = -1;
};

Fixture skinned_fixture(const std::string& lower = "lower", const std::string& upper = "upper") {
  Fixture f;
  tg::Model& m = f.model;
  m.asset.version = "2.0";
  ModelBuilder b(m);

  std::vector<float> positions;
  std::vector<uint16_t> joints;
  std::vector<float> weights;
  for (int ring = 0; ring < kRings; ++ring) {
    for (int k = 0; k < kPerRing; ++k) {
      Vec3 p = ring_vertex(ring, k);
      positions.insert(positions.end(),
                       {static_cast<float>(p.x), static_cast<float>(p.y), static_cast<float>(p.z)});
      if (ring == 2) {
        joints.insert(joints.end(), {0, 1, 0, 0});
        weights.insert(weights.end(), {0.5f, 0.5f, 0, 0});
      } else {
        joints.insert(joints.end(), {static_cast<uint16_t>(ring < 2 ? 0 : 1), 0, 0, 0});
        weights.insert(weights.end(), {1, 0, 0, 0});
      }
    }
  }
  std::vector<uint32_t> indices;
  for (int ring = 0; ring + 1 < kRings; ++ring) {
    for (int k = 0; k < kPerRing; ++k) {
      uint32_t a = static_cast<uint32_t>(ring * kPerRing + k);
      uint32_t c = static_cast<uint32_t>(ring * kPerRing + (k + 1) % kPerRing);
      indices.insert(indices.end(), {a, c, a + kPerRing, c, c + kPerRing, a + kPerRing});
    }
  }
  constexpr int kVertexData = TINYGLTF_TARGET_ARRAY_BUFFER;
  f.positions =
      b.accessor(positions, TINYGLTF_COMPONENT_TYPE_FLOAT, TINYGLTF_TYPE_VEC3, kVertexData);
  f.joints =
      b.accessor(joints, TINYGLTF_COMPONENT_TYPE_UNSIGNED_SHORT, TINYGLTF_TYPE_VEC4, kVertexData);
  f.weights = b.accessor(weights, TINYGLTF_COMPONENT_TYPE_FLOAT, TINYGLTF_TYPE_VEC4, kVertexData);
  f.indices = b.accessor(indices, TINYGLTF_COMPONENT_TYPE_UNSIGNED_INT, TINYGLTF_TYPE_SCALAR,
                         TINYGLTF_TARGET_ELEMENT_ARRAY_BUFFER);
  // Column-major: identity, and a translation by (0, -1, 0).
  std::vector<float> ibm = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0,  0, 1,
                            1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, -1, 0, 1};
  f.inverse_binds = b.accessor(ibm, TINYGLTF_COMPONENT_TYPE_FLOAT, TINYGLTF_TYPE_MAT4);

  tg::Material material;
  material.name = "skin";
  material.pbrMetallicRoughness.baseColorFactor = {0.8, 0.6, 0.4, 1};
  m.materials.push_back(material);

  tg::Primitive prim;
  prim.mode = TINYGLTF_MODE_TRIANGLES;
  prim.attributes = {{"POSITION", f.positions}, {"JOINTS_0", f.joints}, {"WEIGHTS_0", f.weights}};
  prim.indices = f.indices;
  prim.material = 0;
  tg::Mesh mesh;
  mesh.name = "Body";
  mesh.primitives.push_back(prim);
  m.meshes.push_back(mesh);

  m.nodes.resize(4);
  m.nodes[0].name = "Armature";
  m.nodes[0].children = {1};
  m.nodes[1].name = lower;
  m.nodes[1].children = {2};
  m.nodes[2].name = upper;
  m.nodes[2].translation = {0, 1, 0};
  m.nodes[3].name = "Body";
  m.nodes[3].mesh = 0;
  m.nodes[3].skin = 0;
  tg::Skin skin;
  skin.name = "rig";
  skin.joints = {1, 2};
  skin.inverseBindMatrices = f.inverse_binds;
  m.skins.push_back(skin);

  const double s = std::sin(kPi / 4), c = std::cos(kPi / 4);
  int times =
      b.accessor(std::vector<float>{0, 1}, TINYGLTF_COMPONENT_TYPE_FLOAT, TINYGLTF_TYPE_SCALAR);
  int rotations =
      b.accessor(std::vector<float>{0, 0, 0, 1, 0, 0, static_cast<float>(s), static_cast<float>(c)},
                 TINYGLTF_COMPONENT_TYPE_FLOAT, TINYGLTF_TYPE_VEC4);
  tg::Animation animation;
  animation.name = "Bend";
  tg::AnimationSampler sampler;
  sampler.input = times;
  sampler.output = rotations;
  sampler.interpolation = "LINEAR";
  animation.samplers.push_back(sampler);
  tg::AnimationChannel channel;
  channel.sampler = 0;
  channel.target_node = 2;
  channel.target_path = "rotation";
  animation.channels.push_back(channel);
  m.animations.push_back(animation);

  tg::Scene scene;
  scene.nodes = {0, 3};  // the skinned mesh node is a root: glTF ignores its transform
  m.scenes.push_back(scene);
  m.defaultScene = 0;
  return f;
}

// Where the fixture's vertex (ring, k) should be with the upper bone turned by `angle`
// about +z (glTF frame), in synthfarm's frame.
Vec3 expected_vertex(int ring, int k, double angle) {
  Vec3 p = ring_vertex(ring, k);
  auto turned = [&](Vec3 q) {
    Vec3 d = q - Vec3{0, 1, 0};
    return Vec3{0, 1, 0} + Vec3{std::cos(angle) * d.x - std::sin(angle) * d.y,
                                std::sin(angle) * d.x + std::cos(angle) * d.y, d.z};
  };
  Vec3 g = ring < 2 ? p : ring == 2 ? 0.5 * p + 0.5 * turned(p) : turned(p);
  return gltf_to_world(g);
}

GltfCharacter load_fixture() {
  auto character = load_gltf_character(to_glb(skinned_fixture().model), "cylinder.glb");
  EXPECT_TRUE(character) << character.error();
  return character ? *character : GltfCharacter{};
}

TEST(GltfCharacterTest, LoadsJointsMeshAndAnimation) {
  GltfCharacter c = load_fixture();
  EXPECT_EQ(c.joint_names(), (std::vector<std::string>{"lower", "upper"}));
  ASSERT_EQ(c.joints.size(), 2u);
  EXPECT_EQ(c.joints[0].parent, -1);
  EXPECT_EQ(c.joints[1].parent, 0);
  EXPECT_EQ(c.nodes.size(), 3u);  // Armature, lower, upper; not Body
  EXPECT_EQ(c.nodes[static_cast<size_t>(c.joints[0].node)].parent, 0);
  EXPECT_EQ(c.joints[1].rest_global[13], 1.0);  // y translation
  EXPECT_EQ(c.joints[1].inverse_bind[13], -1.0);
  EXPECT_EQ(c.vertex_count(), static_cast<size_t>(kRings * kPerRing));
  EXPECT_EQ(c.indices.size(), static_cast<size_t>((kRings - 1) * kPerRing * 6));
  ASSERT_EQ(c.colors.size(), c.positions.size());
  EXPECT_FLOAT_EQ(c.colors[0], 0.8f);
  EXPECT_FLOAT_EQ(c.colors[1], 0.6f);
  EXPECT_FLOAT_EQ(c.colors[2], 0.4f);
  ASSERT_EQ(c.animations.size(), 1u);
  EXPECT_EQ(c.animations[0].name, "Bend");
  EXPECT_DOUBLE_EQ(c.duration_s(0), 1.0);
  EXPECT_THROW(c.duration_s(1), std::out_of_range);
  EXPECT_THROW(c.pose(1, 0), std::out_of_range);
  EXPECT_TRUE(c.warnings.empty());
}

TEST(GltfCharacterTest, BindPoseIsTheModelledMesh) {
  GltfCharacter c = load_fixture();
  for (int animation : {GltfCharacter::kBindPose, 0}) {  // the animation starts at rest
    PosedCharacter p = c.pose(animation, 0);
    ASSERT_EQ(p.positions.size(), c.positions.size());
    for (int ring = 0; ring < kRings; ++ring) {
      for (int k = 0; k < kPerRing; ++k) {
        size_t v = static_cast<size_t>(ring * kPerRing + k);
        Vec3 got{p.positions[3 * v], p.positions[3 * v + 1], p.positions[3 * v + 2]};
        expect_near(got, gltf_to_world(ring_vertex(ring, k)), 1e-6);
      }
    }
    ASSERT_EQ(p.joints.size(), 2u);
    expect_near(p.joints[0], {0, 0, 0}, 1e-12);
    expect_near(p.joints[1], {0, 0, 1}, 1e-12);  // y = 1 in glTF is z = 1 here
    EXPECT_EQ(p.indices, c.indices);
    EXPECT_EQ(p.colors, c.colors);
  }
}

TEST(GltfCharacterTest, AnimationTurnsTheUpperBone) {
  GltfCharacter c = load_fixture();
  for (auto [time_s, angle] :
       {std::pair{0.5, kPi / 4}, {0.25, kPi / 8}, {1.0, kPi / 2}, {7.0, kPi / 2}}) {
    PosedCharacter p = c.pose(0, time_s);
    for (int ring = 0; ring < kRings; ++ring) {
      for (int k = 0; k < kPerRing; ++k) {
        size_t v = static_cast<size_t>(ring * kPerRing + k);
        Vec3 got{p.positions[3 * v], p.positions[3 * v + 1], p.positions[3 * v + 2]};
        expect_near(got, expected_vertex(ring, k, angle), 1e-6,
                    "t=" + std::to_string(time_s) + " ring " + std::to_string(ring));
      }
    }
    expect_near(p.joints[1], {0, 0, 1}, 1e-9);  // the upper joint turns in place
  }
  // The top of the cylinder at 45 degrees: the tip (0, 2, 0) goes to (-sin 45, 1 + cos 45, 0).
  PosedCharacter half = c.pose(0, 0.5);
  double tip_z = 0;
  for (size_t v = (kRings - 1) * kPerRing; v < c.vertex_count(); ++v)
    tip_z += half.positions[3 * v + 2] / kPerRing;
  EXPECT_NEAR(tip_z, 1 + std::cos(kPi / 4), 1e-6);
}

TEST(GltfCharacterTest, StepInterpolationHoldsTheEarlierKey) {
  Fixture f = skinned_fixture();
  f.model.animations[0].samplers[0].interpolation = "STEP";
  auto c = load_gltf_character(to_glb(f.model), "step.glb");
  ASSERT_TRUE(c) << c.error();
  PosedCharacter p = c->pose(0, 0.99);
  size_t top = (kRings - 1) * kPerRing;
  expect_near({p.positions[3 * top], p.positions[3 * top + 1], p.positions[3 * top + 2]},
              expected_vertex(kRings - 1, 0, 0), 1e-6);
}

TEST(GltfCharacterTest, LoadsGltfJsonWithEmbeddedBuffers) {
  std::string json = to_gltf_json(skinned_fixture().model);
  ASSERT_NE(json.find("data:application/octet-stream;base64,"), std::string::npos);
  auto c = load_gltf_character(json, "cylinder.gltf");
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->joint_names(), (std::vector<std::string>{"lower", "upper"}));
  PosedCharacter p = c->pose(0, 0.5);
  size_t v = 3 * kPerRing + 1;
  expect_near({p.positions[3 * v], p.positions[3 * v + 1], p.positions[3 * v + 2]},
              expected_vertex(3, 1, kPi / 4), 1e-6);
}

// ---------------------------------------------------------------------------------------
// Keypoints.

TEST(GltfCocoTest, MapsKeypointsToJoints) {
  GltfCharacter c = load_fixture();
  auto map = coco_joint_map(c, {{"left_hip", "lower"}, {"left_knee", "upper"}, {"nose", ""}});
  ASSERT_TRUE(map) << map.error();
  for (int k = 0; k < kKeypointCount; ++k) {
    int expected = k == 11 ? 0 : k == 13 ? 1 : -1;
    EXPECT_EQ((*map)[static_cast<size_t>(k)], expected)
        << kKeypointNames[static_cast<size_t>(k)];
  }
}

TEST(GltfCocoTest, ErrorsNameTheFileKeypointAndMissingJoint) {
  GltfCharacter c = load_fixture();
  auto missing = coco_joint_map(c, {{"left_wrist", "LeftHand"}});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error(),
            "cylinder.glb: keypoint left_wrist: no joint named 'LeftHand' (the skin has 2 joints)");
  auto unknown = coco_joint_map(c, {{"left_toe", "lower"}});
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().find("cylinder.glb: 'left_toe' is not a COCO keypoint"),
            std::string::npos)
      << unknown.error();
}

TEST(GltfCocoTest, MixamoMapCoversEveryKeypoint) {
  auto names = mixamo_coco_joint_names();
  ASSERT_EQ(names.size(), static_cast<size_t>(kKeypointCount));
  for (std::string_view k : kKeypointNames) EXPECT_TRUE(names.contains(std::string(k))) << k;
  EXPECT_EQ(names.at("left_shoulder"), "mixamorig:LeftArm");
  EXPECT_EQ(names.at("left_elbow"), "mixamorig:LeftForeArm");
  EXPECT_EQ(names.at("left_wrist"), "mixamorig:LeftHand");
  EXPECT_EQ(names.at("right_hip"), "mixamorig:RightUpLeg");
  EXPECT_EQ(names.at("right_knee"), "mixamorig:RightLeg");
  EXPECT_EQ(names.at("right_ankle"), "mixamorig:RightFoot");
  EXPECT_EQ(names.at("nose"), "mixamorig:Head");
  EXPECT_EQ(mixamo_coco_joint_names("mixamorig1:").at("left_hip"), "mixamorig1:LeftUpLeg");

  // The fixture with Mixamo names for its bones maps the hip and knee, and the full
  // Mixamo map fails on the first joint the two-bone rig lacks.
  auto c = load_gltf_character(
      to_glb(skinned_fixture("mixamorig:LeftUpLeg", "mixamorig:LeftLeg").model), "legs.glb");
  ASSERT_TRUE(c) << c.error();
  auto partial = coco_joint_map(
      *c, {{"left_hip", names.at("left_hip")}, {"left_knee", names.at("left_knee")}});
  ASSERT_TRUE(partial) << partial.error();
  EXPECT_EQ((*partial)[11], 0);
  EXPECT_EQ((*partial)[13], 1);
  auto full = coco_joint_map(*c, names);
  ASSERT_FALSE(full);
  EXPECT_NE(full.error().find("legs.glb: keypoint "), std::string::npos) << full.error();
  EXPECT_NE(full.error().find("no joint named 'mixamorig:"), std::string::npos) << full.error();
}

// ---------------------------------------------------------------------------------------
// Bad input.

struct BadInput {
  std::string name;
  std::function<std::string()> bytes;
  std::string file_name;
  std::string expected;  // a substring of the error
};

std::string fixture_with(const std::function<void(Fixture&)>& change) {
  Fixture f = skinned_fixture();
  change(f);
  return to_glb(f.model);
}

std::vector<BadInput> bad_inputs() {
  const std::string glb = to_glb(skinned_fixture().model);
  return {
      {"empty", [] { return std::string(); }, "alice.glb", "alice.glb: empty file"},
      {"truncated header", [] { return std::string("glTF\x02\0\0\0", 8); }, "alice.glb",
       "alice.glb: truncated .glb header (8 bytes"},
      {"truncated body", [glb] { return glb.substr(0, glb.size() / 2); }, "alice.glb",
       "alice.glb: truncated .glb: the header says"},
      {"not glTF at all", [] { return std::string("hello"); }, "alice.glb",
       "alice.glb: not a binary glTF file"},
      {"bad JSON", [] { return std::string("{\"asset\": {\"version\": \"2.0\"}, \"nodes\": [}"); },
       "alice.gltf", "alice.gltf: invalid JSON: "},
      {"no asset version", [] { return std::string("{\"nodes\": []}"); }, "alice.gltf",
       "alice.gltf: not a valid glTF file: "},
      {"external buffer",
       [] {
         return std::string(
             R"({"asset": {"version": "2.0"}, "buffers": [{"uri": "alice.bin", "byteLength": 4}]})");
       },
       "alice.gltf", "alice.gltf: buffer 0 is the external file 'alice.bin'"},
      {"no skin", [] { return fixture_with([](Fixture& f) { f.model.nodes[3].skin = -1; }); },
       "alice.glb", "alice.glb: no skinned mesh (no node has both a mesh and a skin)"},
      {"bad accessor index",
       [] {
         return fixture_with(
             [](Fixture& f) { f.model.meshes[0].primitives[0].attributes["POSITION"] = 99; });
       },
       "alice.glb", "alice.glb: mesh 'Body' primitive 0 POSITION: accessor 99 does not exist"},
      {"accessor beyond its bufferView",
       [] {
         return fixture_with(
             [](Fixture& f) { f.model.accessors[static_cast<size_t>(f.positions)].count = 1000; });
       },
       "alice.glb", "elements from byte 0 do not fit in bufferView"},
      {"bufferView beyond its buffer",
       [] {
         return fixture_with([](Fixture& f) {
           f.model
               .bufferViews[static_cast<size_t>(
                   f.model.accessors[static_cast<size_t>(f.weights)].bufferView)]
               .byteOffset = 1u << 20;
         });
       },
       "alice.glb",
       "alice.glb: mesh 'Body' primitive 0 WEIGHTS_0 (accessor 2): bufferView 2 (bytes "
       "1048576..1048896) runs past the end of buffer 0"},
      {"joint index beyond the skin",
       [] {
         return fixture_with([](Fixture& f) {
           auto& view = f.model.bufferViews[static_cast<size_t>(
               f.model.accessors[static_cast<size_t>(f.joints)].bufferView)];
           uint16_t seven = 7;
           std::memcpy(f.model.buffers[0].data.data() + view.byteOffset + 5 * 8, &seven, 2);
         });
       },
       "alice.glb",
       "alice.glb: mesh 'Body' primitive 0: JOINTS_0 of vertex 5 names joint 7, but its skin has 2 "
       "joints"},
      {"skin joint is no node",
       [] { return fixture_with([](Fixture& f) { f.model.skins[0].joints[1] = 40; }); },
       "alice.glb", "alice.glb: skin 'rig': joint 1 is node 40, which does not exist"},
      {"weights sum to zero",
       [] {
         return fixture_with([](Fixture& f) {
           auto& view = f.model.bufferViews[static_cast<size_t>(
               f.model.accessors[static_cast<size_t>(f.weights)].bufferView)];
           std::memset(f.model.buffers[0].data.data() + view.byteOffset + 2 * 16, 0, 16);
         });
       },
       "alice.glb", "alice.glb: mesh 'Body' primitive 0: the WEIGHTS_0 of vertex 2 sum to 0"},
      {"index beyond the vertices",
       [] {
         return fixture_with([](Fixture& f) {
           auto& view = f.model.bufferViews[static_cast<size_t>(
               f.model.accessors[static_cast<size_t>(f.indices)].bufferView)];
           uint32_t big = 20;
           std::memcpy(f.model.buffers[0].data.data() + view.byteOffset + 4, &big, 4);
         });
       },
       "alice.glb",
       "alice.glb: mesh 'Body' primitive 0: index 20 at position 1 is beyond its 20 vertices"},
      {"cubic spline",
       [] {
         return fixture_with(
             [](Fixture& f) { f.model.animations[0].samplers[0].interpolation = "CUBICSPLINE"; });
       },
       "alice.glb",
       "alice.glb: animation 'Bend' channel 0: CUBICSPLINE interpolation is not supported"},
      {"two parents",
       [] { return fixture_with([](Fixture& f) { f.model.nodes[2].children = {1}; }); },
       "alice.glb", "alice.glb: node 'lower' has more than one parent"},
      {"no JOINTS_0",
       [] {
         return fixture_with(
             [](Fixture& f) { f.model.meshes[0].primitives[0].attributes.erase("JOINTS_0"); });
       },
       "alice.glb", "alice.glb: mesh 'Body' primitive 0: no JOINTS_0/WEIGHTS_0"},
  };
}

TEST(GltfBadInputTest, EachGivesItsError) {
  for (const BadInput& bad : bad_inputs()) {
    auto c = load_gltf_character(bad.bytes(), bad.file_name);
    ASSERT_FALSE(c) << bad.name;
    EXPECT_NE(c.error().find(bad.expected), std::string::npos)
        << bad.name << ": expected '" << bad.expected << "' in '" << c.error() << "'";
    EXPECT_EQ(c.error().rfind(bad.file_name + ": ", 0), 0u) << bad.name << ": " << c.error();
  }
}

// Every prefix of a valid file, and the file with each byte changed, load or fail cleanly.
TEST(GltfBadInputTest, TruncatedAndCorruptedFilesNeverCrash) {
  const std::string glb = to_glb(skinned_fixture().model);
  for (size_t n = 0; n < glb.size(); ++n) {
    auto c = load_gltf_character(std::string_view(glb).substr(0, n), "cut.glb");
    EXPECT_FALSE(c) << n;
  }
  int loaded = 0;
  for (size_t i = 0; i < glb.size(); ++i) {
    for (int value : {0x00, 0xff, int{'9'}, int{'"'}}) {
      std::string bytes = glb;
      bytes[i] = static_cast<char>(value);
      auto c = load_gltf_character(bytes, "flipped.glb");
      if (c) {
        ++loaded;
        (void)c->pose(c->animations.empty() ? GltfCharacter::kBindPose : 0, 0.5);
      } else {
        EXPECT_EQ(c.error().rfind("flipped.glb: ", 0), 0u) << c.error();
      }
    }
  }
  EXPECT_GT(loaded, 0);  // most bytes of the binary chunk are harmless to change
}

}  // namespace
}  // namespace synthfarm::gltf
