#include "coordinator/sample_layers.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "jobs/object_keys.h"

namespace synthfarm::coordinator {

std::shared_ptr<const std::string> LayerCache::get(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto found = index_.find(key);
  if (found == index_.end()) return nullptr;
  recent_.splice(recent_.begin(), recent_, found->second);
  return found->second->second;
}

void LayerCache::put(const std::string& key, std::string value) {
  if (value.size() > max_bytes_) return;
  auto shared = std::make_shared<const std::string>(std::move(value));
  std::lock_guard lock(mutex_);
  if (auto found = index_.find(key); found != index_.end()) {
    bytes_ -= found->second->second->size();
    recent_.erase(found->second);
    index_.erase(found);
  }
  bytes_ += shared->size();
  recent_.emplace_front(key, std::move(shared));
  index_[key] = recent_.begin();
  while (bytes_ > max_bytes_) {
    const Entry& oldest = recent_.back();
    bytes_ -= oldest.second->size();
    index_.erase(oldest.first);
    recent_.pop_back();
  }
}

size_t LayerCache::bytes() const {
  std::lock_guard lock(mutex_);
  return bytes_;
}

size_t LayerCache::entries() const {
  std::lock_guard lock(mutex_);
  return recent_.size();
}

tl::expected<LayerRequest, std::string> parse_layer_request(std::string_view index, std::string_view layer,
                                                            const std::optional<std::string>& frame) {
  LayerRequest request;
  auto [end, error] = std::from_chars(index.data(), index.data() + index.size(), request.index);
  if (error != std::errc() || end != index.data() + index.size()) {
    return tl::unexpected(fmt::format("sample '{}' is not a sample number", index));
  }
  auto named = view_layer_named(layer);
  if (!named) {
    return tl::unexpected(fmt::format("unknown layer '{}'; the layers are: {}", layer, view_layer_list()));
  }
  request.layer = *named;
  auto frame_number = parse_frame(frame);
  if (!frame_number) return tl::unexpected(frame_number.error());
  request.frame = *frame_number;
  return request;
}

StoredObject SampleLayers::get(std::string_view job, const storage::ObjectStore& store, const JobView& job_view,
                               const LayerRequest& request) {
  const std::string_view layer = view_layer_name(request.layer);
  // Keyed by the dataset's storage as well as the job: a deleted job's id, if ever drawn
  // again, names another dataset only where its storage differs.
  const std::string key = fmt::format("{}\n{}\n{}\n{}\n{}", job, store.uri(), request.index, request.frame, layer);
  auto answer = [](std::string png, const char* cache) {
    return StoredObject{200,
                        std::move(png),
                        "image/png",
                        {{"Cache-Control", "max-age=3600, immutable"}, {"X-Layer-Cache", cache}}};
  };
  if (auto cached = cache_.get(key)) return answer(*cached, "hit");

  auto exr = read_sample_file(store, job_view, request.index, request.frame, "exr");
  if (!exr) {
    const bool missing = exr.error().code == storage::Error::Code::kNotFound;
    return {missing ? 404 : 502,
            missing ? fmt::format("sample {} frame {} is not stored (yet): {}", request.index, request.frame,
                                  exr.error().message)
                    : exr.error().message,
            "",
            {}};
  }
  const std::string name = request.frame > 0 ? jobs::frame_key(request.index, request.frame, "exr")
                                             : fmt::format("sample {}'s EXR", request.index);
  auto image = draw_layer(*exr, request.layer, name);
  if (!image) {
    return {image.error().code == LayerError::Code::kNoSuchLayer ? 404 : 502, image.error().message, "", {}};
  }
  std::string png = encode_png_rgba8(*image);
  cache_.put(key, png);
  return answer(std::move(png), "miss");
}

}  // namespace synthfarm::coordinator
