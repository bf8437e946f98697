#include "coordinator/finalizer.h"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "dataset/dataset_reader.h"
#include "jobs/coco.h"
#include "jobs/dataset_card.h"
#include "jobs/manifest.h"
#include "jobs/sharding.h"

namespace synthfarm::coordinator {

namespace {

// What the sample JSONs are read for: the COCO files, the dataset card, or both.
struct SampleReaders {
  jobs::coco::DatasetBuilder* coco = nullptr;  // output.labels lists coco
  jobs::DatasetCard* card = nullptr;           // it lists sample_json (or coco)
};

// Feeds a shard's sample JSONs to the COCO builder and the card, in key order (sample,
// then frame), each parsed once and dropped before the next is read. Each JSON is checked
// against its manifest entry; the image's file is its PNG preview, or its EXR when the job
// wrote no preview. A JSON that does not parse fails the COCO files (they would be wrong)
// but is only counted as skipped by the card.
tl::expected<void, std::string> add_shard_images(const storage::ObjectStore& store,
                                                 const std::vector<dataset::FileRef>& files,
                                                 const SampleReaders& readers) {
  std::set<std::string_view> keys;
  for (const auto& f : files) keys.insert(f.key);
  for (const dataset::FileRef& f : files) {  // sorted by key
    if (!f.key.starts_with("samples/") || !f.key.ends_with(".json")) continue;
    auto bytes = dataset::read_file(store, f);
    if (!bytes) return tl::unexpected(bytes.error());
    const nlohmann::json sample = nlohmann::json::parse(*bytes, nullptr, /*allow_exceptions=*/false);
    if (readers.card != nullptr) readers.card->add_parsed(sample, f.key);
    if (readers.coco == nullptr) continue;
    const std::string stem = f.key.substr(0, f.key.size() - std::string_view(".json").size());
    const std::string file_name = keys.count(stem + ".png")   ? stem + ".png"
                                  : keys.count(stem + ".jpg") ? stem + ".jpg"
                                                              : stem + ".exr";
    auto added = readers.coco->add_parsed_image(sample, file_name, f.key);
    if (!added) return added;
  }
  return {};
}

// A reconstruction job's files, gathered from its units' fits/*.json (worker/recon_runner.h):
// one line per fitted person (per frame for a sequence) in poses.jsonl, one per person
// (per track for a sequence) in shapes.jsonl, in unit order.
struct FitFiles {
  std::string poses, shapes;
  uint64_t people = 0, converged = 0;
  double residual_sum_px = 0;
};

tl::expected<void, std::string> add_shard_fits(const storage::ObjectStore& store,
                                               const std::vector<dataset::FileRef>& files, FitFiles& out) {
  using nlohmann::json;
  for (const dataset::FileRef& o : files) {  // sorted by key
    if (!o.key.starts_with("fits/") || !o.key.ends_with(".json")) continue;
    auto bytes = dataset::read_file(store, o);
    if (!bytes) return tl::unexpected(bytes.error());
    const json unit = json::parse(*bytes, nullptr, false);
    if (unit.is_discarded() || !unit.contains("people") || !unit["people"].is_array()) {
      return tl::unexpected(fmt::format("{}: not a unit's fits", o.key));
    }
    const bool sequence = unit.value("mode", "") == "sequence";
    bool first = true;
    for (const json& person : unit["people"]) {
      if (person.value("skipped", false)) continue;  // nothing was fitted
      json ids = {{"unit", unit["unit"]}, {"fits", o.key}};
      for (const char* id : {"annotation_id", "image_id", "track_id", "frame"}) {
        if (person.contains(id)) ids[id] = person[id];
      }
      if (sequence && unit.contains("track_id")) ids["track_id"] = unit["track_id"];
      const bool converged = person.value("converged", false);
      json fit = {{"converged", converged}, {"mean_residual_px", person.value("mean_residual_px", 0.0)}};
      json pose = ids;
      pose.update(fit);
      pose.update({{"pose", person["pose"]}, {"global_rotation", person["global_rotation"]},
                   {"translation", person["translation"]}});
      out.poses += pose.dump() + "\n";
      if (!sequence || first) {
        json shape = ids;
        shape.update(fit);
        shape["shape"] = person["shape"];
        out.shapes += shape.dump() + "\n";
        ++out.people;
        out.converged += converged ? 1 : 0;
      }
      out.residual_sum_px += person.value("mean_residual_px", 0.0);
      first = false;
    }
  }
  return {};
}

}  // namespace

tl::expected<ManifestSummary, std::string> write_dataset_manifest(storage::ObjectStore& store,
                                                                  const queue::JobRecord& job,
                                                                  const std::string& spec_json,
                                                                  const std::set<uint64_t>& dead_shards,
                                                                  int64_t now_ms) {
  using nlohmann::json;
  const uint64_t shards = jobs::shard_count(job.samples, job.shard_size);
  json objects = json::array();
  ManifestSummary summary;
  std::vector<bool> seen(static_cast<size_t>(job.samples), false);
  json missing = json::array();
  json spec = json::parse(spec_json);
  const json* labels = spec.contains("output") ? &spec["output"]["labels"] : nullptr;
  auto lists = [&](const char* label) {
    return labels != nullptr && labels->is_array() && std::find(labels->begin(), labels->end(), label) != labels->end();
  };
  // A reconstruction job's spec has no labels: neither COCO files nor a card.
  const bool write_coco = lists("coco");
  const bool write_card = lists("sample_json") || write_coco;
  const bool fitted = spec.value("task", "render") == "fit_people";
  const bool webdataset = spec.contains("output") && spec["output"].value("format", "files") == "webdataset";
  FitFiles fits;
  const std::string software = fmt::format("synthfarm {}", SYNTHFARM_VERSION);
  // The annotation files and the card carry no time: finalizing twice writes the same bytes.
  jobs::coco::DatasetBuilder coco(json({{"description", job.name}, {"job", job.id}, {"software", software}}).dump());
  jobs::DatasetCard card({job.id, job.name, software, job.samples});
  const SampleReaders readers{write_coco ? &coco : nullptr, write_card ? &card : nullptr};
  for (uint64_t n = 0; n < shards; ++n) {
    if (dead_shards.count(n)) {
      auto range = jobs::shard_range(job.samples, job.shard_size, n);
      missing.push_back({{"shard", n}, {"first_sample", range.begin}, {"sample_count", range.size()}});
      continue;
    }
    auto key = jobs::shard_manifest_key(n);
    auto bytes = store.get(key);
    if (!bytes) return tl::unexpected(fmt::format("job {}: cannot read {}: {}", job.id, key, bytes.error().message));
    auto manifest = jobs::parse_shard_manifest(*bytes);
    if (!manifest) return tl::unexpected(fmt::format("job {}: {}: {}", job.id, key, manifest.error()));
    auto range = jobs::shard_range(job.samples, job.shard_size, n);
    if (manifest->first_sample != range.begin || manifest->sample_count != range.size()) {
      return tl::unexpected(fmt::format("job {}: {} covers samples {}+{}, expected {}+{}", job.id, key,
                                        manifest->first_sample, manifest->sample_count, range.begin,
                                        range.size()));
    }
    for (uint64_t i = range.begin; i < range.end; ++i) seen[i] = true;
    const std::vector<dataset::FileRef> files = dataset::shard_files(*manifest);
    if (auto added = write_coco || write_card ? add_shard_images(store, files, readers)
                                              : tl::expected<void, std::string>();
        !added) {
      return tl::unexpected(fmt::format("job {}: {}: {}", job.id, key, added.error()));
    }
    if (auto added = fitted ? add_shard_fits(store, files, fits) : tl::expected<void, std::string>(); !added) {
      return tl::unexpected(fmt::format("job {}: {}: {}", job.id, key, added.error()));
    }
    for (const auto& o : manifest->objects) {
      objects.push_back(json::parse(jobs::manifest_entry_json(o)));
      summary.bytes += o.size;
      ++summary.objects;
    }
  }
  summary.samples = std::count(seen.begin(), seen.end(), true);
  summary.images = coco.images();
  summary.person_annotations = coco.person_annotations();
  summary.instance_annotations = coco.instance_annotations();
  summary.people_fitted = fits.people;
  summary.people_converged = fits.converged;

  // The annotation files and the card are objects of the dataset like the samples: listed
  // with their size and sha256, so `fetch` downloads and verifies them with the rest.
  jobs::coco::DatasetBuilder::Files files = coco.finish();
  std::vector<std::pair<const char*, std::string>> dataset_files;
  if (write_coco) {
    dataset_files.emplace_back(kPersonKeypointsKey, std::move(files.person_keypoints));
    dataset_files.emplace_back(kInstancesKey, std::move(files.instances));
  }
  if (fitted) {
    dataset_files.emplace_back(kPosesKey, std::move(fits.poses));
    dataset_files.emplace_back(kShapesKey, std::move(fits.shapes));
  }
  if (write_card) {
    dataset_files.emplace_back(kDatasetCardJsonKey, card.json());
    dataset_files.emplace_back(kDatasetCardHtmlKey, card.html());
  }
  for (auto& [key, bytes] : dataset_files) {
    auto put = store.put(key, bytes);
    if (!put) return tl::unexpected(fmt::format("job {}: cannot write {}: {}", job.id, key, put.error().message));
    objects.push_back({{"key", key}, {"size", bytes.size()}, {"sha256", storage::sha256_hex(bytes)}});
    summary.bytes += bytes.size();
    ++summary.objects;
    std::string().swap(bytes);  // free it before the next is stored
  }
  json manifest = {
      {"format", "synthfarm.dataset/1"},
      {"job", job.id},
      {"name", job.name},
      {"software", {{"name", "synthfarm"}, {"version", SYNTHFARM_VERSION}}},
      {"spec", std::move(spec)},
      {"complete", missing.empty()},
      {"counts", {{"samples", summary.samples}, {"shards", shards}, {"objects", summary.objects},
                  {"bytes", summary.bytes}, {"missing_shards", missing.size()}, {"images", summary.images},
                  {"person_annotations", summary.person_annotations},
                  {"instance_annotations", summary.instance_annotations},
                  {"people_fitted", summary.people_fitted}, {"people_converged", summary.people_converged}}},
      {"annotations", write_coco ? json{{"coco_person_keypoints", kPersonKeypointsKey}, {"instances", kInstancesKey}}
                      : fitted   ? json{{"poses", kPosesKey}, {"shapes", kShapesKey}}
                                 : json::object()},
      {"dataset_card", write_card ? json{{"json", kDatasetCardJsonKey}, {"html", kDatasetCardHtmlKey}} : json::object()},
      {"missing", std::move(missing)},
      {"timing", {{"created_ms", job.created_ms}, {"started_ms", job.started_ms}, {"finalized_ms", now_ms}}},
      {"layout", {{"format", webdataset ? "webdataset" : "files"},
                  {"sample", "samples/{index:08d}.{exr,png,json}"},
                  {"clip_frame", "samples/{index:08d}.f{frame:03d}.{exr,png,json}"},
                  {"shard_manifest", "shards/{shard:06d}.manifest.json"},
                  {"annotations", "annotations/{coco_person_keypoints,instances}.json"},
                  {"dataset_card", "dataset_card.{json,html}"}}},
      {"objects", std::move(objects)},
  };
  if (webdataset) {
    manifest["layout"]["tar"] =
        "shards/{shard:06d}.tar: the shard's files, named as above without samples/, in sample order; "
        "objects[].members gives each one's offset, size and sha256";
  }
  auto put = store.put("manifest.json", manifest.dump(1) + "\n");
  if (!put) return tl::unexpected(fmt::format("job {}: cannot write manifest.json: {}", job.id, put.error().message));
  return summary;
}

}  // namespace synthfarm::coordinator
