// GET /api/workers/{id}: one worker as the live view shows it (worker_json) with its
// samples/s over the last hour (history.h), for the dashboard's worker page. Internal to
// coordinator/.
#pragma once

#include <cstdint>
#include <string>

#include <httplib.h>

#include "coordinator/farm_view.h"
#include "coordinator/history.h"

namespace synthfarm::coordinator {

// 200 with the worker's JSON and "history" ({"interval_ms", "t", "samples_per_sec"}, empty
// until the housekeeping pass first samples it); 404 for a worker this coordinator has not
// heard from in the last hour.
void reply_worker(const FarmView& view, const History& history, const std::string& id, int64_t now_ms,
                  httplib::Response& res);

}  // namespace synthfarm::coordinator
