// Rendering one dataset sample, end to end and in-process: scene generation from the
// sample's seed, Embree path tracing with label layers, and encoding to the bytes that
// go to storage. This is the whole of what a worker does per sample; `synthfarm render
// --local` and the benchmarks call it directly. It knows nothing of Redis, ZeroMQ or HTTP.
//
// Determinism contract: for a given (spec, index) the returned bytes are identical
// whatever the thread count, the process, or the order samples are rendered in.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <tl/expected.hpp>

#include "jobs/scene.h"
#include "jobs/spec.h"
#include "sensor/learned_model.h"

namespace synthfarm::jobs {

// The objects of one frame.
struct FrameObjects {
  std::string exr;   // multi-layer OpenEXR
  std::string png;   // sRGB preview (empty if not asked for, or when the camera stage made a JPEG)
  std::string jpg;   // the camera stage's JPEG, when it drew a JPEG quality (then there is no png)
  std::string json;  // camera, instances, boxes, keypoints
};

// The objects of one sample, in the storage layout of docs/architecture.md: a still image
// is samples/{index:08d}.{exr,png or jpg,json}; the K frames of a clip (spec clip.frames > 1) are
// samples/{index:08d}.f{frame:03d}.{exr,png,json}.
struct SampleObjects : FrameObjects {
  std::vector<FrameObjects> later_frames;  // a clip's frames 1 .. K-1; this is frame 0

  // (storage key, bytes) of every non-empty object, frame by frame.
  std::vector<std::pair<std::string, const std::string*>> keyed(uint64_t index) const;
};

// Reads an input file a spec points at (humans.bvh clips, humans.characters) by its URI. The worker and the
// CLI read through storage/; an empty reader refuses every file.
using AssetReader = std::function<tl::expected<std::string, std::string>(const std::string& uri)>;

// The files `spec` points at (humans.bvh clips when a motion draws "bvh", humans.characters
// when a body draws "character", the maps of lighting.environment), read and parsed.
// Errors name the spec field, the file and what is wrong ("humans.bvh[0]: walk.bvh:57:
// frame 3 has 62 values, expected 69").
tl::expected<SceneAssets, std::string> load_scene_assets(const JobSpec& spec, const AssetReader& read_asset);

// Thread-safe: one per process, shared by all render threads. Holds the Embree device and
// the parsed input files (each read and parsed once per process).
class SampleRenderer {
 public:
  // threads: render threads used inside one sample (tiles); 0 = all cores. `load_model`
  // turns a spec's sensor.model file into a runnable model (LibTorch: sensor/torch/); empty,
  // a spec that names a model fails with an error that says so.
  static tl::expected<std::unique_ptr<SampleRenderer>, std::string> create(
      int threads, AssetReader read_asset = {}, sensor::LearnedModelLoader load_model = {});
  virtual ~SampleRenderer() = default;

  // Renders sample `index` of `spec`. An error string names what went wrong. When
  // `cancel` is given and becomes true, rendering stops early with an error.
  virtual tl::expected<SampleObjects, std::string> render(
      const JobSpec& spec, uint64_t index, const std::atomic<bool>* cancel = nullptr) const = 0;
};

}  // namespace synthfarm::jobs
