// The bare Embree primary-ray rate on a glTF scene: the ceiling for synthfarm's
// labels-only mode (one pinhole ray per pixel centre), measured on the same machine and
// scene. Run by bench/cycles_compare.sh.
//
//   embree_rays SCENE.glb [--width 640] [--height 480] [--threads 2] [--repeat 5]
//
// The scene is imported with synthfarm's glTF importer (the same meshes and camera the
// renderer sees) and built as jobs/render.cpp builds a scene without instancing: one triangle
// geometry per mesh, MEDIUM build quality for the scene and every geometry, committed on one
// thread. Then the rays: one per pixel centre, generated per 16 x 16 tile (the renderer's default
// tile) and traced with rtcIntersect1M in coherent streams of 256, tiles spread over --threads
// oneTBB threads. Nothing else: no intersection filter, no hit recomputation, no label
// writes. Prints one line:
//   embree rays_per_second=R build_seconds=B trace_seconds=T width=W height=H threads=N
//   triangles=K
// where T is the fastest of --repeat passes over the image and R = W * H / T.
#include <embree3/rtcore.h>
#include <fmt/format.h>
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/partitioner.h>
#include <tbb/task_arena.h>

#include <CLI/CLI.hpp>
#include <array>
#include <atomic>
#include <chrono>
#include <fstream>
#include <limits>
#include <sstream>

#include "gltf/scene_import.h"

namespace {

using namespace synthfarm;
using namespace synthfarm::gltf;
using namespace synthfarm::render;

constexpr int kTile = 16;
constexpr int kStream = 256;

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bare Embree primary-ray rate on a glTF scene"};
  std::string path;
  int width = 640, height = 480, threads = 2, repeat = 5;
  app.add_option("scene", path, ".glb, or .gltf with embedded buffers")->required();
  app.add_option("--width", width)->check(CLI::Range(1, 65536))->capture_default_str();
  app.add_option("--height", height)->check(CLI::Range(1, 65536))->capture_default_str();
  app.add_option("--threads", threads)->check(CLI::Range(1, 1024))->capture_default_str();
  app.add_option("--repeat", repeat)->check(CLI::Range(1, 1000))->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  std::ifstream in(path, std::ios::binary);
  if (!in) {
    fmt::print(stderr, "error: cannot read {}\n", path);
    return 2;
  }
  std::stringstream bytes;
  bytes << in.rdbuf();
  GltfSceneOptions options;
  options.width = width;
  options.height = height;
  options.instancing = false;  // one flat geometry per mesh, whatever the file repeats
  auto loaded = load_gltf_scene(bytes.str(), path.substr(path.find_last_of('/') + 1), options);
  if (!loaded) {
    fmt::print(stderr, "error: {}\n", loaded.error());
    return 2;
  }
  const Scene& scene = loaded->scene;

  RTCDevice device = rtcNewDevice(nullptr);
  if (device == nullptr) {
    fmt::print(stderr, "error: embree: cannot create a device\n");
    return 1;
  }
  RTCScene rtc_scene = rtcNewScene(device);
  rtcSetSceneBuildQuality(rtc_scene, RTC_BUILD_QUALITY_MEDIUM);
  for (size_t i = 0; i < scene.meshes.size(); ++i) {
    const Mesh& mesh = scene.meshes[i];
    if (mesh.indices.empty()) continue;
    RTCGeometry geometry = rtcNewGeometry(device, RTC_GEOMETRY_TYPE_TRIANGLE);
    auto* vertices = static_cast<float*>(
        rtcSetNewGeometryBuffer(geometry, RTC_BUFFER_TYPE_VERTEX, 0, RTC_FORMAT_FLOAT3,
                                3 * sizeof(float), mesh.positions.size() / 3));
    auto* indices = static_cast<uint32_t*>(
        rtcSetNewGeometryBuffer(geometry, RTC_BUFFER_TYPE_INDEX, 0, RTC_FORMAT_UINT3,
                                3 * sizeof(uint32_t), mesh.triangle_count()));
    std::copy(mesh.positions.begin(), mesh.positions.end(), vertices);
    std::copy(mesh.indices.begin(), mesh.indices.end(), indices);
    rtcSetGeometryBuildQuality(geometry, RTC_BUILD_QUALITY_MEDIUM);
    rtcCommitGeometry(geometry);
    rtcAttachGeometryByID(rtc_scene, geometry, static_cast<unsigned>(i));
    rtcReleaseGeometry(geometry);
  }
  const auto build_start = std::chrono::steady_clock::now();
  tbb::task_arena(1).execute([&] { rtcCommitScene(rtc_scene); });
  const double build_s = seconds_since(build_start);
  if (RTCError error = rtcGetDeviceError(device); error != RTC_ERROR_NONE) {
    fmt::print(stderr, "error: embree: building the scene failed ({})\n", static_cast<int>(error));
    return 1;
  }

  const Camera& cam = scene.camera;
  const Mat3 camera_to_world = cam.rotation.transposed();
  const int tiles_x = (width + kTile - 1) / kTile, tiles_y = (height + kTile - 1) / kTile;
  std::atomic<uint64_t> hits{0};
  tbb::task_arena arena(threads);
  double best_s = std::numeric_limits<double>::infinity();
  for (int r = 0; r < repeat; ++r) {
    hits = 0;
    const auto start = std::chrono::steady_clock::now();
    arena.execute([&] {
      tbb::parallel_for(
          tbb::blocked_range<int>(0, tiles_x * tiles_y, 1),
          [&](const tbb::blocked_range<int>& range) {
            std::array<RTCRayHit, kStream> rays;
            uint64_t tile_hits = 0;
            for (int t = range.begin(); t < range.end(); ++t) {
              const int x0 = (t % tiles_x) * kTile, y0 = (t / tiles_x) * kTile;
              int count = 0;
              for (int y = y0; y < std::min(y0 + kTile, height); ++y) {
                for (int x = x0; x < std::min(x0 + kTile, width); ++x) {
                  const Vec3 d = camera_to_world * Vec3{(x + 0.5 - cam.cx) / cam.fx,
                                                        (y + 0.5 - cam.cy) / cam.fy, 1.0};
                  RTCRayHit& rh = rays[static_cast<size_t>(count)];
                  rh.ray.org_x = static_cast<float>(cam.position.x);
                  rh.ray.org_y = static_cast<float>(cam.position.y);
                  rh.ray.org_z = static_cast<float>(cam.position.z);
                  rh.ray.tnear = 0.0f;
                  rh.ray.dir_x = static_cast<float>(d.x);
                  rh.ray.dir_y = static_cast<float>(d.y);
                  rh.ray.dir_z = static_cast<float>(d.z);
                  rh.ray.time = 0.0f;
                  rh.ray.tfar = std::numeric_limits<float>::infinity();
                  rh.ray.mask = 0xFFFFFFFFu;
                  rh.ray.id = static_cast<unsigned>(count);
                  rh.ray.flags = 0;
                  rh.hit.geomID = RTC_INVALID_GEOMETRY_ID;
                  rh.hit.instID[0] = RTC_INVALID_GEOMETRY_ID;
                  ++count;
                }
              }
              RTCIntersectContext context;
              rtcInitIntersectContext(&context);
              context.flags = RTC_INTERSECT_CONTEXT_FLAG_COHERENT;
              rtcIntersect1M(rtc_scene, &context, rays.data(), static_cast<unsigned>(count),
                             sizeof(RTCRayHit));
              for (int i = 0; i < count; ++i) {
                tile_hits += rays[static_cast<size_t>(i)].hit.geomID != RTC_INVALID_GEOMETRY_ID;
              }
            }
            hits.fetch_add(tile_hits, std::memory_order_relaxed);
          },
          tbb::simple_partitioner());
    });
    best_s = std::min(best_s, seconds_since(start));
  }
  rtcReleaseScene(rtc_scene);
  rtcReleaseDevice(device);
  const double pixels = static_cast<double>(width) * height;
  fmt::print(
      "embree rays_per_second={:.0f} build_seconds={:.4f} trace_seconds={:.5f} width={} "
      "height={} threads={} triangles={} hit_fraction={:.3f}\n",
      pixels / best_s, build_s, best_s, width, height, threads, loaded->triangle_count,
      static_cast<double>(hits.load()) / pixels);
  return 0;
}
