// Embree 3 path tracer with exact label layers. See render.h for the light transport, the
// sampling, the layer conventions and how determinism is kept.
#include "render/renderer.h"

#include <embree3/rtcore.h>
#include <fmt/format.h>
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/parallel_invoke.h>
#include <tbb/partitioner.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>

#include "render/bsdf.h"
#include "render/lights.h"
#include "base/rng.h"
#include "render/sampler.h"
#include "render/textures.h"

namespace synthfarm::render {

namespace {

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

// Embree keeps one error code per thread and device; reading it clears it.
tl::unexpected<std::string> embree_failure(std::string_view what, RTCError error) {
  return tl::unexpected(fmt::format("embree: {}: {}", what, embree_error_name(error)));
}

constexpr float kInfinity = std::numeric_limits<float>::infinity();
constexpr unsigned kNoId = std::numeric_limits<unsigned>::max();
// Rays per label stream (rtcIntersect1M call): large enough for Embree to form full packets,
// small enough to live on the stack.
constexpr int kStreamSize = 256;
// Label rays hitting a triangle this close to its boundary (the least of its barycentrics
// as Embree computes them in float, some 1e-7 accurate) are traced again with the tie-break
// filter (SceneTracer::trace_label_stream).
constexpr float kEdgeBand = 1e-3f;
// Paths continue unconditionally for this many bounces before Russian roulette.
constexpr int kRouletteDepth = 3;

// Sobol dimension slots of a path (sampler.h): fixed, so every sample of a pixel uses the same
// slot for the same decision.
constexpr uint32_t kSlotPixel = 0;
constexpr uint32_t kSlotLens = 1;
constexpr uint32_t kSlotsCamera = 2;
constexpr uint32_t kSlotLightChoice = 0, kSlotLightPoint = 1, kSlotBackground = 2, kSlotLobe = 3,
                   kSlotDirection = 4, kSlotRoulette = 5, kSlotSun = 6, kSlotShadow = 7,
                   kSlotsPerBounce = 8;
static_assert(kSlotsCamera + 6 * kSlotsPerBounce == SobolSampler::kCachedSlots,
              "the sampler caches the seeds of the camera slots and six bounces");
// Path vertices below this depth trace a shadow ray to every light they sample; deeper ones
// trace one, chosen by the lights' unoccluded contributions (see FrameTracer::radiance).
constexpr int kEveryShadowDepth = 1;

// One light's next-event estimate at a path vertex before its shadow ray: the contribution
// it makes if the segment to the light is clear. Filled whole when a light offers one (no
// default values: a vertex keeps three of them uninitialised until then).
struct ShadowCandidate {
  Spectrum contribution;  // throughput * f * L * (MIS weight / pdf)
  Vec3 direction;         // unit, world
  double distance;        // how far the shadow ray must reach; +infinity for the sun and sky
};

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

double power_heuristic(double a, double b) {
  if (std::isinf(a)) return 1;
  double a2 = a * a, b2 = b * b;
  return a2 + b2 > 0 ? a2 / (a2 + b2) : 0;
}

// A light sample's power-heuristic weight divided by its density a (b: the BSDF's density of
// the same direction): a / (a^2 + b^2), one division.
double mis_weight_over_pdf(double a, double b) {
  const double d = a * a + b * b;
  return d > 0 ? a / d : 0;
}

Spectrum to_spectrum(Rgb c) { return {c.r, c.g, c.b}; }

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
  Vec3 v0, e1, e2;
  Vec3 unit_normal;  // cross(e1, e2) / its length, valid when length > 0
  double length = 0;
};

// What a surface point looks like: its BSDF inputs after textures and patterns.
struct SurfaceLook {
  Rgb base;  // linear base colour (the albedo label)
  double metallic = 0, roughness = 1, specular = 0.5;
  Spectrum emission;
  bool lambertian = true;  // Mesh::material -1: the historical Lambertian surface
};

// The mesh's material, texture `t` and pattern `p` of the scene; nullptr for none (an index
// of -1 or out of range).
const Material* material_of(const Scene& scene, const Mesh& mesh) {
  const int i = mesh.material;
  return i >= 0 && static_cast<size_t>(i) < scene.materials.size() ? &scene.materials[i] : nullptr;
}
const Texture* texture_of(const Scene& scene, int t) {
  return t >= 0 && static_cast<size_t>(t) < scene.textures.size() ? &scene.textures[t] : nullptr;
}
bool has_pattern(const Scene& scene, int p) {
  return p >= 0 && static_cast<size_t>(p) < scene.patterns.size();
}

SurfaceLook look_at(const Scene& scene, const Hit& hit) {
  SurfaceLook look;
  const Material* material = material_of(scene, *hit.mesh);
  if (material == nullptr) {
    look.base = hit.albedo();
    return look;
  }
  const Material& m = *material;
  look.lambertian = false;
  look.base = m.base_color;
  look.metallic = m.metallic;
  look.roughness = m.roughness;
  look.specular = m.specular;
  look.emission = to_spectrum(m.emission);
  auto texture = [&](int t) { return texture_of(scene, t); };
  if (has_pattern(scene, m.pattern)) {
    look.base = eval_pattern(scene.patterns, static_cast<size_t>(m.pattern), hit.point);
  }
  const bool textured = texture(m.base_color_texture) || texture(m.metallic_roughness_texture) ||
                        texture(m.emission_texture);
  const std::array<double, 2> uv = textured ? hit.texcoord() : std::array<double, 2>{0, 0};
  if (const Texture* t = texture(m.base_color_texture)) {
    Rgba c = sample_texture(*t, uv[0], uv[1]);
    look.base = {look.base.r * c.r, look.base.g * c.g, look.base.b * c.b};
  }
  if (const Texture* t = texture(m.metallic_roughness_texture)) {
    Rgba c = sample_texture(*t, uv[0], uv[1]);
    look.roughness *= c.g;
    look.metallic *= c.b;
  }
  if (const Texture* t = texture(m.emission_texture)) {
    Rgba c = sample_texture(*t, uv[0], uv[1]);
    look.emission = look.emission * Spectrum{c.r, c.g, c.b};
  }
  return look;
}

PrincipledBsdf bsdf_of(const SurfaceLook& look) {
  Spectrum base = to_spectrum(look.base);
  if (look.lambertian) return PrincipledBsdf::lambertian(base);
  return PrincipledBsdf(base, look.metallic, look.roughness, look.specular);
}

// Whether a mesh looks the same all over: no texture, pattern or vertex colour varies it.
bool uniform_look(const Scene& scene, const Mesh& mesh) {
  const Material* m = material_of(scene, mesh);
  if (m == nullptr) return mesh.colors.empty();
  return !has_pattern(scene, m->pattern) && !texture_of(scene, m->base_color_texture) &&
         !texture_of(scene, m->metallic_roughness_texture) &&
         !texture_of(scene, m->emission_texture);
}

// What shading needs of a mesh, worked out once per frame: when it looks the same all over
// (uniform_look), its BSDF and emission; and its material's row of the specular albedo table
// unless it has none or a texture varies its roughness.
struct MeshShading {
  std::optional<PrincipledBsdf> bsdf;  // empty: the look varies over the mesh
  Spectrum emission;
  const SpecularAlbedoRow* row = nullptr;  // in FrameTracer::material_rows_
};

void set_ray(RTCRay& ray, Vec3 origin, Vec3 direction, float tfar, unsigned id) {
  ray.org_x = static_cast<float>(origin.x);
  ray.org_y = static_cast<float>(origin.y);
  ray.org_z = static_cast<float>(origin.z);
  ray.tnear = 0.0f;
  ray.dir_x = static_cast<float>(direction.x);
  ray.dir_y = static_cast<float>(direction.y);
  ray.dir_z = static_cast<float>(direction.z);
  ray.time = 0.0f;
  ray.tfar = tfar;
  ray.mask = 0xFFFFFFFFu;
  ray.id = id;
  ray.flags = 0;
}

void clear_hit(RTCHit& hit) {
  hit.geomID = RTC_INVALID_GEOMETRY_ID;
  hit.primID = RTC_INVALID_GEOMETRY_ID;
  hit.instID[0] = RTC_INVALID_GEOMETRY_ID;
}

// Rays against one frame's Embree scene, with hits resolved on the Scene's own triangles:
// all the label pass needs, and what the path tracer (FrameTracer, below) traces with.
class SceneTracer {
 public:
  // `tie_break`: Embree runs filter functions (tie_break_filter); `instanced`: the scene has
  // instances (Mesh::shape).
  SceneTracer(RTCScene rtc_scene, const Scene& scene, bool tie_break, bool instanced)
      : scene_(scene), rtc_scene_(rtc_scene), tie_break_(tie_break), instanced_(instanced) {}

  Hit trace(Vec3 origin, Vec3 direction) const {
    RTCRayHit rh;
    set_ray(rh.ray, origin, direction, kInfinity, 0);
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
  // `cache` (optional) keeps the triangle's own quantities between calls.
  Hit resolve(const RTCRayHit& rh, TriangleCache* cache = nullptr) const {
    if (rh.hit.geomID == RTC_INVALID_GEOMETRY_ID) return Hit{};
    const Mesh& mesh = scene_.meshes[rh.hit.geomID];
    if (cache == nullptr) return resolve_on(rh, mesh, triangle(rh.hit.geomID, rh.hit.primID));
    if (cache->geom != rh.hit.geomID || cache->prim != rh.hit.primID) {
      *cache = triangle(rh.hit.geomID, rh.hit.primID);
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

  // Triangle `prim` of mesh `geom`, in double. Built whole (no zero-fill first): it runs once
  // per ray where no cache holds it.
  TriangleCache triangle(unsigned geom, unsigned prim) const {
    const Mesh& mesh = scene_.meshes[geom];
    const uint32_t* tri = triangle_indices(geom, prim);
    const Vec3 v0 = mesh.vertex(tri[0]), e1 = mesh.vertex(tri[1]) - v0,
               e2 = mesh.vertex(tri[2]) - v0;
    const Vec3 n = cross(e1, e2);
    const double len = length(n);
    return TriangleCache{geom, prim, v0, e1, e2, len > 0 ? n * (1.0 / len) : Vec3{}, len};
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

  bool occluded(Vec3 origin, Vec3 direction, double distance) const {
    RTCRay ray;
    set_ray(ray, origin, direction, static_cast<float>(distance), 0);
    RTCIntersectContext ctx;
    rtcInitIntersectContext(&ctx);
    rtcOccluded1(rtc_scene_, &ctx, &ray);
    return ray.tfar < 0;
  }

  const Scene& scene() const { return scene_; }

 protected:
  const Scene& scene_;  // FrameTracer's shading reads the scene through it

 private:
  RTCScene rtc_scene_;
  bool tie_break_;
  bool instanced_;
};

// Everything one frame's render threads share, read-only once built.
class FrameTracer : public SceneTracer {
 public:
  // `tie_break`, `instanced`: as SceneTracer's.
  FrameTracer(RTCScene rtc_scene, const Scene& scene, const RenderSettings& settings,
              bool tie_break, bool instanced)
      : SceneTracer(rtc_scene, scene, tie_break, instanced),
        settings_(settings),
        local_lights_(settings.labels_only ? std::vector<Light>{} : scene.lights),
        camera_to_world_(scene.camera.rotation.transposed()),
        sun_frame_(ShadingFrame::from_normal(scene.sun.direction)) {
    // The background's sampling tables cost a pass over the environment, and the meshes'
    // shading setup one over the meshes: only when shading.
    if (!settings.labels_only) {
      background_.emplace(scene);
      prepare_shading();
    }
    // 1 - cos of the sun disk's angular radius: 2 sin^2(radius / 2), exact for tiny disks.
    const double half_radius =
        0.25 * deg_to_rad(std::clamp(scene.sun.angular_diameter_deg, 0.0, 90.0));
    const double s = portable_sin(half_radius);
    sun_one_minus_cos_ = 2.0 * s * s;
  }

  FrameTracer(const FrameTracer&) = delete;  // shading_ points into material_rows_
  FrameTracer& operator=(const FrameTracer&) = delete;

  // The camera ray of sample `sampler` of pixel (x, y): jittered in the pixel, through the
  // thin lens when the camera has an aperture. `direction` is unit.
  void camera_ray(int x, int y, const SobolSampler& sampler, Vec3& origin, Vec3& direction) const {
    const Camera& cam = scene_.camera;
    auto jitter = sampler.get2d(kSlotPixel);
    Vec3 d_cam{(x + jitter[0] - cam.cx) / cam.fx, (y + jitter[1] - cam.cy) / cam.fy, 1.0};
    origin = cam.position;
    if (cam.aperture_radius_m > 0) {
      auto lens = concentric_disk(sampler.get2d(kSlotLens));
      Vec3 lens_point{lens[0] * cam.aperture_radius_m, lens[1] * cam.aperture_radius_m, 0};
      Vec3 focus = d_cam * cam.focus_distance_m;  // on the plane camera z = focus distance
      d_cam = focus - lens_point;
      origin = cam.position + camera_to_world_ * lens_point;
    }
    direction = normalize(camera_to_world_ * d_cam);
  }

  // Radiance arriving at `origin` from unit direction `direction` along a camera ray.
  //
  // Next-event estimation at each vertex first works out what every light would give if
  // nothing were in the way (the sun; one local light chosen by power; the background when
  // importance-sampled), then traces shadow rays: to all of them at the first vertex, and to
  // one of them deeper down, chosen with probability proportional to its unoccluded
  // contribution and divided by that probability. Choosing is an unbiased estimate of the
  // sum of the lights' estimates (Russian roulette on the shadow rays), so the MIS weights
  // stay those of the lights' own densities; where every light is visible it is exact.
  // `first`: the camera ray's hit, traced by the caller (camera rays go in coherent streams).
  Spectrum radiance(Vec3 origin, Vec3 direction, const Hit& first,
                    const SobolSampler& sampler) const {
    Spectrum sum, throughput{1, 1, 1};
    double bsdf_pdf = 0;  // density of the BSDF sample that made this ray (not for depth 0)
    const Sun& sun = scene_.sun;
    for (int depth = 0;; ++depth) {
      const Hit hit = depth == 0 ? first : trace(origin, direction);
      const double t_max = hit.valid ? hit.distance : std::numeric_limits<double>::infinity();
      // Light met by this ray left the previous vertex: `depth - 1` bounces so far.
      if (auto light = local_lights_.intersect(origin, direction, t_max, depth == 0)) {
        double w = depth == 0 ? 1.0
                              : power_heuristic(bsdf_pdf, local_lights_.pdf(light->light, origin,
                                                                            direction, light->t));
        add(sum, throughput * light->radiance * w, depth - 1);
        break;
      }
      if (!hit.valid) {
        double w = depth == 0 || !background_->importance_sampled()
                       ? 1.0
                       : power_heuristic(bsdf_pdf, background_->pdf(direction));
        add(sum, throughput * background_->radiance(direction) * w, depth - 1);
        break;
      }
      std::optional<PrincipledBsdf> varying;  // the BSDF of a look that varies over the mesh
      const PrincipledBsdf* bsdf = nullptr;
      const MeshShading& mesh = shading_[static_cast<size_t>(hit.mesh - scene_.meshes.data())];
      if (mesh.bsdf) {
        if (!mesh.emission.is_black()) add(sum, throughput * mesh.emission, depth - 1);
        bsdf = &*mesh.bsdf;
      } else {
        const SurfaceLook look = look_at(scene_, hit);
        if (!look.emission.is_black()) add(sum, throughput * look.emission, depth - 1);
        bsdf = &varying.emplace(bsdf_of(look));
        if (mesh.row != nullptr) varying->use_albedo_row(mesh.row);
      }
      if (depth > settings_.max_bounces) break;

      const Vec3 ng = hit.normal, wo = -direction;
      Vec3 ns = hit.shading_normal();
      if (dot(ns, wo) <= 0) ns = ng;
      const ShadingFrame frame = ShadingFrame::from_normal(ns);
      const Vec3 wo_local = frame.to_local(wo);
      const PrincipledBsdf::Outgoing out = bsdf->outgoing(wo_local);
      const Vec3 start = offset_origin(hit.point, ng);
      const uint32_t slot = kSlotsCamera + static_cast<uint32_t>(depth) * kSlotsPerBounce;

      ShadowCandidate candidates[3];
      int count = 0;
      // The sun: irradiance pi * intensity from its disk (or its direction when it has none).
      if (sun.intensity > 0) {
        const Vec3 wi = sun_direction(sampler, slot + kSlotSun);
        if (dot(ng, wi) > 0) {
          Spectrum f = bsdf->eval(out, frame.to_local(wi));
          if (!f.is_black())
            candidates[count++] = {throughput * f * (kPi * sun.intensity), wi, kInfinity};
        }
      }
      // One local light, chosen by power.
      if (!local_lights_.empty()) {
        const double u_choice =
            local_lights_.needs_choice() ? sampler.get1d(slot + kSlotLightChoice) : 0.0;
        // Point and spot lights need no point on the light: their slot is left unread.
        const std::array<double, 2> u_point = local_lights_.needs_point()
                                                  ? sampler.get2d(slot + kSlotLightPoint)
                                                  : std::array<double, 2>{0, 0};
        auto ls = local_lights_.sample(start, u_choice, u_point);
        if (ls && dot(ng, ls->wi) > 0) {
          const BsdfEval e = bsdf->eval_pdf(out, frame.to_local(ls->wi));
          if (!e.f.is_black()) {
            const double w = ls->delta ? 1.0 / ls->pdf : mis_weight_over_pdf(ls->pdf, e.pdf);
            candidates[count++] = {throughput * e.f * ls->radiance * w, ls->wi,
                                   ls->distance * (1 - 1e-4)};
          }
        }
      }
      // The background, when importance-sampled.
      if (background_->importance_sampled()) {
        auto bs = background_->sample(sampler.get2d(slot + kSlotBackground));
        if (bs && dot(ng, bs->wi) > 0) {
          const BsdfEval e = bsdf->eval_pdf(out, frame.to_local(bs->wi));
          if (!e.f.is_black()) {
            candidates[count++] = {
                throughput * e.f * bs->radiance * mis_weight_over_pdf(bs->pdf, e.pdf), bs->wi,
                kInfinity};
          }
        }
      }
      if (depth < kEveryShadowDepth || count == 1) {
        for (int i = 0; i < count; ++i) {
          const ShadowCandidate& c = candidates[i];
          if (!occluded(start, c.direction, c.distance)) add(sum, c.contribution, depth);
        }
      } else if (count > 1) {
        double weights[3], total = 0;
        for (int i = 0; i < count; ++i) {
          const Spectrum& c = candidates[i].contribution;
          total += weights[i] = c.r + c.g + c.b;
        }
        if (total > 0) {
          double u = sampler.get1d(slot + kSlotShadow) * total;
          int chosen = 0;
          while (chosen + 1 < count && u >= weights[chosen]) u -= weights[chosen++];
          const ShadowCandidate& c = candidates[chosen];
          if (weights[chosen] > 0 && !occluded(start, c.direction, c.distance)) {
            add(sum, c.contribution * (total / weights[chosen]), depth);
          }
        }
      }

      // Continue the path by sampling the BSDF.
      const double u_lobe = bsdf->is_lambertian() ? 0.0 : sampler.get1d(slot + kSlotLobe);
      auto bs = bsdf->sample(out, u_lobe, sampler.get2d(slot + kSlotDirection));
      if (!bs) break;
      Vec3 wi = frame.to_world(bs->wi);
      if (dot(wi, ng) <= 0) break;  // below the true surface (shading normals)
      throughput = throughput * bs->weight;
      bsdf_pdf = bs->pdf;
      if (depth + 1 >= kRouletteDepth) {
        // sqrt: a path that has lost most of its throughput still goes on fairly often, so
        // the survivors are weighed up by less (fewer bright outliers: on the room benchmark
        // 8% less RMSE for 1-3% more time than q = max throughput).
        const double q = std::sqrt(throughput.max());
        if (!(q > 0)) break;
        if (q < 1) {
          if (sampler.get1d(slot + kSlotRoulette) >= q) break;
          throughput = throughput * (1.0 / q);
        }
      }
      origin = start;
      direction = normalize(wi);
    }
    return sum;
  }

  const RenderSettings& settings() const { return settings_; }

 private:
  // material_rows_ (every material's row, as if its roughness had no texture), then
  // shading_.
  void prepare_shading() {
    material_rows_.reserve(scene_.materials.size());
    for (const Material& m : scene_.materials) {
      material_rows_.push_back(
          PrincipledBsdf(to_spectrum(m.base_color), m.metallic, m.roughness, m.specular)
              .albedo_row());
    }
    shading_.resize(scene_.meshes.size());
    for (size_t i = 0; i < scene_.meshes.size(); ++i) {
      const Mesh& mesh = scene_.meshes[i];
      MeshShading& shading = shading_[i];
      const Material* m = material_of(scene_, mesh);
      if (m != nullptr && !texture_of(scene_, m->metallic_roughness_texture)) {
        shading.row = &material_rows_[static_cast<size_t>(m - scene_.materials.data())];
      }
      if (!uniform_look(scene_, mesh)) continue;
      Hit any;  // look_at() reads only the mesh's material (or albedo) when the look is uniform
      any.mesh = &mesh;
      const SurfaceLook look = look_at(scene_, any);
      shading.bsdf.emplace(bsdf_of(look));
      shading.emission = look.emission;
      if (shading.row != nullptr) shading.bsdf->use_albedo_row(shading.row);
    }
  }

  // Lift secondary ray origins off the surface they start from (scaled with the
  // coordinates' magnitude, since float spacing grows with it).
  static Vec3 offset_origin(Vec3 p, Vec3 n) {
    double scale = std::max({std::abs(p.x), std::abs(p.y), std::abs(p.z)});
    return p + n * (1e-4 + 1e-5 * scale);
  }

  // A direction towards the sun: uniform over its disk, by the concentric map as for
  // spheres (lights.cpp), or its centre when it has no extent.
  Vec3 sun_direction(const SobolSampler& sampler, uint32_t slot) const {
    if (!(sun_one_minus_cos_ > 0)) return scene_.sun.direction;
    const auto [x, y] = concentric_disk(sampler.get2d(slot));
    const double omc = (x * x + y * y) * sun_one_minus_cos_;
    const double scale = std::sqrt(sun_one_minus_cos_ * (2.0 - omc));
    // Unit by construction: (x^2 + y^2) scale^2 + (1 - omc)^2 = 1.
    return sun_frame_.to_world({x * scale, y * scale, 1.0 - omc});
  }

  // Adds one light contribution to a path's sum. Light that has bounced at least once
  // (`bounces` > 0) is clamped to RenderSettings::clamp_indirect, as the sum of its
  // channels, the way Cycles clamps indirect light.
  void add(Spectrum& sum, Spectrum contribution, int bounces) const {
    const double limit = settings_.clamp_indirect;
    if (bounces > 0 && limit > 0) {
      const double total = contribution.r + contribution.g + contribution.b;
      if (total > limit) contribution = contribution * (limit / total);
    }
    sum += contribution;
  }

  const RenderSettings& settings_;
  LocalLights local_lights_;
  std::optional<Background> background_;
  Mat3 camera_to_world_;
  ShadingFrame sun_frame_;        // about Sun::direction
  double sun_one_minus_cos_ = 0;  // of the sun disk's angular radius; 0: a delta light
  std::vector<SpecularAlbedoRow> material_rows_;  // per Scene::materials
  std::vector<MeshShading> shading_;              // per Scene::meshes; only when shading
};

// Visibility of every keypoint set's points by ray casting (see render.h).
void label_keypoints(const SceneTracer& tracer, Frame& frame) {
  const Scene& scene = tracer.scene();
  const Camera& cam = scene.camera;
  frame.keypoints.resize(scene.keypoints.size());
  for (size_t s = 0; s < scene.keypoints.size(); ++s) {
    const KeypointSet& set = scene.keypoints[s];
    frame.keypoints[s].assign(set.points.size(), Frame::Keypoint{});
    for (size_t k = 0; k < set.points.size(); ++k) {
      Frame::Keypoint& out = frame.keypoints[s][k];
      const Vec3 p = set.points[k];
      const Vec3 c = cam.to_camera(p);
      if (!(c.z > 1e-6)) continue;
      auto [x, y] = cam.project(c);
      if (!(x >= 0 && y >= 0 && x < cam.width && y < cam.height)) continue;
      out.x = x;
      out.y = y;
      const Vec3 towards = p - cam.position;
      const double distance = length(towards);
      Hit hit = tracer.trace(cam.position, towards);
      // The first surface along the ray must be this instance's, no nearer than the
      // point's depth under the surface (plus a millimetre of slack for the tessellation).
      const double tolerance = set.depth[k] + 0.001;
      bool visible = !hit.valid || (hit.mesh->instance_id == set.instance_id &&
                                    length(hit.point - cam.position) >= distance - tolerance);
      out.v = visible ? 2 : 1;
    }
  }
}

struct TileRect {
  int x0, y0, x1, y1;
};

// The label layers that need where on the triangle the hit is (a varying albedo, part
// surface coordinates, motion), and every layer of a hit with no plane to meet (a degenerate
// triangle, a ray in its plane): from the full hit (SceneTracer::resolve()).
[[gnu::noinline]] void write_labels_of_hit(const SceneTracer& tracer, const RTCRayHit& rh,
                                           size_t pixel, Frame& frame, TriangleCache& triangle,
                                           bool uniform, bool plane) {
  const Scene& scene = tracer.scene();
  const Camera& cam = scene.camera;
  const Hit hit = tracer.resolve(rh, &triangle);
  const Mesh& mesh = *hit.mesh;
  if (!plane) {
    if (!frame.depth.empty()) {
      frame.depth[pixel] = static_cast<float>(dot(cam.rotation.row(2), hit.point - cam.position));
    }
    if (!frame.normal.empty()) {
      const Vec3 n = cam.rotation * hit.normal;
      frame.normal[3 * pixel] = static_cast<float>(n.x);
      frame.normal[3 * pixel + 1] = static_cast<float>(n.y);
      frame.normal[3 * pixel + 2] = static_cast<float>(n.z);
    }
  }
  if (!frame.albedo.empty() && !uniform) {
    const Rgb albedo = look_at(scene, hit).base;
    frame.albedo[3 * pixel] = albedo.r;
    frame.albedo[3 * pixel + 1] = albedo.g;
    frame.albedo[3 * pixel + 2] = albedo.b;
  }
  if (!frame.uv.empty() && hit.part() != 0) {
    auto uv = hit.part_uv();
    frame.uv[2 * pixel] = uv[0];
    frame.uv[2 * pixel + 1] = uv[1];
  }
  if (!frame.motion.empty() && mesh.next_positions.size() == mesh.positions.size()) {
    const auto next = hit.interpolate<3>(mesh.next_positions);
    const Vec3 now_c = cam.to_camera(hit.point),
               next_c = cam.to_camera({next[0], next[1], next[2]});
    if (now_c.z > 1e-6 && next_c.z > 1e-6) {
      const auto [x0, y0] = cam.project(now_c);
      const auto [x1, y1] = cam.project(next_c);
      frame.motion[2 * pixel] = static_cast<float>(x1 - x0);
      frame.motion[2 * pixel + 1] = static_cast<float>(y1 - y0);
    }
  }
}

// A row of consecutive pixels in a stream of label rays: rays `first` .. `first` + `count`
// - 1 go through pixels `pixel` .. `pixel` + `count` - 1, in camera axes along (a[i], b, 1).
struct LabelRow {
  int first, count;
  size_t pixel;     // in the frame's layers
  const double* a;  // (x + 0.5 - cx) / fx of each pixel
  double b;         // (y + 0.5 - cy) / fy
};

// Writes the label layers of the pixel centre rays of one tile. Per ray it does only what
// differs from ray to ray; what a triangle or a mesh gives every ray that hits it is worked
// out once per run of hits on it (coherent rays hit the same triangle several times in a
// row, some 11 on the benchmark room).
//
// Depth comes from the triangle's plane, met by the pixel's own ray from the centre of
// projection in double: with the plane n . p = n . v0 and the ray R^T (a, b, 1) t, the depth
// is n . (v0 - c) / ((R n) . (a, b, 1)). Like SceneTracer::resolve() it depends only on the
// pixel and the triangle Embree found, not on the ISA or kernel Embree picked. The normal is
// the triangle's, turned towards the ray, in camera axes. Layers that need where on the
// triangle the hit is (a varying albedo, part surface coordinates, motion) and degenerate
// cases (no plane, a ray in it) take the full hit (write_labels_of_hit()). Every pixel of the
// depth, normal, albedo, instance, semantic and part layers is written, a miss with the
// background, so they need no filling beforehand.
class LabelWriter {
 public:
  LabelWriter(const SceneTracer& tracer, Frame& frame)
      : tracer_(tracer),
        scene_(tracer.scene()),
        cam_(scene_.camera),
        frame_(frame),
        depth_(frame.depth.empty() ? nullptr : frame.depth.data()),
        normal_(frame.normal.empty() ? nullptr : frame.normal.data()),
        albedo_(frame.albedo.empty() ? nullptr : frame.albedo.data()),
        instance_(frame.instance.empty() ? nullptr : frame.instance.data()),
        semantic_(frame.semantic.empty() ? nullptr : frame.semantic.data()),
        part_(frame.part.empty() ? nullptr : frame.part.data()) {}

  // The label rays `rays` of the rows `rows`, traced. They are written in segments: rays
  // on one triangle (or none) through consecutive pixels of a row.
  void write(const RTCRayHit* rays, const LabelRow* rows, int row_count) {
    // The segments first, and the loads of their triangles started together: the triangles'
    // indices and vertices are rarely in cache (the BVH keeps copies of its own), and one miss
    // after another costs more than the writes.
    std::array<int, kStreamSize + 1> starts;
    std::array<uint8_t, kStreamSize> row_of;  // the row of each segment
    int segments = 0;
    for (int r = 0; r < row_count; ++r) {
      const LabelRow& row = rows[r];
      for (int i = row.first; i < row.first + row.count; ++i) {
        const RTCHit& hit = rays[i].hit;
        if (i == row.first || hit.geomID != rays[i - 1].hit.geomID ||
            hit.primID != rays[i - 1].hit.primID) {
          starts[segments] = i;
          row_of[segments++] = static_cast<uint8_t>(r);
          if (hit.geomID != RTC_INVALID_GEOMETRY_ID)
            __builtin_prefetch(tracer_.triangle_indices(hit.geomID, hit.primID));
        }
      }
    }
    starts[segments] = row_count > 0 ? rows[row_count - 1].first + rows[row_count - 1].count : 0;
    for (int g = 0; g < segments; ++g) {
      const RTCHit& hit = rays[starts[g]].hit;
      if (hit.geomID != RTC_INVALID_GEOMETRY_ID) tracer_.prefetch_triangle(hit.geomID, hit.primID);
    }
    for (int g = 0; g < segments; ++g) {
      const int i = starts[g], n = starts[g + 1] - i;
      const LabelRow& row = rows[row_of[g]];
      const size_t pixel = row.pixel + static_cast<size_t>(i - row.first);
      const unsigned geom = rays[i].hit.geomID, prim = rays[i].hit.primID;
      if (geom == RTC_INVALID_GEOMETRY_ID) {
        write_background(pixel, n);
        continue;
      }
      if (triangle_.geom != geom || triangle_.prim != prim) load(geom, prim);
      write_segment(rays + i, pixel, row.a + (i - row.first), row.b, n);
    }
  }

 private:
  // The layers' background values at pixels `pixel` .. `pixel` + `n` - 1, which no ray hit.
  void write_background(size_t pixel, int n) {
    static constexpr std::array<float, 4> kFar{kInfinity, kInfinity, kInfinity, kInfinity};
    static constexpr std::array<float, 12> kZero3{};
    static constexpr std::array<uint32_t, 4> kZero{};
    if (depth_ != nullptr) fill(depth_ + pixel, n, kFar);
    if (normal_ != nullptr) fill(normal_ + 3 * pixel, n, kZero3);
    if (albedo_ != nullptr) fill(albedo_ + 3 * pixel, n, kZero3);
    if (instance_ != nullptr) fill(instance_ + pixel, n, kZero);
    if (semantic_ != nullptr) fill(semantic_ + pixel, n, kZero);
    if (part_ != nullptr) fill(part_ + pixel, n, kZero);
  }

  // The layer value of four pixels (W values each): what fill() copies.
  template <typename T, size_t W>
  static std::array<T, 4 * W> four(const std::array<T, W>& value) {
    std::array<T, 4 * W> out;
    for (size_t i = 0; i < out.size(); ++i) out[i] = value[i % W];
    return out;
  }

  // The pixel value `four` holds four times, at each of `n` pixels from `out` on: four
  // pixels a copy.
  template <typename T, size_t N>
  static void fill(T* out, int n, const std::array<T, N>& four) {
    constexpr size_t kWidth = N / 4;
    int k = 0;
    for (; k + 4 <= n; k += 4, out += N) std::memcpy(out, four.data(), sizeof four);
    for (; k < n; ++k, out += kWidth) std::memcpy(out, four.data(), kWidth * sizeof(T));
  }

  // The `n` rays `rays` on the triangle last load()ed, through pixels `pixel` on with the
  // camera directions (a[k], b, 1). Only the depth differs from ray to ray: a pinhole ray
  // meets the plane in front of the camera (depth > 0) from the side the camera is on, so the
  // normal label is the segment's.
  void write_segment(const RTCRayHit* rays, size_t pixel, const double* a, double b, int n) {
    const Vec3 normal = camera_normal_;
    const double offset = plane_offset_, across = normal.y * b;
    // A degenerate triangle has no unit normal (all zeros) and an offset of 0, so its depth
    // is NaN for every ray: one finiteness test covers it, a ray in the plane (facing 0) and
    // a plane too far for a double. Those rays take the full hit.
    auto depth_at = [&](int k) { return offset / ((normal.x * a[k] + across) + normal.z); };
    bool planes = true;
    if (depth_ != nullptr) {
      float* const out = depth_ + pixel;
      for (int k = 0; k < n; ++k) {
        const double depth = depth_at(k);
        planes &= std::isfinite(depth);
        out[k] = static_cast<float>(depth);
      }
    } else if (normal_ != nullptr) {
      for (int k = 0; k < n; ++k) planes &= std::isfinite(depth_at(k));
    }
    if (normal_ != nullptr) fill(normal_ + 3 * pixel, n, normal4_[offset > 0 ? 1 : 0]);
    if (albedo_ != nullptr && uniform_) fill(albedo_ + 3 * pixel, n, albedo4_);
    if (instance_ != nullptr) fill(instance_ + pixel, n, instance4_);
    if (semantic_ != nullptr) fill(semantic_ + pixel, n, semantic4_);
    if (part_ != nullptr) fill(part_ + pixel, n, part4_);
    if (needs_hit_ || !planes) [[unlikely]] {
      const bool planar = depth_ != nullptr || normal_ != nullptr;
      for (int k = 0; k < n; ++k) {
        const bool plane = !planar || std::isfinite(depth_at(k));
        if (needs_hit_ || !plane) {
          write_labels_of_hit(tracer_, rays[k], pixel + static_cast<size_t>(k), frame_, triangle_,
                              uniform_, plane);
        }
      }
    }
  }

  void load(unsigned geom, unsigned prim) {
    triangle_ = tracer_.triangle(geom, prim);
    // The unit normal (or zero) in camera axes; the label of a ray meeting the back is its
    // negation, exactly.
    camera_normal_ = cam_.rotation * triangle_.unit_normal;
    const std::array<float, 3> front{static_cast<float>(camera_normal_.x),
                                     static_cast<float>(camera_normal_.y),
                                     static_cast<float>(camera_normal_.z)};
    if (normal_ != nullptr) {
      normal4_[0] = four(front);
      normal4_[1] = four(std::array{-front[0], -front[1], -front[2]});
    }
    plane_offset_ = dot(triangle_.unit_normal, triangle_.v0 - cam_.position);
    const Mesh& mesh = scene_.meshes[geom];
    if (part_ != nullptr) part4_ = four(std::array{mesh.parts.empty() ? 0u : mesh.parts[prim]});
    if (mesh_ == &mesh) return;
    mesh_ = &mesh;
    instance4_ = four(std::array{mesh.instance_id});
    semantic4_ = four(std::array{static_cast<uint32_t>(mesh.semantic)});
    uniform_ = uniform_look(scene_, mesh);
    needs_hit_ = (albedo_ != nullptr && !uniform_) ||
                 (!frame_.uv.empty() && !mesh.parts.empty() && !mesh.uvs.empty()) ||
                 (!frame_.motion.empty() && mesh.next_positions.size() == mesh.positions.size());
    if (uniform_) {
      // look_at() reads only the mesh's material (or albedo) when the look is uniform.
      const Hit any{true, triangle_.v0, triangle_.unit_normal, 0, &mesh, prim, 0, 0};
      const Rgb albedo = look_at(scene_, any).base;
      albedo4_ = four(std::array{albedo.r, albedo.g, albedo.b});
    }
  }

  const SceneTracer& tracer_;
  const Scene& scene_;
  const Camera& cam_;
  Frame& frame_;
  float* depth_;
  float* normal_;
  float* albedo_;
  uint32_t* instance_;
  uint32_t* semantic_;
  uint32_t* part_;
  // The last triangle hit, and its layer values four pixels at a time (fill()).
  TriangleCache triangle_;
  Vec3 camera_normal_;                  // cam.rotation * unit normal
  double plane_offset_ = 0;             // dot(unit normal, v0 - camera position)
  std::array<float, 12> normal4_[2]{};  // camera_normal_ in float, and negated
  std::array<uint32_t, 4> part4_{};
  // The last mesh hit.
  const Mesh* mesh_ = nullptr;
  bool uniform_ = false;    // its albedo label is the same everywhere: `albedo4_`
  bool needs_hit_ = false;  // a layer asked for needs the full hit on it
  std::array<float, 12> albedo4_{};
  std::array<uint32_t, 4> instance4_{}, semantic4_{};
};

// Labels: one pinhole ray through each pixel centre (camera-to-world * (a, b, 1), its
// per-column and per-row products worked out once per tile) from the camera's position in
// float, traced in coherent streams of up to kStreamSize.
void label_tile(const SceneTracer& tracer, const TileRect& tile, Frame& frame) {
  const Camera& cam = tracer.scene().camera;
  const Mat3 to_world = cam.rotation.transposed();
  // What every label ray shares (its origin in float, and the fields Embree only reads) is
  // set once per render thread and frame; each ray's own fields, and those Embree writes
  // (tfar and the hit), per ray.
  const Vec3 origin{static_cast<float>(cam.position.x), static_cast<float>(cam.position.y),
                    static_cast<float>(cam.position.z)};
  struct Rays {
    std::array<RTCRayHit, kStreamSize> rays;
    std::optional<Vec3> origin;  // the one they were set for
  };
  thread_local Rays stream;
  std::array<RTCRayHit, kStreamSize>& rays = stream.rays;
  if (stream.origin != origin) {
    for (RTCRayHit& rh : rays) set_ray(rh.ray, origin, Vec3{0, 0, 1}, kInfinity, 0);
    stream.origin = origin;
  }
  // (to_world * {a, b, 1})[k] = (m[k][0] * a + m[k][1] * b) + m[k][2]
  std::array<double, 64> column_a;  // a of each column in the tile (tile_size <= 64)
  std::array<Vec3, 64> column;      // m[.][0] * a
  for (int x = tile.x0; x < tile.x1; ++x) {
    const double a = (x + 0.5 - cam.cx) / cam.fx;
    column_a[x - tile.x0] = a;
    column[x - tile.x0] = {to_world.m[0][0] * a, to_world.m[1][0] * a, to_world.m[2][0] * a};
  }
  std::array<LabelRow, kStreamSize> rows;  // of the stream
  int count = 0, row_count = 0;
  LabelWriter writer(tracer, frame);
  auto flush = [&] {
    tracer.trace_label_stream(rays.data(), count);
    writer.write(rays.data(), rows.data(), row_count);
    count = 0;
    row_count = 0;
  };
  for (int y = tile.y0; y < tile.y1; ++y) {
    const double b = (y + 0.5 - cam.cy) / cam.fy;
    const Vec3 row{to_world.m[0][1] * b, to_world.m[1][1] * b, to_world.m[2][1] * b};
    const size_t row_start = static_cast<size_t>(y) * frame.width;
    // The row in pieces that fit the stream.
    for (int x0 = tile.x0; x0 < tile.x1;) {
      const int x1 = std::min(tile.x1, x0 + (kStreamSize - count));
      rows[row_count++] = {count, x1 - x0, row_start + x0, &column_a[x0 - tile.x0], b};
      for (int x = x0; x < x1; ++x) {
        const Vec3& c = column[x - tile.x0];
        RTCRayHit& rh = rays[count];
        rh.ray.dir_x = static_cast<float>((c.x + row.x) + to_world.m[0][2]);
        rh.ray.dir_y = static_cast<float>((c.y + row.y) + to_world.m[1][2]);
        rh.ray.dir_z = static_cast<float>((c.z + row.z) + to_world.m[2][2]);
        rh.ray.tfar = kInfinity;
        rh.ray.id = static_cast<unsigned>(count);
        clear_hit(rh.hit);
        ++count;
      }
      if (count == kStreamSize) flush();
      x0 = x1;
    }
  }
  if (count > 0) flush();
}

// Colour: spp paths per pixel from the pixel's own sampler. A pixel's camera rays are traced
// together, kStreamSize at a time, as one coherent stream (they start at the same point and
// stay within the pixel); each path then goes on alone. Returns the dropped samples.
uint64_t shade_tile(const FrameTracer& tracer, const TileRect& tile, Frame& frame) {
  const RenderSettings& settings = tracer.settings();
  uint64_t invalid = 0;
  std::array<RTCRayHit, kStreamSize> rays;
  std::array<Vec3, kStreamSize> origins, directions;
  TriangleCache triangle;
  for (int y = tile.y0; y < tile.y1; ++y) {
    for (int x = tile.x0; x < tile.x1; ++x) {
      const size_t pixel = static_cast<size_t>(y) * frame.width + x;
      SobolSampler sampler(settings.seed, pixel);
      Spectrum sum;
      int valid = 0;
      for (int first = 0; first < settings.spp; first += kStreamSize) {
        const int count = std::min(kStreamSize, settings.spp - first);
        for (int i = 0; i < count; ++i) {
          sampler.start_sample(static_cast<uint32_t>(first + i));
          tracer.camera_ray(x, y, sampler, origins[i], directions[i]);
          set_ray(rays[i].ray, origins[i], directions[i], kInfinity, static_cast<unsigned>(i));
          clear_hit(rays[i].hit);
        }
        tracer.trace_stream(rays.data(), count);
        for (int i = 0; i < count; ++i) {
          sampler.start_sample(static_cast<uint32_t>(first + i));
          const Hit hit = tracer.resolve(rays[i], &triangle);
          const Spectrum l = tracer.radiance(origins[i], directions[i], hit, sampler);
          if (std::isfinite(l.r) && std::isfinite(l.g) && std::isfinite(l.b)) {
            sum += l;
            ++valid;
          } else {
            ++invalid;
          }
        }
      }
      const double inv = valid > 0 ? 1.0 / valid : 0.0;
      frame.rgb[3 * pixel] = static_cast<float>(sum.r * inv);
      frame.rgb[3 * pixel + 1] = static_cast<float>(sum.g * inv);
      frame.rgb[3 * pixel + 2] = static_cast<float>(sum.b * inv);
    }
  }
  return invalid;
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

// One triangle geometry from `positions` and `indices`, attached to `target` as `id`.
tl::expected<void, std::string> add_triangles(RTCDevice device, RTCScene target,
                                              const std::vector<float>& positions,
                                              const std::vector<uint32_t>& indices, unsigned id) {
  GeometryPtr geometry(rtcNewGeometry(device, RTC_GEOMETRY_TYPE_TRIANGLE));
  if (!geometry) return embree_failure("cannot create a geometry", rtcGetDeviceError(device));
  auto* vertex_buffer = static_cast<float*>(
      rtcSetNewGeometryBuffer(geometry.get(), RTC_BUFFER_TYPE_VERTEX, 0, RTC_FORMAT_FLOAT3,
                              3 * sizeof(float), positions.size() / 3));
  auto* index_buffer = static_cast<uint32_t*>(
      rtcSetNewGeometryBuffer(geometry.get(), RTC_BUFFER_TYPE_INDEX, 0, RTC_FORMAT_UINT3,
                              3 * sizeof(uint32_t), indices.size() / 3));
  if (vertex_buffer == nullptr || index_buffer == nullptr) {
    return embree_failure("cannot allocate geometry buffers", rtcGetDeviceError(device));
  }
  std::copy(positions.begin(), positions.end(), vertex_buffer);
  std::copy(indices.begin(), indices.end(), index_buffer);
  rtcSetGeometryBuildQuality(geometry.get(), RTC_BUILD_QUALITY_MEDIUM);
  rtcCommitGeometry(geometry.get());
  rtcAttachGeometryByID(target, geometry.get(), id);
  return {};
}

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
    const MeshShape* shape = placed_shape(scene, mesh);
    if (shape == nullptr) {
      if (auto added = add_triangles(device, rtc_scene.get(), mesh.positions, mesh.indices, id);
          !added)
        return tl::unexpected(added.error());
      continue;
    }
    ScenePtr& shape_scene = shape_scenes[static_cast<size_t>(mesh.shape)];
    if (!shape_scene) {
      shape_scene.reset(rtcNewScene(device));
      if (!shape_scene) return embree_failure("cannot create a scene", rtcGetDeviceError(device));
      rtcSetSceneBuildQuality(shape_scene.get(), RTC_BUILD_QUALITY_MEDIUM);
      rtcSetSceneFlags(shape_scene.get(), flags);
      if (auto added =
              add_triangles(device, shape_scene.get(), shape->positions, shape->indices, 0);
          !added)
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
                         layer(Layer::kDepth, frame.depth, 1, kInfinity, true),
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
uint64_t render_tiles(const FrameTracer& tracer, const RenderSettings& settings, bool labels,
                      bool shading, tbb::task_arena& arena, Frame& frame) {
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
            const TileRect rect{x0, y0, std::min(x0 + tile, frame.width),
                                std::min(y0 + tile, frame.height)};
            if (labels) label_tile(tracer, rect, frame);
            if (shading)
              invalid_samples.fetch_add(shade_tile(tracer, rect, frame), std::memory_order_relaxed);
          }
        },
        tbb::simple_partitioner());
  });
  return invalid_samples.load();
}

}  // namespace

struct Renderer::Impl {
  DevicePtr device;
  bool filter_supported = false;
  std::atomic<int64_t> bytes{0};  // Embree's memory on `device` (its memory monitor)
};

Renderer::Renderer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Renderer::~Renderer() = default;

tl::expected<std::unique_ptr<Renderer>, std::string> Renderer::create() {
  // Default configuration: Embree's "threads=N" option would cap the whole process's
  // oneTBB parallelism (a tbb::global_control), so BVH builds are instead kept on one
  // thread by committing inside a one-thread task_arena (see build_embree_scene()).
  DevicePtr device(rtcNewDevice(nullptr));
  if (!device) {
    return embree_failure("cannot create a device", rtcGetDeviceError(nullptr));
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
  auto built =
      build_embree_scene(impl_->device.get(), impl_->filter_supported, impl_->bytes, scene);
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

  FrameTracer tracer(built->scene.get(), scene, settings, impl_->filter_supported,
                     built->instanced > 0);
  const uint64_t invalid_samples = render_tiles(tracer, settings, labels, shading, arena, frame);
  if (settings.cancel != nullptr && settings.cancel->load())
    return tl::unexpected(std::string(kCancelled));
  label_keypoints(tracer, frame);
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
