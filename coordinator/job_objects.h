// What the API serves from a job's dataset in storage, for the dashboard: a sample's files
// (GET /api/jobs/{id}/samples/{n}.{png,jpg,json,exr}) and the dataset card (GET
// /api/jobs/{id}/card.{json,html}). The caller looks the job up in Redis and opens its
// store; these read the object and say how to answer. Internal to coordinator/.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tl/expected.hpp>

#include "storage/object_store.h"

namespace synthfarm::coordinator {

struct StoredObject {
  int status = 200;          // 200, or 404 / 502 with `body` the message
  std::string body;          // the object's bytes, or the message
  std::string content_type;  // of the object
  // Response headers, in place of the server's defaults of the same name.
  std::vector<std::pair<std::string, std::string>> headers;
};

// A request's `frame` parameter (absent: 0) as a frame number, 0..999 (the f{frame:03d} of
// a clip's keys); anything else is an error message naming the value.
tl::expected<int, std::string> parse_frame(const std::optional<std::string>& text);

// What the readers below need of the job's hash.
struct JobView {
  std::string state;
  uint64_t shard_size = 0;  // to find a sample's shard (output.format webdataset)
};

// The bytes of sample `index`'s file of `extension` at `frame`: frame 0 is a still image's
// only frame or a clip's first, frame K > 0 a clip's frame K (kNotFound for a still). A
// file that is no object of its own is looked for in its shard's tar (webdataset), through
// the shard's manifest: a range read, checked against the member's sha256.
storage::Result<std::string> read_sample_file(const storage::ObjectStore& store, const JobView& job, uint64_t index,
                                              int frame, std::string_view extension);

// Sample `index`'s file at `frame` (read_sample_file), and for .png the JPEG preview when
// the camera stage made one instead. Immutable once stored.
StoredObject sample_object(const storage::ObjectStore& store, const JobView& job, uint64_t index, int frame,
                           const std::string& extension);

// The dataset card, `kind` "json" or "html", of a job in `state` (the job hash's). 404 until
// the job is finalized (done, partial or failed), and for a dataset without a card (labels
// off, or finalized before cards existed). The HTML may be framed by the dashboard only,
// and runs nothing.
StoredObject dataset_card_object(const storage::ObjectStore& store, std::string_view state,
                                 std::string_view kind);

}  // namespace synthfarm::coordinator
