// The label pass: the label layers of a tile from one pinhole ray through each pixel
// centre, traced in coherent streams and written in segments of rays on one triangle
// (LabelWriter); and the keypoints' visibility (label_keypoints). Needs SceneTracer's rays
// only, none of the path tracer's.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <optional>

#include "render/internal/embree_scene.h"
#include "render/internal/passes.h"
#include "render/internal/surface_look.h"

namespace synthfarm::render::internal {

namespace {

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

}  // namespace

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

}  // namespace synthfarm::render::internal
