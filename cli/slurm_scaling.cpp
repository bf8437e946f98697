#include "cli/slurm_scaling.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <set>

namespace synthfarm::cli {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

std::optional<int64_t> to_int(std::string_view s) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// Visits each sample line of Prometheus text as (metric name, value text).
template <typename F>
void for_each_sample(std::string_view text, F visit) {
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = trim(text.substr(0, eol));
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    if (line.empty() || line.front() == '#') continue;
    size_t name_end = line.find_first_of("{ \t");
    if (name_end == std::string_view::npos) continue;
    std::string_view name = line.substr(0, name_end);
    std::string_view rest = line.substr(name_end);
    if (rest.front() == '{') {
      size_t close = rest.find('}');
      if (close == std::string_view::npos) continue;
      rest = rest.substr(close + 1);
    }
    rest = trim(rest);
    visit(name, rest.substr(0, rest.find_first_of(" \t")));  // a timestamp may follow
  }
}

// Slurm job states (squeue %T) of tasks not started yet, and of tasks started and not
// ending. Anything else (COMPLETING, COMPLETED, CANCELLED, FAILED, TIMEOUT, PREEMPTED,
// NODE_FAIL, ...) is on its way out.
const std::set<std::string, std::less<>> kQueuedStates = {"PENDING", "REQUEUED", "REQUEUE_HOLD",
                                                          "REQUEUE_FED", "RESV_DEL_HOLD"};
const std::set<std::string, std::less<>> kStartedStates = {"CONFIGURING", "RUNNING", "RESIZING",
                                                           "SUSPENDED", "STOPPED"};

bool newer(const SlurmTask& a, const SlurmTask& b) {
  if (a.array_job != b.array_job) return a.array_job > b.array_job;
  return a.task.value_or(0) > b.task.value_or(0);
}

}  // namespace

tl::expected<QueueDepth, std::string> parse_queue_depth(std::string_view metrics) {
  std::optional<int64_t> pending, leased;
  std::string bad;
  for_each_sample(metrics, [&](std::string_view name, std::string_view value) {
    if (name != "synthfarm_shards_pending" && name != "synthfarm_shards_leased") return;
    // Gauges print as integers; accept "12.0" too, as any Prometheus client may.
    char* end = nullptr;
    std::string text(value);
    double v = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0' || !std::isfinite(v) || v < 0 || v != std::floor(v)) {
      bad = fmt::format("{} has the value '{}', not a shard count", name, value);
      return;
    }
    (name == "synthfarm_shards_pending" ? pending : leased) = static_cast<int64_t>(v);
  });
  if (!bad.empty()) return tl::unexpected(bad);
  if (!pending || !leased) {
    const char* missing = !pending ? "synthfarm_shards_pending" : "synthfarm_shards_leased";
    bool redis_down = false;
    for_each_sample(metrics, [&](std::string_view name, std::string_view value) {
      if (name == "synthfarm_redis_up" && value == "0") redis_down = true;
    });
    return tl::unexpected(
        redis_down
            ? fmt::format("no {}: the coordinator cannot reach Redis (synthfarm_redis_up 0)",
                          missing)
            : fmt::format("no {} in the metrics (is this a synthfarm coordinator?)", missing));
  }
  return QueueDepth{*pending, *leased};
}

std::string SlurmTask::slurm_id() const {
  return task ? fmt::format("{}_{}", array_job, *task) : std::to_string(array_job);
}

std::string SlurmTask::worker_id(const std::string& prefix) const {
  return fmt::format("{}{}_{}", prefix, array_job, task.value_or(0));
}

tl::expected<std::vector<SlurmTask>, std::string> parse_squeue(std::string_view text) {
  std::vector<SlurmTask> tasks;
  int line_no = 0;
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = trim(text.substr(0, eol));
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    ++line_no;
    if (line.empty()) continue;
    size_t a = line.find('|');
    size_t b = a == std::string_view::npos ? a : line.find('|', a + 1);
    auto job = a == std::string_view::npos ? std::nullopt : to_int(line.substr(0, a));
    if (b == std::string_view::npos || !job || line.find('|', b + 1) != std::string_view::npos) {
      return tl::unexpected(
          fmt::format("squeue line {}: expected JOB|TASK|STATE, got '{}'", line_no, line));
    }
    SlurmTask task{*job, std::nullopt, std::string(line.substr(b + 1))};
    std::string_view index = line.substr(a + 1, b - a - 1);
    if (index != "N/A") {
      task.task = to_int(index);
      if (!task.task) {
        // A pending array squeue did not split (it does with -r); never guess its size.
        return tl::unexpected(
            fmt::format("squeue line {}: array index '{}' is not one task", line_no, index));
      }
    }
    tasks.push_back(std::move(task));
  }
  return tasks;
}

int64_t wanted_workers(const QueueDepth& depth, const ScalePolicy& policy) {
  int64_t work = depth.pending + depth.leased;
  if (work <= 0 || policy.max_workers <= 0) return 0;
  int64_t per = std::max<int64_t>(1, policy.shards_per_worker);
  return std::min(policy.max_workers, (work + per - 1) / per);
}

ScalePlan plan_scale(const QueueDepth& depth, const std::vector<SlurmTask>& tasks,
                     const std::map<std::string, WorkerActivity>& workers,
                     const ScalePolicy& policy) {
  ScalePlan plan;
  plan.wanted = wanted_workers(depth, policy);
  std::vector<SlurmTask> queued, idle, busy;
  for (const auto& t : tasks) {
    if (kQueuedStates.count(t.state)) {
      queued.push_back(t);
      continue;
    }
    if (!kStartedStates.count(t.state)) continue;  // ending
    auto w = workers.find(t.worker_id(policy.worker_prefix));
    auto activity = w == workers.end() ? WorkerActivity::kLost : w->second;
    if (activity == WorkerActivity::kStopping) continue;  // already told to go
    // With no shard leased nobody holds work, whatever a late heartbeat says; otherwise a
    // worker not heard from (starting, or its telemetry blocked) may hold one.
    bool holds = depth.leased > 0 && activity != WorkerActivity::kIdle;
    (holds ? busy : idle).push_back(t);
  }
  plan.queued = static_cast<int64_t>(queued.size());
  plan.started = static_cast<int64_t>(idle.size() + busy.size());
  if (plan.wanted >= plan.current()) {
    plan.submit = plan.wanted - plan.current();
    return plan;
  }
  int64_t excess = plan.current() - plan.wanted;
  for (auto* group : {&queued, &idle, &busy}) std::sort(group->begin(), group->end(), newer);
  for (const auto& t : queued) {
    if (excess == 0) break;
    plan.cancel.push_back(t);
    --excess;
  }
  for (const auto& t : idle) {
    if (excess == 0) break;
    plan.stop.push_back(t);
    --excess;
  }
  for (const auto& t : busy) {
    if (excess == 0) break;
    if (!policy.shrink_running) {
      plan.kept_busy = excess;
      break;
    }
    plan.stop.push_back(t);
    --excess;
  }
  return plan;
}

}  // namespace synthfarm::cli
