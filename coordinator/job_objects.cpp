#include "coordinator/job_objects.h"

#include <fmt/format.h>

#include "coordinator/finalizer.h"
#include "jobs/object_keys.h"

namespace synthfarm::coordinator {

namespace {

StoredObject failure(const storage::Error& error) {
  return {error.code == storage::Error::Code::kNotFound ? 404 : 502, error.message, "", {}};
}

}  // namespace

StoredObject sample_object(const storage::ObjectStore& store, uint64_t index,
                           const std::string& extension) {
  auto fetch = [&](const std::string& kind) {
    auto bytes = store.get(jobs::sample_key(index, kind));
    if (!bytes && bytes.error().code == storage::Error::Code::kNotFound) {
      bytes = store.get(jobs::frame_key(index, 0, kind));  // a clip: its first frame
    }
    return bytes;
  };
  // .png asks for the preview: a sample whose camera stage made a JPEG has that instead.
  std::string kind = extension;
  auto bytes = fetch(kind);
  if (!bytes && extension == "png" && bytes.error().code == storage::Error::Code::kNotFound) {
    kind = "jpg";
    bytes = fetch(kind);
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
