// Embree, for render/'s own files only (Embree types never leave render/): the owners of
// Embree's handles, one frame's scene built from Scene::meshes with shared shapes as instances
// (embree_scene.cpp), the tie-break intersection filter, and SceneTracer, which traces rays
// against that scene and resolves their hits (Hit) in double on the Scene's own triangles.
// SceneTracer's and Hit's members are defined here, not in a .cpp: the path tracer's and the
// label pass's inner loops (path_tracer.cpp, label_pass.cpp) need them inlined.
#pragma once

#include <embree3/rtcore.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

#include "render/scene.h"

namespace synthfarm::render::internal {

struct DeviceDeleter {
  void operator()(RTCDeviceTy* device) const { rtcReleaseDevice(device); }
};
struct SceneDeleter {
  void operator()(RTCSceneTy* scene) const { rtcReleaseScene(scene); }
};
struct GeometryDeleter {
  void operator()(RTCGeometryTy* geometry) const { rtcReleaseGeometry(geometry); }
};
using DevicePtr = std::unique_ptr<RTCDeviceTy, DeviceDeleter>;
using ScenePtr = std::unique_ptr<RTCSceneTy, SceneDeleter>;
using GeometryPtr = std::unique_ptr<RTCGeometryTy, GeometryDeleter>;

// An error result naming what failed and Embree's error code.
tl::unexpected<std::string> embree_failure(std::string_view what, RTCError error);

constexpr float kInfinity = std::numeric_limits<float>::infinity();
constexpr unsigned kNoId = std::numeric_limits<unsigned>::max();
// Rays per label stream (rtcIntersect1M call): large enough for Embree to form full packets,
// small enough to live on the stack.
constexpr int kStreamSize = 256;
// Label rays hitting a triangle this close to its boundary (the least of its barycentrics
// as Embree computes them in float, some 1e-7 accurate) are traced again with the tie-break
// filter (SceneTracer::trace_label_stream).
constexpr float kEdgeBand = 1e-3f;
// A ray's moment in the shutter (RTCRay::time; 0 = open, 1 = close): mid-shutter, the
// labelled moment, at which every moving mesh is exactly at Mesh::positions. Label and
// keypoint rays trace at it, and so does everything when Scene::motion_blur is off (Embree
// ignores the time of a mesh without time steps).
constexpr float kMidShutter = 0.5f;

// The closest hit accepted so far for one ray, carried through the intersection filter so
// that hits at exactly equal distance (shared edges, coincident faces) resolve to the lowest
// (geometry, primitive) whatever order the BVH traversal visits them in.
struct TieBreakState {
  float t = kInfinity;
  unsigned geom = kNoId;
  unsigned prim = kNoId;
};

struct TieBreakContext {
  RTCIntersectContext base;  // must be first: Embree sees only this part
  TieBreakState* rays;       // indexed by RTCRay::id
};

// The intersection filter behind the tie-break: rejects a hit farther than, or tied with
// but after, the closest one its ray has accepted (TieBreakContext::rays).
void tie_break_filter(const RTCFilterFunctionNArguments* args);

struct Hit {
  bool valid = false;
  Vec3 point;           // on the triangle, world
  Vec3 normal;          // unit geometric normal facing the incoming ray, world
  double distance = 0;  // from the ray origin, metres
  const Mesh* mesh = nullptr;
  size_t triangle = 0;
  double u = 0, v = 0;  // barycentrics of vertices 1 and 2

  const uint32_t* corners() const { return &mesh->indices[3 * triangle]; }
  // Per-vertex attribute `data` (`n` floats per vertex), interpolated.
  template <int N>
  std::array<double, N> interpolate(const std::vector<float>& data) const {
    const uint32_t* tri = corners();
    const float* a = &data[N * static_cast<size_t>(tri[0])];
    const float* b = &data[N * static_cast<size_t>(tri[1])];
    const float* c = &data[N * static_cast<size_t>(tri[2])];
    const double w0 = 1.0 - u - v;
    std::array<double, N> out{};
    for (int k = 0; k < N; ++k) out[k] = w0 * a[k] + u * b[k] + v * c[k];
    return out;
  }

  // The Lambertian colour at the hit: per-vertex colours interpolated, else the mesh albedo.
  Rgb albedo() const {
    if (mesh->colors.empty()) return mesh->albedo;
    auto c = interpolate<3>(mesh->colors);
    return {static_cast<float>(c[0]), static_cast<float>(c[1]), static_cast<float>(c[2])};
  }
  uint32_t part() const { return mesh->parts.empty() ? 0 : mesh->parts[triangle]; }
  // Interpolated (u, v) of the part's surface coordinates.
  std::array<float, 2> part_uv() const {
    if (mesh->uvs.empty()) return {0, 0};
    const float* c = &mesh->uvs[6 * triangle];
    const double w0 = 1.0 - u - v;
    return {static_cast<float>(w0 * c[0] + u * c[2] + v * c[4]),
            static_cast<float>(w0 * c[1] + u * c[3] + v * c[5])};
  }
  std::array<double, 2> texcoord() const {
    if (mesh->texcoords.size() < 2 * (mesh->positions.size() / 3)) return {0, 0};
    return interpolate<2>(mesh->texcoords);
  }
  // The interpolated shading normal on the geometric normal's side, or the geometric one.
  Vec3 shading_normal() const {
    if (mesh->normals.size() < mesh->positions.size()) return normal;
    auto n = interpolate<3>(mesh->normals);
    Vec3 s{n[0], n[1], n[2]};
    double len = length(s);
    if (!(len > 0) || !std::isfinite(len)) return normal;
    s = s * (1.0 / len);
    return dot(s, normal) < 0 ? -s : s;
  }
};

// The per-triangle part of SceneTracer::resolve() for the last triangle seen by a stream of
// coherent label rays, which hit the same triangle many times in a row: its vertices and its
// unit normal are worked out once. The values are the same bits as recomputing them.
struct TriangleCache {
  unsigned geom = kNoId, prim = kNoId;
  // A triangle of a mesh moving in the shutter (motion blur), taken at shutter time `time`;
  // any other is the same at every time.
  bool moving = false;
  float time = kMidShutter;
  Vec3 v0, e1, e2;
  Vec3 unit_normal;  // cross(e1, e2) / its length, valid when length > 0
  double length = 0;
};

inline void set_ray(RTCRay& ray, Vec3 origin, Vec3 direction, float tfar, unsigned id,
                    float time = kMidShutter) {
  ray.org_x = static_cast<float>(origin.x);
  ray.org_y = static_cast<float>(origin.y);
  ray.org_z = static_cast<float>(origin.z);
  ray.tnear = 0.0f;
  ray.dir_x = static_cast<float>(direction.x);
  ray.dir_y = static_cast<float>(direction.y);
  ray.dir_z = static_cast<float>(direction.z);
  ray.time = time;
  ray.tfar = tfar;
  ray.mask = 0xFFFFFFFFu;
  ray.id = id;
  ray.flags = 0;
}

inline void clear_hit(RTCHit& hit) {
  hit.geomID = RTC_INVALID_GEOMETRY_ID;
  hit.primID = RTC_INVALID_GEOMETRY_ID;
  hit.instID[0] = RTC_INVALID_GEOMETRY_ID;
}

// Rays against one frame's Embree scene, with hits resolved on the Scene's own triangles:
// all the label pass needs, and what the path tracer (FrameTracer, frame_tracer.h) traces with.
class SceneTracer {
 public:
  // `tie_break`: Embree runs filter functions (tie_break_filter); `instanced`: the scene has
  // instances (Mesh::shape).
  SceneTracer(RTCScene rtc_scene, const Scene& scene, bool tie_break, bool instanced)
      : scene_(scene), rtc_scene_(rtc_scene), tie_break_(tie_break), instanced_(instanced) {}

  // `time`: the ray's moment in the shutter (motion blur).
  Hit trace(Vec3 origin, Vec3 direction, float time = kMidShutter) const {
    RTCRayHit rh;
    set_ray(rh.ray, origin, direction, kInfinity, 0, time);
    clear_hit(rh.hit);
    intersect1(rh);
    to_mesh_ids(rh.hit);
    return resolve(rh);
  }

  // rtcIntersect1 with the tie-break filter (when Embree runs filters); `rh.ray.id` must be 0.
  void intersect1(RTCRayHit& rh) const {
    TieBreakState state;
    TieBreakContext ctx;
    rtcInitIntersectContext(&ctx.base);
    ctx.base.filter = tie_break_ ? tie_break_filter : nullptr;
    ctx.rays = &state;
    rtcIntersect1(rtc_scene_, &ctx.base, &rh);
  }

  // Traces `count` (<= kStreamSize) rays as one coherent stream; ray ids must be 0 .. count-1.
  void trace_stream(RTCRayHit* rays, int count) const {
    std::array<TieBreakState, kStreamSize> states;
    TieBreakContext ctx;
    rtcInitIntersectContext(&ctx.base);
    ctx.base.flags = RTC_INTERSECT_CONTEXT_FLAG_COHERENT;
    ctx.base.filter = tie_break_ ? tie_break_filter : nullptr;
    ctx.rays = states.data();
    rtcIntersect1M(rtc_scene_, &ctx.base, rays, static_cast<unsigned>(count), sizeof(RTCRayHit));
    if (instanced_) {
      for (int i = 0; i < count; ++i) to_mesh_ids(rays[i].hit);
    }
  }

  // trace_stream() for label rays, which stop at their first hit: the stream is traced without
  // the tie-break filter, and each ray whose hit lies within kEdgeBand (in barycentrics) of
  // its triangle's boundary is traced again with it. Only there can another triangle meet
  // the ray at exactly the same distance (the neighbours sharing that edge or vertex), short
  // of two surfaces that coincide; elsewhere Embree's closest hit is the tie-break's.
  void trace_label_stream(RTCRayHit* rays, int count) const {
    RTCIntersectContext ctx;
    rtcInitIntersectContext(&ctx);
    ctx.flags = RTC_INTERSECT_CONTEXT_FLAG_COHERENT;
    rtcIntersect1M(rtc_scene_, &ctx, rays, static_cast<unsigned>(count), sizeof(RTCRayHit));
    const bool tie_break = tie_break_;  // read once: intersect1() is opaque to the compiler
    if (!tie_break && !instanced_) return;
    for (int i = 0; i < count; ++i) {
      RTCRayHit& rh = rays[i];
      if (rh.hit.geomID == RTC_INVALID_GEOMETRY_ID) continue;
      const float u = rh.hit.u, v = rh.hit.v, w = 1.0f - u - v;
      if (tie_break && (u < kEdgeBand || v < kEdgeBand || w < kEdgeBand)) [[unlikely]] {
        const unsigned id = rh.ray.id;
        rh.ray.tfar = kInfinity;
        rh.ray.id = 0;
        clear_hit(rh.hit);
        intersect1(rh);
        rh.ray.id = id;
      }
      to_mesh_ids(rh.hit);
    }
  }

  // A hit in an instanced shape names the shape's geometry and the instance; the instance's
  // id is the mesh's index in Scene::meshes (build_embree_scene attaches it so): make geomID
  // the mesh's, as for a mesh traced on its own. The triangle index is the same in both.
  void to_mesh_ids(RTCHit& hit) const {
    if (instanced_ && hit.instID[0] != RTC_INVALID_GEOMETRY_ID) hit.geomID = hit.instID[0];
  }

  // The hit of a traced ray. The barycentrics are recomputed in double from the triangle
  // itself (Moller-Trumbore) with the float ray Embree traced; the hit point, its depth and
  // the normal follow from them, so shading and labels do not depend on the ISA (SSE, AVX2)
  // or the kernel (single ray, packet) Embree picked at run time. Embree's own u, v are only a
  // fallback for a degenerate determinant.
  // `cache` (optional) keeps the triangle's own quantities between calls. A moving mesh's
  // triangle is taken where it is at the ray's time (triangle()), as Embree traced it.
  Hit resolve(const RTCRayHit& rh, TriangleCache* cache = nullptr) const {
    if (rh.hit.geomID == RTC_INVALID_GEOMETRY_ID) return Hit{};
    const Mesh& mesh = scene_.meshes[rh.hit.geomID];
    const float time = rh.ray.time;
    if (cache == nullptr) return resolve_on(rh, mesh, triangle(rh.hit.geomID, rh.hit.primID, time));
    if (cache->geom != rh.hit.geomID || cache->prim != rh.hit.primID ||
        (cache->moving && cache->time != time)) {
      *cache = triangle(rh.hit.geomID, rh.hit.primID, time);
    }
    return resolve_on(rh, mesh, *cache);
  }

  // Where triangle `prim` of mesh `geom` keeps its vertex indices.
  const uint32_t* triangle_indices(unsigned geom, unsigned prim) const {
    return &scene_.meshes[geom].indices[3 * static_cast<size_t>(prim)];
  }
  // Starts loading what triangle() reads of triangle `prim` of mesh `geom`.
  void prefetch_triangle(unsigned geom, unsigned prim) const {
    const Mesh& mesh = scene_.meshes[geom];
    const uint32_t* tri = triangle_indices(geom, prim);
    for (int k = 0; k < 3; ++k)
      __builtin_prefetch(&mesh.positions[3 * static_cast<size_t>(tri[k])]);
  }

  // Triangle `prim` of mesh `geom`, in double, at shutter time `time`. Built whole (no
  // zero-fill first): it runs once per ray where no cache holds it. A mesh that moves in the
  // shutter (motion blur) has its vertices interpolated in double between its time steps
  // (shutter_point()), the way Embree interpolates them in float: the hit is then resolved
  // on the triangle where it was at that moment. At mid-shutter, and for every mesh that
  // holds still, these are the Mesh::positions triangles, bit for bit.
  TriangleCache triangle(unsigned geom, unsigned prim, float time = kMidShutter) const {
    const Mesh& mesh = scene_.meshes[geom];
    const uint32_t* tri = triangle_indices(geom, prim);
    if (time != kMidShutter && scene_.motion_blur && mesh.moves_in_shutter()) [[unlikely]] {
      return moving_triangle(mesh, tri, geom, prim, time);
    }
    const Vec3 v0 = mesh.vertex(tri[0]), e1 = mesh.vertex(tri[1]) - v0,
               e2 = mesh.vertex(tri[2]) - v0;
    return triangle_of(geom, prim, false, kMidShutter, v0, e1, e2);
  }

  Hit resolve_on(const RTCRayHit& rh, const Mesh& mesh, const TriangleCache& t) const {
    const Vec3 v0 = t.v0, e1 = t.e1, e2 = t.e2;
    Vec3 o{rh.ray.org_x, rh.ray.org_y, rh.ray.org_z};
    Vec3 d{rh.ray.dir_x, rh.ray.dir_y, rh.ray.dir_z};
    Vec3 p = cross(d, e2);
    double det = dot(e1, p);
    double u = rh.hit.u, v = rh.hit.v;
    if (det != 0) {
      double inv = 1.0 / det;
      Vec3 s = o - v0;
      Vec3 q = cross(s, e1);
      double uu = dot(s, p) * inv, vv = dot(d, q) * inv;
      if (std::isfinite(uu) && std::isfinite(vv)) u = uu, v = vv;
    }
    u = std::clamp(u, 0.0, 1.0);
    v = std::clamp(v, 0.0, 1.0 - u);
    Vec3 n = t.length > 0 ? t.unit_normal : -normalize(d);
    if (dot(n, d) > 0) n = -n;
    const Vec3 point = v0 + e1 * u + e2 * v;
    return Hit{true, point, n, length(point - o), &mesh, rh.hit.primID, u, v};
  }

  bool occluded(Vec3 origin, Vec3 direction, double distance, float time = kMidShutter) const {
    RTCRay ray;
    set_ray(ray, origin, direction, static_cast<float>(distance), 0, time);
    RTCIntersectContext ctx;
    rtcInitIntersectContext(&ctx);
    rtcOccluded1(rtc_scene_, &ctx, &ray);
    return ray.tfar < 0;
  }

  const Scene& scene() const { return scene_; }

 protected:
  const Scene& scene_;  // FrameTracer's shading reads the scene through it

 private:
  static TriangleCache triangle_of(unsigned geom, unsigned prim, bool moving, float time,
                                   Vec3 v0, Vec3 e1, Vec3 e2) {
    const Vec3 n = cross(e1, e2);
    const double len = length(n);
    return TriangleCache{geom, prim, moving, time, v0,
                         e1,   e2,   len > 0 ? n * (1.0 / len) : Vec3{}, len};
  }
  [[gnu::noinline]] static TriangleCache moving_triangle(const Mesh& mesh, const uint32_t* tri,
                                                         unsigned geom, unsigned prim,
                                                         float time) {
    auto at = [&](uint32_t i) {
      const size_t k = 3 * static_cast<size_t>(i);
      const std::vector<float>& open = mesh.shutter_positions[0];
      const std::vector<float>& close = mesh.shutter_positions[1];
      return shutter_point({open[k], open[k + 1], open[k + 2]}, mesh.vertex(i),
                           {close[k], close[k + 1], close[k + 2]}, time);
    };
    const Vec3 v0 = at(tri[0]), e1 = at(tri[1]) - v0, e2 = at(tri[2]) - v0;
    return triangle_of(geom, prim, true, time, v0, e1, e2);
  }

  RTCScene rtc_scene_;
  bool tie_break_;
  bool instanced_;
};

// One frame's Embree scene (build_embree_scene), built and committed. `scene` is destroyed
// after the shapes' scenes its instances place.
struct EmbreeScene {
  ScenePtr scene;
  std::vector<ScenePtr> shape_scenes;  // per Scene::shapes: those a mesh places, else empty
  size_t instanced = 0;                // meshes traced as instances of a shape
  int64_t bvh_bytes = 0;               // Embree's memory for the geometry and BVHs
  // The BVH build (rtcCommitScene), on one thread: when it began and ended.
  std::chrono::steady_clock::time_point build_start, build_end;
};

// Builds `scene`'s meshes into a new Embree scene on `device`: each on its own, or, when
// placed from a shared shape (Mesh::shape), as an instance of the shape's BVH whose id is the
// mesh's index. `filter_supported`: the device runs filter functions (the tie-break);
// `bytes`: the device's memory monitor count, for EmbreeScene::bvh_bytes.
tl::expected<EmbreeScene, std::string> build_embree_scene(RTCDevice device, bool filter_supported,
                                                          const std::atomic<int64_t>& bytes,
                                                          const Scene& scene);

}  // namespace synthfarm::render::internal
