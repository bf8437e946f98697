// The fixed scene mesh (scene.mesh): its occupancy, people, camera and lights kept to the
// room it describes, its labels, and its errors.
#include "jobs/scene_mesh.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "gltf/gltf.h"
#include "jobs/sample.h"
#include "jobs/scene.h"
#include "jobs/spec.h"
#include "render/renderer.h"

namespace synthfarm::jobs {
namespace {

using render::Mesh;
using render::SemanticClass;

// An 8 x 6 m room 2.6 m high around the origin (floor, ceiling, four walls, each facing
// in), a table (x 0.4 .. 1.6, y 0.1 .. 0.9, 0.8 m high) and a cabinet (x -1.8 .. -1.2,
// y -1.3 .. -0.7, 2 m high), as a .glb with vertex colours on the floor, offset by `shift`.
std::string room_glb(Vec3 shift = {}, double half_x = 4) {
  render::Scene scene;
  auto quad = [&](Vec3 a, Vec3 b, Vec3 c, Vec3 d, uint32_t id) {
    Mesh& m = scene.meshes.emplace_back();
    render::add_quad(m, a + shift, b + shift, c + shift, d + shift);
    m.instance_id = id;
    m.albedo = {0.6f, 0.6f, 0.6f};
  };
  const double x = half_x, y = 3, h = 2.6;
  quad({-x, -y, 0}, {x, -y, 0}, {x, y, 0}, {-x, y, 0}, 1);  // floor, facing up
  scene.meshes.back().colors = {0.8f, 0.1f, 0.1f, 0.1f, 0.8f, 0.1f, 0.1f, 0.1f, 0.8f, 0.5f, 0.5f, 0.5f};
  quad({-x, -y, h}, {-x, y, h}, {x, y, h}, {x, -y, h}, 2);  // ceiling, facing down
  quad({-x, -y, 0}, {-x, -y, h}, {x, -y, h}, {x, -y, 0}, 2);
  quad({x, y, 0}, {x, y, h}, {-x, y, h}, {-x, y, 0}, 2);
  quad({-x, y, 0}, {-x, y, h}, {-x, -y, h}, {-x, -y, 0}, 2);
  quad({x, -y, 0}, {x, -y, h}, {x, y, h}, {x, y, 0}, 2);
  Mesh& table = scene.meshes.emplace_back();
  render::add_box(table, Vec3{1.0, 0.5, 0.4} + shift, Mat3{}, {0.6, 0.4, 0.4});
  table.instance_id = 3;
  Mesh& cabinet = scene.meshes.emplace_back();
  render::add_box(cabinet, Vec3{-1.5, -1.0, 1.0} + shift, Mat3{}, {0.3, 0.3, 1.0});
  cabinet.instance_id = 3;
  scene.instances = {{1, SemanticClass::kFloor, "floor"}, {2, SemanticClass::kWall, "walls"},
                     {3, SemanticClass::kProp, "furniture"}};
  auto glb = gltf::export_glb(scene);
  EXPECT_TRUE(glb) << glb.error();
  return glb ? *glb : std::string();
}

std::shared_ptr<const SceneMesh> room() {
  static const std::shared_ptr<const SceneMesh> mesh = [] {
    auto loaded = load_scene_mesh(room_glb(), "file:///captures/room.glb");
    EXPECT_TRUE(loaded) << loaded.error();
    return loaded ? *loaded : nullptr;
  }();
  return mesh;
}

JobSpec mesh_spec(const std::string& extra = "") {
  auto spec = parse_spec("name: inroom\nsamples: 40\nscene: {mesh: file:///captures/room.glb}\n"
                         "camera: {resolution: [160, 120], distance_m: {uniform: [2, 5]}}\n"
                         "humans: {count: {uniform_int: [1, 3]}}\nlighting: {area_lights: 2, lamps: 2}\n" +
                         extra);
  EXPECT_TRUE(spec.has_value());
  return spec ? *spec : JobSpec{};
}

TEST(SceneMeshTest, OccupancyAnswersWhereThereIsFloorWallAndFurniture) {
  auto mesh = room();
  ASSERT_TRUE(mesh);
  EXPECT_GT(mesh->cell_count(), 10000u);
  EXPECT_TRUE(mesh->floor_at(0, 0));
  EXPECT_TRUE(mesh->floor_at(-3.9, 2.9));
  EXPECT_FALSE(mesh->floor_at(4.2, 0)) << "outside the room";
  EXPECT_TRUE(mesh->clear({0, -1, 1.3}, 0.3));
  EXPECT_FALSE(mesh->clear({1.0, 0.5, 0.9}, 0.2)) << "just above the table top";
  EXPECT_FALSE(mesh->clear({3.85, 0, 1.3}, 0.3)) << "by the wall";
  EXPECT_TRUE(mesh->clear_column({0, -1, 0}, 0.3, 0.15, 1.9));
  EXPECT_FALSE(mesh->clear_column({0.2, 0.5, 0}, 0.3, 0.15, 1.9)) << "the table's edge is 0.2 m away";
  EXPECT_FALSE(mesh->line_of_sight({0, 0, 1.5}, {6, 0, 1.5})) << "through the wall";
  EXPECT_FALSE(mesh->line_of_sight({1.0, -1, 0.5}, {1.0, 2, 0.5})) << "through the table";
  EXPECT_TRUE(mesh->line_of_sight({-2, 2, 1.5}, {2, -2, 1.5}));
  auto above = mesh->surface_above({0, 0, 1.0});
  ASSERT_TRUE(above.has_value());
  EXPECT_NEAR(*above, 2.6, SceneMesh::kCell);
  // The floor is split from the rest, with its vertex colours.
  std::set<SemanticClass> classes;
  for (const Mesh& m : mesh->parts().meshes) {
    classes.insert(m.semantic);
    if (m.semantic == SemanticClass::kFloor) {
      EXPECT_EQ(m.colors.size(), m.positions.size());
    }
  }
  EXPECT_EQ(classes, (std::set<SemanticClass>{SemanticClass::kFloor, SemanticClass::kWall}));
}

// The furnished test room as a job's scene mesh, with a spec that names it.
class SceneMeshRoom : public ::testing::Test {
 protected:
  void SetUp() override {
    mesh = room();
    ASSERT_TRUE(mesh);
    assets.scene_mesh = mesh;
  }
  std::shared_ptr<const SceneMesh> mesh;
  const JobSpec spec = mesh_spec();
  SceneAssets assets;
};

TEST_F(SceneMeshRoom, PeopleCameraAndLightsKeepToTheRoom) {
  int people = 0, drawn = 0, lights = 0, seen = 0;
  for (uint64_t index = 0; index < 40; ++index) {
    SCOPED_TRACE("sample " + std::to_string(index));
    SampleScene scene = build_scene(spec, index, &assets);
    EXPECT_EQ(scene.kind, "mesh");
    Pcg32 count_rng = Pcg32::for_purpose(sample_seed(spec.seed, index), "humans");
    drawn += static_cast<int>(std::round(spec.humans.count.sample(count_rng)));
    for (const Human& h : scene.humans) {
      ++people;
      EXPECT_TRUE(mesh->floor_at(h.position.x, h.position.y));
      EXPECT_TRUE(mesh->clear_column(h.position, 0.2, 0.15, 1.6)) << "on the table or in the cabinet";
      EXPECT_LT(std::abs(h.position.x), 4.0);
      EXPECT_LT(std::abs(h.position.y), 3.0);
    }
    const Vec3 eye = scene.camera.position;
    EXPECT_TRUE(mesh->floor_at(eye.x, eye.y)) << "the camera is outside the room";
    EXPECT_TRUE(mesh->clear(eye, 0.3));
    for (const render::Light& light : scene.lights) {
      ++lights;
      EXPECT_LT(light.position.z, 2.6);
      EXPECT_LT(std::abs(light.position.x), 4.0);
      EXPECT_LT(std::abs(light.position.y), 3.0);
    }
    // The mesh is the structure: its floor and the rest, after the people.
    ASSERT_GE(scene.instances.size(), 2u);
    const auto& floor = scene.instances[scene.instances.size() - 2];
    const auto& rest = scene.instances.back();
    EXPECT_EQ(floor.name, "scene mesh floor");
    EXPECT_EQ(floor.semantic, SemanticClass::kFloor);
    EXPECT_EQ(rest.name, "scene mesh");
    EXPECT_EQ(rest.semantic, SemanticClass::kWall);
    EXPECT_EQ(scene.instances.size(), scene.humans.size() + 2);
    for (const Mesh& m : scene.meshes) {
      EXPECT_LT(m.material, static_cast<int>(scene.materials.size()));
      if (m.instance_id == floor.id) {
        EXPECT_FALSE(m.colors.empty());
      }
    }
    seen += scene.humans.empty() ? 0 : 1;
  }
  EXPECT_GE(people, drawn * 9 / 10) << "people drawn but left out for want of floor";
  EXPECT_GE(lights, 40 * 4 * 3 / 4) << "a light drawn behind a wall is drawn again, not dropped";
  EXPECT_EQ(seen, 40);

  // The same inputs give the same scene.
  SampleScene a = build_scene(spec, 7, &assets), b = build_scene(spec, 7, &assets);
  EXPECT_EQ(a.camera.position.x, b.camera.position.x);
  ASSERT_EQ(a.humans.size(), b.humans.size());
  for (size_t i = 0; i < a.humans.size(); ++i) EXPECT_EQ(a.humans[i].position.x, b.humans[i].position.x);
  // Without the mesh in the assets, the scene cannot be built.
  EXPECT_THROW(build_scene(spec, 0, nullptr), std::invalid_argument);
}

TEST_F(SceneMeshRoom, RenderedLabelsShowTheRoomAroundThePeople) {
  SampleScene scene = build_scene(spec, 3, &assets);
  auto renderer = render::Renderer::create();
  ASSERT_TRUE(renderer);
  render::RenderSettings settings;
  settings.labels_only = true;
  settings.layers = render::layer_bit(render::Layer::kInstance) | render::layer_bit(render::Layer::kSemantic) |
                    render::layer_bit(render::Layer::kDepth);
  auto frame = (*renderer)->render(scene, settings);
  ASSERT_TRUE(frame) << frame.error();
  std::set<uint32_t> semantics;
  size_t background = 0;
  for (size_t p = 0; p < frame->semantic.size(); ++p) {
    semantics.insert(frame->semantic[p]);
    background += frame->instance[p] == 0 ? 1 : 0;
  }
  EXPECT_EQ(background, 0u) << "inside a closed room every ray hits something";
  EXPECT_TRUE(semantics.contains(static_cast<uint32_t>(SemanticClass::kPerson)));
  EXPECT_TRUE(semantics.contains(static_cast<uint32_t>(SemanticClass::kFloor)));
  EXPECT_TRUE(semantics.contains(static_cast<uint32_t>(SemanticClass::kWall)));
  for (float d : frame->depth) EXPECT_LT(d, 11.0f) << "no depth beyond the room's diagonal";
}

TEST(SceneMeshTest, BadMeshesAndSpecsAreRefusedByName) {
  auto away = load_scene_mesh(room_glb({10, 0, 0}), "s3://b/away.glb");
  ASSERT_FALSE(away);
  EXPECT_NE(away.error().find("away.glb: the mesh spans x 6.00 .. 14.00"), std::string::npos) << away.error();
  EXPECT_NE(away.error().find("does not surround the origin"), std::string::npos) << away.error();
  auto wide = load_scene_mesh(room_glb({}, 150), "file:///wide.glb");
  ASSERT_FALSE(wide);
  EXPECT_NE(wide.error().find("wide.glb: the mesh spans 300.0 x 6.0 x 2.6 m"), std::string::npos) << wide.error();
  auto junk = load_scene_mesh("not a glb", "file:///junk.glb");
  ASSERT_FALSE(junk);
  EXPECT_NE(junk.error().find("junk.glb"), std::string::npos) << junk.error();

  // Through the sample pipeline's loader: the field, then the file's problem.
  const JobSpec spec = mesh_spec();
  auto missing = load_scene_assets(spec, [](const std::string& uri) -> tl::expected<std::string, std::string> {
    return tl::unexpected(uri + ": no such object");
  });
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error(), "scene.mesh: file:///captures/room.glb: no such object");

  // The spec: a mesh replaces the generated scene's fields, and must be a glTF file.
  auto both = parse_spec("name: x\nsamples: 1\nscene:\n  mesh: file:///r.glb\n  props: 3\n", "s.yaml");
  ASSERT_FALSE(both);
  ASSERT_EQ(both.error().size(), 1u);
  EXPECT_EQ(both.error()[0].path, "scene.props");
  EXPECT_EQ(both.error()[0].line, 5);
  EXPECT_NE(both.error()[0].message.find("does not apply with scene.mesh"), std::string::npos);
  auto obj = parse_spec("name: x\nsamples: 1\nscene: {mesh: file:///r.obj}\n", "s.yaml");
  ASSERT_FALSE(obj);
  EXPECT_EQ(obj.error()[0].path, "scene.mesh");
  // The canonical form holds the mesh and none of the generated scene's fields, and parses
  // back to the same spec.
  const std::string canonical = spec_to_json(spec);
  EXPECT_NE(canonical.find("\"scene\":{\"mesh\":\"file:///captures/room.glb\"}"), std::string::npos) << canonical;
  auto again = parse_spec(canonical);
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, spec);
}

}  // namespace
}  // namespace synthfarm::jobs
