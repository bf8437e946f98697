// The room of tsdf_room_scene.h and its depth maps.
#include "tests/tsdf_room_scene.h"

#include <cmath>
#include <numbers>
#include <string>
#include <utility>

#include "render/layers.h"
#include "render/renderer.h"

namespace synthfarm::testing {

using render::Mesh;
using render::SemanticClass;

render::Scene tsdf_room_scene() {
  render::Scene scene;
  scene.kind = "tsdf room";
  // Off the 1 cm lattice on purpose (but the floor), so no wall sits on sample points.
  const double x0 = -2.013, x1 = 1.987, y0 = -1.507, y1 = 1.493, top = 2.5;
  auto part = [&](SemanticClass semantic, const char* name, Rgb albedo) -> Mesh& {
    Mesh& mesh = scene.meshes.emplace_back();
    mesh.albedo = albedo;
    mesh.instance_id = static_cast<uint32_t>(scene.meshes.size());
    mesh.semantic = semantic;
    scene.instances.push_back({mesh.instance_id, semantic, name});
    return mesh;
  };
  // Boxes first (instance ids: props before the room's parts, as jobs numbers them).
  const Mat3 turn_a = Mat3::rotation_z(20 * std::numbers::pi / 180);
  const Mat3 turn_c = Mat3::rotation_z(-35 * std::numbers::pi / 180);
  render::add_box(part(SemanticClass::kProp, "box", {0.6f, 0.2f, 0.2f}), {0.8, 0.5, 0.3}, turn_a,
                  {0.3, 0.2, 0.3});
  render::add_box(part(SemanticClass::kProp, "box", {0.2f, 0.6f, 0.2f}), {-1.0, -0.6, 0.45}, Mat3{},
                  {0.25, 0.25, 0.45});
  render::add_box(part(SemanticClass::kProp, "box", {0.2f, 0.2f, 0.6f}), {-0.5, 0.8, 0.2}, turn_c,
                  {0.4, 0.2, 0.2});
  // Floor, walls and ceiling, facing into the room.
  render::add_quad(part(SemanticClass::kFloor, "floor", {0.5f, 0.4f, 0.3f}), {x0, y0, 0},
                   {x1, y0, 0}, {x1, y1, 0}, {x0, y1, 0});
  Mesh& walls = part(SemanticClass::kWall, "wall", {0.7f, 0.7f, 0.65f});
  render::add_quad(walls, {x0, y0, 0}, {x0, y0, top}, {x1, y0, top}, {x1, y0, 0});
  render::add_quad(walls, {x1, y0, 0}, {x1, y0, top}, {x1, y1, top}, {x1, y1, 0});
  render::add_quad(walls, {x1, y1, 0}, {x1, y1, top}, {x0, y1, top}, {x0, y1, 0});
  render::add_quad(walls, {x0, y1, 0}, {x0, y1, top}, {x0, y0, top}, {x0, y0, 0});
  render::add_quad(walls, {x0, y0, top}, {x0, y1, top}, {x1, y1, top}, {x1, y0, top});
  scene.sky = render::Sky::uniform(1.0);
  return scene;
}

std::vector<render::Camera> tsdf_room_cameras(int width, int height, int count) {
  std::vector<render::Camera> cameras;
  const double heights[] = {1.0, 1.6, 1.3, 1.9, 1.15};
  const double target_heights[] = {0.2, 0.9, 1.6, 2.3, 0.5, 1.2};
  for (int k = 0; k < count; ++k) {
    const double a = 2 * std::numbers::pi * k / count;
    const Vec3 eye = {1.3 * std::cos(a), 0.95 * std::sin(a), heights[k % 5]};
    // Across the room, swung left or right of the opposite side by up to about 60 degrees.
    const double b = a + std::numbers::pi + ((k % 5) - 2) * 0.5;
    const Vec3 target = {1.8 * std::cos(b), 1.3 * std::sin(b), target_heights[k % 6]};
    cameras.push_back(render::look_at_camera(width, height, 70, eye, target));
  }
  return cameras;
}

tl::expected<std::vector<recon::DepthView>, std::string> render_depth_views(
    const render::Scene& scene, const std::vector<render::Camera>& cameras) {
  auto renderer = render::Renderer::create();
  if (!renderer) return tl::unexpected(renderer.error());
  render::RenderSettings settings;
  settings.spp = 1;
  settings.labels_only = true;
  settings.layers = render::layer_bit(render::Layer::kDepth);
  std::vector<recon::DepthView> views;
  render::Scene seen = scene;
  for (size_t k = 0; k < cameras.size(); ++k) {
    seen.camera = cameras[k];
    auto frame = (*renderer)->render(seen, settings);
    if (!frame) return tl::unexpected(frame.error());
    const render::Camera& c = cameras[k];
    recon::DepthView view;
    view.name = "view " + std::to_string(k);
    view.K = {c.fx, c.fy, c.cx, c.cy, c.width, c.height};
    view.rotation = c.rotation;
    view.translation = c.translation();
    view.depth = std::move(frame->depth);
    views.push_back(std::move(view));
  }
  return views;
}

}  // namespace synthfarm::testing
