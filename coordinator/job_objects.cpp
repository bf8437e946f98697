#include "coordinator/job_objects.h"

#include <fmt/format.h>

#include <algorithm>

#include "coordinator/finalizer.h"
#include "dataset/dataset_reader.h"
#include "jobs/object_keys.h"

namespace synthfarm::coordinator {

namespace {

StoredObject failure(const storage::Error& error) {
  return {error.code == storage::Error::Code::kNotFound ? 404 : 502, error.message, "", {}};
}

}  // namespace

tl::expected<int, std::string> parse_frame(const std::optional<std::string>& text) {
  if (!text) return 0;
  const bool digits = !text->empty() && text->size() <= 3 &&
                      std::all_of(text->begin(), text->end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!digits) return tl::unexpected(fmt::format("frame '{}' is not a frame number 0..999", *text));
  return std::stoi(*text);
}

namespace {

// The keys sample `index`'s file of `extension` may have at `frame`, in the order tried:
// frame K > 0 is a clip's frame K; frame 0 a still image, else a clip's first frame.
void add_sample_keys(std::vector<std::string>& keys, uint64_t index, int frame, std::string_view extension) {
  if (frame > 0) {
    keys.push_back(jobs::frame_key(index, frame, extension));
    return;
  }
  keys.push_back(jobs::sample_key(index, extension));
  keys.push_back(jobs::frame_key(index, 0, extension));
}

struct Found {
  std::string key;
  std::string bytes;
};

// The first of `keys` that is stored: as an object of its own, else as a member of the
// sample's shard's tar (webdataset), whose manifest is read once for all of them. The
// last store error when none is (kNotFound: not stored, or not yet).
storage::Result<Found> read_first(const storage::ObjectStore& store, const JobView& job, uint64_t index,
                                  const std::vector<std::string>& keys) {
  storage::Error missing{storage::Error::Code::kNotFound, "no key to read"};
  for (const std::string& key : keys) {
    auto bytes = store.get(key);
    if (bytes) return Found{key, std::move(*bytes)};
    if (bytes.error().code != storage::Error::Code::kNotFound) return tl::unexpected(bytes.error());
    missing = std::move(bytes.error());
  }
  if (job.shard_size == 0) return tl::unexpected(missing);
  auto files = dataset::committed_shard_files(store, index / job.shard_size);
  if (!files) return tl::unexpected(storage::Error{storage::Error::Code::kIo, files.error()});
  if (!*files) return tl::unexpected(missing);  // the shard is not committed yet
  for (const std::string& key : keys) {
    for (const dataset::FileRef& file : **files) {
      if (file.key != key) continue;
      auto bytes = dataset::read_file(store, file);
      if (!bytes) return tl::unexpected(storage::Error{storage::Error::Code::kIo, bytes.error()});
      return Found{key, std::move(*bytes)};
    }
  }
  return tl::unexpected(missing);
}

}  // namespace

storage::Result<std::string> read_sample_file(const storage::ObjectStore& store, const JobView& job, uint64_t index,
                                              int frame, std::string_view extension) {
  std::vector<std::string> keys;
  add_sample_keys(keys, index, frame, extension);
  auto found = read_first(store, job, index, keys);
  if (!found) return tl::unexpected(found.error());
  return std::move(found->bytes);
}

StoredObject sample_object(const storage::ObjectStore& store, const JobView& job, uint64_t index, int frame,
                           const std::string& extension) {
  // .png asks for the preview: a sample whose camera stage made a JPEG has that instead.
  std::vector<std::string> keys;
  add_sample_keys(keys, index, frame, extension);
  if (extension == "png") add_sample_keys(keys, index, frame, "jpg");
  auto found = read_first(store, job, index, keys);
  if (!found) return failure(found.error());
  const std::string kind = found->key.substr(found->key.rfind('.') + 1);
  auto bytes = std::move(found->bytes);
  const char* type = kind == "png"    ? "image/png"
                     : kind == "jpg"  ? "image/jpeg"
                     : kind == "json" ? "application/json"
                                      : "image/x-exr";
  return {200, std::move(bytes), type, {{"Cache-Control", "max-age=3600, immutable"}}};
}

StoredObject dataset_card_object(const storage::ObjectStore& store, std::string_view state,
                                 std::string_view kind) {
  // A job being finalized may have its card stored and not yet its manifest; a retried
  // job still has the card of its previous end, which the next finalize replaces.
  if (state != "done" && state != "partial" && state != "failed") {
    return {404,
            fmt::format("the dataset card is written when the job is finalized; it is {}", state),
            "",
            {}};
  }
  const bool html = kind == "html";
  auto bytes = store.get(html ? kDatasetCardHtmlKey : kDatasetCardJsonKey);
  if (!bytes) {
    StoredObject answer = failure(bytes.error());
    if (answer.status == 404)
      answer.body = "this job's dataset has no card: its spec lists no labels";
    return answer;
  }
  // Not immutable: retrying a job's dead shards finalizes it again with more samples.
  StoredObject answer{
      200, std::move(*bytes), html ? "text/html; charset=utf-8" : "application/json", {}};
  answer.headers.emplace_back("Cache-Control", "no-cache");
  if (html) {
    // The page's own CSS and SVG, nothing else; the dashboard may show it in a frame, and
    // the sandbox keeps it from running anything or acting as the coordinator's origin.
    answer.headers.emplace_back(
        "Content-Security-Policy",
        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'; sandbox");
    answer.headers.emplace_back("X-Frame-Options", "SAMEORIGIN");
  }
  return answer;
}

}  // namespace synthfarm::coordinator
