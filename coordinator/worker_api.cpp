#include "coordinator/worker_api.h"

#include <nlohmann/json.hpp>

#include "coordinator/api_json.h"

namespace synthfarm::coordinator {

void reply_worker(const FarmView& view, const History& history, const std::string& id, int64_t now_ms,
                  httplib::Response& res) {
  auto worker = view.worker(id, now_ms);
  if (!worker) return reply_error(res, 404, "no worker " + id + " on this coordinator (none heard from in the last hour)");
  nlohmann::json body = worker_json(*worker, now_ms);
  auto series = history.worker_json(id);
  body["history"] = series ? *series
                           : nlohmann::json{{"interval_ms", history.interval_ms()},
                                            {"t", nlohmann::json::array()},
                                            {"samples_per_sec", nlohmann::json::array()}};
  reply_json(res, 200, body);
}

}  // namespace synthfarm::coordinator
