// Imported glTF characters as people of a scene, and samples that are short clips.
//
// The character here is synthfarm's own body model written as a skinned glTF with Mixamo's
// joint names by tinygltf (not by the exporter under test): its keypoints must land where
// the body model's joints are, be labelled like the parametric body's, and move with the
// file's animation.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "jobs/characters.h"
#include "gltf/gltf.h"
#include "gltf/gltf_testing.h"
#include "humans/body.h"
#include "humans/skeleton.h"
#include "jobs/people.h"
#include "render/renderer.h"
#include "jobs/sample.h"
#include "jobs/scene.h"

namespace synthfarm::jobs {

using gltf::GltfCharacter;

using render::Camera;
using render::Frame;
using render::Layer;
using render::Material;
using render::Mesh;
using render::RenderSettings;
using render::Renderer;
using render::SemanticClass;
using render::layer_bit;
namespace {

namespace tg = tinygltf;
using gltf::gltf_testing::ModelBuilder;
using gltf::gltf_testing::to_glb;
using json = nlohmann::json;

// Mixamo's name of each skeleton.h joint.
constexpr std::array<const char*, humans::kJointCount> kMixamoNames = {
    "Hips",         "LeftUpLeg",     "RightUpLeg",    "Spine",        "LeftLeg",
    "RightLeg",     "Spine1",        "LeftFoot",      "RightFoot",    "Spine2",
    "LeftToeBase",  "RightToeBase",  "Neck",          "LeftShoulder", "RightShoulder",
    "Head",         "LeftArm",       "RightArm",      "LeftForeArm",  "RightForeArm",
    "LeftHand",     "RightHand",     "LeftHandMiddle1", "RightHandMiddle1"};

// Body frame (x = the person's left, y = forward, z = up; left-handed) to glTF's frame (a
// character faces +Z with +Y up and its left at +X): a reflection, so triangles are
// rewound to stay counter-clockwise seen from outside.
Vec3 body_to_gltf(Vec3 p) { return {p.x, p.z, p.y}; }

struct CharacterFile {
  std::string bytes;
  humans::RestBody body;
};

// The rest body of `shape` as a skinned glTF: one node per joint (translation only, under
// an "Armature" root), inverse binds that undo the rest positions, the body model's skin
// weights, and an animation "RaiseLeftArm" that turns the left upper arm 90 degrees up
// (about glTF -Z, the person's front axis) over one second. `skin` = false leaves the skin
// out (a static mesh); `prefix` is put before every joint name.
CharacterFile parametric_character(const humans::Shape& shape, bool skin = true,
                                   const std::string& prefix = "mixamorig:") {
  CharacterFile out;
  out.body = humans::build_rest_body(shape);
  const humans::Topology& topo = humans::topology();
  tg::Model m;
  m.asset.version = "2.0";
  ModelBuilder b(m);

  std::vector<float> positions;
  for (const Vec3& v : out.body.vertices) {
    Vec3 g = body_to_gltf(v);
    positions.insert(positions.end(), {static_cast<float>(g.x), static_cast<float>(g.y), static_cast<float>(g.z)});
  }
  std::vector<uint32_t> indices;
  for (const auto& t : topo.triangles) indices.insert(indices.end(), {t[0], t[2], t[1]});
  std::vector<uint16_t> joints;
  std::vector<float> weights;
  for (const humans::SkinWeights& w : topo.weights) {
    double sum = w.weight[0] + w.weight[1] + w.weight[2] + w.weight[3];
    for (int k = 0; k < 4; ++k) {
      joints.push_back(w.joint[k]);
      weights.push_back(static_cast<float>(w.weight[k] / sum));
    }
  }
  tg::Primitive prim;
  prim.mode = TINYGLTF_MODE_TRIANGLES;
  prim.attributes["POSITION"] =
      b.accessor(positions, TINYGLTF_COMPONENT_TYPE_FLOAT, TINYGLTF_TYPE_VEC3, TINYGLTF_TARGET_ARRAY_BUFFER);
  if (skin) {
    prim.attributes["JOINTS_0"] = b.accessor(joints, TINYGLTF_COMPONENT_TYPE_UNSIGNED_SHORT, TINYGLTF_TYPE_VEC4,
                                             TINYGLTF_TARGET_ARRAY_BUFFER);
    prim.attributes["WEIGHTS_0"] =
        b.accessor(weights, TINYGLTF_COMPONENT_TYPE_FLOAT, TINYGLTF_TYPE_VEC4, TINYGLTF_TARGET_ARRAY_BUFFER);
  }
  prim.indices = b.accessor(indices, TINYGLTF_COMPONENT_TYPE_UNSIGNED_INT, TINYGLTF_TYPE_SCALAR,
                            TINYGLTF_TARGET_ELEMENT_ARRAY_BUFFER);
  tg::Material material;
  material.pbrMetallicRoughness.baseColorFactor = {0.7, 0.5, 0.4, 1};
  m.materials.push_back(material);
  prim.material = 0;
  tg::Mesh mesh;
  mesh.name = "Body";
  mesh.primitives.push_back(prim);
  m.meshes.push_back(mesh);

  // Nodes: 0 = Armature, 1 + j = joint j, then the mesh node.
  m.nodes.resize(2 + humans::kJointCount);
  m.nodes[0].name = "Armature";
  std::vector<float> inverse_binds;
  for (int j = 0; j < humans::kJointCount; ++j) {
    tg::Node& node = m.nodes[1 + static_cast<size_t>(j)];
    node.name = prefix + kMixamoNames[j];
    const int parent = humans::kParents[j];
    const Vec3 here = body_to_gltf(out.body.joints[j]);
    const Vec3 offset = parent < 0 ? here : here - body_to_gltf(out.body.joints[parent]);
    node.translation = {offset.x, offset.y, offset.z};
    m.nodes[parent < 0 ? 0 : 1 + static_cast<size_t>(parent)].children.push_back(1 + j);
    inverse_binds.insert(inverse_binds.end(), {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0});
    inverse_binds.insert(inverse_binds.end(), {static_cast<float>(-here.x), static_cast<float>(-here.y),
                                               static_cast<float>(-here.z), 1});
  }
  tg::Node& body_node = m.nodes.back();
  body_node.name = "Body";
  body_node.mesh = 0;
  if (skin) {
    body_node.skin = 0;
    tg::Skin s;
    for (int j = 0; j < humans::kJointCount; ++j) s.joints.push_back(1 + j);
    s.inverseBindMatrices = b.accessor(inverse_binds, TINYGLTF_COMPONENT_TYPE_FLOAT, TINYGLTF_TYPE_MAT4);
    m.skins.push_back(s);

    const float h = static_cast<float>(std::sin(kPi / 4)), c = static_cast<float>(std::cos(kPi / 4));
    tg::AnimationSampler sampler;
    sampler.input = b.accessor(std::vector<float>{0, 1}, TINYGLTF_COMPONENT_TYPE_FLOAT, TINYGLTF_TYPE_SCALAR);
    // About glTF +Z (forward) by +90 degrees: the left arm (+X) swings up (+Y).
    sampler.output = b.accessor(std::vector<float>{0, 0, 0, 1, 0, 0, h, c}, TINYGLTF_COMPONENT_TYPE_FLOAT,
                                TINYGLTF_TYPE_VEC4);
    sampler.interpolation = "LINEAR";
    tg::Animation animation;
    animation.name = "RaiseLeftArm";
    animation.samplers.push_back(sampler);
    tg::AnimationChannel channel;
    channel.sampler = 0;
    channel.target_node = 1 + humans::index(humans::Joint::kLeftShoulder);
    channel.target_path = "rotation";
    animation.channels.push_back(channel);
    m.animations.push_back(animation);
  }
  tg::Scene scene;
  scene.nodes = {0, static_cast<int>(m.nodes.size() - 1)};
  m.scenes.push_back(scene);
  m.defaultScene = 0;
  out.bytes = to_glb(m);
  return out;
}

constexpr const char* kUri = "file:///characters/body.glb";

// An asset reader over files held in memory.
AssetReader reader_of(std::map<std::string, std::string> files) {
  return [files = std::move(files)](const std::string& uri) -> tl::expected<std::string, std::string> {
    auto it = files.find(uri);
    if (it == files.end()) return tl::unexpected(uri + ": no such file");
    return it->second;
  };
}

JobSpec character_spec() {
  JobSpec spec;
  spec.name = "characters";
  spec.samples = 1000;
  spec.seed = 77;
  spec.camera.width = 320;
  spec.camera.height = 240;
  spec.humans.count = Distribution::uniform_int(1, 3);
  spec.humans.body = {{"parametric", "character"}, {}};
  spec.humans.characters = {kUri};
  return spec;
}

int keypoint(std::string_view name) {
  for (int k = 0; k < kKeypointCount; ++k) {
    if (kKeypointNames[k] == name) return k;
  }
  ADD_FAILURE() << name;
  return 0;
}

TEST(CharacterTest, MixamoNamesGiveKeypointsAtTheBodyModelsJoints) {
  const CharacterFile file = parametric_character(humans::Shape{});
  auto asset = load_character(file.bytes, kUri, "auto", {});
  ASSERT_TRUE(asset) << asset.error();
  for (int k = 0; k < kKeypointCount; ++k) EXPECT_GE(asset->keypoint_joint[k], 0) << kKeypointNames[k];
  // Joint depths are about the limb radii: a few centimetres at the wrist, more at the hip.
  const double wrist = asset->keypoint_radius[keypoint("left_wrist")];
  const double hip = asset->keypoint_radius[keypoint("left_hip")];
  EXPECT_GT(wrist, 0.02);
  EXPECT_LT(wrist, 0.10);
  EXPECT_GT(hip, wrist);

  // Bind pose, yaw 0: the person faces +y, so its left is at -x (right-handed world).
  const Person person = character_person(*asset, GltfCharacter::kBindPose, 0, 0, 0);
  EXPECT_EQ(person.info.body, "character");
  EXPECT_EQ(person.info.character, kUri);
  EXPECT_EQ(person.info.character_joint_names.size(), static_cast<size_t>(humans::kJointCount));
  const Vec3 pelvis = file.body.joints[0];
  auto expected = [&](humans::Joint j) {
    const Vec3 p = file.body.joints[humans::index(j)];
    return Vec3{-(p.x - pelvis.x), p.y - pelvis.y, p.z};  // soles already on z = 0
  };
  const std::pair<const char*, humans::Joint> pairs[] = {{"left_shoulder", humans::Joint::kLeftShoulder},
                                                        {"right_elbow", humans::Joint::kRightElbow},
                                                        {"left_wrist", humans::Joint::kLeftWrist},
                                                        {"right_knee", humans::Joint::kRightKnee},
                                                        {"left_ankle", humans::Joint::kLeftAnkle},
                                                        {"nose", humans::Joint::kHead}};
  for (const auto& [name, joint] : pairs) {
    const Vec3 got = person.info.keypoints[keypoint(name)], want = expected(joint);
    EXPECT_NEAR(got.x, want.x, 2e-3) << name;
    EXPECT_NEAR(got.y, want.y, 2e-3) << name;
    EXPECT_NEAR(got.z, want.z, 2e-3) << name;
  }
  EXPECT_LT(person.info.keypoints[keypoint("left_shoulder")].x, 0);
  // The parametric body at yaw 0 agrees on which side is left.
  JobSpec spec = character_spec();
  spec.humans.body = {{"parametric"}, {}};
  spec.humans.motion = {{"static"}, {}};
  const Person parametric = build_person(spec, 1, 0, 0);
  EXPECT_LT(parametric.info.keypoints[keypoint("left_shoulder")].x, 0);
  EXPECT_GT(parametric.info.keypoints[keypoint("right_shoulder")].x, 0);

  // The mesh stands on the floor and is as tall as the body model made it.
  double lowest = 1e9, highest = -1e9;
  for (size_t i = 2; i < person.meshes[0].positions.size(); i += 3) {
    lowest = std::min<double>(lowest, person.meshes[0].positions[i]);
    highest = std::max<double>(highest, person.meshes[0].positions[i]);
  }
  EXPECT_NEAR(lowest, 0, 1e-6);
  EXPECT_NEAR(highest, file.body.shape.height_m, 2e-3);
}

TEST(CharacterTest, TheAnimationMovesTheMappedKeypoints) {
  const CharacterFile file = parametric_character(humans::Shape{});
  auto asset = load_character(file.bytes, kUri, "mixamo", {});
  ASSERT_TRUE(asset) << asset.error();
  const Person start = character_person(*asset, 0, 0, 0, 0);
  const Person end = character_person(*asset, 0, 1, 0, 0);
  EXPECT_EQ(end.info.character_animation, "RaiseLeftArm");
  EXPECT_DOUBLE_EQ(end.info.character_time_s, 1);
  const int wrist = keypoint("left_wrist"), shoulder = keypoint("left_shoulder"), knee = keypoint("left_knee");
  // The arm turned up: the wrist rises above the shoulder; the shoulder and the legs stay.
  EXPECT_LT(start.info.keypoints[wrist].z, start.info.keypoints[shoulder].z);
  EXPECT_GT(end.info.keypoints[wrist].z, end.info.keypoints[shoulder].z);
  EXPECT_LT(length(end.info.keypoints[shoulder] - start.info.keypoints[shoulder]), 1e-9);
  EXPECT_LT(length(end.info.keypoints[knee] - start.info.keypoints[knee]), 1e-9);
  // Skinned: the hand's vertices went up with the wrist.
  double top_start = -1e9, top_end = -1e9;
  for (size_t i = 2; i < start.meshes[0].positions.size(); i += 3) {
    top_start = std::max<double>(top_start, start.meshes[0].positions[i]);
    top_end = std::max<double>(top_end, end.meshes[0].positions[i]);
  }
  EXPECT_GT(top_end, top_start + 0.1) << "a raised hand reaches above the head";
}

TEST(CharacterTest, AJointMapOverridesThePresetAndUnmappedKeypointsAreUnlabelled) {
  const CharacterFile file = parametric_character(humans::Shape{}, true, "");
  // No Mixamo prefix: "auto" finds nothing, so the map must come from the spec.
  auto none = load_character(file.bytes, kUri, "auto", {});
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().find("body.glb: no joint stands for any COCO keypoint"), std::string::npos) << none.error();
  EXPECT_NE(none.error().find("Hips"), std::string::npos) << "lists the file's joints: " << none.error();

  auto asset = load_character(file.bytes, kUri, "none", {{"left_wrist", "LeftHand"}, {"nose", "Head"}});
  ASSERT_TRUE(asset) << asset.error();
  const Person person = character_person(*asset, GltfCharacter::kBindPose, 0, 0, 30);
  EXPECT_TRUE(std::isfinite(person.info.keypoints[keypoint("left_wrist")].x));
  EXPECT_TRUE(std::isnan(person.info.keypoints[keypoint("right_wrist")].x));

  // Labelled through the renderer: unmapped keypoints come out v = 0 at (0, 0).
  JobSpec spec = character_spec();
  spec.humans.body = {{"character"}, {}};
  spec.humans.character_preset = "none";
  spec.humans.character_joint_map = {{"left_wrist", "LeftHand"}, {"nose", "Head"}};
  auto assets = load_scene_assets(spec, reader_of({{kUri, file.bytes}}));
  ASSERT_TRUE(assets) << assets.error();
  auto renderer = Renderer::create();
  ASSERT_TRUE(renderer) << renderer.error();
  RenderSettings settings;
  settings.labels_only = true;
  const SampleScene scene = build_scene(spec, 3, &*assets);
  auto frame = (*renderer)->render(scene, settings);
  ASSERT_TRUE(frame) << frame.error();
  for (const auto& person_keypoints : frame->keypoints) {
    const Frame::Keypoint& k = person_keypoints[keypoint("right_wrist")];
    EXPECT_EQ(k.v, 0);
    EXPECT_EQ(k.x, 0);
    EXPECT_EQ(k.y, 0);
  }
}

// Over 60 rendered samples mixing body-model people and characters, the characters'
// keypoints marked visible land on their own person's pixels, as the body model's do.
TEST(CharacterTest, VisibleCharacterKeypointsFallInsideTheirPersonsMask) {
  humans::Shape shape;
  shape.height_m = 1.62;
  shape.bmi = 27;
  const CharacterFile file = parametric_character(shape);
  const JobSpec spec = character_spec();
  auto assets = load_scene_assets(spec, reader_of({{kUri, file.bytes}}));
  ASSERT_TRUE(assets) << assets.error();
  auto renderer = Renderer::create();
  ASSERT_TRUE(renderer) << renderer.error();
  RenderSettings settings;
  settings.labels_only = true;
  int characters = 0, visible = 0, inside = 0, occluded = 0;
  for (uint64_t index = 0; index < 60; ++index) {
    const SampleScene scene = build_scene(spec, index, &*assets);
    auto frame = (*renderer)->render(scene, settings);
    ASSERT_TRUE(frame) << frame.error();
    for (size_t h = 0; h < scene.humans.size(); ++h) {
      if (scene.humans[h].body != "character") continue;
      ++characters;
      for (const Frame::Keypoint& k : frame->keypoints[h]) {
        occluded += k.v == 1;
        if (k.v != 2) continue;
        ++visible;
        const size_t pixel = static_cast<size_t>(k.y) * static_cast<size_t>(frame->width) + static_cast<size_t>(k.x);
        inside += frame->instance[pixel] == scene.humans[h].instance_id;
      }
    }
  }
  std::printf("characters: %d, keypoints: %d visible (%.2f%% inside their mask), %d occluded\n", characters,
              visible, 100.0 * inside / std::max(visible, 1), occluded);
  ASSERT_GT(characters, 30);
  ASSERT_GT(visible, 300);
  EXPECT_GT(occluded, 20) << "self-occlusion must show up for characters too";
  EXPECT_GE(inside, 0.98 * visible);
}

// A character file that is not skinned, a map naming a joint the file lacks, the Mixamo
// preset on a rig without Mixamo names: each error names the spec field, the file and
// what is wrong.
TEST(CharacterTest, BadCharactersAreNamedWithTheFileAndTheProblem) {
  JobSpec spec = character_spec();
  auto error_of = [&](const std::string& bytes) {
    auto assets = load_scene_assets(spec, reader_of({{kUri, bytes}}));
    EXPECT_FALSE(assets);
    return assets ? std::string() : assets.error();
  };
  const CharacterFile skinned = parametric_character(humans::Shape{});
  std::string e = error_of(parametric_character(humans::Shape{}, false).bytes);
  EXPECT_NE(e.find("humans.characters[0]: body.glb: no skinned mesh"), std::string::npos) << e;

  e = error_of(skinned.bytes.substr(0, skinned.bytes.size() / 2));
  EXPECT_NE(e.find("humans.characters[0]: body.glb:"), std::string::npos) << e;

  spec.humans.character_joint_map = {{"left_wrist", "mixamorig:LeftPaw"}};
  e = error_of(skinned.bytes);
  EXPECT_NE(e.find("humans.characters[0]: body.glb: keypoint left_wrist: no joint named 'mixamorig:LeftPaw'"),
            std::string::npos)
      << e;

  spec.humans.character_joint_map.clear();
  spec.humans.character_preset = "mixamo";
  auto plain = load_scene_assets(spec, reader_of({{kUri, parametric_character(humans::Shape{}, true, "").bytes}}));
  ASSERT_FALSE(plain);
  EXPECT_NE(plain.error().find("humans.characters[0]: body.glb: joint map preset 'mixamo'"), std::string::npos)
      << plain.error();

  // A spec that draws characters without assets loaded is a caller's bug, not a crash.
  spec.humans.body = {{"character"}, {}};
  EXPECT_THROW(build_scene(spec, 0, nullptr), std::invalid_argument);
}

// ---------------------------------------------------------------------------------------
// Clips.

JobSpec clip_spec() {
  JobSpec spec;
  spec.name = "clips";
  spec.samples = 10;
  spec.seed = 5;
  spec.camera.width = 96;
  spec.camera.height = 72;
  spec.render.spp = 2;
  spec.render.max_bounces = 1;
  spec.humans.count = Distribution::constant(2);
  spec.humans.motion = {{"walk"}, {}};
  spec.clip.frames = 4;
  spec.clip.fps = 10;
  spec.output.preview_png = false;
  spec.output.layers = {Layer::kRgb, Layer::kDepth, Layer::kInstance, Layer::kMotion};
  return spec;
}

TEST(ClipTest, AClipIsKFramesOfTheSamePeopleMoving) {
  const JobSpec spec = clip_spec();
  auto renderer = SampleRenderer::create(2);
  ASSERT_TRUE(renderer) << renderer.error();
  auto objects = (*renderer)->render(spec, 6);
  ASSERT_TRUE(objects) << objects.error();
  ASSERT_EQ(objects->later_frames.size(), 3u);

  std::vector<std::string> keys;
  for (const auto& [key, bytes] : objects->keyed(6)) keys.push_back(key);
  const std::vector<std::string> want = {
      "samples/00000006.f000.exr", "samples/00000006.f000.json", "samples/00000006.f001.exr",
      "samples/00000006.f001.json", "samples/00000006.f002.exr", "samples/00000006.f002.json",
      "samples/00000006.f003.exr", "samples/00000006.f003.json"};
  EXPECT_EQ(keys, want);

  std::vector<json> frames{json::parse(objects->json)};
  for (const FrameObjects& f : objects->later_frames) frames.push_back(json::parse(f.json));
  const json& first = frames[0];
  for (int f = 0; f < 4; ++f) {
    const json& frame = frames[static_cast<size_t>(f)];
    EXPECT_EQ(frame["clip"]["frame"], f);
    EXPECT_EQ(frame["clip"]["frames"], 4);
    EXPECT_DOUBLE_EQ(frame["clip"]["time_s"].get<double>(), f / 10.0);
    EXPECT_EQ(frame["camera"], first["camera"]) << "the camera holds still";
    ASSERT_EQ(frame["instances"].size(), first["instances"].size());
    for (size_t i = 0; i < first["instances"].size(); ++i) {
      const json &a = first["instances"][i], &b = frame["instances"][i];
      EXPECT_EQ(a["id"], b["id"]);
      if (a["class"] != "person") continue;
      EXPECT_EQ(a["shape"], b["shape"]) << "same identity in every frame";
      EXPECT_EQ(a["outfit"], b["outfit"]);
      EXPECT_EQ(a["skin_tone"], b["skin_tone"]);
      if (f > 0) {
        const auto pa = a["position"].get<std::vector<double>>(), pb = b["position"].get<std::vector<double>>();
        const double moved = std::hypot(pa[0] - pb[0], pa[1] - pb[1]);
        // Walking at about 1.3 m/s times the speed multiplier (0.8 .. 1.2).
        EXPECT_GT(moved, 0.05 * f) << "frame " << f;
        EXPECT_LT(moved, 0.25 * f) << "frame " << f;
        EXPECT_NE(a["motion_phase"], b["motion_phase"]);
      }
    }
  }
  // Frames differ (people moved, own noise) but a re-render is byte-identical, whatever
  // the thread count.
  EXPECT_NE(objects->exr, objects->later_frames[0].exr);
  auto single = SampleRenderer::create(1);
  ASSERT_TRUE(single);
  auto again = (*single)->render(spec, 6);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->exr, objects->exr);
  for (size_t f = 0; f < 3; ++f) EXPECT_EQ(again->later_frames[f].exr, objects->later_frames[f].exr);
}

TEST(ClipTest, AStillImageKeepsItsPlainKeysAndTheClipsFirstFrameIsTheStill) {
  JobSpec spec = clip_spec();
  spec.clip.frames = 1;
  auto renderer = SampleRenderer::create(2);
  ASSERT_TRUE(renderer);
  auto still = (*renderer)->render(spec, 2);
  ASSERT_TRUE(still) << still.error();
  EXPECT_TRUE(still->later_frames.empty());
  std::set<std::string> keys;
  for (const auto& [key, bytes] : still->keyed(2)) keys.insert(key);
  EXPECT_EQ(keys, (std::set<std::string>{"samples/00000002.exr", "samples/00000002.json"}));
  EXPECT_FALSE(json::parse(still->json).contains("clip"));

  spec.clip.frames = 3;
  auto clip = (*renderer)->render(spec, 2);
  ASSERT_TRUE(clip);
  EXPECT_EQ(clip->exr, still->exr) << "frame 0 of a clip is the still image of the sample";
}

TEST(ClipTest, CharactersPlayTheirAnimationAcrossTheFrames) {
  const CharacterFile file = parametric_character(humans::Shape{});
  JobSpec spec = clip_spec();
  spec.humans.count = Distribution::constant(1);
  spec.humans.body = {{"character"}, {}};
  spec.humans.characters = {kUri};
  spec.clip.frames = 3;
  spec.clip.fps = 5;
  auto renderer = SampleRenderer::create(2, reader_of({{kUri, file.bytes}}));
  ASSERT_TRUE(renderer);
  auto objects = (*renderer)->render(spec, 1);
  ASSERT_TRUE(objects) << objects.error();
  std::vector<json> frames{json::parse(objects->json)};
  for (const FrameObjects& f : objects->later_frames) frames.push_back(json::parse(f.json));
  const double t0 = frames[0]["instances"][0]["time_s"].get<double>();
  for (size_t f = 0; f < frames.size(); ++f) {
    const json& person = frames[f]["instances"][0];
    EXPECT_EQ(person["body"], "character");
    EXPECT_EQ(person["character"], kUri);
    EXPECT_EQ(person["animation"], "RaiseLeftArm");
    // The one-second animation loops.
    const double t = t0 + 0.2 * static_cast<double>(f);
    EXPECT_NEAR(person["time_s"].get<double>(), t - std::floor(t), 1e-9);
    EXPECT_TRUE(person["joints_3d_camera"].contains("mixamorig:LeftHand"));
  }
}

// A moment before the animation's start (motion blur's shutter opening before a still's
// moment, build_scene's negative time offset) comes from the end of the looping animation,
// not a pose clamped to its first key.
TEST(ClipTest, ACharacterBeforeItsAnimationStartsPlaysItsEnd) {
  const CharacterFile file = parametric_character(humans::Shape{});
  JobSpec spec = clip_spec();
  spec.humans.count = Distribution::constant(1);
  spec.humans.body = {{"character"}, {}};
  spec.humans.characters = {kUri};
  auto assets = load_scene_assets(spec, reader_of({{kUri, file.bytes}}));
  ASSERT_TRUE(assets) << assets.error();
  const SampleScene still = build_scene(spec, 1, &*assets);
  const double t0 = still.humans[0].character_time_s;
  const SampleScene before = build_scene(spec, 1, &*assets, 0, -(t0 + 0.25));
  // The one-second animation, 0.25 s before its start: 0.75 s in.
  EXPECT_NEAR(before.humans[0].character_time_s, 0.75, 1e-9);
  const SampleScene same = build_scene(spec, 1, &*assets, 0, 0.0);
  EXPECT_EQ(same.meshes[0].positions, still.meshes[0].positions);
  EXPECT_NE(before.meshes[0].positions, still.meshes[0].positions);
}

// Forward motion vectors: on a walking person they match how far its points move on the
// image in the next frame; everything else holds still (0).
TEST(ClipTest, MotionVectorsFollowThePeople) {
  JobSpec spec = clip_spec();
  spec.humans.count = Distribution::constant(1);
  spec.output.layers = {Layer::kInstance, Layer::kMotion};
  spec.camera.width = 320;
  spec.camera.height = 240;
  const SceneAssets assets;
  SampleScene now = build_scene(spec, 4, &assets, 0);
  // Three frames on, so that the walker moves a few pixels.
  const SampleScene next = build_scene(spec, 4, &assets, 3);
  // What the sample renderer does (with the next frame): the later vertices ride along.
  for (size_t i = 0; i < now.meshes.size(); ++i) {
    if (now.meshes[i].semantic == SemanticClass::kPerson) now.meshes[i].next_positions = next.meshes[i].positions;
  }
  auto renderer = Renderer::create();
  ASSERT_TRUE(renderer);
  RenderSettings settings;
  settings.labels_only = true;
  settings.layers = layer_bit(Layer::kInstance) | layer_bit(Layer::kMotion);
  auto frame = (*renderer)->render(now, settings);
  ASSERT_TRUE(frame) << frame.error();
  ASSERT_EQ(frame->motion.size(), 2 * frame->instance.size());
  // The pelvis's own displacement on the image, frame 0 -> 3.
  const Camera& cam = now.camera;
  const int pelvis = humans::index(humans::Joint::kPelvis);
  const auto [x0, y0] = cam.project(cam.to_camera(now.humans[0].joints[pelvis]));
  const auto [x1, y1] = cam.project(cam.to_camera(next.humans[0].joints[pelvis]));
  double sum_x = 0, sum_y = 0;
  int person = 0;
  for (size_t p = 0; p < frame->instance.size(); ++p) {
    if (frame->instance[p] == now.humans[0].instance_id) {
      ++person;
      sum_x += frame->motion[2 * p];
      sum_y += frame->motion[2 * p + 1];
    } else {
      EXPECT_EQ(frame->motion[2 * p], 0);
      EXPECT_EQ(frame->motion[2 * p + 1], 0);
    }
  }
  ASSERT_GT(person, 200);
  const double mean_x = sum_x / person, mean_y = sum_y / person;
  const double moved = std::hypot(x1 - x0, y1 - y0);
  ASSERT_GT(moved, 0.5) << "the walker moves on the image";
  // Limbs swing, so the body's mean motion is near, not at, the pelvis's.
  EXPECT_NEAR(mean_x, x1 - x0, 0.35 * moved + 0.3);
  EXPECT_NEAR(mean_y, y1 - y0, 0.35 * moved + 0.3);
}

}  // namespace
}  // namespace synthfarm::jobs
