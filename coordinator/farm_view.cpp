#include "coordinator/farm_view.h"

#include <algorithm>
#include <optional>

namespace synthfarm::coordinator {
namespace {

void trim(std::deque<int64_t>& times, int64_t now_ms) {
  while (!times.empty() && times.front() < now_ms - FarmView::kRateWindowMs) times.pop_front();
}

// Whether any of a's cumulative counts is below b's.
bool counts_behind(const protocol::WorkerMetrics& a, const protocol::WorkerMetrics& b) {
  if (a.samples_rendered < b.samples_rendered) return true;
  if (a.render_seconds.count() < b.render_seconds.count() || a.upload_seconds.count() < b.upload_seconds.count() ||
      a.queue_wait_seconds.count() < b.queue_wait_seconds.count()) {
    return true;
  }
  for (size_t i = 0; i < a.failures.size(); ++i) {
    if (a.failures[i] < b.failures[i]) return true;
  }
  return false;
}

}  // namespace

void FarmView::on_telemetry(const protocol::Telemetry& message, int64_t now_ms) {
  std::lock_guard lock(mutex_);
  if (const auto* hb = std::get_if<protocol::Heartbeat>(&message)) {
    on_heartbeat(*hb, now_ms);
  } else {
    on_progress(std::get<protocol::SampleProgress>(message), now_ms);
  }
}

void FarmView::on_heartbeat(const protocol::Heartbeat& hb, int64_t now_ms) {
  auto& w = workers_[hb.worker_id];
  // A worker's counts only go up while its process lives. A heartbeat of the same process
  // that was sent earlier and counts less than the one in hand was overtaken (with the
  // relay, by a copy that reached another coordinator first): Prometheus would read its
  // metrics as a counter reset, and rate() would count everything again. Its metrics are
  // ignored. A restarted worker of the same id and pid (a container's pid 1) sends later.
  const auto& held = w.heartbeat;
  const bool overtaken = hb.metrics && held.metrics && hb.pid == held.pid && hb.sent_ms < held.sent_ms &&
                         counts_behind(*hb.metrics, *held.metrics);
  std::optional<protocol::WorkerMetrics> kept = overtaken ? held.metrics : std::nullopt;
  w.heartbeat = hb;
  if (kept) w.heartbeat.metrics = std::move(kept);
  w.last_seen_ms = now_ms;
  // Forget workers that have been silent for an hour.
  std::erase_if(workers_, [&](const auto& kv) { return kv.second.last_seen_ms < now_ms - 3600 * 1000; });
}

void FarmView::on_progress(const protocol::SampleProgress& sp, int64_t now_ms) {
  auto& job = jobs_[sp.shard.job_id];
  if (sp.shard_complete) {
    job.inflight.erase(sp.shard.shard);
    job.inflight_residuals.erase(sp.shard.shard);  // Redis holds them now
    return;
  }
  if (job.inflight[sp.shard.shard].insert(sp.sample).second && sp.residual_px >= 0) {
    auto& [sum, units] = job.inflight_residuals[sp.shard.shard];
    sum += sp.residual_px;
    ++units;
  }
  job.finished_ms.push_back(now_ms);
  trim(job.finished_ms, now_ms);
  job.recent.push_front(sp.sample);
  if (job.recent.size() > kRecentSamples) job.recent.pop_back();
  all_finished_ms_.push_back(now_ms);
  trim(all_finished_ms_, now_ms);
  auto w = workers_.find(sp.worker_id);
  if (w != workers_.end()) w->second.last_seen_ms = std::max(w->second.last_seen_ms, now_ms);
}

double FarmView::rate(const std::deque<int64_t>& times, int64_t now_ms) {
  int64_t n = std::count_if(times.begin(), times.end(),
                            [&](int64_t t) { return t >= now_ms - kRateWindowMs; });
  if (n == 0) return 0;
  // Over the window, or over the time since the first sample when that is shorter (a job
  // that started 2 s ago has a rate over 2 s, not over 10).
  int64_t first = *std::find_if(times.begin(), times.end(),
                                [&](int64_t t) { return t >= now_ms - kRateWindowMs; });
  double span_ms = std::clamp<double>(static_cast<double>(now_ms - first), 1000.0, kRateWindowMs);
  return static_cast<double>(n) * 1000.0 / span_ms;
}

std::vector<WorkerView> FarmView::workers(int64_t now_ms) const {
  std::lock_guard lock(mutex_);
  std::vector<WorkerView> out;
  for (const auto& [id, w] : workers_) {
    WorkerView v = w;
    v.alive = now_ms - w.last_seen_ms <= kAliveMs;
    out.push_back(std::move(v));
  }
  return out;
}

std::optional<WorkerView> FarmView::worker(const std::string& id, int64_t now_ms) const {
  std::lock_guard lock(mutex_);
  auto it = workers_.find(id);
  if (it == workers_.end()) return std::nullopt;
  WorkerView v = it->second;
  v.alive = now_ms - v.last_seen_ms <= kAliveMs;
  return v;
}

JobLive FarmView::job(const std::string& job_id, int64_t now_ms) const {
  std::lock_guard lock(mutex_);
  JobLive live;
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) return live;
  for (const auto& [shard, samples] : it->second.inflight) live.inflight_samples += static_cast<int64_t>(samples.size());
  live.samples_per_sec = rate(it->second.finished_ms, now_ms);
  live.recent_samples.assign(it->second.recent.begin(), it->second.recent.end());
  for (const auto& [shard, residuals] : it->second.inflight_residuals) {
    live.inflight_residual_sum_px += residuals.first;
    live.inflight_residual_units += residuals.second;
  }
  return live;
}

double FarmView::total_samples_per_sec(int64_t now_ms) const {
  std::lock_guard lock(mutex_);
  return rate(all_finished_ms_, now_ms);
}

void FarmView::forget_job(const std::string& job_id) {
  std::lock_guard lock(mutex_);
  auto it = jobs_.find(job_id);
  if (it != jobs_.end()) {
    it->second.inflight.clear();
    it->second.inflight_residuals.clear();
  }
}

}  // namespace synthfarm::coordinator
