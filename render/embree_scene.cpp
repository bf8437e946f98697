// Embree's scene for one frame (build_embree_scene): the meshes' triangles and the instances
// of shared shapes, committed on one thread; the tie-break intersection filter; and Embree's
// errors as messages. Tracing the scene is SceneTracer's (internal/embree_scene.h).
#include "render/internal/embree_scene.h"

#include <fmt/format.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <span>

namespace synthfarm::render::internal {

namespace {

std::string_view embree_error_name(RTCError error) {
  switch (error) {
    case RTC_ERROR_NONE:
      return "no error";
    case RTC_ERROR_UNKNOWN:
      return "unknown error";
    case RTC_ERROR_INVALID_ARGUMENT:
      return "invalid argument";
    case RTC_ERROR_INVALID_OPERATION:
      return "invalid operation";
    case RTC_ERROR_OUT_OF_MEMORY:
      return "out of memory";
    case RTC_ERROR_UNSUPPORTED_CPU:
      return "unsupported CPU";
    case RTC_ERROR_CANCELLED:
      return "cancelled";
  }
  return "unrecognised error";
}

// The shape `mesh` is placed from (Mesh::shape), when it names one with the mesh's own
// vertex and triangle counts; else the mesh is built on its own.
const MeshShape* placed_shape(const Scene& scene, const Mesh& mesh) {
  if (mesh.shape < 0 || static_cast<size_t>(mesh.shape) >= scene.shapes.size()) return nullptr;
  const MeshShape& shape = scene.shapes[static_cast<size_t>(mesh.shape)];
  const bool same = shape.indices.size() == mesh.indices.size() &&
                    shape.positions.size() == mesh.positions.size();
  return same ? &shape : nullptr;
}

// One triangle geometry from `indices` and one vertex array per time step (`steps`: one
// for a mesh that holds still; open, mid and close for one moving in the shutter, which
// Embree interpolates linearly by the ray's time), attached to `target` as `id`.
tl::expected<void, std::string> add_triangles(RTCDevice device, RTCScene target,
                                              std::span<const std::vector<float>* const> steps,
                                              const std::vector<uint32_t>& indices, unsigned id) {
  GeometryPtr geometry(rtcNewGeometry(device, RTC_GEOMETRY_TYPE_TRIANGLE));
  if (!geometry) return embree_failure("cannot create a geometry", rtcGetDeviceError(device));
  if (steps.size() > 1) {
    rtcSetGeometryTimeStepCount(geometry.get(), static_cast<unsigned>(steps.size()));
  }
  for (size_t step = 0; step < steps.size(); ++step) {
    const std::vector<float>& positions = *steps[step];
    auto* vertex_buffer = static_cast<float*>(rtcSetNewGeometryBuffer(
        geometry.get(), RTC_BUFFER_TYPE_VERTEX, static_cast<unsigned>(step), RTC_FORMAT_FLOAT3,
        3 * sizeof(float), positions.size() / 3));
    if (vertex_buffer == nullptr) {
      return embree_failure("cannot allocate geometry buffers", rtcGetDeviceError(device));
    }
    std::copy(positions.begin(), positions.end(), vertex_buffer);
  }
  auto* index_buffer = static_cast<uint32_t*>(
      rtcSetNewGeometryBuffer(geometry.get(), RTC_BUFFER_TYPE_INDEX, 0, RTC_FORMAT_UINT3,
                              3 * sizeof(uint32_t), indices.size() / 3));
  if (index_buffer == nullptr) {
    return embree_failure("cannot allocate geometry buffers", rtcGetDeviceError(device));
  }
  std::copy(indices.begin(), indices.end(), index_buffer);
  rtcSetGeometryBuildQuality(geometry.get(), RTC_BUILD_QUALITY_MEDIUM);
  rtcCommitGeometry(geometry.get());
  rtcAttachGeometryByID(target, geometry.get(), id);
  return {};
}

}  // namespace

// Embree keeps one error code per thread and device; reading it clears it.
tl::unexpected<std::string> embree_failure(std::string_view what, RTCError error) {
  return tl::unexpected(fmt::format("embree: {}: {}", what, embree_error_name(error)));
}

void tie_break_filter(const RTCFilterFunctionNArguments* args) {
  auto* ctx = reinterpret_cast<TieBreakContext*>(const_cast<RTCIntersectContext*>(args->context));
  for (unsigned i = 0; i < args->N; ++i) {
    if (args->valid[i] == 0) continue;
    TieBreakState& state = ctx->rays[RTCRayN_id(args->ray, args->N, i)];
    float t = RTCRayN_tfar(args->ray, args->N, i);
    // A hit in an instanced shape: the instance's id is the mesh's (see build_embree_scene).
    const unsigned instance = RTCHitN_instID(args->hit, args->N, i, 0);
    unsigned geom =
        instance != RTC_INVALID_GEOMETRY_ID ? instance : RTCHitN_geomID(args->hit, args->N, i);
    unsigned prim = RTCHitN_primID(args->hit, args->N, i);
    bool farther = t > state.t;
    bool loses_tie =
        t == state.t && (geom > state.geom || (geom == state.geom && prim > state.prim));
    if (farther || loses_tie) {
      args->valid[i] = 0;
      continue;
    }
    state.t = t;
    state.geom = geom;
    state.prim = prim;
  }
}

tl::expected<EmbreeScene, std::string> build_embree_scene(RTCDevice device, bool filter_supported,
                                                          const std::atomic<int64_t>& bytes,
                                                          const Scene& scene) {
  ScenePtr rtc_scene(rtcNewScene(device));
  if (!rtc_scene) return embree_failure("cannot create a scene", rtcGetDeviceError(device));
  // Build flags for this workload (one static scene per sample, then 10^5..10^8 rays):
  // MEDIUM quality. HIGH (spatial splits) built a 133k-triangle room 4x slower (0.29 s vs
  // 0.06 s, one thread) and traced it no faster at 64 spp; COMPACT would trade speed for
  // memory we do not lack; ROBUST is not needed since every hit is recomputed in double.
  rtcSetSceneBuildQuality(rtc_scene.get(), RTC_BUILD_QUALITY_MEDIUM);
  // The tie-break filter is the intersect context's (SceneTracer), so that each query can
  // choose it: label rays mostly go without.
  const RTCSceneFlags flags =
      filter_supported ? RTC_SCENE_FLAG_CONTEXT_FILTER_FUNCTION : RTC_SCENE_FLAG_NONE;
  rtcSetSceneFlags(rtc_scene.get(), flags);
  const int64_t bytes_before = bytes.load();
  // Shapes placed by meshes (Mesh::shape) get a BVH of their own, built once, and each such
  // mesh an instance of it with the mesh's index as its id, so that hits name the mesh
  // (SceneTracer::to_mesh_ids) and resolve on its world-space triangles like any other's.
  std::vector<ScenePtr> shape_scenes(scene.shapes.size());
  size_t instanced = 0;
  for (size_t i = 0; i < scene.meshes.size(); ++i) {
    const Mesh& mesh = scene.meshes[i];
    if (mesh.indices.empty()) continue;
    const auto id = static_cast<unsigned>(i);
    // A mesh moving in the shutter gets Embree's time steps (open, mid, close) and is built
    // on its own even when placed from a shape: the shape's BVH holds still.
    const bool moves = scene.motion_blur && mesh.moves_in_shutter();
    const MeshShape* shape = moves ? nullptr : placed_shape(scene, mesh);
    if (shape == nullptr) {
      const std::array<const std::vector<float>*, 3> steps = {
          moves ? &mesh.shutter_positions[0] : &mesh.positions, &mesh.positions,
          &mesh.shutter_positions[1]};
      auto used = moves ? std::span(steps) : std::span(steps).subspan(1, 1);
      if (auto added = add_triangles(device, rtc_scene.get(), used, mesh.indices, id); !added)
        return tl::unexpected(added.error());
      continue;
    }
    ScenePtr& shape_scene = shape_scenes[static_cast<size_t>(mesh.shape)];
    if (!shape_scene) {
      shape_scene.reset(rtcNewScene(device));
      if (!shape_scene) return embree_failure("cannot create a scene", rtcGetDeviceError(device));
      rtcSetSceneBuildQuality(shape_scene.get(), RTC_BUILD_QUALITY_MEDIUM);
      rtcSetSceneFlags(shape_scene.get(), flags);
      const std::array<const std::vector<float>*, 1> steps = {&shape->positions};
      if (auto added = add_triangles(device, shape_scene.get(), steps, shape->indices, 0); !added)
        return tl::unexpected(added.error());
    }
    GeometryPtr instance(rtcNewGeometry(device, RTC_GEOMETRY_TYPE_INSTANCE));
    if (!instance) return embree_failure("cannot create an instance", rtcGetDeviceError(device));
    rtcSetGeometryInstancedScene(instance.get(), shape_scene.get());
    const Mat3& l = mesh.shape_linear;
    const Vec3& t = mesh.shape_offset;
    const float xfm[12] = {
        static_cast<float>(l.m[0][0]), static_cast<float>(l.m[1][0]), static_cast<float>(l.m[2][0]),
        static_cast<float>(l.m[0][1]), static_cast<float>(l.m[1][1]), static_cast<float>(l.m[2][1]),
        static_cast<float>(l.m[0][2]), static_cast<float>(l.m[1][2]), static_cast<float>(l.m[2][2]),
        static_cast<float>(t.x),       static_cast<float>(t.y),       static_cast<float>(t.z)};
    rtcSetGeometryTransform(instance.get(), 0, RTC_FORMAT_FLOAT3X4_COLUMN_MAJOR, xfm);
    rtcCommitGeometry(instance.get());
    rtcAttachGeometryByID(rtc_scene.get(), instance.get(), id);
    ++instanced;
  }
  // A one-thread arena makes Embree's (oneTBB) builder sequential, hence deterministic. The
  // shapes' BVHs first, then the scene's over its meshes and instances.
  const auto build_start = std::chrono::steady_clock::now();
  tbb::task_arena build_arena(1);
  build_arena.execute([&] {
    for (ScenePtr& shape_scene : shape_scenes) {
      if (shape_scene) rtcCommitScene(shape_scene.get());
    }
    rtcCommitScene(rtc_scene.get());
  });
  const auto build_end = std::chrono::steady_clock::now();
  const int64_t bvh_bytes = bytes.load() - bytes_before;
  if (RTCError error = rtcGetDeviceError(device); error != RTC_ERROR_NONE) {
    return embree_failure("building the scene failed", error);
  }
  return EmbreeScene{
      std::move(rtc_scene), std::move(shape_scenes), instanced, bvh_bytes, build_start, build_end};
}

}  // namespace synthfarm::render::internal
