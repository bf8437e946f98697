#include "coordinator/metrics_text.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "coordinator/api_json.h"

namespace synthfarm::coordinator {

namespace {

// One histogram family: per worker, cumulative buckets up to +Inf, then _sum and _count.
void append_histogram(std::string& out, std::string_view name, std::string_view help,
                      const std::vector<std::pair<std::string, const protocol::Histogram*>>& series) {
  out += fmt::format("# HELP {} {}\n# TYPE {} histogram\n", name, help, name);
  for (const auto& [labels, h] : series) {
    uint64_t cumulative = 0;
    for (size_t i = 0; i < h->counts.size(); ++i) {
      cumulative += h->counts[i];
      const std::string le = i < h->upper_bounds.size() ? fmt::format("{}", h->upper_bounds[i]) : "+Inf";
      out += fmt::format("{}_bucket{{{},le=\"{}\"}} {}\n", name, labels, le, cumulative);
    }
    out += fmt::format("{}_sum{{{}}} {}\n{}_count{{{}}} {}\n", name, labels, h->sum, name, labels, cumulative);
  }
}

}  // namespace

std::string prometheus_label_value(std::string_view text) {
  static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD
  static constexpr uint32_t kShortest[] = {0, 0, 0x80, 0x800, 0x10000};  // by sequence length
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    const size_t len = lead < 0x80 ? 1 : (lead >> 5) == 0x6 ? 2 : (lead >> 4) == 0xE ? 3 : (lead >> 3) == 0x1E ? 4 : 0;
    bool valid = len > 0 && i + len <= text.size();
    uint32_t code = len == 1 ? lead : len == 2 ? lead & 0x1Fu : len == 3 ? lead & 0x0Fu : lead & 0x07u;
    for (size_t k = 1; valid && k < len; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      valid = (next & 0xC0) == 0x80;
      code = (code << 6) | (next & 0x3Fu);
    }
    // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8.
    valid = valid && code >= kShortest[len] && !(code >= 0xD800 && code <= 0xDFFF) && code <= 0x10FFFF;
    if (!valid) {
      out += kReplacement;
      ++i;
      continue;
    }
    if (code == '\\') {
      out += "\\\\";
    } else if (code == '"') {
      out += "\\\"";
    } else if (code == '\n') {
      out += "\\n";
    } else if (code < 0x20 || code == 0x7F) {
      out += kReplacement;
    } else {
      out.append(text.substr(i, len));
    }
    i += len;
  }
  return out;
}

std::string worker_metrics_text(const std::vector<WorkerView>& workers, int64_t now_ms) {
  struct Exported {
    std::string labels;
    const protocol::WorkerMetrics* metrics;
  };
  std::vector<Exported> exported;
  std::set<std::string> seen;
  for (const auto& w : workers) {
    if (!w.heartbeat.metrics || now_ms - w.last_seen_ms > FarmView::kMetricsKeepMs) continue;
    // Two ids that differ only in bytes replaced by U+FFFD would give one series twice,
    // and Prometheus refuses a whole scrape with a duplicate: the first one stays.
    std::string worker = prometheus_label_value(w.heartbeat.worker_id);
    if (!seen.insert(worker).second) continue;
    exported.push_back({fmt::format("worker=\"{}\",host=\"{}\"", worker, prometheus_label_value(w.heartbeat.host)),
                        &*w.heartbeat.metrics});
  }
  // The families are described even with no worker to report, as a metric with no
  // series yet: a dashboard built on them checks against any coordinator's scrape.
  std::string out;
  auto histograms = [&](protocol::Histogram protocol::WorkerMetrics::*field) {
    std::vector<std::pair<std::string, const protocol::Histogram*>> series;
    for (const auto& e : exported) series.emplace_back(e.labels, &(e.metrics->*field));
    return series;
  };
  append_histogram(out, "synthfarm_worker_render_seconds",
                   "Seconds to render one sample (or run one reconstruction unit), per worker.",
                   histograms(&protocol::WorkerMetrics::render_seconds));
  append_histogram(out, "synthfarm_worker_upload_seconds",
                   "Seconds to store one sample's objects (first put to last confirmation), per worker.",
                   histograms(&protocol::WorkerMetrics::upload_seconds));
  append_histogram(out, "synthfarm_worker_queue_wait_seconds",
                   "Seconds from a worker being free to take a shard to holding one, per shard claimed.",
                   histograms(&protocol::WorkerMetrics::queue_wait_seconds));
  out += "# HELP synthfarm_worker_samples_rendered_total Samples a worker rendered since it started.\n"
         "# TYPE synthfarm_worker_samples_rendered_total counter\n";
  for (const auto& e : exported) {
    out += fmt::format("synthfarm_worker_samples_rendered_total{{{}}} {}\n", e.labels, e.metrics->samples_rendered);
  }
  out += "# HELP synthfarm_worker_failures_total Shards a worker did not complete, by why.\n"
         "# TYPE synthfarm_worker_failures_total counter\n";
  for (const auto& e : exported) {
    for (protocol::FailureKind kind : protocol::kAllFailureKinds) {
      out += fmt::format("synthfarm_worker_failures_total{{{},kind=\"{}\"}} {}\n", e.labels,
                         protocol::failure_kind_name(kind), e.metrics->failures[static_cast<size_t>(kind)]);
    }
  }
  return out;
}

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
  out += worker_metrics_text(workers, now_ms);
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
