#include "coordinator/submission.h"

#include <fmt/format.h>

#include "jobs/sharding.h"
#include "recon/coco_input.h"
#include "storage/object_store.h"

namespace synthfarm::coordinator {

queue::JobSubmission job_submission(const jobs::JobSpec& spec) {
  queue::JobSubmission job;
  job.name = spec.name;
  job.priority = spec.priority;
  job.samples = spec.samples;
  job.shard_size = spec.shard_size;
  job.shards = static_cast<int64_t>(jobs::shard_count(spec.samples, spec.shard_size));
  job.max_attempts = spec.max_attempts;
  job.on_dead_shards = spec.on_dead_shards;
  job.storage = spec.output.storage;
  job.task = spec.task;
  job.spec_json = jobs::spec_to_json(spec);
  return job;
}

tl::expected<UnitCount, UnitError> count_units(const jobs::JobSpec& spec) {
  UnitCount count;
  const bool coco = spec.task == "fit_people" && spec.fit.mode != "scan";
  if (!coco) {
    count.units = static_cast<int64_t>(spec.inputs.size());  // one per scan or capture
  } else {
    const std::string& uri = spec.inputs.at(0);
    auto bytes = storage::read_uri(uri);
    if (!bytes) return tl::unexpected(UnitError{"inputs", bytes.error().message});
    const std::string name = uri.substr(uri.find_last_of('/') + 1);
    auto file = recon::parse_coco_keypoints(*bytes, name);
    if (!file) return tl::unexpected(UnitError{"inputs", file.error()});
    auto units = recon::group_units(*file, recon::coco_unit_kind(spec.fit.mode));
    if (!units) return tl::unexpected(UnitError{"inputs", units.error()});
    count.units = static_cast<int64_t>(units->count());
    count.note = fmt::format("{} people skipped (fewer than {} labelled keypoints), {} annotations unused by fit mode {}",
                             units->skipped, recon::kMinLabelledKeypoints, units->unused, spec.fit.mode);
    if (count.units == 0) {
      return tl::unexpected(UnitError{"inputs", fmt::format("{}: nothing to fit in fit mode {}: {}", name,
                                                            spec.fit.mode, count.note)});
    }
  }
  if (spec.samples != 0 && spec.samples != count.units) {
    return tl::unexpected(UnitError{"samples", fmt::format("{} given, but the inputs hold {} units for task {}; leave "
                                                           "samples out of a {} spec",
                                                           spec.samples, count.units, spec.task, spec.task)});
  }
  return count;
}

}  // namespace synthfarm::coordinator
