#include "coordinator/api_json.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "protocol/messages.h"

namespace synthfarm::coordinator {

using nlohmann::json;

json job_json(const queue::JobRecord& r, const JobLive& live) {
  bool active = r.state == "running" || r.state == "queued" || r.state == "finalizing";
  // Samples of shards still in flight count only while the job runs: once it has ended,
  // the samples of a shard that failed part-way were never delivered.
  int64_t done = r.state == "done" ? r.samples
                 : active          ? std::min(r.samples, r.samples_done + live.inflight_samples)
                                   : r.samples_done;
  double rate = live.samples_per_sec;
  if (!active && r.finished_ms > r.started_ms && r.started_ms > 0) {
    // An ended job reports its average over the whole run.
    rate = static_cast<double>(r.samples_done) * 1000.0 /
           static_cast<double>(r.finished_ms - r.started_ms);
  }
  // -1: unknown (no throughput measured yet).
  double eta = !active ? 0.0 : rate > 0 ? static_cast<double>(r.samples - done) / rate : -1.0;
  // A fit_people job's natural figure: the mean reprojection error of its units so far
  // (completed shards from Redis, in-flight units from telemetry while it runs).
  const double residual_sum = r.residual_sum_px + (active ? live.inflight_residual_sum_px : 0.0);
  const int64_t residual_units = r.residual_units + (active ? live.inflight_residual_units : 0);
  return {{"id", r.id},
          {"name", r.name},
          {"task", r.task},
          {"mean_residual_px", residual_units > 0 ? json(residual_sum / static_cast<double>(residual_units)) : json(nullptr)},
          {"state", r.state},
          {"priority", r.priority},
          {"samples", r.samples},
          {"samples_done", done},
          {"shard_size", r.shard_size},
          {"shards_total", r.shards_total},
          {"shards_done", r.shards_done},
          {"shards_failed", r.shards_dead},
          {"created_ms", r.created_ms},
          {"started_ms", r.started_ms},
          {"finished_ms", r.finished_ms},
          {"storage", r.storage},
          {"submitted_by", r.owner},
          {"samples_per_sec", rate},
          {"eta_s", eta},
          {"error", r.error}};
}

namespace {

// Mean seconds per observation, to 0.1 ms; null before the first one.
json mean_seconds(const protocol::Histogram& h) {
  const uint64_t n = h.count();
  if (n == 0) return nullptr;
  return std::round(h.sum / static_cast<double>(n) * 1e4) / 1e4;
}

// The worker's own metrics, small: the stream sends it for every worker every second.
json worker_metrics_json(const protocol::WorkerMetrics& m) {
  json failures = json::object();  // only the kinds that happened
  for (protocol::FailureKind kind : protocol::kAllFailureKinds) {
    if (const uint64_t n = m.failures[static_cast<size_t>(kind)]; n > 0) {
      failures[std::string(protocol::failure_kind_name(kind))] = n;
    }
  }
  return {{"render_s_mean", mean_seconds(m.render_seconds)},
          {"upload_s_mean", mean_seconds(m.upload_seconds)},
          {"queue_wait_s_mean", mean_seconds(m.queue_wait_seconds)},
          {"samples_rendered", m.samples_rendered},
          {"failures", std::move(failures)}};
}

}  // namespace

json worker_json(const WorkerView& w, int64_t now_ms) {
  const auto& hb = w.heartbeat;
  bool rendering = hb.state == protocol::WorkerState::kRendering;
  return {{"id", hb.worker_id},
          {"host", hb.host},
          {"pid", hb.pid},
          {"state", w.alive ? std::string(protocol::worker_state_name(hb.state)) : "lost"},
          {"job", rendering ? hb.shard.job_id : ""},
          {"shard", rendering ? json(hb.shard.shard) : json(nullptr)},
          {"threads", hb.threads},
          {"samples_done", hb.samples_done},
          {"samples_per_sec", hb.samples_per_sec},
          {"last_heartbeat_ms", w.last_seen_ms},
          {"age_ms", now_ms - w.last_seen_ms},
          {"alive", w.alive},
          {"metrics", hb.metrics ? worker_metrics_json(*hb.metrics) : json(nullptr)}};
}

std::string json_text(const json& body) { return body.dump(-1, ' ', false, json::error_handler_t::replace); }

void reply_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(json_text(body) + "\n", "application/json");
}

void reply_error(httplib::Response& res, int status, const std::string& message) {
  reply_json(res, status, {{"error", message}});
}

std::optional<std::string> query_param(const httplib::Request& req, const char* name) {
  if (!req.has_param(name)) return std::nullopt;
  return req.get_param_value(name);
}

}  // namespace synthfarm::coordinator
