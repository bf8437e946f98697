// Tests of the renderer on hand-built scenes: the uniform-sky furnace, analytic depth and
// normals of a plane, frame reuse, label layers, keypoint visibility, instancing, edge
// tie-breaks, per-vertex labels and cancellation. The path tracer's light transport is
// path_tracer_test.cpp's.
#include "render/renderer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <stdexcept>

#include "base/keypoints.h"
#include "render/scene.h"
#include "render/scene_testing.h"

namespace synthfarm::render {
namespace {

using scene_testing::plane_scene;

TEST(RendererTest, UniformSkyFurnace) {
  auto renderer = Renderer::create();
  ASSERT_TRUE(renderer.has_value()) << renderer.error();
  RenderSettings settings{4, 3, 99, 2};
  for (auto [sun, expected] : {std::pair{0.0, 0.5}, std::pair{2.0, 1.0}}) {
    // Radiance = albedo * (sky + sun * sin(elevation)) = 0.5 * (1 + 2 * 0.5).
    Scene scene = plane_scene(0.5, 1.0, sun, 30.0);
    auto frame = (*renderer)->render(scene, settings);
    ASSERT_TRUE(frame.has_value()) << frame.error();
    int plane_pixels = 0;
    for (uint32_t id : frame->instance) plane_pixels += id == 1 ? 1 : 0;
    ASSERT_GT(plane_pixels, 100);
    // Rows well below the horizon see only the plane in every sample.
    for (int y = frame->height - 8; y < frame->height; ++y) {
      for (int x = 0; x < frame->width; ++x) {
        size_t p = static_cast<size_t>(y) * frame->width + x;
        for (int c = 0; c < 3; ++c) EXPECT_NEAR(frame->rgb[3 * p + c], expected, 1e-5);
        EXPECT_FLOAT_EQ(frame->albedo[3 * p], 0.5f);
      }
    }
    // The top rows look at the sky.
    for (int x = 0; x < frame->width; ++x) {
      EXPECT_EQ(frame->instance[x], 0u);
      EXPECT_NEAR(frame->rgb[3 * x], 1.0, 1e-6);
    }
  }
}

TEST(RendererTest, DepthAndNormalOfAPlaneAreAnalytic) {
  auto renderer = Renderer::create();
  ASSERT_TRUE(renderer.has_value());
  Scene scene = plane_scene(0.5, 1.0, 0.0, 45.0);
  auto frame = (*renderer)->render(scene, RenderSettings{1, 0, 5, 1});
  ASSERT_TRUE(frame.has_value());
  const Camera& cam = scene.camera;
  Vec3 up_in_camera = cam.rotation * Vec3{0, 0, 1};
  for (int y = 0; y < frame->height; ++y) {
    for (int x = 0; x < frame->width; ++x) {
      size_t p = static_cast<size_t>(y) * frame->width + x;
      Vec3 d = cam.rotation.transposed() *
               Vec3{(x + 0.5 - cam.cx) / cam.fx, (y + 0.5 - cam.cy) / cam.fy, 1};
      if (d.z >= 0) {
        EXPECT_EQ(frame->instance[p], 0u);
        EXPECT_TRUE(std::isinf(frame->depth[p]));
        continue;
      }
      double expected = -cam.position.z / d.z;  // camera z, since the camera d has z = 1
      EXPECT_NEAR(frame->depth[p], expected, 1e-5 * expected);
      EXPECT_NEAR(frame->normal[3 * p], up_in_camera.x, 1e-6);
      EXPECT_NEAR(frame->normal[3 * p + 1], up_in_camera.y, 1e-6);
      EXPECT_NEAR(frame->normal[3 * p + 2], up_in_camera.z, 1e-6);
      EXPECT_EQ(frame->semantic[p], 2u);
    }
  }
}

// A frame rendered into again holds exactly what a fresh render gives: every layer asked for
// is overwritten whole (a miss included), the others are emptied, and label rays start from
// the new camera (the render threads keep their rays between frames).
TEST(RendererTest, AReusedFrameHoldsWhatAFreshRenderGives) {
  auto renderer = Renderer::create();
  ASSERT_TRUE(renderer.has_value());
  Scene first = plane_scene(0.5, 1.0, 0.0, 45.0);
  // The second looks straight down from 3 m, 40 m away, at a small quad of its own: above the
  // first's plane, where a ray from the first camera's position would meet that plane.
  Scene second = plane_scene(0.5, 1.0, 0.0, 45.0);
  second.camera = look_at_camera(48, 32, 60, {40, 0, 3}, {40, 0.001, 0});
  Mesh quad;
  quad.albedo = {0.25f, 0.5f, 0.75f};
  quad.instance_id = 7;
  quad.semantic = SemanticClass::kProp;
  add_quad(quad, {39.5, -0.5, 1}, {40.5, -0.5, 1}, {40.5, 0.5, 1}, {39.5, 0.5, 1});
  second.meshes = {quad};
  second.instances = {{7, SemanticClass::kProp, "quad"}};
  for (int threads : {1, 2}) {
    for (bool labels_only : {true, false}) {
      RenderSettings settings{1, 0, 5, threads};
      settings.labels_only = labels_only;
      Frame frame;
      ASSERT_TRUE((*renderer)->render(first, settings, frame).has_value());
      auto fresh = (*renderer)->render(second, settings);
      ASSERT_TRUE(fresh.has_value());
      ASSERT_TRUE((*renderer)->render(second, settings, frame).has_value());
      EXPECT_EQ(frame.depth, fresh->depth);
      EXPECT_EQ(frame.normal, fresh->normal);
      EXPECT_EQ(frame.albedo, fresh->albedo);
      EXPECT_EQ(frame.instance, fresh->instance);
      EXPECT_EQ(frame.semantic, fresh->semantic);
      EXPECT_EQ(frame.part, fresh->part);
      EXPECT_EQ(frame.uv, fresh->uv);
      EXPECT_EQ(frame.rgb, fresh->rgb);
      // The quad fills the middle of the view, the sky is around it.
      const size_t middle = static_cast<size_t>(16) * 48 + 24;
      EXPECT_EQ(frame.instance[middle], 7u);
      EXPECT_NEAR(frame.depth[middle], 2.0, 1e-5);
      EXPECT_EQ(frame.instance[0], 0u);
      EXPECT_TRUE(std::isinf(frame.depth[0]));
      // Fewer layers the next time: the others are emptied.
      settings.layers = layer_bit(Layer::kDepth);
      ASSERT_TRUE((*renderer)->render(first, settings, frame).has_value());
      EXPECT_EQ(frame.depth.size(), 48u * 32u);
      EXPECT_TRUE(frame.normal.empty() && frame.instance.empty() && frame.rgb.empty());
    }
  }
}

// A label that varies over a mesh (here per-vertex colours, for the albedo) is read from the
// full hit; depth and the normal come from the triangle's plane whatever the mesh looks like.
TEST(RendererTest, VaryingLabelsComeFromTheHitAndDepthFromThePlane) {
  auto renderer = Renderer::create();
  ASSERT_TRUE(renderer.has_value());
  Scene uniform = plane_scene(0.5, 1.0, 0.0, 45.0);
  Scene coloured = uniform;
  Mesh& plane = coloured.meshes[0];
  // Red rises with x across the quad's 2000 m, green with y: colour = ((x + 1000) / 2000, ...).
  plane.colors.clear();
  for (size_t v = 0; v < plane.positions.size() / 3; ++v) {
    plane.colors.push_back(static_cast<float>((plane.positions[3 * v] + 1000) / 2000));
    plane.colors.push_back(static_cast<float>((plane.positions[3 * v + 1] + 1000) / 2000));
    plane.colors.push_back(0.25f);
  }
  RenderSettings settings;
  settings.labels_only = true;
  settings.layers = layer_bit(Layer::kDepth) | layer_bit(Layer::kNormal) |
                    layer_bit(Layer::kAlbedo) | layer_bit(Layer::kInstance);
  auto flat = (*renderer)->render(uniform, settings);
  auto varying = (*renderer)->render(coloured, settings);
  ASSERT_TRUE(flat.has_value() && varying.has_value());
  EXPECT_EQ(flat->depth, varying->depth);
  EXPECT_EQ(flat->normal, varying->normal);
  const Camera& cam = coloured.camera;
  int checked = 0;
  for (int y = 0; y < varying->height; ++y) {
    for (int x = 0; x < varying->width; ++x) {
      const size_t p = static_cast<size_t>(y) * varying->width + x;
      if (varying->instance[p] != 1) continue;
      const Vec3 d = cam.rotation.transposed() *
                     Vec3{(x + 0.5 - cam.cx) / cam.fx, (y + 0.5 - cam.cy) / cam.fy, 1};
      const Vec3 hit = cam.position + d * (-cam.position.z / d.z);
      EXPECT_NEAR(varying->albedo[3 * p], (hit.x + 1000) / 2000, 1e-6);
      EXPECT_NEAR(varying->albedo[3 * p + 1], (hit.y + 1000) / 2000, 1e-6);
      EXPECT_FLOAT_EQ(varying->albedo[3 * p + 2], 0.25f);
      EXPECT_FLOAT_EQ(flat->albedo[3 * p], 0.5f);
      ++checked;
    }
  }
  EXPECT_GT(checked, 500);

  // With a material, the vertex colours multiply its base colour (glTF's COLOR_0).
  Scene material = coloured;
  render::Material m;
  m.base_color = {0.5f, 1.0f, 0.8f};
  material.materials.push_back(m);
  material.meshes[0].material = 0;
  auto tinted = (*renderer)->render(material, settings);
  ASSERT_TRUE(tinted.has_value());
  for (size_t p = 0; p < tinted->instance.size(); ++p) {
    if (tinted->instance[p] != 1) continue;
    EXPECT_NEAR(tinted->albedo[3 * p], 0.5 * varying->albedo[3 * p], 1e-6);
    EXPECT_NEAR(tinted->albedo[3 * p + 1], varying->albedo[3 * p + 1], 1e-6);
    EXPECT_NEAR(tinted->albedo[3 * p + 2], 0.8 * 0.25, 1e-6);
  }
}

// Sixteen copies of a 20k-triangle prop: placed from one shape (Mesh::shape) the renderer
// builds its BVH once and instances it, in a fraction of the memory, with the same images.
TEST(RendererTest, RepeatedPropsAreInstancedFromOneShape) {
  Scene flat = plane_scene(0.5, 1.0, 2.0, 40.0);
  flat.camera = look_at_camera(96, 64, 60, {0, -6, 2}, {0, 0, 0.5});
  MeshShape shape;
  {
    Mesh unit;
    add_ellipsoid(unit, {0, 0, 0}, Mat3{}, {1, 1, 1}, 128, 160);
    shape.positions = unit.positions;
    shape.indices = unit.indices;
  }
  ASSERT_GT(shape.indices.size() / 3, 15000u);
  Scene placed = flat;
  placed.shapes.push_back(shape);
  for (int k = 0; k < 16; ++k) {
    // Whole and half metres and scales that are powers of two: exact in float.
    const Vec3 offset{-3.0 + (k % 4) * 2.0, (k / 4) * 2.0, 0.5};
    const Mat3 linear = Mat3::from_rows({0.5, 0, 0}, {0, 0.25, 0}, {0, 0, 0.5});
    Mesh prop;
    prop.albedo = {0.7f, 0.3f, 0.2f};
    prop.instance_id = static_cast<uint32_t>(k + 2);
    prop.semantic = SemanticClass::kProp;
    prop.indices = shape.indices;
    for (size_t v = 0; v < shape.positions.size() / 3; ++v) {
      const Vec3 p = linear * Vec3{shape.positions[3 * v], shape.positions[3 * v + 1],
                                   shape.positions[3 * v + 2]} +
                     offset;
      prop.positions.insert(prop.positions.end(), {static_cast<float>(p.x), static_cast<float>(p.y),
                                                   static_cast<float>(p.z)});
    }
    flat.meshes.push_back(prop);
    prop.shape = 0;
    prop.shape_linear = linear;
    prop.shape_offset = offset;
    placed.meshes.push_back(std::move(prop));
    flat.instances.push_back({prop.instance_id, SemanticClass::kProp, "prop"});
    placed.instances.push_back(flat.instances.back());
  }
  auto renderer = Renderer::create();
  ASSERT_TRUE(renderer.has_value());
  RenderSettings settings{4, 1, 7, 2};
  settings.layers = layer_bit(Layer::kRgb) | layer_bit(Layer::kDepth) | layer_bit(Layer::kInstance);
  RenderTimings flat_timings, placed_timings;
  settings.timings = &flat_timings;
  auto a = (*renderer)->render(flat, settings);
  settings.timings = &placed_timings;
  auto b = (*renderer)->render(placed, settings);
  ASSERT_TRUE(a.has_value() && b.has_value());
  EXPECT_EQ(flat_timings.instanced_meshes, 0u);
  EXPECT_EQ(placed_timings.instanced_meshes, 16u);
  std::printf("BVH bytes: %lld flat, %lld instanced (%.1f%%)\n",
              static_cast<long long>(flat_timings.bvh_bytes),
              static_cast<long long>(placed_timings.bvh_bytes),
              100.0 * placed_timings.bvh_bytes / flat_timings.bvh_bytes);
  EXPECT_GT(flat_timings.bvh_bytes, 0);
  EXPECT_LT(placed_timings.bvh_bytes * 5, flat_timings.bvh_bytes);
  std::set<uint32_t> seen(b->instance.begin(), b->instance.end());
  EXPECT_GE(seen.size(), 12u);  // most props are in view
  // Instances name the mesh and hits resolve on its own triangles: the same images but for
  // the odd ray exactly on an edge two triangles share.
  size_t differ = 0;
  for (size_t p = 0; p < b->instance.size(); ++p) {
    differ += a->instance[p] != b->instance[p] || a->depth[p] != b->depth[p] ||
              a->rgb[3 * p] != b->rgb[3 * p];
  }
  EXPECT_LE(differ, b->instance.size() / 200) << differ << " pixels differ";
}

// Rays exactly on an edge two meshes share meet both at exactly the same distance; the hit
// is the lower mesh's (the tie-break), whatever order the BVH visits them in, the mesh order,
// the thread count or the pass (labels only, or labels beside colour).
TEST(RendererTest, RaysOnAnEdgeTwoMeshesShareTakeTheLowerMesh) {
  auto renderer = Renderer::create();
  ASSERT_TRUE(renderer.has_value());
  for (bool swapped : {false, true}) {
    Scene scene;
    scene.kind = "analytic";
    // Column 4 of 9 looks along x = 0 exactly: cx = 4.5, and the camera's right is world x.
    scene.camera = look_at_camera(9, 64, 60, {0, -2, 2}, {0, 0, 0});
    scene.sky = Sky::uniform(1.0);
    for (int side : {-1, 1}) {
      Mesh half;
      half.albedo = {0.5f, 0.5f, 0.5f};
      half.instance_id = side < 0 ? 1 : 2;
      half.semantic = SemanticClass::kFloor;
      add_quad(half, {0, -4, 0}, {1.0 * side, -4, 0}, {1.0 * side, 4, 0}, {0, 4, 0});
      scene.meshes.push_back(std::move(half));
    }
    if (swapped) std::swap(scene.meshes[0], scene.meshes[1]);
    scene.instances = {{1, SemanticClass::kFloor, "left"},
                       {2, SemanticClass::kFloor, "right"}};
    const uint32_t lower = scene.meshes[0].instance_id;
    for (bool labels_only : {true, false}) {
      for (int threads : {1, 2}) {
        RenderSettings settings;
        settings.spp = 1;
        settings.threads = threads;
        settings.labels_only = labels_only;
        settings.layers = layer_bit(Layer::kInstance) | layer_bit(Layer::kRgb);
        auto frame = (*renderer)->render(scene, settings);
        ASSERT_TRUE(frame.has_value()) << frame.error();
        int on_edge = 0;
        for (int y = 0; y < frame->height; ++y) {
          const uint32_t id = frame->instance[static_cast<size_t>(y) * 9 + 4];
          if (id == 0) continue;  // the sky
          EXPECT_EQ(id, lower) << "row " << y << (swapped ? ", swapped" : "");
          ++on_edge;
          // Either side of the edge each mesh has its own.
          EXPECT_EQ(frame->instance[static_cast<size_t>(y) * 9 + 3], 1u);
          EXPECT_EQ(frame->instance[static_cast<size_t>(y) * 9 + 5], 2u);
        }
        EXPECT_GT(on_edge, 20);
      }
    }
  }
}


}  // namespace
}  // namespace synthfarm::render

namespace synthfarm::render {
namespace {

// A raised cancel flag stops a render between tiles with kCancelled; a lowered one
// changes nothing.
TEST(RendererTest, ACancelFlagStopsTheRender) {
  auto renderer = Renderer::create();
  ASSERT_TRUE(renderer.has_value());
  Scene scene = plane_scene(0.5, 1.0, 0.0, 45.0);
  std::atomic<bool> cancel{true};
  RenderSettings settings{4, 1, 5, 1};
  settings.cancel = &cancel;
  auto stopped = (*renderer)->render(scene, settings);
  ASSERT_FALSE(stopped.has_value());
  EXPECT_EQ(stopped.error(), kCancelled);
  cancel = false;
  auto frame = (*renderer)->render(scene, settings);
  ASSERT_TRUE(frame.has_value()) << frame.error();
  auto plain = (*renderer)->render(scene, RenderSettings{4, 1, 5, 1});
  ASSERT_TRUE(plain.has_value());
  EXPECT_EQ(frame->rgb, plain->rgb);
}

// Keypoint visibility by ray casting, on an analytic scene: a "person" sphere of radius
// 0.3 m with keypoints at its centre (radius 0.3: under the skin), on its front surface
// (radius 0) and on its back surface (radius 0); a wall is then put in front of it.
TEST(RendererTest, KeypointVisibilityComesFromRayCasting) {
  auto renderer = Renderer::create();
  ASSERT_TRUE(renderer.has_value());
  Scene scene;
  scene.kind = "analytic";
  scene.camera = look_at_camera(64, 48, 60, {0, -4, 1}, {0, 0, 1});
  Mesh body;
  body.instance_id = 1;
  body.semantic = SemanticClass::kPerson;
  body.albedo = {0.5f, 0.5f, 0.5f};
  add_ellipsoid(body, {0, 0, 1}, Mat3{}, {0.3, 0.3, 0.3}, 48, 24);
  scene.meshes.push_back(body);
  scene.instances.push_back({1, SemanticClass::kPerson, "person"});
  KeypointSet person;
  person.instance_id = 1;
  person.points.assign(kKeypointCount, {0, 0, 1});
  person.depth.assign(kKeypointCount, 0.3);
  person.points[1] = {0, -0.3, 1};  // front surface (a vertex), facing the camera
  person.depth[1] = 0;
  person.points[2] = {0, 0.3, 1};  // back surface: the body hides it
  person.depth[2] = 0;
  person.points[3] = {50, 0, 1};  // far outside the image
  scene.keypoints.push_back(person);

  auto frame = (*renderer)->render(scene, RenderSettings{1, 0, 1, 1});
  ASSERT_TRUE(frame.has_value()) << frame.error();
  ASSERT_EQ(frame->keypoints.size(), 1u);
  const auto& k = frame->keypoints[0];
  EXPECT_EQ(k[0].v, 2) << "the centre lies under the visible front surface";
  EXPECT_NEAR(k[0].x, 32.0, 1e-9);
  EXPECT_NEAR(k[0].y, 24.0, 1e-9);
  EXPECT_EQ(k[1].v, 2);
  EXPECT_EQ(k[2].v, 1) << "self-occluded by the front of the body";
  EXPECT_EQ(k[3].v, 0);
  EXPECT_EQ(k[3].x, 0.0);
  // The keypoint's pixel belongs to the person's mask.
  EXPECT_EQ(frame->instance[24 * 64 + 32], 1u);

  // A wall between the camera and the body: every keypoint in the image is occluded.
  Mesh wall;
  wall.instance_id = 2;
  wall.semantic = SemanticClass::kWall;
  add_quad(wall, {-1, -1, 0}, {1, -1, 0}, {1, -1, 2}, {-1, -1, 2});
  scene.meshes.push_back(wall);
  scene.instances.push_back({2, SemanticClass::kWall, "wall"});
  frame = (*renderer)->render(scene, RenderSettings{1, 0, 1, 1});
  ASSERT_TRUE(frame.has_value());
  EXPECT_EQ(frame->keypoints[0][0].v, 1);
  EXPECT_EQ(frame->keypoints[0][1].v, 1);
  EXPECT_EQ(frame->keypoints[0][2].v, 1);
  EXPECT_EQ(frame->keypoints[0][3].v, 0);
}

// Per-vertex colours, parts and uvs reach the albedo, part and uv layers.
TEST(RendererTest, PerVertexColourPartAndUvLayers) {
  auto renderer = Renderer::create();
  ASSERT_TRUE(renderer.has_value());
  Scene scene;
  scene.kind = "analytic";
  scene.camera = look_at_camera(32, 32, 30, {0, -3, 0}, {0, 0, 0});
  Mesh quad;
  quad.instance_id = 1;
  quad.semantic = SemanticClass::kPerson;
  add_quad(quad, {-1, 0, -1}, {1, 0, -1}, {1, 0, 1}, {-1, 0, 1});
  // Red on the left edge (x = -1), blue on the right (x = +1).
  quad.colors = {1, 0, 0, 0, 0, 1, 0, 0, 1, 1, 0, 0};
  quad.parts.assign(quad.triangle_count(), 7);
  // u = (x + 1) / 2, v = (z + 1) / 2 at each corner of each triangle.
  for (size_t t = 0; t < quad.triangle_count(); ++t) {
    for (int c = 0; c < 3; ++c) {
      Vec3 p = quad.vertex(quad.indices[3 * t + c]);
      quad.uvs.push_back(static_cast<float>((p.x + 1) / 2));
      quad.uvs.push_back(static_cast<float>((p.z + 1) / 2));
    }
  }
  scene.meshes.push_back(quad);
  scene.instances.push_back({1, SemanticClass::kPerson, "person"});
  auto frame = (*renderer)->render(scene, RenderSettings{1, 0, 1, 1});
  ASSERT_TRUE(frame.has_value());
  const Camera& cam = scene.camera;
  for (int y = 0; y < 32; ++y) {
    for (int x = 0; x < 32; ++x) {
      size_t p = static_cast<size_t>(y) * 32 + x;
      ASSERT_EQ(frame->part[p], 7u);
      // The pixel centre's ray meets the plane y = 0 at world x, z.
      Vec3 d = cam.rotation.transposed() *
               Vec3{(x + 0.5 - cam.cx) / cam.fx, (y + 0.5 - cam.cy) / cam.fy, 1};
      double t = 3.0 / d.y;
      double wx = d.x * t, wz = d.z * t;
      EXPECT_NEAR(frame->uv[2 * p], (wx + 1) / 2, 1e-5);
      EXPECT_NEAR(frame->uv[2 * p + 1], (wz + 1) / 2, 1e-5);
      EXPECT_NEAR(frame->albedo[3 * p], 1 - (wx + 1) / 2, 1e-5);
      EXPECT_NEAR(frame->albedo[3 * p + 2], (wx + 1) / 2, 1e-5);
    }
  }
}

}  // namespace
}  // namespace synthfarm::render
