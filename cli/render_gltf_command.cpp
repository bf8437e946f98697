// `synthfarm render-gltf`: any static glTF scene through the path tracer, timed; how the
// renderer is compared with others on the same file (bench/cycles_compare.sh).
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <fstream>

#include "cli/commands.h"
#include "cli/common.h"
#include "gltf/scene_import.h"
#include "render/image_io.h"
#include "render/renderer.h"

namespace synthfarm::cli {
namespace {

bool write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  file.close();
  return static_cast<bool>(file);
}

}  // namespace

// Renders a static glTF scene with the path tracer (the glTF scene importer, gltf_scene.h,
// then render::Renderer), for comparisons with other renderers on the same file. Prints one
// line in the same form as bench/cycles_render.py's: `synthfarm render_seconds=S spp=N
// width=W height=H`, then the BVH build and trace split of the same call. S times the render
// call alone (the BVH build included, file loading and encoding not); with --repeat the
// fastest of the repeats. Writes a float EXR: R, G, B, or with --labels-only the label
// layers (depth, normal, albedo, instance, semantic).
int cmd_render_gltf(const RenderGltfArgs& a) {
  if (a.labels_only && !a.png.empty()) {
    fmt::print(stderr, "error: --png: a labels-only render has no colour to preview\n");
    return kExitBadInput;
  }
  bool ok = false;
  const std::string bytes = read_file(a.scene, ok);
  if (!ok) {
    fmt::print(stderr, "error: cannot read {}\n", a.scene);
    return kExitBadInput;
  }
  gltf::GltfSceneOptions options;
  options.width = a.width;
  options.height = a.height;
  options.background = a.background;
  options.point_radius_m = a.point_radius;
  options.instancing = !a.no_instancing;
  options.sun_angle_deg = a.sun_angle;
  const std::string name = a.scene.substr(a.scene.find_last_of('/') + 1);
  auto loaded = gltf::load_gltf_scene(bytes, name, options);
  if (!loaded) {
    fmt::print(stderr, "error: {}\n", loaded.error());
    return kExitBadInput;
  }
  for (const std::string& w : loaded->warnings) fmt::print(stderr, "warning: {}\n", w);
  auto renderer = render::Renderer::create();
  if (!renderer) {
    fmt::print(stderr, "error: renderer: {}\n", renderer.error());
    return kExitFailure;
  }
  std::vector<render::Layer> layers = {render::Layer::kRgb};
  if (a.labels_only) {
    layers = {render::Layer::kDepth, render::Layer::kNormal, render::Layer::kAlbedo,
              render::Layer::kInstance, render::Layer::kSemantic};
  }
  render::RenderSettings settings;
  settings.spp = a.spp;
  settings.max_bounces = a.bounces;
  settings.threads = a.threads;
  settings.clamp_indirect = a.clamp_indirect;
  settings.labels_only = a.labels_only;
  settings.layers = 0;
  for (render::Layer layer : layers) settings.layers |= render::layer_bit(layer);
  render::RenderTimings timings, best_timings;
  settings.timings = &timings;
  double best_s = 0;
  render::Frame frame;  // reused by the repeats, as a worker reuses it for a clip's frames
  for (int r = 0; r < a.repeat; ++r) {
    const auto start = std::chrono::steady_clock::now();
    auto rendered = (*renderer)->render(loaded->scene, settings, frame);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!rendered) {
      fmt::print(stderr, "error: {}: {}\n", name, rendered.error());
      return kExitFailure;
    }
    if (r == 0 || seconds < best_s) {
      best_s = seconds;
      best_timings = timings;
    }
  }
  if (frame.invalid_samples > 0) {
    fmt::print(stderr, "warning: {}: {} radiance samples were NaN or infinite and dropped\n", name,
               frame.invalid_samples);
  }
  try {
    if (!write_bytes(a.out, render::encode_exr(frame, layers))) {
      fmt::print(stderr, "error: cannot write {}\n", a.out);
      return kExitFailure;
    }
    if (!a.png.empty() && !write_bytes(a.png, render::encode_png(frame))) {
      fmt::print(stderr, "error: cannot write {}\n", a.png);
      return kExitFailure;
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: encoding: {}\n", e.what());
    return kExitFailure;
  }
  fmt::print("synthfarm render_seconds={:.3f} spp={} width={} height={}\n", best_s,
             a.labels_only ? 0 : a.spp, a.width, a.height);
  fmt::print(
      "synthfarm build_seconds={:.4f} trace_seconds={:.5f} triangles={} labels_only={} "
      "bvh_bytes={} instanced_meshes={}\n",
      best_timings.build_s, best_timings.trace_s, loaded->triangle_count, a.labels_only ? 1 : 0,
      best_timings.bvh_bytes, best_timings.instanced_meshes);
  return 0;
}

}  // namespace synthfarm::cli
