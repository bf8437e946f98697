#include "coordinator/metrics_text.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "coordinator/api_json.h"

namespace synthfarm::coordinator {

std::string prometheus_text(queue::Queue& queue, const FarmView& view, int64_t now_ms,
                            const CoordinatorCounters& counters) {
  std::string out;
  auto gauge = [&](const char* name, const char* help, const char* type) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  };
  auto counts = queue.job_counts();
  gauge("synthfarm_redis_up", "1 when the coordinator can reach Redis.", "gauge");
  out += fmt::format("synthfarm_redis_up {}\n", counts ? 1 : 0);
  if (counts) {
    // Every state, 0 included, so that no series comes and goes with its jobs.
    gauge("synthfarm_jobs", "Jobs by state.", "gauge");
    for (const auto& [state, n] : counts->by_state) out += fmt::format("synthfarm_jobs{{state=\"{}\"}} {}\n", state, n);
  }
  if (auto p = queue.pending_shards()) {
    gauge("synthfarm_shards_pending", "Shards waiting in the queue (the autoscaling signal).", "gauge");
    out += fmt::format("synthfarm_shards_pending {}\n", *p);
  }
  if (auto l = queue.leased_shards()) {
    gauge("synthfarm_shards_leased", "Shards held by workers.", "gauge");
    out += fmt::format("synthfarm_shards_leased {}\n", *l);
  }
  if (auto s = queue.samples_rendered()) {
    gauge("synthfarm_samples_completed_total", "Samples in shards whose completion Redis accepted.", "counter");
    out += fmt::format("synthfarm_samples_completed_total {}\n", *s);
  }
  auto workers = view.workers(now_ms);
  gauge("synthfarm_workers_alive", "Workers heard from in the last 5 s.", "gauge");
  out += fmt::format("synthfarm_workers_alive {}\n",
                     std::count_if(workers.begin(), workers.end(), [](auto& w) { return w.alive; }));
  gauge("synthfarm_samples_per_second", "Farm throughput over the last 10 s.", "gauge");
  out += fmt::format("synthfarm_samples_per_second {:.3f}\n", view.total_samples_per_sec(now_ms));
  gauge("synthfarm_telemetry_messages_total", "Telemetry messages received.", "counter");
  out += fmt::format("synthfarm_telemetry_messages_total {}\n", counters.telemetry_messages);
  gauge("synthfarm_telemetry_malformed_total", "Telemetry messages that did not decode.", "counter");
  out += fmt::format("synthfarm_telemetry_malformed_total {}\n", counters.telemetry_malformed);
  gauge("synthfarm_telemetry_rejected_total", "Telemetry connections refused: CURVE key not in --curve-workers.", "counter");
  out += fmt::format("synthfarm_telemetry_rejected_total {}\n", counters.telemetry_rejected);
  gauge("synthfarm_jobs_finalized_total", "Jobs this coordinator finalized since it started.", "counter");
  out += fmt::format("synthfarm_jobs_finalized_total {}\n", counters.jobs_finalized);
  gauge("synthfarm_leases_reaped_total", "Expired leases this coordinator put back in the queue.", "counter");
  out += fmt::format("synthfarm_leases_reaped_total {}\n", counters.leases_reaped);
  return out;
}

void sample_history(History& history, queue::Queue& queue, const FarmView& view, int64_t now_ms,
                    int64_t since_ms) {
  History::FarmPoint farm;
  farm.samples_per_sec = view.total_samples_per_sec(now_ms);
  if (auto p = queue.pending_shards()) farm.shards_pending = *p;
  if (auto l = queue.leased_shards()) farm.shards_leased = *l;
  std::map<std::string, History::WorkerPoint> workers;
  for (const auto& w : view.workers(now_ms)) {
    farm.workers_alive += w.alive ? 1 : 0;
    workers[w.heartbeat.worker_id] = {w.heartbeat.samples_per_sec, w.alive};
  }
  std::map<std::string, History::JobPoint> jobs;
  if (auto records = queue.jobs()) {
    for (const auto& r : *records) {
      const bool active = r.state == "running" || r.state == "queued" || r.state == "finalizing";
      farm.jobs_active += active ? 1 : 0;
      if (!active && r.finished_ms < since_ms) continue;
      // The figures the API shows for the job (api_json.h), so the curve ends where the
      // table's numbers are.
      const nlohmann::json j = job_json(r, view.job(r.id, now_ms));
      jobs[r.id] = {j["samples_done"].get<int64_t>(), j["samples_per_sec"].get<double>(), j["eta_s"].get<double>()};
    }
  }
  history.record(now_ms, farm, jobs, workers);
}

}  // namespace synthfarm::coordinator
