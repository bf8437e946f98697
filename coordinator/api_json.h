// The JSON the API answers with for a job and a worker (GET /api/jobs, /api/workers and
// the dashboard's live stream). Internal to coordinator/.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include <httplib.h>

#include "coordinator/farm_view.h"
#include "queue/queue.h"

namespace synthfarm::coordinator {

// A job's record with its live progress (samples in flight, rate, ETA).
nlohmann::json job_json(const queue::JobRecord& r, const JobLive& live);
// A worker as its last heartbeat shows it ("lost" once it has gone quiet), with its own
// metrics in brief ("metrics": mean seconds per sample rendered and stored and per shard
// waited for, samples rendered, failed shards by kind; null from a worker without them).
nlohmann::json worker_json(const WorkerView& w, int64_t now_ms);

// JSON text of an answer. Strings from outside (a request's path, a worker id from
// telemetry) may hold invalid UTF-8, on which dump() throws: they get U+FFFD instead.
std::string json_text(const nlohmann::json& body);
void reply_json(httplib::Response& res, int status, const nlohmann::json& body);
// {"error": message} with `status`.
void reply_error(httplib::Response& res, int status, const std::string& message);
// A request's query parameter `name`, nullopt when it has none.
std::optional<std::string> query_param(const httplib::Request& req, const char* name);

}  // namespace synthfarm::coordinator
