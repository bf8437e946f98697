// What a validated spec becomes in the queue (job_submission), and the work units of a
// reconstruction job (task fit_people or fuse_depth), counted at submission from its
// inputs: they are its `samples`, cut into shards like a render job's. COCO inputs are
// parsed and grouped by recon/coco_input.h exactly as the workers will (so a file that is
// not COCO is refused here, naming the element); scans and depth captures are one unit
// per input file. Internal to coordinator/.
#pragma once

#include <cstdint>
#include <string>

#include <tl/expected.hpp>

#include "jobs/spec.h"
#include "queue/queue.h"

namespace synthfarm::coordinator {

struct UnitCount {
  int64_t units = 0;
  std::string note;  // what was left out, for the log and the answer ("3 people with fewer than 6 ...")
};

struct UnitError {
  std::string path;  // the spec field: "inputs", "samples"
  std::string message;
};

// The fields the queue's scripts read, and the canonical JSON, the spec's one stored form.
queue::JobSubmission job_submission(const jobs::JobSpec& spec);

// Reads the inputs through storage (the caller has checked them against its allow-list).
tl::expected<UnitCount, UnitError> count_units(const jobs::JobSpec& spec);

}  // namespace synthfarm::coordinator
