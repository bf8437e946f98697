// Embree 3 path tracer with exact label layers. See render.h for the light transport, the
// sampling, the layer conventions and how determinism is kept.
//
// This file is the renderer's orchestration: the Embree device (Renderer::create) and, per
// frame, the scene built (embree_scene.cpp), the layers sized, the tiles' labels
// (label_pass.cpp) and colour (path_tracer.cpp) on the render threads, then the keypoints.
#include "render/renderer.h"

#include <fmt/format.h>
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/parallel_invoke.h>
#include <tbb/partitioner.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <atomic>
#include <chrono>

#include "render/internal/embree_scene.h"
#include "render/internal/frame_tracer.h"
#include "render/internal/passes.h"

namespace synthfarm::render {

namespace {

// Whether `settings` asks for `layer`.
bool wants(const RenderSettings& settings, Layer layer) {
  return (settings.layers & layer_bit(layer)) != 0;
}

// The layers asked for, sized, by the render threads one layer each (a frame's layers are
// megabytes). Those the tiles write at every pixel (LabelWriter, shade_tile()) keep what a
// reused frame holds; the others start out as background. The rest are emptied.
void size_layers(const RenderSettings& settings, bool shading, size_t pixels,
                 tbb::task_arena& arena, Frame& frame) {
  auto layer = [&](Layer l, auto& values, size_t per_pixel, auto background, bool whole) {
    return [&values, per_pixel, background, whole, want = wants(settings, l), pixels] {
      if (!want) {
        values.clear();
      } else if (whole) {
        values.resize(per_pixel * pixels);
      } else {
        values.assign(per_pixel * pixels, background);
      }
    };
  };
  arena.execute([&] {
    tbb::parallel_invoke(layer(Layer::kRgb, frame.rgb, 3, 0.0f, shading),
                         layer(Layer::kDepth, frame.depth, 1, internal::kInfinity, true),
                         layer(Layer::kNormal, frame.normal, 3, 0.0f, true),
                         layer(Layer::kAlbedo, frame.albedo, 3, 0.0f, true),
                         layer(Layer::kInstance, frame.instance, 1, uint32_t{0}, true),
                         layer(Layer::kSemantic, frame.semantic, 1, uint32_t{0}, true),
                         layer(Layer::kPart, frame.part, 1, uint32_t{0}, true),
                         layer(Layer::kUv, frame.uv, 2, 0.0f, false),
                         layer(Layer::kMotion, frame.motion, 2, 0.0f, false));
  });
}

// The frame's tiles, `tile_size` pixels square, on the threads of `arena` in any order (they
// write disjoint pixels): their labels when `labels`, their colour when `shading`. Stops
// between tiles once RenderSettings::cancel is raised. Returns the dropped samples.
uint64_t render_tiles(const internal::FrameTracer& tracer, const RenderSettings& settings,
                      bool labels, bool shading, tbb::task_arena& arena, Frame& frame) {
  const Camera& cam = tracer.scene().camera;
  const int tile = settings.tile_size;
  const int tiles_x = (cam.width + tile - 1) / tile;
  const int tiles_y = (cam.height + tile - 1) / tile;
  std::atomic<uint64_t> invalid_samples{0};
  arena.execute([&] {
    tbb::parallel_for(
        tbb::blocked_range<int>(0, tiles_x * tiles_y, 1),
        [&](const tbb::blocked_range<int>& range) {
          for (int t = range.begin(); t < range.end(); ++t) {
            if (settings.cancel != nullptr && settings.cancel->load(std::memory_order_relaxed))
              return;
            const int x0 = (t % tiles_x) * tile, y0 = (t / tiles_x) * tile;
            const internal::TileRect rect{x0, y0, std::min(x0 + tile, frame.width),
                                          std::min(y0 + tile, frame.height)};
            if (labels) internal::label_tile(tracer, rect, frame);
            if (shading)
              invalid_samples.fetch_add(internal::shade_tile(tracer, rect, frame),
                                        std::memory_order_relaxed);
          }
        },
        tbb::simple_partitioner());
  });
  return invalid_samples.load();
}

}  // namespace

struct Renderer::Impl {
  internal::DevicePtr device;
  bool filter_supported = false;
  std::atomic<int64_t> bytes{0};  // Embree's memory on `device` (its memory monitor)
};

Renderer::Renderer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Renderer::~Renderer() = default;

tl::expected<std::unique_ptr<Renderer>, std::string> Renderer::create() {
  // Default configuration: Embree's "threads=N" option would cap the whole process's
  // oneTBB parallelism (a tbb::global_control), so BVH builds are instead kept on one
  // thread by committing inside a one-thread task_arena (see build_embree_scene()).
  internal::DevicePtr device(rtcNewDevice(nullptr));
  if (!device) {
    return internal::embree_failure("cannot create a device", rtcGetDeviceError(nullptr));
  }
  auto impl = std::make_unique<Impl>();
  impl->filter_supported =
      rtcGetDeviceProperty(device.get(), RTC_DEVICE_PROPERTY_FILTER_FUNCTION_SUPPORTED) != 0;
  rtcSetDeviceMemoryMonitorFunction(
      device.get(),
      [](void* user, ssize_t bytes, bool) {
        static_cast<std::atomic<int64_t>*>(user)->fetch_add(bytes, std::memory_order_relaxed);
        return true;
      },
      &impl->bytes);
  impl->device = std::move(device);
  return std::unique_ptr<Renderer>(new Renderer(std::move(impl)));
}

tl::expected<Frame, std::string> Renderer::render(const Scene& scene,
                                                  const RenderSettings& settings) const {
  Frame frame;
  if (auto rendered = render(scene, settings, frame); !rendered)
    return tl::unexpected(std::move(rendered.error()));
  return frame;
}

tl::expected<void, std::string> Renderer::render(const Scene& scene, const RenderSettings& settings,
                                                 Frame& frame) const {
  const Camera& cam = scene.camera;
  if (cam.width <= 0 || cam.height <= 0) return tl::unexpected(std::string("render: empty image"));
  if (settings.spp < 1 && !settings.labels_only) {
    return tl::unexpected(std::string("render: spp must be at least 1"));
  }
  if (settings.max_bounces < 0)
    return tl::unexpected(std::string("render: max_bounces must be >= 0"));
  if (settings.tile_size < 1 || settings.tile_size > 64) {
    return tl::unexpected(
        fmt::format("render: tile_size must be in 1..64, got {}", settings.tile_size));
  }
  if (scene.motion_blur) {
    // Shutter positions either fit their mesh or are absent: half a set would be a mesh that
    // the path tracer and the labels see in different places.
    for (size_t i = 0; i < scene.meshes.size(); ++i) {
      const Mesh& mesh = scene.meshes[i];
      const auto& [open, close] = mesh.shutter_positions;
      if ((open.empty() && close.empty()) || mesh.moves_in_shutter()) continue;
      return tl::unexpected(fmt::format(
          "render: mesh {} (instance {}): shutter_positions hold {} and {} floats, expected {} "
          "each (its positions) or none",
          i, mesh.instance_id, open.size(), close.size(), mesh.positions.size()));
    }
  }
  auto built = internal::build_embree_scene(impl_->device.get(), impl_->filter_supported,
                                            impl_->bytes, scene);
  if (!built) return tl::unexpected(std::move(built.error()));

  frame.width = cam.width;
  frame.height = cam.height;
  frame.keypoints.clear();  // label_keypoints() fills only what it sees
  const size_t pixels = static_cast<size_t>(cam.width) * cam.height;
  const bool labels = wants(settings, Layer::kDepth) || wants(settings, Layer::kNormal) ||
                      wants(settings, Layer::kAlbedo) || wants(settings, Layer::kInstance) ||
                      wants(settings, Layer::kSemantic) || wants(settings, Layer::kPart) ||
                      wants(settings, Layer::kUv) || wants(settings, Layer::kMotion);
  const bool shading = wants(settings, Layer::kRgb) && !settings.labels_only;
  tbb::task_arena arena(settings.threads > 0 ? settings.threads : tbb::task_arena::automatic);
  size_layers(settings, shading, pixels, arena, frame);

  internal::FrameTracer tracer(built->scene.get(), scene, settings, impl_->filter_supported,
                               built->instanced > 0);
  const uint64_t invalid_samples = render_tiles(tracer, settings, labels, shading, arena, frame);
  if (settings.cancel != nullptr && settings.cancel->load())
    return tl::unexpected(std::string(kCancelled));
  internal::label_keypoints(tracer, frame);
  if (settings.timings != nullptr) {
    const auto end = std::chrono::steady_clock::now();
    settings.timings->build_s =
        std::chrono::duration<double>(built->build_end - built->build_start).count();
    settings.timings->trace_s = std::chrono::duration<double>(end - built->build_end).count();
    settings.timings->bvh_bytes = built->bvh_bytes;
    settings.timings->instanced_meshes = built->instanced;
  }
  frame.invalid_samples = invalid_samples;
  return {};
}

}  // namespace synthfarm::render
