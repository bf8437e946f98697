#include "cli/job_store.h"

#include <fmt/format.h>

#include "cli/common.h"

namespace synthfarm::cli {

bool job_ended(const std::string& state) { return state == "done" || state == "partial" || state == "failed"; }

tl::expected<JobStore, int> open_job_store(const Remote& remote, const std::string& job, const char* unless_ended) {
  int status = 0;
  auto body = get_json(remote, "/api/jobs/" + job, status);
  if (!body) {
    fmt::print(stderr, "error: {}\n", body.error());
    return tl::unexpected(status == 404 ? kExitBadInput : kExitFailure);
  }
  JobStore out;
  out.state = body->value("state", "");
  if (unless_ended && !job_ended(out.state)) {
    fmt::print(stderr, "error: job {} is {}: {} (synthfarm wait {})\n", job, out.state, unless_ended, job);
    return tl::unexpected(kExitBadInput);
  }
  out.uri = body->value("storage", "");
  auto store = storage::open_store(out.uri);
  if (!store) {
    fmt::print(stderr, "error: job {}: storage {}: {}\n", job, out.uri, store.error().message);
    return tl::unexpected(kExitFailure);
  }
  out.store = std::move(*store);
  return out;
}

}  // namespace synthfarm::cli
