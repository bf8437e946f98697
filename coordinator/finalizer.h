// Turns a job whose shards are all complete into a dataset: reads every shard manifest
// (the commit markers written by workers) and, when the spec's output.labels lists
// `sample_json` or `coco`, the sample JSONs they list, in one pass, one at a time. From
// them it writes the COCO files when it lists `coco` (`annotations/coco_person_keypoints.json`,
// `annotations/instances.json`, built by jobs/coco.h from the sample JSONs alone, never
// from images) and the dataset card (`dataset_card.json`, `dataset_card.html`,
// jobs/dataset_card.h); then `manifest.json` under the job's prefix, listing those files
// among its objects. Idempotent: running it twice writes the same files (only the
// manifest's finalized_ms differs).
#pragma once

#include <set>
#include <string>

#include <tl/expected.hpp>

#include "queue/queue.h"
#include "storage/object_store.h"

namespace synthfarm::coordinator {

inline constexpr const char* kPersonKeypointsKey = "annotations/coco_person_keypoints.json";
inline constexpr const char* kInstancesKey = "annotations/instances.json";
// A render job's dataset card (jobs/dataset_card.h), which GET /api/jobs/{id}/card.json and
// card.html serve.
inline constexpr const char* kDatasetCardJsonKey = "dataset_card.json";
inline constexpr const char* kDatasetCardHtmlKey = "dataset_card.html";
// A fit_people job's outputs, from its units' fits/*.json: what render specs read as
// humans.poses and humans.shapes (docs/recon.md).
inline constexpr const char* kPosesKey = "poses.jsonl";
inline constexpr const char* kShapesKey = "shapes.jsonl";

struct ManifestSummary {
  int64_t samples = 0;
  int64_t objects = 0;  // the annotation files and the card included
  uint64_t bytes = 0;
  uint64_t images = 0;  // COCO images: one per still sample, one per clip frame
  uint64_t person_annotations = 0;
  uint64_t instance_annotations = 0;
  uint64_t people_fitted = 0;     // fit_people: people (tracks) in shapes.jsonl
  uint64_t people_converged = 0;  // of which converged
};

// `spec_json` is the canonical spec; `job` the Redis record; `dead_shards` the shards that
// were dead-lettered: they are listed as missing instead of read, and their samples are
// absent from the COCO files and the card. Memory: the COCO files' text, the card's fixed
// counters and one sample JSON at a time (ObjectStore::put takes whole objects), never
// image bytes.
tl::expected<ManifestSummary, std::string> write_dataset_manifest(storage::ObjectStore& store,
                                                                  const queue::JobRecord& job,
                                                                  const std::string& spec_json,
                                                                  const std::set<uint64_t>& dead_shards,
                                                                  int64_t now_ms);

}  // namespace synthfarm::coordinator
