// What fetch, verify and gc start from: a job's record from the coordinator and the
// storage its dataset lives in, opened. Internal to cli/.
#pragma once

#include <memory>
#include <string>

#include <tl/expected.hpp>

#include "cli/coordinator_client.h"
#include "storage/object_store.h"

namespace synthfarm::cli {

// done, partial and failed: nothing more will be written for the job.
bool job_ended(const std::string& state);

struct JobStore {
  std::string state;
  std::string uri;  // the job's storage location
  std::unique_ptr<storage::ObjectStore> store;
};

// GET /api/jobs/JOB, then its `storage` opened. `unless_ended`: what the command will not
// do to a job that has not ended (nullptr: any state will do). On failure prints what is
// wrong and returns the exit code.
tl::expected<JobStore, int> open_job_store(const Remote& remote, const std::string& job, const char* unless_ended);

}  // namespace synthfarm::cli
