// Tests of the static glTF scene importer. Every file is written here with tinygltf, so
// the importer is checked against files it did not write: axes and units, the camera's
// intrinsics, light unit conversions, materials and textures, and each kind of bad input.
#include "gltf/scene_import.h"

#include <gtest/gtest.h>
#include <tiny_gltf.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "gltf/gltf.h"
#include "gltf/gltf_testing.h"
#include "render/image_io.h"
#include "render/renderer.h"

namespace synthfarm::gltf {

using render::Camera;
using render::encode_png;
using render::Frame;
using render::Layer;
using render::layer_bit;
using render::Light;
using render::Material;
using render::Mesh;
using render::MeshShape;
using render::Renderer;
using render::RenderSettings;
using render::RenderTimings;
using render::Scene;
using render::SemanticClass;
using render::Sky;
using render::srgb_to_linear;
using render::Texture;
namespace {

namespace tg = tinygltf;
using gltf_testing::ModelBuilder;
using gltf_testing::to_glb;
using gltf_testing::to_gltf_json;

tg::Value object(std::initializer_list<std::pair<const std::string, tg::Value>> members) {
  return tg::Value(tg::Value::Object(members));
}

// A 2 x 2 metre quad (glTF's floor plane, facing +y) in a node moved by (1, 2, 3), a camera
// 5 m back from the origin at 1.5 m height looking down glTF's -z, a point light, a spot
// light and a sun, one material.
struct SceneFixture {
  tg::Model model;
  int positions = -1, normals = -1, texcoords = -1, indices = -1;
  int quad_node = -1, camera_node = -1;
};

SceneFixture scene_fixture() {
  SceneFixture f;
  tg::Model& m = f.model;
  m.asset.version = "2.0";
  ModelBuilder b(m);
  f.positions = b.accessor(std::vector<float>{-1, 0, -1, 1, 0, -1, 1, 0, 1, -1, 0, 1},
                           TINYGLTF_COMPONENT_TYPE_FLOAT, TINYGLTF_TYPE_VEC3);
  f.normals = b.accessor(std::vector<float>{0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0},
                         TINYGLTF_COMPONENT_TYPE_FLOAT, TINYGLTF_TYPE_VEC3);
  f.texcoords = b.accessor(std::vector<float>{0, 0, 1, 0, 1, 1, 0, 1},
                           TINYGLTF_COMPONENT_TYPE_FLOAT, TINYGLTF_TYPE_VEC2);
  f.indices = b.accessor(std::vector<uint32_t>{0, 2, 1, 0, 3, 2},
                         TINYGLTF_COMPONENT_TYPE_UNSIGNED_INT, TINYGLTF_TYPE_SCALAR);

  tg::Material material;
  material.name = "Paint";
  material.pbrMetallicRoughness.baseColorFactor = {0.6, 0.5, 0.4, 1};
  material.pbrMetallicRoughness.metallicFactor = 0.25;
  material.pbrMetallicRoughness.roughnessFactor = 0.7;
  material.emissiveFactor = {0.1, 0.2, 0.3};
  material.extensions["KHR_materials_emissive_strength"] =
      object({{"emissiveStrength", tg::Value(4.0)}});
  material.extensions["KHR_materials_specular"] = object({{"specularFactor", tg::Value(0.5)}});
  m.materials.push_back(material);

  tg::Primitive prim;
  prim.attributes["POSITION"] = f.positions;
  prim.attributes["NORMAL"] = f.normals;
  prim.attributes["TEXCOORD_0"] = f.texcoords;
  prim.indices = f.indices;
  prim.material = 0;
  prim.mode = TINYGLTF_MODE_TRIANGLES;
  tg::Mesh mesh;
  mesh.name = "Quad";
  mesh.primitives.push_back(prim);
  m.meshes.push_back(mesh);

  tg::Camera camera;
  camera.type = "perspective";
  camera.perspective.yfov = 2 * std::atan(0.5);  // tan(yfov / 2) = 0.5
  camera.perspective.aspectRatio = 4.0 / 3.0;
  camera.perspective.znear = 0.1;
  camera.perspective.zfar = 100;
  m.cameras.push_back(camera);

  tg::Light point;
  point.name = "Bulb";
  point.type = "point";
  point.intensity = 683;  // candela: 1 W/sr
  point.color = {1, 0.5, 0.25};
  tg::Light spot;
  spot.name = "Spot";
  spot.type = "spot";
  spot.intensity = 2 * 683;
  spot.spot.innerConeAngle = 0.2;
  spot.spot.outerConeAngle = 0.5;
  tg::Light sun;
  sun.name = "Sun";
  sun.type = "directional";
  sun.intensity = 683 * kPi;  // lux: 1 W/m^2 x pi, radiance 1 on a white surface facing it
  m.lights = {point, spot, sun};
  m.extensionsUsed = {"KHR_lights_punctual", "KHR_materials_emissive_strength",
                      "KHR_materials_specular"};

  tg::Node quad;
  quad.name = "Floor";
  quad.mesh = 0;
  quad.translation = {1, 2, 3};
  tg::Node cam;
  cam.name = "Camera";
  cam.camera = 0;
  cam.translation = {0, 1.5, 5};
  // Lights shine down their local -z: rotated -90 degrees about x, down glTF's -y.
  const std::vector<double> down = {-std::sqrt(0.5), 0, 0, std::sqrt(0.5)};
  tg::Node bulb;
  bulb.name = "BulbNode";
  bulb.translation = {0, 3, 0};
  bulb.extensions["KHR_lights_punctual"] = object({{"light", tg::Value(0)}});
  tg::Node spot_node;
  spot_node.name = "SpotNode";
  spot_node.translation = {2, 4, 0};
  spot_node.rotation = down;
  spot_node.extensions["KHR_lights_punctual"] = object({{"light", tg::Value(1)}});
  tg::Node sun_node;
  sun_node.name = "SunNode";
  sun_node.rotation = down;
  sun_node.extensions["KHR_lights_punctual"] = object({{"light", tg::Value(2)}});
  m.nodes = {quad, cam, bulb, spot_node, sun_node};
  f.quad_node = 0;
  f.camera_node = 1;
  tg::Scene scene;
  scene.nodes = {0, 1, 2, 3, 4};
  m.scenes.push_back(scene);
  m.defaultScene = 0;
  return f;
}

GltfSceneOptions options(int width = 64, int height = 48) {
  GltfSceneOptions o;
  o.width = width;
  o.height = height;
  o.background = 0.25;
  return o;
}

tl::expected<GltfScene, std::string> load(const tg::Model& model, const char* name = "room.glb") {
  return load_gltf_scene(to_glb(model), name, options());
}

void expect_vec(Vec3 actual, Vec3 expected, double tolerance = 1e-12) {
  EXPECT_NEAR(actual.x, expected.x, tolerance);
  EXPECT_NEAR(actual.y, expected.y, tolerance);
  EXPECT_NEAR(actual.z, expected.z, tolerance);
}

// The bytes of accessor `a`'s element `i`, component `c` (4-byte components).
unsigned char* element(tg::Model& m, int a, size_t i, int c) {
  const tg::Accessor& acc = m.accessors[static_cast<size_t>(a)];
  const tg::BufferView& view = m.bufferViews[static_cast<size_t>(acc.bufferView)];
  const size_t components = static_cast<size_t>(tg::GetNumComponentsInType(acc.type));
  return m.buffers[0].data.data() + view.byteOffset + acc.byteOffset +
         4 * (i * components + static_cast<size_t>(c));
}

// ---------------------------------------------------------------------------------------
// Geometry, camera, lights, materials.

TEST(GltfSceneTest, QuadImportsInSynthfarmAxesAndMetres) {
  auto loaded = load(scene_fixture().model);
  ASSERT_TRUE(loaded) << loaded.error();
  EXPECT_TRUE(loaded->warnings.empty()) << loaded->warnings.front();
  const Scene& scene = loaded->scene;
  EXPECT_EQ(scene.kind, "gltf");
  ASSERT_EQ(scene.meshes.size(), 1u);
  EXPECT_EQ(loaded->triangle_count, 2u);
  const Mesh& mesh = scene.meshes[0];
  // glTF (X, Y, Z) + (1, 2, 3) -> synthfarm (X, -Z, Y): the floor quad lies at height 2.
  ASSERT_EQ(mesh.positions.size(), 12u);
  expect_vec(mesh.vertex(0), {0, -2, 2});
  expect_vec(mesh.vertex(1), {2, -2, 2});
  expect_vec(mesh.vertex(2), {2, -4, 2});
  expect_vec(mesh.vertex(3), {0, -4, 2});
  // glTF's +y normal is synthfarm's +z; the winding still faces it.
  ASSERT_EQ(mesh.normals.size(), 12u);
  for (int v = 0; v < 4; ++v) {
    EXPECT_EQ(mesh.normals[3 * v], 0.0f);
    EXPECT_EQ(mesh.normals[3 * v + 1], 0.0f);
    EXPECT_EQ(mesh.normals[3 * v + 2], 1.0f);
  }
  const Vec3 n = cross(mesh.vertex(mesh.indices[1]) - mesh.vertex(mesh.indices[0]),
                       mesh.vertex(mesh.indices[2]) - mesh.vertex(mesh.indices[0]));
  EXPECT_GT(n.z, 0);
  EXPECT_EQ(mesh.texcoords, (std::vector<float>{0, 0, 1, 0, 1, 1, 0, 1}));
  ASSERT_EQ(scene.instances.size(), 1u);
  EXPECT_EQ(scene.instances[0].id, 1u);
  EXPECT_EQ(scene.instances[0].name, "Floor");
  EXPECT_EQ(scene.instances[0].semantic, SemanticClass::kProp);
  EXPECT_EQ(mesh.instance_id, 1u);
  EXPECT_EQ(scene.sky.model, Sky::Model::kUniform);
  EXPECT_EQ(scene.sky.radiance({0, 0, 1}).g, 0.25f);
}

TEST(GltfSceneTest, CameraIntrinsicsAndPose) {
  auto loaded = load(scene_fixture().model);
  ASSERT_TRUE(loaded) << loaded.error();
  const Camera& cam = loaded->scene.camera;
  EXPECT_EQ(cam.width, 64);
  EXPECT_EQ(cam.height, 48);
  // tan(yfov / 2) = 0.5: fy = (48 / 2) / 0.5.
  EXPECT_NEAR(cam.fy, 48.0, 1e-12);
  EXPECT_NEAR(cam.fx, 48.0, 1e-12);
  EXPECT_EQ(cam.cx, 32.0);
  EXPECT_EQ(cam.cy, 24.0);
  EXPECT_NEAR(cam.fov_deg, 2 * std::atan(32.0 / 48.0) * 180 / kPi, 1e-9);
  // glTF (0, 1.5, 5), looking down -z: synthfarm (0, -5, 1.5), looking along +y.
  expect_vec(cam.position, {0, -5, 1.5});
  expect_vec(cam.rotation.row(0), {1, 0, 0});
  expect_vec(cam.rotation.row(1), {0, 0, -1});
  expect_vec(cam.rotation.row(2), {0, 1, 0});
  // A point 5 m ahead at eye height projects to the image centre; one 1 m up, 48 px higher.
  auto centre = cam.project(cam.to_camera({0, 0, 1.5}));
  EXPECT_NEAR(centre[0], 32.0, 1e-9);
  EXPECT_NEAR(centre[1], 24.0, 1e-9);
  auto up = cam.project(cam.to_camera({0, 0, 2.5}));
  EXPECT_NEAR(up[1], 24.0 - 48.0 / 5.0, 1e-9);

  // Another image aspect keeps the vertical field of view.
  auto wide = load_gltf_scene(to_glb(scene_fixture().model), "room.glb", options(100, 48));
  ASSERT_TRUE(wide) << wide.error();
  EXPECT_NEAR(wide->scene.camera.fy, 48.0, 1e-12);
  EXPECT_EQ(wide->scene.camera.cx, 50.0);
}

TEST(GltfSceneTest, LightsConvertFromPhotometricUnits) {
  auto loaded = load(scene_fixture().model);
  ASSERT_TRUE(loaded) << loaded.error();
  const Scene& scene = loaded->scene;
  ASSERT_EQ(scene.lights.size(), 2u);
  const Light& point = scene.lights[0];
  EXPECT_EQ(point.kind, Light::Kind::kPoint);
  EXPECT_NEAR(point.intensity, 1.0, 1e-12);  // 683 cd = 1 W/sr
  EXPECT_EQ(point.color.g, 0.5f);
  expect_vec(point.position, {0, 0, 3});
  const Light& spot = scene.lights[1];
  EXPECT_EQ(spot.kind, Light::Kind::kSpot);
  EXPECT_NEAR(spot.intensity, 2.0, 1e-12);
  EXPECT_NEAR(spot.inner_cone_deg, 0.2 * 180 / kPi, 1e-9);
  EXPECT_NEAR(spot.outer_cone_deg, 0.5 * 180 / kPi, 1e-9);
  expect_vec(spot.position, {2, 0, 4});
  expect_vec(spot.direction, {0, 0, -1}, 1e-9);  // down
  // 683 pi lux: irradiance pi W/m^2, so a white surface facing it has radiance 1.
  EXPECT_NEAR(scene.sun.intensity, 1.0, 1e-12);
  expect_vec(scene.sun.direction, {0, 0, 1}, 1e-9);
  EXPECT_NEAR(scene.sun.elevation_deg, 90.0, 1e-6);
}

// glTF's lights are points and a direction; the options give them Blender's extents (the
// renderer comparison renders them as Cycles does) and are checked like every option.
TEST(GltfSceneTest, LightExtentsComeFromTheOptions) {
  GltfSceneOptions o = options();
  o.point_radius_m = 0.25;
  o.sun_angle_deg = 0.526;
  auto loaded = load_gltf_scene(to_glb(scene_fixture().model), "room.glb", o);
  ASSERT_TRUE(loaded) << loaded.error();
  ASSERT_EQ(loaded->scene.lights.size(), 2u);
  for (const Light& light : loaded->scene.lights) {
    EXPECT_EQ(light.radius, 0.25);
    EXPECT_FALSE(light.visible);  // lights are not objects: camera rays do not see them
  }
  EXPECT_EQ(loaded->scene.sun.angular_diameter_deg, 0.526);
  auto plain = load(scene_fixture().model);
  ASSERT_TRUE(plain) << plain.error();
  EXPECT_EQ(plain->scene.lights[0].radius, 0.0);
  EXPECT_EQ(plain->scene.sun.angular_diameter_deg, 0.0);

  o.point_radius_m = -1;
  auto negative = load_gltf_scene(to_glb(scene_fixture().model), "room.glb", o);
  ASSERT_FALSE(negative);
  EXPECT_EQ(negative.error(), "room.glb: point light radius -1 is not a number >= 0");
  o.point_radius_m = 0;
  o.sun_angle_deg = 120;
  auto wide = load_gltf_scene(to_glb(scene_fixture().model), "room.glb", o);
  ASSERT_FALSE(wide);
  EXPECT_EQ(wide.error(), "room.glb: sun angle 120 is not in 0 .. 90 degrees");
}

TEST(GltfSceneTest, MaterialFactorsAndExtensions) {
  auto loaded = load(scene_fixture().model);
  ASSERT_TRUE(loaded) << loaded.error();
  const Scene& scene = loaded->scene;
  ASSERT_EQ(scene.materials.size(), 1u);
  ASSERT_EQ(scene.meshes[0].material, 0);
  const Material& m = scene.materials[0];
  EXPECT_EQ(m.name, "Paint");
  EXPECT_EQ(m.base_color, (Rgb{0.6f, 0.5f, 0.4f}));
  EXPECT_EQ(m.metallic, 0.25f);
  EXPECT_EQ(m.roughness, 0.7f);
  EXPECT_NEAR(m.emission.r, 0.4, 1e-6);  // emissiveFactor x emissiveStrength 4
  EXPECT_NEAR(m.emission.b, 1.2, 1e-6);
  EXPECT_NEAR(m.specular, 0.25, 1e-7);  // specularFactor 0.5 of glTF's 0.5 (F0 0.04)
  EXPECT_EQ(m.base_color_texture, -1);

  // Without extensions: glTF's defaults; without a material: glTF's default material.
  SceneFixture f = scene_fixture();
  f.model.materials[0].extensions.clear();
  f.model.materials[0].extensions["KHR_materials_ior"] = object({{"ior", tg::Value(1.2)}});
  auto ior = load(f.model);
  ASSERT_TRUE(ior) << ior.error();
  // F0 = ((ior - 1) / (ior + 1))^2 = (0.2 / 2.2)^2; specular = F0 / 0.08.
  EXPECT_NEAR(ior->scene.materials[0].specular, (0.2 / 2.2) * (0.2 / 2.2) / 0.08, 1e-7);
  EXPECT_NEAR(ior->scene.materials[0].emission.g, 0.2, 1e-7);
  f.model.meshes[0].primitives[0].material = -1;
  auto plain = load(f.model);
  ASSERT_TRUE(plain) << plain.error();
  const Material& d = plain->scene.materials[static_cast<size_t>(plain->scene.meshes[0].material)];
  EXPECT_EQ(d.base_color, (Rgb{1, 1, 1}));
  EXPECT_EQ(d.metallic, 1.0f);
  EXPECT_EQ(d.roughness, 1.0f);
}

TEST(GltfSceneTest, NodeHierarchyScaleAndMirroring) {
  SceneFixture f = scene_fixture();
  // A parent scaling by 2 and mirroring x: world = parent * child.
  tg::Node parent;
  parent.name = "Mirror";
  parent.scale = {-2, 2, 2};
  parent.children = {f.quad_node};
  f.model.nodes.push_back(parent);
  f.model.scenes[0].nodes = {5, 1, 2, 3, 4};
  auto loaded = load(f.model);
  ASSERT_TRUE(loaded) << loaded.error();
  const Mesh& mesh = loaded->scene.meshes[0];
  // glTF vertex 0 (-1, 0, -1) + (1, 2, 3) = (0, 2, 2), scaled (-0, 4, 4): synthfarm (0, -4, 4).
  expect_vec(mesh.vertex(0), {0, -4, 4});
  expect_vec(mesh.vertex(1), {-4, -4, 4});
  // Normals stay unit and upright; the mirrored winding is turned back to face them.
  EXPECT_EQ(mesh.normals[2], 1.0f);
  const Vec3 n = cross(mesh.vertex(mesh.indices[1]) - mesh.vertex(mesh.indices[0]),
                       mesh.vertex(mesh.indices[2]) - mesh.vertex(mesh.indices[0]));
  EXPECT_GT(n.z, 0);
  EXPECT_EQ(loaded->scene.instances[0].name, "Floor");
}

TEST(GltfSceneTest, JsonWithEmbeddedBuffersLoadsTheSame) {
  const tg::Model model = scene_fixture().model;
  auto glb = load_gltf_scene(to_glb(model), "room.glb", options());
  auto json = load_gltf_scene(to_gltf_json(model), "room.gltf", options());
  ASSERT_TRUE(glb) << glb.error();
  ASSERT_TRUE(json) << json.error();
  EXPECT_EQ(glb->scene.meshes[0].positions, json->scene.meshes[0].positions);
  EXPECT_EQ(glb->scene.camera.fx, json->scene.camera.fx);
}

// An emissive quad filling the view renders at its emitted radiance: the units go through
// the renderer unchanged.
TEST(GltfSceneTest, EmissionRendersAtItsRadiance) {
  SceneFixture f = scene_fixture();
  f.model.materials[0].pbrMetallicRoughness.baseColorFactor = {0, 0, 0, 1};
  f.model.lights.clear();
  f.model.extensionsUsed = {"KHR_materials_emissive_strength"};
  f.model.scenes[0].nodes = {0, 1};
  // The quad 1 m in front of the camera, facing it, 2 x 2 m: it fills a 90-degree view.
  f.model.nodes[0].translation = {0, 1.5, 4};
  f.model.nodes[0].rotation = {std::sqrt(0.5), 0, 0, std::sqrt(0.5)};  // +y normal to +z
  GltfSceneOptions o = options(8, 6);
  o.background = 0;
  auto loaded = load_gltf_scene(to_glb(f.model), "glow.glb", o);
  ASSERT_TRUE(loaded) << loaded.error();
  auto renderer = Renderer::create();
  ASSERT_TRUE(renderer) << renderer.error();
  RenderSettings settings;
  settings.spp = 1;
  settings.max_bounces = 0;
  settings.threads = 1;
  settings.layers = layer_bit(Layer::kRgb);
  auto frame = (*renderer)->render(loaded->scene, settings);
  ASSERT_TRUE(frame) << frame.error();
  const size_t centre = 3 * (3 * 8 + 4);
  EXPECT_NEAR(frame->rgb[centre], 0.4, 1e-6);
  EXPECT_NEAR(frame->rgb[centre + 1], 0.8, 1e-6);
  EXPECT_NEAR(frame->rgb[centre + 2], 1.2, 1e-6);
}

// A mesh that several nodes use is one shape placed by each (the renderer instances it); the
// images are those of every node carrying its own copy.
TEST(GltfSceneTest, AMeshSeveralNodesUseIsOneShapePlacedByEach) {
  SceneFixture f = scene_fixture();
  f.model.lights.clear();
  f.model.extensionsUsed = {"KHR_materials_emissive_strength", "KHR_materials_specular"};
  // Three more quads below the camera: moved, turned about y, and mirrored and scaled.
  tg::Node a, b, c;
  a.name = "A";
  a.mesh = b.mesh = c.mesh = 0;
  a.translation = {-1, 0.5, 2};
  b.name = "B";
  b.translation = {0.5, 0.25, 1};
  b.rotation = {0, std::sin(0.3), 0, std::cos(0.3)};
  c.name = "C";
  c.translation = {1.5, 0, 2.5};
  c.scale = {-0.5, 1, 1.5};
  f.model.nodes.insert(f.model.nodes.end(), {a, b, c});
  f.model.scenes[0].nodes = {0, 1, 5, 6, 7};
  GltfSceneOptions o = options(64, 48);
  auto shared = load_gltf_scene(to_glb(f.model), "props.glb", o);
  o.instancing = false;
  auto alone = load_gltf_scene(to_glb(f.model), "props.glb", o);
  ASSERT_TRUE(shared) << shared.error();
  ASSERT_TRUE(alone) << alone.error();
  ASSERT_EQ(shared->scene.shapes.size(), 1u);
  EXPECT_TRUE(alone->scene.shapes.empty());
  ASSERT_EQ(shared->scene.meshes.size(), 4u);
  const MeshShape& shape = shared->scene.shapes[0];
  for (size_t i = 0; i < 4; ++i) {
    const Mesh& mesh = shared->scene.meshes[i];
    EXPECT_EQ(mesh.shape, 0);
    EXPECT_EQ(alone->scene.meshes[i].shape, -1);
    EXPECT_EQ(mesh.positions, alone->scene.meshes[i].positions);
    ASSERT_EQ(mesh.positions.size(), shape.positions.size());
    for (size_t v = 0; v < shape.positions.size() / 3; ++v) {
      const Vec3 p{shape.positions[3 * v], shape.positions[3 * v + 1], shape.positions[3 * v + 2]};
      expect_vec(mesh.shape_linear * p + mesh.shape_offset, mesh.vertex(static_cast<uint32_t>(v)),
                 1e-6);
    }
  }

  auto renderer = Renderer::create();
  ASSERT_TRUE(renderer) << renderer.error();
  RenderSettings settings{4, 1, 0, 1};  // spp, bounces, seed, threads
  settings.layers = layer_bit(Layer::kRgb) | layer_bit(Layer::kDepth) | layer_bit(Layer::kNormal) |
                    layer_bit(Layer::kInstance);
  RenderTimings shared_timings, alone_timings;
  settings.timings = &shared_timings;
  auto instanced = (*renderer)->render(shared->scene, settings);
  settings.timings = &alone_timings;
  auto flat = (*renderer)->render(alone->scene, settings);
  ASSERT_TRUE(instanced && flat);
  EXPECT_EQ(shared_timings.instanced_meshes, 4u);
  EXPECT_EQ(alone_timings.instanced_meshes, 0u);
  std::set<uint32_t> seen(instanced->instance.begin(), instanced->instance.end());
  EXPECT_EQ(seen, (std::set<uint32_t>{0, 1, 2, 3, 4}));  // every quad and the background
  // The same meshes are hit (instances name the mesh, not the shape) and resolve on the same
  // world-space triangles: the same images, up to which of two triangles sharing an edge a
  // ray exactly on it is given.
  size_t differ = 0;
  for (size_t p = 0; p < instanced->instance.size(); ++p) {
    differ += instanced->instance[p] != flat->instance[p] ||
              instanced->depth[p] != flat->depth[p] || instanced->rgb[3 * p] != flat->rgb[3 * p];
  }
  EXPECT_LE(differ, instanced->instance.size() / 200) << differ << " pixels differ";
  EXPECT_EQ(instanced->normal.size(), flat->normal.size());
}

// ---------------------------------------------------------------------------------------
// Textures.

// A 2 x 2 RGBA8 image: tinygltf's writer encodes it as an embedded PNG (a data: URI).
tg::Image raw_image(std::vector<unsigned char> rgba) {
  tg::Image image;
  image.name = "checker";
  image.width = 2;
  image.height = 2;
  image.component = 4;
  image.bits = 8;
  image.pixel_type = TINYGLTF_COMPONENT_TYPE_UNSIGNED_BYTE;
  image.mimeType = "image/png";
  image.image = std::move(rgba);
  return image;
}

TEST(GltfSceneTest, TexturesDecodeSrgbAndLinear) {
  SceneFixture f = scene_fixture();
  f.model.images.push_back(raw_image({128, 0, 255, 255, 0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255}));
  tg::Texture texture;
  texture.source = 0;
  f.model.textures.push_back(texture);
  auto& pbr = f.model.materials[0].pbrMetallicRoughness;
  pbr.baseColorTexture.index = 0;
  pbr.metallicRoughnessTexture.index = 0;
  auto loaded = load_gltf_scene(to_gltf_json(f.model), "room.gltf", options());
  ASSERT_TRUE(loaded) << loaded.error();
  EXPECT_TRUE(loaded->warnings.empty()) << loaded->warnings.front();
  const Scene& scene = loaded->scene;
  ASSERT_EQ(scene.textures.size(), 2u);  // one image, read as sRGB colour and as linear data
  const Material& m = scene.materials[0];
  const Texture& colour = scene.textures[static_cast<size_t>(m.base_color_texture)];
  const Texture& data = scene.textures[static_cast<size_t>(m.metallic_roughness_texture)];
  ASSERT_EQ(colour.width, 2);
  ASSERT_EQ(colour.texels.size(), 16u);
  EXPECT_FLOAT_EQ(colour.texels[0], static_cast<float>(srgb_to_linear(128 / 255.0)));
  EXPECT_FLOAT_EQ(colour.texels[2], 1.0f);
  EXPECT_FLOAT_EQ(colour.texels[3], 1.0f);  // alpha stays linear
  EXPECT_FLOAT_EQ(data.texels[0], 128 / 255.0f);
}

TEST(GltfSceneTest, TextureInABufferViewAndAnUndecodableOneFallsBack) {
  // PNG bytes from synthfarm's own encoder: black and (tone-mapped to) white texels.
  Frame frame;
  frame.width = 2;
  frame.height = 1;
  frame.rgb = {0, 0, 0, 1e9f, 1e9f, 1e9f};
  const std::string png = encode_png(frame);
  for (bool corrupt : {false, true}) {
    SceneFixture f = scene_fixture();
    auto& bin = f.model.buffers[0].data;
    tg::BufferView view;
    view.buffer = 0;
    view.byteOffset = bin.size();
    view.byteLength = png.size();
    bin.insert(bin.end(), png.begin(), png.end());
    if (corrupt) std::memset(bin.data() + view.byteOffset + 8, 0x5a, 24);
    f.model.bufferViews.push_back(view);
    tg::Image image;
    image.name = "bricks";
    image.bufferView = static_cast<int>(f.model.bufferViews.size() - 1);
    image.mimeType = "image/png";
    f.model.images.push_back(image);
    tg::Texture texture;
    texture.source = 0;
    f.model.textures.push_back(texture);
    f.model.materials[0].emissiveTexture.index = 0;
    auto loaded = load(f.model);
    ASSERT_TRUE(loaded) << loaded.error();
    const Material& m = loaded->scene.materials[0];
    if (!corrupt) {
      ASSERT_GE(m.emission_texture, 0);
      const Texture& t = loaded->scene.textures[static_cast<size_t>(m.emission_texture)];
      EXPECT_EQ(t.texels, (std::vector<float>{0, 0, 0, 1, 1, 1, 1, 1}));
      EXPECT_TRUE(loaded->warnings.empty()) << loaded->warnings.front();
    } else {
      // The documented fallback: the factor alone, and a warning naming what was dropped.
      EXPECT_EQ(m.emission_texture, -1);
      EXPECT_NEAR(m.emission.r, 0.4, 1e-6);
      ASSERT_EQ(loaded->warnings.size(), 1u);
      EXPECT_NE(
          loaded->warnings[0].find("room.glb: material 'Paint': emissiveTexture reads image 0 "
                                   "'bricks', which cannot be decoded"),
          std::string::npos)
          << loaded->warnings[0];
      EXPECT_NE(loaded->warnings[0].find("the factor is used alone"), std::string::npos);
    }
  }
}

TEST(GltfSceneTest, MissingTextureSourceFallsBackWithAWarning) {
  SceneFixture f = scene_fixture();
  f.model.materials[0].pbrMetallicRoughness.baseColorTexture.index = 3;  // no textures at all
  auto loaded = load(f.model);
  ASSERT_TRUE(loaded) << loaded.error();
  EXPECT_EQ(loaded->scene.materials[0].base_color_texture, -1);
  ASSERT_EQ(loaded->warnings.size(), 1u);
  EXPECT_NE(loaded->warnings[0].find("baseColorTexture names texture 3, which does not exist"),
            std::string::npos)
      << loaded->warnings[0];
}

TEST(GltfSceneTest, SupportedRequiredExtensionsLoad) {
  SceneFixture f = scene_fixture();
  f.model.extensionsRequired = {"KHR_lights_punctual", "KHR_materials_emissive_strength"};
  auto loaded = load(f.model);
  EXPECT_TRUE(loaded) << loaded.error();
}

// Vertex colours (COLOR_0) come in as the mesh's colours, which multiply the material's
// base colour; a file with no camera loads when the options say it need not have one.
TEST(GltfSceneTest, VertexColoursAndAFileWithoutACamera) {
  Scene scene;
  Mesh& quad = scene.meshes.emplace_back();
  render::add_quad(quad, {0, 0, 0}, {1, 0, 0}, {1, 1, 0}, {0, 1, 0});
  quad.colors = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f, 0.7f, 0.8f, 0.9f, 1.0f, 0.0f, 0.5f};
  quad.instance_id = 1;
  scene.instances.push_back({1, SemanticClass::kWall, "fused"});
  auto glb = export_glb(scene);  // no camera: its intrinsics are unset
  ASSERT_TRUE(glb) << glb.error();
  GltfSceneOptions options;
  auto refused = load_gltf_scene(*glb, "fused.glb", options);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().find("no camera"), std::string::npos) << refused.error();
  options.require_camera = false;
  auto loaded = load_gltf_scene(*glb, "fused.glb", options);
  ASSERT_TRUE(loaded) << loaded.error();
  ASSERT_EQ(loaded->scene.meshes.size(), 1u);
  const Mesh& m = loaded->scene.meshes[0];
  ASSERT_EQ(m.colors.size(), quad.colors.size());
  for (size_t v = 0; v < 4; ++v) {
    // The exporter may share or reorder nothing: vertex v is the quad's vertex v.
    EXPECT_NEAR(m.positions[3 * v], quad.positions[3 * v], 1e-6);
    for (size_t c = 0; c < 3; ++c) EXPECT_FLOAT_EQ(m.colors[3 * v + c], quad.colors[3 * v + c]);
  }
  const Material& material = loaded->scene.materials[static_cast<size_t>(m.material)];
  EXPECT_EQ(material.metallic, 0.0f);
  EXPECT_FLOAT_EQ(material.base_color.r, 1.0f);
  for (const std::string& w : loaded->warnings) EXPECT_EQ(w.find("COLOR_0"), std::string::npos) << w;

  // A colour outside 0 .. 1 is refused, naming the vertex.
  quad.colors[4] = 1.5f;
  scene.meshes[0] = quad;
  auto bad = load_gltf_scene(*export_glb(scene), "fused.glb", options);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("COLOR_0 of vertex 1 is 1.5"), std::string::npos) << bad.error();
}

// ---------------------------------------------------------------------------------------
// Bad input.

struct SceneBadInput {
  std::string name;
  std::function<std::string()> bytes;
  std::string expected;  // a substring of the error, after "room.glb: "
};

std::string scene_with(const std::function<void(SceneFixture&)>& change) {
  SceneFixture f = scene_fixture();
  change(f);
  return to_glb(f.model);
}

std::vector<SceneBadInput> scene_bad_inputs() {
  const std::string glb = to_glb(scene_fixture().model);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  return {
      {"empty", [] { return std::string(); }, "empty file"},
      {"truncated", [glb] { return glb.substr(0, glb.size() - 40); },
       "truncated .glb: the header says"},
      {"not glTF", [] { return std::string("PK\x03\x04 a zip file"); }, "not a binary glTF file"},
      {"unsupported required extension",
       [] {
         return scene_with(
             [](SceneFixture& f) { f.model.extensionsRequired = {"KHR_draco_mesh_compression"}; });
       },
       "requires the extension KHR_draco_mesh_compression, which is not supported"},
      {"NaN vertex",
       [nan] {
         return scene_with(
             [nan](SceneFixture& f) { std::memcpy(element(f.model, f.positions, 2, 1), &nan, 4); });
       },
       "mesh 'Quad' primitive 0 POSITION (accessor 0) has a NaN at vertex 2"},
      {"infinite normal",
       [] {
         return scene_with([](SceneFixture& f) {
           const float inf = std::numeric_limits<float>::infinity();
           std::memcpy(element(f.model, f.normals, 3, 0), &inf, 4);
         });
       },
       "mesh 'Quad' primitive 0 NORMAL (accessor 1) has an infinity at vertex 3"},
      {"index out of range",
       [] {
         return scene_with([](SceneFixture& f) {
           const uint32_t nine = 9;
           std::memcpy(element(f.model, f.indices, 4, 0), &nine, 4);
         });
       },
       "mesh 'Quad' primitive 0: index 9 at position 4 is beyond its 4 vertices"},
      {"accessor that does not exist",
       [] {
         return scene_with([](SceneFixture& f) {
           f.model.meshes[0].primitives[0].attributes["TEXCOORD_0"] = 42;
         });
       },
       "mesh 'Quad' primitive 0 TEXCOORD_0: accessor 42 does not exist"},
      {"accessor past its buffer",
       [] {
         return scene_with([](SceneFixture& f) {
           f.model.accessors[static_cast<size_t>(f.normals)].count = 400;
         });
       },
       "mesh 'Quad' primitive 0 NORMAL (accessor 1): 400 elements from byte 0 do not fit"},
      {"normals for other vertices",
       [] {
         return scene_with(
             [](SceneFixture& f) { f.model.accessors[static_cast<size_t>(f.normals)].count = 3; });
       },
       "mesh 'Quad' primitive 0: NORMAL has 3 entries for 4 vertices"},
      {"no POSITION",
       [] {
         return scene_with(
             [](SceneFixture& f) { f.model.meshes[0].primitives[0].attributes.erase("POSITION"); });
       },
       "mesh 'Quad' primitive 0: no POSITION"},
      {"material that does not exist",
       [] {
         return scene_with([](SceneFixture& f) { f.model.meshes[0].primitives[0].material = 7; });
       },
       "mesh 'Quad' primitive 0: material 7 does not exist"},
      {"mesh that does not exist",
       [] { return scene_with([](SceneFixture& f) { f.model.nodes[0].mesh = 5; }); },
       "node 'Floor': mesh 5 does not exist"},
      {"no camera",
       [] { return scene_with([](SceneFixture& f) { f.model.nodes[1].camera = -1; }); },
       "no camera"},
      {"orthographic camera",
       [] {
         return scene_with([](SceneFixture& f) {
           f.model.cameras[0].type = "orthographic";
           f.model.cameras[0].orthographic.xmag = 1;
           f.model.cameras[0].orthographic.ymag = 1;
           f.model.cameras[0].orthographic.zfar = 10;
         });
       },
       "node 'Camera': camera 0 is 'orthographic'; only perspective cameras are supported"},
      {"light that does not exist",
       [] {
         return scene_with([](SceneFixture& f) {
           f.model.nodes[2].extensions["KHR_lights_punctual"] = object({{"light", tg::Value(9)}});
         });
       },
       "node 'BulbNode': light 9 does not exist (the file has 3)"},
      {"negative intensity",
       [] { return scene_with([](SceneFixture& f) { f.model.lights[0].intensity = -1; }); },
       "node 'BulbNode' light 'Bulb': intensity -1 is not a number >= 0"},
      {"spot cone inside out",
       [] {
         return scene_with([](SceneFixture& f) { f.model.lights[1].spot.innerConeAngle = 0.6; });
       },
       "node 'SpotNode' light 'Spot': spot cone angles 0.6 and 0.5 must satisfy"},
      {"node cycle",
       [] {
         return scene_with([](SceneFixture& f) {
           f.model.nodes[0].children = {2};
           f.model.nodes[2].children = {0};
           f.model.scenes[0].nodes = {1};
         });
       },
       "is its own ancestor"},
      {"transform that overflows",
       [] {
         return scene_with([](SceneFixture& f) { f.model.nodes[0].scale = {1e300, 1e300, 1e300}; });
       },
       "mesh 'Quad' primitive 0: vertex 0 is not finite once transformed to the world"},
      {"translation of two numbers",
       [] { return scene_with([](SceneFixture& f) {
              f.model.nodes[0].translation = {1, 2};
            }); },
       "node 'Floor': translation needs 3 numbers"},
  };
}

TEST(GltfSceneBadInputTest, EachGivesItsError) {
  for (const SceneBadInput& bad : scene_bad_inputs()) {
    auto loaded = load_gltf_scene(bad.bytes(), "room.glb", options());
    ASSERT_FALSE(loaded) << bad.name;
    EXPECT_EQ(loaded.error().rfind("room.glb: ", 0), 0u) << bad.name << ": " << loaded.error();
    EXPECT_NE(loaded.error().find(bad.expected), std::string::npos)
        << bad.name << ": expected '" << bad.expected << "' in '" << loaded.error() << "'";
  }
}

TEST(GltfSceneBadInputTest, BadOptions) {
  const std::string glb = to_glb(scene_fixture().model);
  GltfSceneOptions o = options();
  o.width = 0;
  EXPECT_FALSE(load_gltf_scene(glb, "room.glb", o));
  o = options();
  o.background = std::numeric_limits<double>::quiet_NaN();
  EXPECT_FALSE(load_gltf_scene(glb, "room.glb", o));
}

// Every prefix of a valid file, and the file with bytes changed, load or fail cleanly.
TEST(GltfSceneBadInputTest, TruncatedAndCorruptedFilesNeverCrash) {
  const std::string glb = to_glb(scene_fixture().model);
  for (size_t n = 0; n < glb.size(); n += 3) {
    auto loaded = load_gltf_scene(std::string_view(glb).substr(0, n), "cut.glb", options());
    EXPECT_FALSE(loaded) << n;
  }
  int loaded_count = 0;
  for (size_t i = 0; i < glb.size(); ++i) {
    for (int value : {0x00, 0xff, int{'9'}}) {
      std::string bytes = glb;
      bytes[i] = static_cast<char>(value);
      auto loaded = load_gltf_scene(bytes, "flipped.glb", options());
      if (loaded) {
        ++loaded_count;
      } else {
        EXPECT_EQ(loaded.error().rfind("flipped.glb: ", 0), 0u) << loaded.error();
      }
    }
  }
  EXPECT_GT(loaded_count, 0);
}

}  // namespace
}  // namespace synthfarm::gltf
