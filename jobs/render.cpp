// Embree 3 path tracer with exact label layers. See render.h for the light transport, the
// layer conventions and how determinism is kept.
#include "jobs/render.h"

#include <embree3/rtcore.h>
#include <fmt/format.h>
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/partitioner.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "jobs/rng.h"

namespace synthfarm::jobs {

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

// The closest hit accepted so far, carried through the intersection filter so that hits at
// exactly equal distance (shared edges, coincident faces) resolve to the lowest
// (geometry, primitive) whatever order the BVH traversal visits them in.
struct TieBreakContext {
  RTCIntersectContext base;  // must be first: Embree sees only this part
  float t = kInfinity;
  unsigned geom = kNoId;
  unsigned prim = kNoId;
};

void tie_break_filter(const RTCFilterFunctionNArguments* args) {
  auto* ctx = reinterpret_cast<TieBreakContext*>(const_cast<RTCIntersectContext*>(args->context));
  for (unsigned i = 0; i < args->N; ++i) {
    if (args->valid[i] == 0) continue;
    float t = RTCRayN_tfar(args->ray, args->N, i);
    unsigned geom = RTCHitN_geomID(args->hit, args->N, i);
    unsigned prim = RTCHitN_primID(args->hit, args->N, i);
    bool farther = t > ctx->t;
    bool loses_tie = t == ctx->t && (geom > ctx->geom || (geom == ctx->geom && prim > ctx->prim));
    if (farther || loses_tie) {
      args->valid[i] = 0;
      continue;
    }
    ctx->t = t;
    ctx->geom = geom;
    ctx->prim = prim;
  }
}

struct Hit {
  bool valid = false;
  Vec3 point;   // on the triangle, world
  Vec3 normal;  // unit geometric normal facing the incoming ray, world
  const Mesh* mesh = nullptr;
  size_t triangle = 0;
  double u = 0, v = 0;  // barycentrics of vertices 1 and 2

  // The surface colour at the hit: per-vertex colours interpolated, else the mesh albedo.
  Rgb albedo() const {
    if (mesh->colors.empty()) return mesh->albedo;
    const uint32_t* tri = &mesh->indices[3 * triangle];
    const float* c0 = &mesh->colors[3 * static_cast<size_t>(tri[0])];
    const float* c1 = &mesh->colors[3 * static_cast<size_t>(tri[1])];
    const float* c2 = &mesh->colors[3 * static_cast<size_t>(tri[2])];
    const double w0 = 1.0 - u - v;
    auto mix = [&](int c) { return static_cast<float>(w0 * c0[c] + u * c1[c] + v * c2[c]); };
    return {mix(0), mix(1), mix(2)};
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
};

// Everything one frame's render threads share, read-only once built.
class FrameTracer {
 public:
  FrameTracer(RTCScene rtc_scene, const Scene& scene, const RenderSettings& settings)
      : rtc_scene_(rtc_scene), scene_(scene), settings_(settings) {}

  Hit trace(Vec3 origin, Vec3 direction) const {
    RTCRayHit rh;
    set_ray(rh.ray, origin, direction);
    rh.hit.geomID = RTC_INVALID_GEOMETRY_ID;
    rh.hit.primID = RTC_INVALID_GEOMETRY_ID;
    rh.hit.instID[0] = RTC_INVALID_GEOMETRY_ID;
    TieBreakContext ctx;
    rtcInitIntersectContext(&ctx.base);
    rtcIntersect1(rtc_scene_, &ctx.base, &rh);
    Hit hit;
    if (rh.hit.geomID == RTC_INVALID_GEOMETRY_ID) return hit;

    // Recompute the barycentrics in double from the triangle itself (Moller-Trumbore) with
    // the float ray Embree traced; the hit point, its depth and the normal follow from them,
    // so shading and labels do not depend on the ISA (SSE, AVX2) Embree picked at run time.
    // Embree's own u, v are only a fallback for a degenerate determinant.
    const Mesh& mesh = scene_.meshes[rh.hit.geomID];
    const uint32_t* tri = &mesh.indices[3 * static_cast<size_t>(rh.hit.primID)];
    Vec3 v0 = mesh.vertex(tri[0]), v1 = mesh.vertex(tri[1]), v2 = mesh.vertex(tri[2]);
    Vec3 o{rh.ray.org_x, rh.ray.org_y, rh.ray.org_z};
    Vec3 d{rh.ray.dir_x, rh.ray.dir_y, rh.ray.dir_z};
    Vec3 e1 = v1 - v0, e2 = v2 - v0;
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
    Vec3 n = cross(e1, e2);
    double len = length(n);
    n = len > 0 ? n * (1.0 / len) : -normalize(d);
    if (dot(n, d) > 0) n = -n;
    hit.valid = true;
    hit.point = v0 + e1 * u + e2 * v;
    hit.normal = n;
    hit.mesh = &mesh;
    hit.triangle = rh.hit.primID;
    hit.u = u;
    hit.v = v;
    return hit;
  }

  bool occluded(Vec3 origin, Vec3 direction) const {
    RTCRay ray;
    set_ray(ray, origin, direction);
    RTCIntersectContext ctx;
    rtcInitIntersectContext(&ctx);
    rtcOccluded1(rtc_scene_, &ctx, &ray);
    return ray.tfar < 0;
  }

  // Radiance along one camera ray (direction need not be unit).
  std::array<double, 3> radiance(Vec3 origin, Vec3 direction, Pcg32& rng) const {
    std::array<double, 3> sum = {0, 0, 0}, throughput = {1, 1, 1};
    const Sun& sun = scene_.sun;
    for (int depth = 0;; ++depth) {
      Hit hit = trace(origin, direction);
      if (!hit.valid) {
        Rgb sky = scene_.sky.radiance(normalize(direction));
        sum[0] += throughput[0] * sky.r;
        sum[1] += throughput[1] * sky.g;
        sum[2] += throughput[2] * sky.b;
        break;
      }
      if (depth > settings_.max_bounces) break;
      const Rgb albedo = hit.albedo();
      Vec3 start = offset_origin(hit.point, hit.normal);
      double cos_sun = dot(hit.normal, sun.direction);
      if (sun.intensity > 0 && cos_sun > 0 && !occluded(start, sun.direction)) {
        double e = sun.intensity * cos_sun;
        sum[0] += throughput[0] * albedo.r * e;
        sum[1] += throughput[1] * albedo.g * e;
        sum[2] += throughput[2] * albedo.b * e;
      }
      // Cosine-weighted sampling: BRDF * cos / pdf = albedo.
      throughput[0] *= albedo.r;
      throughput[1] *= albedo.g;
      throughput[2] *= albedo.b;
      if (throughput[0] == 0 && throughput[1] == 0 && throughput[2] == 0) break;
      origin = start;
      direction = cosine_direction(hit.normal, rng);
    }
    return sum;
  }

  const Scene& scene() const { return scene_; }
  const RenderSettings& settings() const { return settings_; }

 private:
  static void set_ray(RTCRay& ray, Vec3 origin, Vec3 direction) {
    ray.org_x = static_cast<float>(origin.x);
    ray.org_y = static_cast<float>(origin.y);
    ray.org_z = static_cast<float>(origin.z);
    ray.tnear = 0.0f;
    ray.dir_x = static_cast<float>(direction.x);
    ray.dir_y = static_cast<float>(direction.y);
    ray.dir_z = static_cast<float>(direction.z);
    ray.time = 0.0f;
    ray.tfar = kInfinity;
    ray.mask = 0xFFFFFFFFu;
    ray.id = 0;
    ray.flags = 0;
  }

  // Lift secondary ray origins off the surface they start from (scaled with the
  // coordinates' magnitude, since float spacing grows with it).
  static Vec3 offset_origin(Vec3 p, Vec3 n) {
    double scale = std::max({std::abs(p.x), std::abs(p.y), std::abs(p.z)});
    return p + n * (1e-4 + 1e-5 * scale);
  }

  // Cosine-weighted direction about unit n: a uniform point on the unit disk (by
  // rejection, which needs no trigonometry) lifted to the hemisphere (Malley's method),
  // in an orthonormal basis after Duff et al. 2017.
  static Vec3 cosine_direction(Vec3 n, Pcg32& rng) {
    double x = 0, y = 0, r2 = 0;
    do {
      x = 2.0 * rng.next_double() - 1.0;
      y = 2.0 * rng.next_double() - 1.0;
      r2 = x * x + y * y;
    } while (r2 >= 1.0);
    double z = std::sqrt(1.0 - r2);
    double sign = std::copysign(1.0, n.z);
    double a = -1.0 / (sign + n.z), b = n.x * n.y * a;
    Vec3 t{1.0 + sign * n.x * n.x * a, sign * b, -sign * n.x};
    Vec3 bt{b, sign + n.y * n.y * a, -n.y};
    return t * x + bt * y + n * z;
  }

  RTCScene rtc_scene_;
  const Scene& scene_;
  const RenderSettings& settings_;
};

constexpr int kTile = 16;

// COCO keypoints of every human with visibility by ray casting (see render.h).
void label_keypoints(const FrameTracer& tracer, Frame& frame) {
  const Scene& scene = tracer.scene();
  const Camera& cam = scene.camera;
  frame.keypoints.resize(scene.humans.size());
  for (size_t h = 0; h < scene.humans.size(); ++h) {
    const Human& human = scene.humans[h];
    for (int k = 0; k < kKeypointCount; ++k) {
      Frame::Keypoint& out = frame.keypoints[h][k];
      const Vec3 p = human.keypoints[k];
      const Vec3 c = cam.to_camera(p);
      if (!(c.z > 1e-6)) continue;
      auto [x, y] = cam.project(c);
      if (!(x >= 0 && y >= 0 && x < cam.width && y < cam.height)) continue;
      out.x = x;
      out.y = y;
      const Vec3 towards = p - cam.position;
      const double distance = length(towards);
      Hit hit = tracer.trace(cam.position, towards);
      // The first surface along the ray must be this person's, no nearer than the
      // keypoint's depth under the skin (plus a millimetre of slack for the tessellation).
      const double tolerance = human.keypoint_radius[k] + 0.001;
      bool visible = !hit.valid || (hit.mesh->instance_id == human.instance_id &&
                                    length(hit.point - cam.position) >= distance - tolerance);
      out.v = visible ? 2 : 1;
    }
  }
}

void render_tile(const FrameTracer& tracer, int tile, int tiles_x, Frame& frame) {
  const Scene& scene = tracer.scene();
  const Camera& cam = scene.camera;
  const RenderSettings& settings = tracer.settings();
  const Mat3 camera_to_world = cam.rotation.transposed();
  const uint64_t pixel_seed = mix64(settings.seed ^ purpose_hash("pixels"));
  const int x0 = (tile % tiles_x) * kTile, y0 = (tile / tiles_x) * kTile;
  const int x1 = std::min(x0 + kTile, frame.width), y1 = std::min(y0 + kTile, frame.height);
  auto ray_direction = [&](double u, double v) {
    return camera_to_world * Vec3{(u - cam.cx) / cam.fx, (v - cam.cy) / cam.fy, 1.0};
  };
  for (int y = y0; y < y1; ++y) {
    for (int x = x0; x < x1; ++x) {
      const size_t pixel = static_cast<size_t>(y) * frame.width + x;

      // Labels: one ray through the pixel centre.
      Hit hit = tracer.trace(cam.position, ray_direction(x + 0.5, y + 0.5));
      if (hit.valid) {
        Vec3 n = cam.rotation * hit.normal;
        frame.depth[pixel] = static_cast<float>(dot(cam.rotation.row(2), hit.point - cam.position));
        frame.normal[3 * pixel] = static_cast<float>(n.x);
        frame.normal[3 * pixel + 1] = static_cast<float>(n.y);
        frame.normal[3 * pixel + 2] = static_cast<float>(n.z);
        const Rgb albedo = hit.albedo();
        frame.albedo[3 * pixel] = albedo.r;
        frame.albedo[3 * pixel + 1] = albedo.g;
        frame.albedo[3 * pixel + 2] = albedo.b;
        frame.instance[pixel] = hit.mesh->instance_id;
        frame.semantic[pixel] = static_cast<uint32_t>(hit.mesh->semantic);
        frame.part[pixel] = hit.part();
        if (frame.part[pixel] != 0) {
          auto uv = hit.part_uv();
          frame.uv[2 * pixel] = uv[0];
          frame.uv[2 * pixel + 1] = uv[1];
        }
      }

      // Colour: spp jittered paths from this pixel's own random stream.
      Pcg32 rng(pixel_seed, pixel);
      std::array<double, 3> sum = {0, 0, 0};
      for (int s = 0; s < settings.spp; ++s) {
        double u = x + rng.next_double(), v = y + rng.next_double();
        std::array<double, 3> l = tracer.radiance(cam.position, ray_direction(u, v), rng);
        sum[0] += l[0];
        sum[1] += l[1];
        sum[2] += l[2];
      }
      const double inv = 1.0 / settings.spp;
      for (int c = 0; c < 3; ++c) frame.rgb[3 * pixel + c] = static_cast<float>(sum[c] * inv);
    }
  }
}

}  // namespace

struct Renderer::Impl {
  DevicePtr device;
  bool filter_supported = false;
};

Renderer::Renderer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Renderer::~Renderer() = default;

tl::expected<std::unique_ptr<Renderer>, std::string> Renderer::create() {
  // Default configuration: Embree's "threads=N" option would cap the whole process's
  // oneTBB parallelism (a tbb::global_control), so BVH builds are instead kept on one
  // thread by committing inside a one-thread task_arena (see render()).
  DevicePtr device(rtcNewDevice(nullptr));
  if (!device) {
    return embree_failure("cannot create a device", rtcGetDeviceError(nullptr));
  }
  auto impl = std::make_unique<Impl>();
  impl->filter_supported =
      rtcGetDeviceProperty(device.get(), RTC_DEVICE_PROPERTY_FILTER_FUNCTION_SUPPORTED) != 0;
  impl->device = std::move(device);
  return std::unique_ptr<Renderer>(new Renderer(std::move(impl)));
}

tl::expected<Frame, std::string> Renderer::render(const Scene& scene,
                                                  const RenderSettings& settings) const {
  const Camera& cam = scene.camera;
  if (cam.width <= 0 || cam.height <= 0) return tl::unexpected(std::string("render: empty image"));
  if (settings.spp < 1) return tl::unexpected(std::string("render: spp must be at least 1"));
  RTCDevice device = impl_->device.get();

  ScenePtr rtc_scene(rtcNewScene(device));
  if (!rtc_scene) return embree_failure("cannot create a scene", rtcGetDeviceError(device));
  for (size_t i = 0; i < scene.meshes.size(); ++i) {
    const Mesh& mesh = scene.meshes[i];
    if (mesh.indices.empty()) continue;
    GeometryPtr geometry(rtcNewGeometry(device, RTC_GEOMETRY_TYPE_TRIANGLE));
    if (!geometry) return embree_failure("cannot create a geometry", rtcGetDeviceError(device));
    size_t vertex_count = mesh.positions.size() / 3;
    auto* vertices = static_cast<float*>(
        rtcSetNewGeometryBuffer(geometry.get(), RTC_BUFFER_TYPE_VERTEX, 0, RTC_FORMAT_FLOAT3,
                                3 * sizeof(float), vertex_count));
    auto* indices = static_cast<uint32_t*>(
        rtcSetNewGeometryBuffer(geometry.get(), RTC_BUFFER_TYPE_INDEX, 0, RTC_FORMAT_UINT3,
                                3 * sizeof(uint32_t), mesh.triangle_count()));
    if (vertices == nullptr || indices == nullptr) {
      return embree_failure("cannot allocate geometry buffers", rtcGetDeviceError(device));
    }
    std::copy(mesh.positions.begin(), mesh.positions.end(), vertices);
    std::copy(mesh.indices.begin(), mesh.indices.end(), indices);
    if (impl_->filter_supported) {
      rtcSetGeometryIntersectFilterFunction(geometry.get(), tie_break_filter);
    }
    rtcCommitGeometry(geometry.get());
    rtcAttachGeometryByID(rtc_scene.get(), geometry.get(), static_cast<unsigned>(i));
  }
  // A one-thread arena makes Embree's (oneTBB) builder sequential, hence deterministic.
  tbb::task_arena build_arena(1);
  build_arena.execute([&] { rtcCommitScene(rtc_scene.get()); });
  if (RTCError error = rtcGetDeviceError(device); error != RTC_ERROR_NONE) {
    return embree_failure("building the scene failed", error);
  }

  Frame frame;
  frame.width = cam.width;
  frame.height = cam.height;
  const size_t pixels = static_cast<size_t>(cam.width) * cam.height;
  frame.rgb.assign(3 * pixels, 0.0f);
  frame.depth.assign(pixels, kInfinity);
  frame.normal.assign(3 * pixels, 0.0f);
  frame.albedo.assign(3 * pixels, 0.0f);
  frame.instance.assign(pixels, 0);
  frame.semantic.assign(pixels, 0);
  frame.part.assign(pixels, 0);
  frame.uv.assign(2 * pixels, 0.0f);

  FrameTracer tracer(rtc_scene.get(), scene, settings);
  const int tiles_x = (cam.width + kTile - 1) / kTile;
  const int tiles_y = (cam.height + kTile - 1) / kTile;
  tbb::task_arena arena(settings.threads > 0 ? settings.threads : tbb::task_arena::automatic);
  arena.execute([&] {
    tbb::parallel_for(
        tbb::blocked_range<int>(0, tiles_x * tiles_y, 1),
        [&](const tbb::blocked_range<int>& range) {
          for (int tile = range.begin(); tile < range.end(); ++tile) {
            if (settings.cancel != nullptr && settings.cancel->load(std::memory_order_relaxed)) return;
            render_tile(tracer, tile, tiles_x, frame);
          }
        },
        tbb::simple_partitioner());
  });
  if (settings.cancel != nullptr && settings.cancel->load()) return tl::unexpected(std::string(kCancelled));
  label_keypoints(tracer, frame);
  return frame;
}

}  // namespace synthfarm::jobs
