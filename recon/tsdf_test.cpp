// Unit tests of depth fusion (tsdf.h) and its inputs (depth_inputs.h): analytic depth maps
// of a sphere and a plane fuse to the right surface, closed by the padding; colour; the same
// bits at any thread count; bad inputs named by file and element.
#include "recon/tsdf.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <numbers>
#include <string>
#include <utility>
#include <vector>

#include "gltf/scene_import.h"
#include "recon/depth_inputs.h"
#include "render/image_io.h"

namespace synthfarm::recon {
namespace {

constexpr double kRadius = 0.3;  // the sphere's, at the origin

// A camera at `eye` looking at the origin (z up; not straight down).
DepthView looking_at_origin(Vec3 eye, int width, int height, double fx) {
  const Vec3 forward = normalize(-eye);
  const Vec3 right = normalize(cross(forward, Vec3{0, 0, 1}));
  const Vec3 down = cross(forward, right);
  DepthView view;
  view.K = {fx, fx, width / 2.0, height / 2.0, width, height};
  view.rotation = Mat3::from_rows(right, down, forward);
  view.translation = -(view.rotation * eye);
  return view;
}

// Depth (camera z) of the sphere, +inf where the ray misses; with colour, red above z = 0
// and blue below.
void render_sphere(DepthView& view, bool colour) {
  const Mat3 to_world = view.rotation.transposed();
  const Vec3 eye = -(to_world * view.translation);
  const int w = view.K.width, h = view.K.height;
  view.depth.assign(static_cast<size_t>(w) * h, std::numeric_limits<float>::infinity());
  if (colour) view.rgb.assign(3 * view.depth.size(), 0.0f);
  for (int v = 0; v < h; ++v) {
    for (int u = 0; u < w; ++u) {
      const Vec3 ray_c = {(u + 0.5 - view.K.cx) / view.K.fx, (v + 0.5 - view.K.cy) / view.K.fy,
                          1.0};
      const Vec3 ray = to_world * ray_c;  // z component along the optical axis is 1
      const double a = dot(ray, ray), b = 2 * dot(ray, eye), c = dot(eye, eye) - kRadius * kRadius;
      const double disc = b * b - 4 * a * c;
      if (disc < 0) continue;
      const double t = (-b - std::sqrt(disc)) / (2 * a);  // camera z, as ray_c.z == 1
      const size_t i = static_cast<size_t>(v) * w + u;
      view.depth[i] = static_cast<float>(t);
      if (colour) {
        const Vec3 p = eye + ray * t;
        view.rgb[3 * i + (p.z > 0 ? 0 : 2)] = 1.0f;
      }
    }
  }
}

std::vector<DepthView> sphere_views(bool colour) {
  std::vector<DepthView> views;
  for (int k = 0; k < 12; ++k) {
    const double azimuth = 2 * std::numbers::pi * k / 12, elevation = (k % 3 - 1) * 0.6;
    Vec3 eye = {1.2 * std::cos(azimuth) * std::cos(elevation),
                1.2 * std::sin(azimuth) * std::cos(elevation), 1.2 * std::sin(elevation)};
    DepthView view = looking_at_origin(eye, 320, 240, 280);
    view.name = "sphere" + std::to_string(k);
    render_sphere(view, colour);
    views.push_back(std::move(view));
  }
  return views;
}

FusedMesh fuse(const std::vector<DepthView>& views, int threads = 0) {
  auto volume = TsdfVolume::create(
      {.voxel_size_m = 0.01, .truncation_m = 0.04, .max_depth_m = 10, .threads = threads});
  EXPECT_TRUE(volume) << volume.error();
  for (const DepthView& view : views) {
    auto done = volume->integrate(view);
    EXPECT_TRUE(done) << done.error();
  }
  return volume->extract_mesh();
}

// Every undirected edge in exactly two triangles, once in each direction (a closed,
// consistently oriented surface); no degenerate triangle.
::testing::AssertionResult watertight(const FusedMesh& mesh) {
  std::map<std::pair<uint32_t, uint32_t>, int> directed;
  for (size_t t = 0; t < mesh.triangle_count(); ++t) {
    for (int e = 0; e < 3; ++e) {
      const uint32_t a = mesh.indices[3 * t + e], b = mesh.indices[3 * t + (e + 1) % 3];
      if (a == b)
        return ::testing::AssertionFailure() << "triangle " << t << " repeats vertex " << a;
      ++directed[{a, b}];
    }
  }
  for (const auto& [edge, count] : directed) {
    auto back = directed.find({edge.second, edge.first});
    if (count != 1 || back == directed.end() || back->second != 1) {
      return ::testing::AssertionFailure()
             << "edge " << edge.first << "-" << edge.second << " used " << count
             << " times this way, " << (back == directed.end() ? 0 : back->second) << " the other";
    }
  }
  return ::testing::AssertionSuccess();
}

Vec3 vertex(const FusedMesh& mesh, uint32_t v) {
  return {mesh.positions[3 * v], mesh.positions[3 * v + 1], mesh.positions[3 * v + 2]};
}

TEST(Tsdf, SphereFusesToItsSurfaceAndCloses) {
  const FusedMesh mesh = fuse(sphere_views(false));
  ASSERT_GT(mesh.triangle_count(), 10000u);
  EXPECT_TRUE(watertight(mesh));
  double sum_error = 0, max_error = 0;
  size_t observed = 0, closing = 0;
  for (size_t t = 0; t < mesh.triangle_count(); ++t) {
    const Vec3 centre = (vertex(mesh, mesh.indices[3 * t]) + vertex(mesh, mesh.indices[3 * t + 1]) +
                         vertex(mesh, mesh.indices[3 * t + 2])) *
                        (1.0 / 3);
    const double r = length(centre);
    if (mesh.closing[t]) {
      ++closing;
      EXPECT_LT(r, kRadius) << "a closing face outside the sphere";  // the hollow inside
      continue;
    }
    ++observed;
    sum_error += std::abs(r - kRadius);
    max_error = std::max(max_error, std::abs(r - kRadius));
  }
  EXPECT_GT(observed, closing / 2);
  EXPECT_LT(sum_error / observed, 0.001) << "mean distance to the sphere, metres";
  EXPECT_LT(max_error, 0.01);  // one voxel; the worst are where views graze the sphere
  // Outward: the observed faces' normals point away from the centre.
  size_t outward = 0;
  for (size_t t = 0; t < mesh.triangle_count(); ++t) {
    if (mesh.closing[t]) continue;
    const Vec3 a = vertex(mesh, mesh.indices[3 * t]), b = vertex(mesh, mesh.indices[3 * t + 1]),
               c = vertex(mesh, mesh.indices[3 * t + 2]);
    outward += dot(cross(b - a, c - a), a) > 0;
  }
  EXPECT_GT(outward, observed * 999 / 1000);  // a few slivers at the rims may tilt
}

TEST(Tsdf, OneViewOfAPlaneClosesIntoASlab) {
  // A camera 1 m above the plane z = 0, looking straight down (x right, y down = -y world).
  DepthView view;
  view.name = "plane";
  view.K = {100, 100, 40, 30, 80, 60};
  view.rotation = Mat3::from_rows({1, 0, 0}, {0, -1, 0}, {0, 0, -1});
  view.translation = {0, 0, 1};  // camera at z = 1
  view.depth.assign(80 * 60, 1.0f);
  const FusedMesh mesh = fuse({view});
  ASSERT_GT(mesh.triangle_count(), 0u);
  EXPECT_TRUE(watertight(mesh));
  size_t observed = 0;
  for (size_t t = 0; t < mesh.triangle_count(); ++t) {
    const Vec3 a = vertex(mesh, mesh.indices[3 * t]);
    EXPECT_LE(a.z, 0.0005);  // nothing grows in front of the plane
    EXPECT_GE(a.z, -0.06);   // the slab is about a truncation thick
    if (!mesh.closing[t]) {
      ++observed;
      EXPECT_NEAR(a.z, 0.0, 0.0005);
    }
  }
  EXPECT_GT(observed, 0u);
}

TEST(Tsdf, ColourFollowsTheViews) {
  const FusedMesh mesh = fuse(sphere_views(true));
  ASSERT_EQ(mesh.colors.size(), mesh.positions.size());
  size_t checked = 0;
  for (size_t v = 0; v < mesh.positions.size() / 3; ++v) {
    const Vec3 p = vertex(mesh, static_cast<uint32_t>(v));
    if (std::abs(p.z) < 0.05 || std::abs(length(p) - kRadius) > 0.005) continue;
    const float red = mesh.colors[3 * v], blue = mesh.colors[3 * v + 2];
    EXPECT_EQ(mesh.colors[3 * v + 1], 0.0f);
    if (p.z > 0) {
      EXPECT_GT(red, 0.9f);
    } else {
      EXPECT_GT(blue, 0.9f);
    }
    ++checked;
  }
  EXPECT_GT(checked, 1000u);
  auto glb = fused_mesh_glb(mesh, "sphere");
  ASSERT_TRUE(glb) << glb.error();
  EXPECT_EQ(glb->substr(0, 4), "glTF");
  for (const char* attribute : {"POSITION", "NORMAL", "COLOR_0"}) {
    EXPECT_NE(glb->find(attribute), std::string::npos) << attribute;
  }
}

// What render jobs do with the asset: gltf/scene_import.h loads it back into a render
// scene, the same triangles in synthfarm's frame.
TEST(Tsdf, GlbLoadsAsARenderScene) {
  const std::vector<DepthView> views = sphere_views(false);
  const FusedMesh mesh = fuse(views);
  EXPECT_FALSE(gltf::load_gltf_scene(*fused_mesh_glb(mesh, "sphere"), "sphere.glb", {}))
      << "without a camera it is an asset to place, not a scene to render";
  auto glb =
      fused_mesh_glb(mesh, "sphere", View{views[0].K, views[0].rotation, views[0].translation});
  ASSERT_TRUE(glb) << glb.error();
  gltf::GltfSceneOptions options;
  options.width = views[0].K.width;  // the importer makes K for the image size it is given
  options.height = views[0].K.height;
  auto loaded = gltf::load_gltf_scene(*glb, "sphere.glb", options);
  ASSERT_TRUE(loaded) << loaded.error();
  EXPECT_EQ(loaded->triangle_count, mesh.triangle_count());
  ASSERT_EQ(loaded->scene.meshes.size(), 1u);
  const render::Mesh& back = loaded->scene.meshes[0];
  ASSERT_EQ(back.positions.size(), mesh.positions.size());
  for (size_t i = 0; i < mesh.positions.size(); ++i) {
    ASSERT_NEAR(back.positions[i], mesh.positions[i], 1e-6) << i;
  }
  EXPECT_NEAR(loaded->scene.camera.fx, views[0].K.fx, 1e-6);
  View broken{views[0].K, views[0].rotation, views[0].translation};
  broken.translation.x = std::numeric_limits<double>::quiet_NaN();
  EXPECT_FALSE(fused_mesh_glb(mesh, "sphere", broken));
}

TEST(Tsdf, SameBitsAtAnyThreadCount) {
  const std::vector<DepthView> views = sphere_views(true);
  const FusedMesh one = fuse(views, 1), four = fuse(views, 4);
  EXPECT_EQ(one.positions, four.positions);
  EXPECT_EQ(one.indices, four.indices);
  EXPECT_EQ(one.colors, four.colors);
  EXPECT_EQ(*fused_mesh_glb(one, "s"), *fused_mesh_glb(four, "s"));
}

TEST(Tsdf, NanAndNegativeDepthAreNoMeasurement) {
  std::vector<DepthView> views = sphere_views(false);
  for (DepthView& view : views) {
    for (size_t i = 0; i < view.depth.size(); i += 7)
      view.depth[i] = std::numeric_limits<float>::quiet_NaN();
    for (size_t i = 3; i < view.depth.size(); i += 11) view.depth[i] = -1.0f;
  }
  const FusedMesh mesh = fuse(views);
  ASSERT_GT(mesh.triangle_count(), 1000u);
  EXPECT_TRUE(watertight(mesh));
  for (float x : mesh.positions) ASSERT_TRUE(std::isfinite(x));
  DepthView nothing = views[0];
  std::fill(nothing.depth.begin(), nothing.depth.end(), std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(fuse({nothing}).triangle_count(), 0u);
}

TEST(Tsdf, BadViewsAreNamed) {
  auto volume = TsdfVolume::create({});
  ASSERT_TRUE(volume);
  DepthView view = sphere_views(false)[0];
  view.name = "d/007.png";
  view.depth.resize(100);
  auto wrong = volume->integrate(view);
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().find("d/007.png: depth: 100 values"), std::string::npos) << wrong.error();
  view = sphere_views(true)[0];
  view.rgb.pop_back();
  EXPECT_NE(volume->integrate(view).error().find(": rgb: "), std::string::npos);
  view = sphere_views(false)[0];
  view.K.fx = std::numeric_limits<double>::quiet_NaN();
  EXPECT_NE(volume->integrate(view).error().find("K: fx nan"), std::string::npos);
  EXPECT_FALSE(TsdfVolume::create({.voxel_size_m = 0}));
  EXPECT_FALSE(TsdfVolume::create({.voxel_size_m = 0.01, .truncation_m = 0.005}));
}

}  // namespace
}  // namespace synthfarm::recon
