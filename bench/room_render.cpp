// The path tracer on a generated room (people, props, the sun and a point light), timed:
// the BVH build alone, then a labels-only frame and a path-traced one, printing paths (or
// pixels) per second. With --memory-probe it renders one frame and exits, for
// `/usr/bin/time -v`: the difference of the maximum resident sizes at 1920x1080 and 1x1 is
// what a full-HD frame with every layer costs (render/renderer.h quotes it). With
// --shutter S the people (and, with --camera-speed, the camera) move over an S-second
// shutter and the path tracer blurs them (jobs/motion_blur.h); it also prints what building
// the scene at the shutter's ends cost.
//
//   build/bin/room_render [--width 640 --height 480 --spp 64 --bounces 4 --threads 2 --png F]
//                         [--shutter 0.0333 --camera-speed 1]
//   /usr/bin/time -v build/bin/room_render --memory-probe --width 1920 --height 1080
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "jobs/motion_blur.h"
#include "jobs/scene.h"
#include "jobs/spec.h"
#include "render/image_io.h"
#include "render/renderer.h"

using namespace synthfarm;

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The room the renderer's throughput figures in docs/benchmarks.md come from (sample 3 of
// a 4-person room spec, seed 1234).
jobs::SampleScene room(int width, int height, double shutter_s, double camera_speed_m_s) {
  jobs::JobSpec spec;
  spec.name = "room-render";
  spec.samples = 100;
  spec.seed = 1234;
  spec.camera.width = width;
  spec.camera.height = height;
  spec.render.spp = 4;
  spec.render.max_bounces = 2;
  spec.output.layers = {render::Layer::kRgb,    render::Layer::kDepth,    render::Layer::kNormal,
                        render::Layer::kAlbedo, render::Layer::kInstance, render::Layer::kSemantic};
  spec.scene.kind = {{"room"}, {}};
  spec.humans.motion = {{"static", "walk", "wave"}, {}};
  spec.humans.count = jobs::Distribution::constant(4);
  jobs::SampleScene scene = jobs::build_scene(spec, 3);
  if (shutter_s > 0) {
    spec.sensor.enabled = true;
    spec.sensor.motion_blur = true;
    spec.sensor.shutter_s = jobs::Distribution::constant(shutter_s);
    spec.sensor.camera_speed_m_s = jobs::Distribution::constant(camera_speed_m_s);
    auto start = std::chrono::steady_clock::now();
    jobs::add_motion_blur(spec, 3, nullptr, 0, scene);
    size_t moving = 0;
    for (const render::Mesh& mesh : scene.meshes) moving += mesh.moves_in_shutter() ? 1 : 0;
    fmt::print("motion blur: {} moving meshes, the shutter's ends built in {:.3f} s\n", moving,
               seconds_since(start));
  }
  return scene;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"path tracer throughput on a generated room"};
  int width = 640, height = 480, spp = 64, bounces = 4, threads = 2;
  std::string png;
  bool memory_probe = false;
  double shutter_s = 0, camera_speed_m_s = 0;
  app.add_option("--width", width)->capture_default_str();
  app.add_option("--height", height)->capture_default_str();
  app.add_option("--spp", spp)->capture_default_str();
  app.add_option("--bounces", bounces)->capture_default_str();
  app.add_option("--threads", threads)->capture_default_str();
  app.add_option("--png", png, "write the path-traced frame as PNG");
  app.add_flag("--memory-probe", memory_probe, "render one 1-spp frame with every layer and exit");
  app.add_option("--shutter", shutter_s, "motion blur over this many seconds (0: none)");
  app.add_option("--camera-speed", camera_speed_m_s, "with --shutter: the camera's pan, m/s");
  CLI11_PARSE(app, argc, argv);

  auto renderer = render::Renderer::create();
  if (!renderer) {
    fmt::print(stderr, "renderer: {}\n", renderer.error());
    return 1;
  }
  jobs::SampleScene scene = room(width, height, shutter_s, camera_speed_m_s);
  if (memory_probe) {
    auto frame = (*renderer)->render(scene, render::RenderSettings{1, bounces, 1, threads});
    if (!frame) fmt::print(stderr, "render: {}\n", frame.error());
    return frame ? 0 : 1;
  }
  render::Light light;
  light.kind = render::Light::Kind::kPoint;
  light.intensity = 20;
  light.position = scene.camera.position + Vec3{0.5, 0.5, 0.8};
  scene.lights.push_back(light);
  size_t triangles = 0;
  for (const render::Mesh& mesh : scene.meshes) triangles += mesh.triangle_count();
  render::RenderSettings settings{spp, bounces, 1, threads};
  {
    // The BVH build alone: a one-pixel window of the same scene.
    render::Scene one_pixel = scene;
    one_pixel.camera.width = one_pixel.camera.height = 1;
    render::RenderSettings labels = settings;
    labels.labels_only = true;
    auto start = std::chrono::steady_clock::now();
    if (!(*renderer)->render(one_pixel, labels)) return 1;
    fmt::print("scene build: {:.3f} s\n", seconds_since(start));
  }
  for (bool labels_only : {true, false}) {
    settings.labels_only = labels_only;
    auto start = std::chrono::steady_clock::now();
    auto frame = (*renderer)->render(scene, settings);
    const double seconds = seconds_since(start);
    if (!frame) {
      fmt::print(stderr, "render: {}\n", frame.error());
      return 1;
    }
    const double rays = static_cast<double>(width) * height * (labels_only ? 1 : spp);
    fmt::print("{}: {} triangles, {:.3f} s, {:.0f} {}/s, invalid {}\n",
               labels_only ? "labels only" : "path tracing", triangles, seconds, rays / seconds,
               labels_only ? "pixels" : "paths", frame->invalid_samples);
    if (!png.empty() && !labels_only) {
      std::string bytes = render::encode_png(*frame);
      std::FILE* f = std::fopen(png.c_str(), "wb");
      if (f == nullptr) return 1;
      std::fwrite(bytes.data(), 1, bytes.size(), f);
      std::fclose(f);
    }
  }
  return 0;
}
