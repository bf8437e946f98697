#include "coordinator/history.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

namespace synthfarm::coordinator {

using nlohmann::json;

namespace {

constexpr double kUnknown = std::numeric_limits<double>::quiet_NaN();

// A gauge that may be unknown (-1) as a number or NaN.
double known(int64_t v) { return v < 0 ? kUnknown : static_cast<double>(v); }
double known(double v) { return v < 0 ? kUnknown : v; }

}  // namespace

History::Rings::Rings(std::vector<std::string> column_names, std::vector<bool> counters)
    : names(std::move(column_names)),
      fine(names.size()),
      coarse(names.size()),
      bucket_sum(names.size(), 0),
      bucket_last(names.size(), kUnknown),
      bucket_count(names.size(), 0),
      counter(std::move(counters)) {}

void History::Rings::add(int64_t t_ms, const std::vector<double>& values, size_t fine_points) {
  fine_t.push_back(t_ms);
  for (size_t c = 0; c < names.size(); ++c) fine[c].push_back(values[c]);
  while (fine_t.size() > fine_points) {
    fine_t.pop_front();
    for (auto& column : fine) column.pop_front();
  }
  // The minute's point closes when a sample of the next minute arrives.
  const int64_t minute = t_ms / kCoarseStepMs;
  if (bucket >= 0 && minute != bucket) {
    coarse_t.push_back(bucket * kCoarseStepMs);
    for (size_t c = 0; c < names.size(); ++c) {
      const double mean = bucket_count[c] > 0 ? bucket_sum[c] / bucket_count[c] : kUnknown;
      coarse[c].push_back(counter[c] ? bucket_last[c] : mean);
    }
    while (coarse_t.size() > kCoarsePoints) {
      coarse_t.pop_front();
      for (auto& column : coarse) column.pop_front();
    }
    std::fill(bucket_sum.begin(), bucket_sum.end(), 0.0);
    std::fill(bucket_last.begin(), bucket_last.end(), kUnknown);
    std::fill(bucket_count.begin(), bucket_count.end(), 0);
  }
  bucket = minute;
  for (size_t c = 0; c < names.size(); ++c) {
    if (std::isnan(values[c])) continue;
    bucket_sum[c] += values[c];
    bucket_last[c] = values[c];
    ++bucket_count[c];
  }
}

json History::Rings::to_json(bool coarse_series, int64_t interval_ms) const {
  const auto& times = coarse_series ? coarse_t : fine_t;
  const auto& columns = coarse_series ? coarse : fine;
  json out = {{"interval_ms", coarse_series ? kCoarseStepMs : interval_ms},
              {"t", json(std::vector<int64_t>(times.begin(), times.end()))}};
  for (size_t c = 0; c < names.size(); ++c) {
    json column = json::array();
    for (double v : columns[c]) column.push_back(std::isnan(v) ? json(nullptr) : json(v));
    out[names[c]] = std::move(column);
  }
  return out;
}

History::History(int64_t interval_ms)
    : interval_ms_(std::max<int64_t>(interval_ms, 1)),
      fine_points_(static_cast<size_t>(std::max<int64_t>(1, kFineSpanMs / interval_ms_))),
      farm_({"samples_per_sec", "shards_pending", "shards_leased", "workers_alive", "jobs_active"},
            {false, false, false, false, false}) {}

bool History::due(int64_t now_ms) const {
  std::lock_guard lock(mutex_);
  return last_ms_ < 0 || now_ms - last_ms_ >= interval_ms_;
}

void History::record(int64_t now_ms, const FarmPoint& farm, const std::map<std::string, JobPoint>& jobs,
                     const std::map<std::string, WorkerPoint>& workers) {
  std::lock_guard lock(mutex_);
  last_ms_ = now_ms;
  farm_.add(now_ms,
            {farm.samples_per_sec, known(farm.shards_pending), known(farm.shards_leased),
             static_cast<double>(farm.workers_alive), static_cast<double>(farm.jobs_active)},
            fine_points_);
  for (const auto& [id, point] : jobs) {
    auto it = jobs_.find(id);
    if (it == jobs_.end()) {
      it = jobs_.emplace(id, Rings({"samples_done", "samples_per_sec", "eta_s"}, {true, false, false})).first;
    }
    it->second.add(now_ms, {static_cast<double>(point.samples_done), point.samples_per_sec, known(point.eta_s)},
                   fine_points_);
    job_seen_[id] = now_ms;
  }
  // Bounded: the series of the jobs sampled longest ago go first.
  while (jobs_.size() > kMaxJobs) {
    auto oldest = std::min_element(job_seen_.begin(), job_seen_.end(),
                                   [](const auto& a, const auto& b) { return a.second < b.second; });
    jobs_.erase(oldest->first);
    job_seen_.erase(oldest);
  }
  record_workers(now_ms, workers);
}

void History::record_workers(int64_t now_ms, const std::map<std::string, WorkerPoint>& workers) {
  // Gone from the farm view, or lost for too long: the series goes too.
  std::erase_if(workers_, [&](const auto& kv) {
    return !workers.contains(kv.first) || now_ms - kv.second.alive_ms > kWorkerLostMs;
  });
  for (const auto& [id, point] : workers) {
    auto it = workers_.find(id);
    if (it == workers_.end()) {
      if (!point.alive) continue;  // no series starts with a lost worker
      if (workers_.size() >= kMaxWorkers) continue;
      it = workers_.emplace(id, WorkerSeries{}).first;
    }
    auto& series = it->second;
    series.samples_per_sec.push_back(point.alive ? static_cast<float>(point.samples_per_sec)
                                                 : std::numeric_limits<float>::quiet_NaN());
    if (point.alive) series.alive_ms = now_ms;
    // Never longer than the farm's ring, whose newest times these points share.
    while (series.samples_per_sec.size() > farm_.fine_t.size()) series.samples_per_sec.pop_front();
  }
}

json History::farm_json(bool coarse) const {
  std::lock_guard lock(mutex_);
  return farm_.to_json(coarse, interval_ms_);
}

std::optional<json> History::job_json(const std::string& id, bool coarse) const {
  std::lock_guard lock(mutex_);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return std::nullopt;
  return it->second.to_json(coarse, interval_ms_);
}

std::optional<json> History::worker_json(const std::string& id) const {
  std::lock_guard lock(mutex_);
  auto it = workers_.find(id);
  if (it == workers_.end()) return std::nullopt;
  const auto& values = it->second.samples_per_sec;
  // The worker's points are the newest of the farm's: its times are the farm's last ones.
  const auto first_t = farm_.fine_t.end() - static_cast<std::ptrdiff_t>(values.size());
  json column = json::array();
  // Rounded to 1e-3, so a float's 1.3 reads 1.3, not 1.2999999523.
  for (float v : values) column.push_back(std::isnan(v) ? json(nullptr) : json(std::round(v * 1000.0) / 1000.0));
  return json{{"interval_ms", interval_ms_},
              {"t", json(std::vector<int64_t>(first_t, farm_.fine_t.end()))},
              {"samples_per_sec", std::move(column)}};
}

json History::farm_tail() const {
  std::lock_guard lock(mutex_);
  if (farm_.fine_t.empty()) return nullptr;
  json out = {{"t", farm_.fine_t.back()}};
  for (size_t c = 0; c < farm_.names.size(); ++c) {
    const double v = farm_.fine[c].back();
    out[farm_.names[c]] = std::isnan(v) ? json(nullptr) : json(v);
  }
  return out;
}

}  // namespace synthfarm::coordinator
