// The path tracer: renders a Scene (scene.h) into float image layers with Embree 3.
// Embree stays inside render/ (internal/embree_scene.h); this header shows only plain data.
//
// Light transport: unidirectional path tracing with next-event estimation. Surfaces carry
// glTF's metallic-roughness BSDF (bsdf.h: Lambert base + GGX specular, visible-normal
// sampling); meshes without a material stay purely Lambertian with their albedo / vertex
// colours. Textures and procedural patterns (textures.h) are evaluated at each hit. At every
// path vertex the lights are estimated by next-event estimation:
//   - the sun, a directional light (a white Lambertian surface facing it has radiance
//     Sun::intensity), sampled uniformly over its disk when Sun::angular_diameter_deg > 0;
//   - one local light (point, spot, rect, disk, sphere), chosen with probability
//     proportional to its power (lights.h), area lights sampled by area and spheres by the
//     cone they subtend, converted to solid angle;
//   - the background when it is worth importance-sampling (an environment map, or the
//     Preetham sky): a 2D distribution over luminance * sin(theta), built once per render.
// Each estimate is first worked out as if nothing were in the way; the first vertex then
// traces a shadow ray to every light, deeper vertices one, to a light chosen with
// probability proportional to its unoccluded contribution (divided by that probability:
// an unbiased estimate of the sum, exact wherever every light is visible).
// Area and sphere lights and the background are also reached by BSDF-sampled rays; both
// estimates are then weighed by multiple importance sampling (power heuristic). Gradient
// and uniform skies are reached by BSDF sampling only. Emissive materials count when a ray
// hits them (they are not light-sampled). `max_bounces` counts indirect bounces after the
// first hit: 0 = direct light only (light and sky reached by one segment from the first
// hit). After 3 bounces a path continues with probability min(1, sqrt(max throughput)) and is
// reweighted (Russian roulette, unbiased; the decision is a sampler dimension, so
// deterministic). RenderSettings::clamp_indirect optionally clamps light that has bounced at
// least once (biased; Cycles does the same by default). Area and sphere lights are not in
// the BVH: rays meet them analytically, and they cast no shadows. Radiance samples that come
// out NaN or infinite are dropped (the pixel averages its finite samples) and counted in
// Frame::invalid_samples.
//
// Camera: pinhole, or a thin lens when Camera::aperture_radius_m > 0 (points on the lens by
// the concentric disk map, focused on the plane at camera z = focus_distance_m).
//
// Motion blur (Scene::motion_blur): every camera path draws its moment in the shutter,
// uniform from open (0) to close (1), from a sampler slot of its own, and every ray of the
// path (camera ray, bounces, shadow rays) traces at that moment, so a moving surface lights
// and shadows itself where it is then. Meshes with Mesh::shutter_positions become Embree
// geometries with three time steps (open, mid = Mesh::positions, close) that Embree
// interpolates linearly by the ray's time; the camera ray starts where the camera is at
// that moment (Camera::shutter_positions; the rotation holds). Everything else holds still
// (instanced shapes, lights, the sky). Labels, keypoints and the motion layer are those of
// mid-shutter: their rays trace at time 0.5, where every moving mesh is exactly at
// Mesh::positions, from Camera::position, so they are bit for bit those of the scene
// without motion blur. Shading reads the mid-shutter attributes (shading normals, texture
// coordinates) at the hit's barycentrics on the triangle where it was at the path's moment.
//
// Sampling: an Owen-scrambled Sobol sampler (sampler.h) per pixel, seeded by (sample seed,
// pixel index) and indexed by (sample number, dimension slot); every slot of a path has a
// fixed number (pixel jitter, lens, then per bounce: light choice, light point, background,
// lobe, direction, roulette, sun disk, shadow choice; the shutter time, with motion blur
// only, in a slot far above the bounces' so that no other slot moves), so the noise is well
// stratified and never depends on tiles, threads or the order pixels are rendered in.
//
// Label layers (depth, normal, albedo, instance, semantic, part, uv) come from one pinhole
// ray through each pixel centre, so they are exact, never averaged. They are traced as
// coherent ray streams (rtcIntersect1M) per tile; depth and the normal come from the hit
// triangle's plane in double, ids and uniform albedos from per-triangle and per-mesh caches,
// and only layers that vary over a mesh (textures, vertex colours, part coordinates,
// motion) from the full hit. Conventions:
//   depth:    camera-space z (metres) of the first hit; +infinity where the ray hits nothing.
//   normal:   camera-space (OpenCV), unit, geometric, flipped to face the camera;
//             (0, 0, 0) for background.
//   albedo:   linear base colour of the first hit (material base colour times its texture or
//             pattern; Mesh::albedo / colors without a material); (0, 0, 0) for background.
//   instance: Mesh::instance_id of the first hit; 0 for background.
//   semantic: SemanticClass of the first hit; 0 for background.
//   part:     DensePose body part (1..24) of the first hit (Mesh::parts); 0 elsewhere.
//   uv:       the part's surface coordinates (u, v) at the first hit, interpolated from
//             Mesh::uvs; (0, 0) where part is 0. With part: DensePose-style IUV.
//   motion:   forward motion vector in pixels (x right, y down): where the surface point
//             seen at the pixel will be one frame later (Mesh::next_positions, at the same
//             barycentrics; the camera holds still) minus where it is now; (0, 0) for
//             background, static meshes, and points that leave the front of the camera.
// RenderSettings::layers selects which layers are computed and allocated (the others stay
// empty vectors); RenderSettings::labels_only skips light transport altogether: rgb, when
// requested, is all zeros.
//
// Keypoints (Frame::keypoints, one list per Scene::keypoints set, one entry per point):
// [x, y, v] with x, y the projection in pixels. v = 0 when the point is behind the camera
// or outside the image (x = y = 0 then, as COCO writes it); otherwise a ray from the
// camera towards the point is traced: v = 2 when its first hit is the set's own instance
// within the point's depth (KeypointSet::depth: how deep under the surface the point
// lies), v = 1 when something else (another object, or another part of the same body)
// is hit first.
//
// Determinism: every pixel owns its sampler, tiles write disjoint pixels, the BVH is built on
// one thread, hits tied at equal distance resolve to the lowest (mesh, triangle) (the intersect
// context's filter with per-ray state, also for streams; label rays trace without it and
// again with it where they land within 1e-3 of a triangle's edge, the only place a
// neighbour can tie), and the hit distance and barycentrics are recomputed in double
// precision from the triangle's vertices (a moving mesh's interpolated in double to the
// ray's time, as Embree interpolates them in float), so shading does not depend on which
// Embree kernel (SSE, AVX2, packets or single rays) found the hit.
//
// Instancing: a mesh placed from a shared shape (Mesh::shape, Scene::shapes) is traced as an
// Embree instance of that shape's BVH, built once per frame; the instance's id is the mesh's
// index, so a hit names the mesh and resolves on the mesh's own world-space triangles like
// any other. The glTF importer does it for every mesh that several nodes use.
// Every transcendental function that feeds the image is math.h's portable_* (no libm), the
// build never contracts to FMA, and the per-frame counters are integer sums. The output is
// therefore the same for any thread count, tile size and tile order.
//
// Memory: the Frame takes 60 bytes per pixel with every layer (124 MB at 1920 x 1080); the
// BVH (Embree's, medium build quality) a few times the triangle data, once per shape for
// instanced meshes (RenderTimings::bvh_bytes reports it). Beyond that a render thread holds
// only fixed-size ray streams on its stack (256 label rays and their pixel indices, about
// 23 KB; 256 camera rays with their origins and directions, about 32 KB) and its path state:
// nothing is allocated per ray or per sample, so per-thread memory is bounded and
// independent of resolution, spp and bounces. An environment map's sampling tables take
// 16 bytes per texel; the shading setup shared by the threads (each uniform mesh's BSDF, each
// material's row of the specular albedo table) under 300 bytes per mesh and material.
// Measured (bench/room_render.cpp --memory-probe under /usr/bin/time -v, maximum resident
// size, the generated room with 4 people, 133k triangles, 2 threads): 173 MB at
// 1920 x 1080 with all layers against 38 MB for a 1 x 1 frame of the same scene, i.e.
// 135 MB for the frame and its threads.
//
// Speed (that room plus a point light, 640 x 480, 64 spp, 4 bounces, 2 threads, AVX2):
// about 1.3-1.6 million paths per second; labels only, 3-4 million pixels per second
// including the BVH build (bench/room_render.cpp, run by hand). Against
// Blender Cycles and bare Embree: bench/cycles_compare.sh and docs/benchmarks.md.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

#include "render/layers.h"
#include "render/scene.h"

namespace synthfarm::render {

// Where a render's wall-clock time went (seconds), for benchmarks.
struct RenderTimings {
  double build_s = 0;  // the BVH (rtcCommitScene), one thread
  double trace_s = 0;  // labels and light transport, all render threads
  // Bytes Embree held for the frame's geometry and BVHs once built (its own memory
  // accounting for the renderer's device; exact while one render runs at a time).
  int64_t bvh_bytes = 0;
  size_t instanced_meshes = 0;  // meshes traced as instances of a shared shape BVH
};

struct RenderSettings {
  int spp = 16;         // samples per pixel, >= 1
  int max_bounces = 2;  // indirect bounces after the first hit, >= 0
  uint64_t seed = 0;    // the sample's seed (sample_seed(job seed, index))
  int threads = 0;      // render threads for this frame; 0 = all cores
  // Upper bound on the sum of R, G and B of any one contribution of light that has
  // bounced at least once (0 = no clamp): trades a little energy for no fireflies. Cycles
  // clamps its indirect light at 10 by default.
  double clamp_indirect = 0;
  // When set and it becomes true, render() stops between tiles and returns the error
  // kCancelled (a worker dropping a cancelled job's shard mid-sample).
  const std::atomic<bool>* cancel = nullptr;
  // Which Frame layers to compute (layer_bit()s); the others stay empty. Keypoints are always
  // labelled.
  uint32_t layers = kAllLayers;
  // Labels only: no light transport, one ray per pixel; rgb (if requested) is all zeros.
  bool labels_only = false;
  // Square tile edge in pixels, 1 .. 64: how work is split between threads. It changes
  // nothing in the output.
  int tile_size = 16;
  // When set, render() reports where its time went; measuring only, the output is the same.
  RenderTimings* timings = nullptr;
};

// The error render() returns when RenderSettings::cancel was raised.
inline constexpr std::string_view kCancelled = "cancelled";

// Row-major pixel layers, (0, 0) = top-left; every requested layer holds width * height
// pixels (times 3 for the colour and vector layers, 2 for uv, interleaved); the layers
// RenderSettings::layers leaves out are empty.
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
  std::vector<float> motion;       // (dx, dy) pixels per pixel, interleaved
  // Per Scene::keypoints set, one entry per point.
  struct Keypoint {
    double x = 0, y = 0;  // pixels
    int v = 0;            // 0 outside the image, 1 occluded, 2 visible
  };
  std::vector<std::vector<Keypoint>> keypoints;
  // Radiance samples dropped because they were NaN or infinite (a broken texture, a
  // degenerate light); 0 in a healthy render.
  uint64_t invalid_samples = 0;
};

// Thread-safe: render() may be called from several threads at once. Owns the Embree device.
class Renderer {
 public:
  static tl::expected<std::unique_ptr<Renderer>, std::string> create();
  ~Renderer();
  Renderer(const Renderer&) = delete;
  Renderer& operator=(const Renderer&) = delete;

  // Renders the requested layers of `scene`. Errors name the Embree failure or the bad
  // setting.
  tl::expected<Frame, std::string> render(const Scene& scene, const RenderSettings& settings) const;
  // The same into `frame`, whose layers' memory is reused when their sizes already fit (a
  // clip's frames, repeated renders of one scene): every layer asked for is overwritten
  // whole, the others are emptied. After an error `frame` holds no meaningful image.
  tl::expected<void, std::string> render(const Scene& scene, const RenderSettings& settings,
                                         Frame& frame) const;

 private:
  struct Impl;
  explicit Renderer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace synthfarm::render
