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

// One sample file: its own object, else a member of its shard's tar.
storage::Result<std::string> read_sample_key(const storage::ObjectStore& store, const JobView& job, uint64_t index,
                                             const std::string& key) {
  auto bytes = store.get(key);
  if (bytes || bytes.error().code != storage::Error::Code::kNotFound || job.shard_size == 0) return bytes;
  auto found = dataset::find_in_shard(store, index / job.shard_size, key);
  if (!found.error.empty()) return tl::unexpected(storage::Error{storage::Error::Code::kIo, found.error});
  if (!found.file) return bytes;  // stored nowhere (yet)
  auto read = dataset::read_file(store, *found.file);
  if (!read) return tl::unexpected(storage::Error{storage::Error::Code::kIo, read.error()});
  return std::move(*read);
}

}  // namespace

storage::Result<std::string> read_sample_file(const storage::ObjectStore& store, const JobView& job, uint64_t index,
                                              int frame, std::string_view extension) {
  if (frame > 0) return read_sample_key(store, job, index, jobs::frame_key(index, frame, extension));
  auto bytes = read_sample_key(store, job, index, jobs::sample_key(index, extension));
  if (!bytes && bytes.error().code == storage::Error::Code::kNotFound) {
    bytes = read_sample_key(store, job, index, jobs::frame_key(index, 0, extension));  // a clip: its first frame
  }
  return bytes;
}

StoredObject sample_object(const storage::ObjectStore& store, const JobView& job, uint64_t index, int frame,
                           const std::string& extension) {
  // .png asks for the preview: a sample whose camera stage made a JPEG has that instead.
  std::string kind = extension;
  auto bytes = read_sample_file(store, job, index, frame, kind);
  if (!bytes && extension == "png" && bytes.error().code == storage::Error::Code::kNotFound) {
    kind = "jpg";
    bytes = read_sample_file(store, job, index, frame, kind);
  }
  if (!bytes) return failure(bytes.error());
  const char* type = kind == "png"    ? "image/png"
                     : kind == "jpg"  ? "image/jpeg"
                     : kind == "json" ? "application/json"
                                      : "image/x-exr";
  return {200, std::move(*bytes), type, {{"Cache-Control", "max-age=3600, immutable"}}};
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
