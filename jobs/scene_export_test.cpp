// A sample's scene exported as glTF: every mesh, instance and person survives the round
// trip (read back with tinygltf, not with the exporter under test), and the camera node
// shows what the sample's camera shows.
#include "jobs/scene_export.h"

#include <gtest/gtest.h>
#include <tiny_gltf.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "gltf/gltf_testing.h"
#include "jobs/scene.h"

namespace synthfarm::jobs {
namespace {

namespace tg = tinygltf;
using gltf::gltf_testing::expect_near;
using gltf::gltf_testing::floats;
using gltf::gltf_testing::gltf_to_world;
using gltf::gltf_testing::parse_glb;
using render::Camera;
using render::Instance;
using render::Mesh;
using render::semantic_class_name;

JobSpec export_spec() {
  JobSpec spec;
  spec.name = "gltf-test";
  spec.samples = 10;
  spec.seed = 7;
  spec.camera.width = 64;
  spec.camera.height = 48;
  spec.scene.props = Distribution::constant(3);
  spec.humans.motion = {{"static", "walk", "wave"}, {}};
  return spec;
}

Mat3 quaternion_matrix(const std::vector<double>& q) {
  double x = q[0], y = q[1], z = q[2], w = q[3];
  return Mat3::from_rows({1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)},
                         {2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)},
                         {2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)});
}

TEST(GltfExportTest, VertexCountBoundsAndInstancesSurviveTheRoundTrip) {
  for (uint64_t index : {0, 1, 2}) {
    SampleScene scene = build_scene(export_spec(), index);
    auto glb = export_sample_glb(scene);
    ASSERT_TRUE(glb) << glb.error();
    ASSERT_GE(glb->size(), 12u);
    EXPECT_EQ(glb->substr(0, 4), "glTF");
    tg::Model model = parse_glb(*glb);

    size_t scene_vertices = 0;
    Vec3 lo{1e300, 1e300, 1e300}, hi{-1e300, -1e300, -1e300};
    for (const Mesh& m : scene.meshes) {
      scene_vertices += m.positions.size() / 3;
      for (size_t i = 0; i < m.positions.size(); i += 3) {
        lo = {std::min<double>(lo.x, m.positions[i]), std::min<double>(lo.y, m.positions[i + 1]),
              std::min<double>(lo.z, m.positions[i + 2])};
        hi = {std::max<double>(hi.x, m.positions[i]), std::max<double>(hi.y, m.positions[i + 1]),
              std::max<double>(hi.z, m.positions[i + 2])};
      }
    }
    size_t file_vertices = 0;
    Vec3 flo{1e300, 1e300, 1e300}, fhi{-1e300, -1e300, -1e300};
    for (const tg::Mesh& mesh : model.meshes) {
      for (const tg::Primitive& prim : mesh.primitives) {
        const int position = prim.attributes.at("POSITION");
        file_vertices += model.accessors[static_cast<size_t>(position)].count;
        EXPECT_EQ(model.accessors[static_cast<size_t>(prim.attributes.at("NORMAL"))].count,
                  model.accessors[static_cast<size_t>(position)].count);
        std::vector<float> p = floats(model, position);
        for (size_t i = 0; i < p.size(); i += 3) {
          Vec3 w = gltf_to_world({p[i], p[i + 1], p[i + 2]});
          flo = {std::min(flo.x, w.x), std::min(flo.y, w.y), std::min(flo.z, w.z)};
          fhi = {std::max(fhi.x, w.x), std::max(fhi.y, w.y), std::max(fhi.z, w.z)};
        }
        std::vector<float> n = floats(model, prim.attributes.at("NORMAL"));
        for (size_t i = 0; i < n.size(); i += 3) {
          EXPECT_NEAR(std::sqrt(n[i] * n[i] + n[i + 1] * n[i + 1] + n[i + 2] * n[i + 2]), 1.0,
                      1e-5);
        }
      }
    }
    EXPECT_EQ(file_vertices, scene_vertices);
    expect_near(flo, lo, 1e-4, "lower bound");
    expect_near(fhi, hi, 1e-4, "upper bound");

    // One top-level node per instance, named and labelled, plus the camera.
    ASSERT_EQ(model.scenes.size(), 1u);
    ASSERT_EQ(model.scenes[0].nodes.size(), scene.instances.size() + 1);
    for (size_t i = 0; i < scene.instances.size(); ++i) {
      const tg::Node& node = model.nodes[static_cast<size_t>(model.scenes[0].nodes[i])];
      const Instance& inst = scene.instances[i];
      EXPECT_EQ(node.name, inst.name + " " + std::to_string(inst.id));
      EXPECT_EQ(node.extras.Get("instance_id").Get<int>(), static_cast<int>(inst.id));
      EXPECT_EQ(node.extras.Get("semantic").Get<std::string>(), semantic_class_name(inst.semantic));
    }
    EXPECT_EQ(model.nodes[static_cast<size_t>(model.scenes[0].nodes.front())].name, "person 1");
  }
}

TEST(GltfExportTest, CameraNodeGivesTheSceneCamerasView) {
  for (uint64_t index : {0, 3, 5}) {
    SampleScene scene = build_scene(export_spec(), index);
    const Camera& camera = scene.camera;
    auto glb = export_sample_glb(scene);
    ASSERT_TRUE(glb) << glb.error();
    tg::Model model = parse_glb(*glb);
    auto it = std::find_if(model.nodes.begin(), model.nodes.end(),
                           [](const tg::Node& n) { return n.camera >= 0; });
    ASSERT_NE(it, model.nodes.end());
    const tg::Camera& gc = model.cameras.at(static_cast<size_t>(it->camera));
    ASSERT_EQ(gc.type, "perspective");
    EXPECT_NEAR(gc.perspective.yfov, 2 * std::atan(camera.height / (2 * camera.fy)), 1e-12);
    EXPECT_NEAR(gc.perspective.aspectRatio, 64.0 / 48.0, 1e-12);

    // A glTF camera looks down its local -z with +y up.
    Mat3 r = quaternion_matrix(it->rotation);
    Vec3 t{it->translation[0], it->translation[1], it->translation[2]};
    expect_near(gltf_to_world(t), camera.position, 1e-6, "position");
    expect_near(gltf_to_world(-r.column(2)), camera.rotation.row(2), 1e-6, "forward");
    expect_near(gltf_to_world(r.column(1)), -camera.rotation.row(1), 1e-6, "up");
    expect_near(gltf_to_world(r.column(0)), camera.rotation.row(0), 1e-6, "right");

    // Every person's joints project to the same pixels through either camera model.
    const double tan_half = std::tan(gc.perspective.yfov / 2);
    for (const Human& human : scene.humans) {
      for (Vec3 joint : human.joints) {
        Vec3 c = camera.to_camera(joint);
        if (c.z < 0.1) continue;
        auto expected = camera.project(c);
        Vec3 g{joint.x, joint.z, -joint.y};
        Vec3 local = r.transposed() * (g - t);  // glTF camera space
        double x_ndc = local.x / -local.z / (gc.perspective.aspectRatio * tan_half);
        double y_ndc = local.y / -local.z / tan_half;
        EXPECT_NEAR((x_ndc + 1) / 2 * camera.width, expected[0], 1e-6);
        EXPECT_NEAR((1 - y_ndc) / 2 * camera.height, expected[1], 1e-6);
      }
    }
  }
}

}  // namespace
}  // namespace synthfarm::jobs
