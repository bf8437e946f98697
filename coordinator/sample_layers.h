// GET /api/jobs/{id}/samples/{n}/layers/{layer}.png[?frame=K]: one label layer of a sample's
// EXR drawn as a PNG (layer_image.h says how each layer is coloured), for the dashboard's
// sample viewer, so that the browser needs no EXR decoder. Drawn images are kept in a
// byte-bounded LRU cache: a sample's objects never change once written. A sample not
// written yet (a running job) is a 404 and is not cached. Internal to coordinator/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include <tl/expected.hpp>

#include "coordinator/job_objects.h"
#include "coordinator/layer_image.h"
#include "storage/object_store.h"

namespace synthfarm::coordinator {

// The cache's default bound: about a thousand 320x240 layers, or thirty at 1920x1080.
inline constexpr size_t kLayerCacheBytes = size_t{64} << 20;

// Thread-safe. Values keyed by string, least recently used dropped first once the bytes of
// the values pass the bound; a value larger than the bound is not kept.
class LayerCache {
 public:
  explicit LayerCache(size_t max_bytes) : max_bytes_(max_bytes) {}

  std::shared_ptr<const std::string> get(const std::string& key);
  void put(const std::string& key, std::string value);
  size_t bytes() const;
  size_t entries() const;
  size_t max_bytes() const { return max_bytes_; }

 private:
  using Entry = std::pair<std::string, std::shared_ptr<const std::string>>;
  const size_t max_bytes_;
  mutable std::mutex mutex_;
  std::list<Entry> recent_;  // GUARDED_BY(mutex_); most recently used first
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;  // GUARDED_BY(mutex_)
  size_t bytes_ = 0;  // GUARDED_BY(mutex_): of the values in recent_
};

// What the route's path and query name.
struct LayerRequest {
  uint64_t index = 0;
  int frame = 0;  // job_objects.h's parse_frame
  ViewLayer layer = ViewLayer::kDepth;
};

// The request from the route's captures and its `frame` parameter, or a message for a 400:
// an unknown layer (the message lists those there are), a bad frame or sample number.
tl::expected<LayerRequest, std::string> parse_layer_request(std::string_view index, std::string_view layer,
                                                            const std::optional<std::string>& frame);

// Thread-safe: draws and caches layer images.
class SampleLayers {
 public:
  explicit SampleLayers(size_t cache_bytes = kLayerCacheBytes) : cache_(cache_bytes) {}

  // The PNG of `request` for job `job` from its `store`: 200 with the image (header
  // X-Layer-Cache says hit or miss), 404 when the sample (or frame) is not stored or its EXR
  // lacks the layer (the message lists the layers it has), 502 when the EXR is unreadable
  // or the store fails.
  StoredObject get(std::string_view job, const storage::ObjectStore& store, const JobView& job_view,
                   const LayerRequest& request);

  const LayerCache& cache() const { return cache_; }

 private:
  LayerCache cache_;
};

}  // namespace synthfarm::coordinator
