// The path tracer (jobs-internal header): renders a Scene (scene.h) into float image layers
// with Embree 3. Embree stays inside render.cpp; this header shows only plain data.
//
// Light transport: Lambertian surfaces, cosine-weighted bounces, next-event estimation to
// the sun (a delta directional light) with shadow rays, and sky radiance for every ray that
// escapes. `max_bounces` counts indirect bounces after the first hit: 0 = direct sun plus
// sky light only.
//
// Label layers (depth, normal, albedo, instance, semantic) come from one ray through each
// pixel centre, so they are exact, never averaged. Conventions:
//   depth:    camera-space z (metres) of the first hit; +infinity where the ray hits nothing.
//   normal:   camera-space (OpenCV), unit, geometric, flipped to face the camera;
//             (0, 0, 0) for background.
//   albedo:   linear base colour of the first hit; (0, 0, 0) for background.
//   instance: Mesh::instance_id of the first hit; 0 for background.
//   semantic: SemanticClass of the first hit; 0 for background.
//   part:     DensePose body part (1..24) of the first hit (Mesh::parts); 0 elsewhere.
//   uv:       the part's surface coordinates (u, v) at the first hit, interpolated from
//             Mesh::uvs; (0, 0) where part is 0. With part: DensePose-style IUV.
//
// Keypoints (Frame::keypoints, one entry per Scene::humans, COCO-17 order): [x, y, v]
// with x, y the projection in pixels. v = 0 when the point is behind the camera or
// outside the image (x = y = 0 then, as COCO writes it); otherwise a ray from the camera
// towards the keypoint is traced: v = 2 when its first hit is the person's own surface
// within the keypoint's radius (Human::keypoint_radius: how deep under the skin the point
// lies), v = 1 when something else (another object, or another part of the same body)
// is hit first.
//
// Determinism: every pixel owns a Pcg32 stream keyed by (sample seed, pixel index), tiles
// write disjoint pixels, the BVH is built on one thread, hits tied at equal distance
// resolve to the lowest (geometry, primitive), and the hit distance and barycentrics are
// recomputed in double precision from the triangle's vertices. The output is therefore the
// same for any thread count.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string_view>
#include <string>
#include <tl/expected.hpp>
#include <vector>

#include "jobs/scene.h"

namespace synthfarm::jobs {

struct RenderSettings {
  int spp = 16;         // samples per pixel, >= 1
  int max_bounces = 2;  // indirect bounces after the first hit, >= 0
  uint64_t seed = 0;    // the sample's seed (sample_seed(job seed, index))
  int threads = 0;      // render threads for this frame; 0 = all cores
  // When set and it becomes true, render() stops between tiles and returns the error
  // kCancelled (a worker dropping a cancelled job's shard mid-sample).
  const std::atomic<bool>* cancel = nullptr;
};

// The error render() returns when RenderSettings::cancel was raised.
inline constexpr std::string_view kCancelled = "cancelled";

// Row-major pixel layers, (0, 0) = top-left; every vector holds width * height pixels
// (times 3 for the colour and vector layers, interleaved).
struct Frame {
  int width = 0, height = 0;
  std::vector<float> rgb;          // linear radiance
  std::vector<float> depth;        // camera z, metres; +inf for background
  std::vector<float> normal;       // camera space
  std::vector<float> albedo;       // linear
  std::vector<uint32_t> instance;  // instance id
  std::vector<uint32_t> semantic;  // SemanticClass
  std::vector<uint32_t> part;      // DensePose part, 0 = none
  std::vector<float> uv;           // (u, v) per pixel, interleaved
  // Per human (Scene::humans order), COCO-17 keypoints.
  struct Keypoint {
    double x = 0, y = 0;  // pixels
    int v = 0;            // 0 outside the image, 1 occluded, 2 visible
  };
  std::vector<std::array<Keypoint, kKeypointCount>> keypoints;
};

// Thread-safe: render() may be called from several threads at once. Owns the Embree device.
class Renderer {
 public:
  static tl::expected<std::unique_ptr<Renderer>, std::string> create();
  ~Renderer();
  Renderer(const Renderer&) = delete;
  Renderer& operator=(const Renderer&) = delete;

  // Renders every layer of `scene`. Errors name the Embree failure.
  tl::expected<Frame, std::string> render(const Scene& scene, const RenderSettings& settings) const;

 private:
  struct Impl;
  explicit Renderer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace synthfarm::jobs
