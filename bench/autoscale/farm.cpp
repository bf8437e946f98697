#include "bench/autoscale/farm.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <deque>
#include <optional>

namespace synthfarm::autoscale {

namespace {

constexpr int64_t kNever = INT64_MAX;
constexpr double kMsPerHour = 3600.0 * 1000.0;

struct Shard {
  size_t job = 0;
  int64_t samples = 0;
};

struct Work {
  Shard shard;
  int64_t claim_ms = 0;
  int64_t end_ms = 0;
};

struct Pod {
  int64_t created_ms = 0;
  int64_t ready_ms = 0;
  bool ready = false;
  bool terminating = false;
  bool gone = false;
  int64_t exit_ms = kNever;  // when terminating: the end of the sample in hand
  std::optional<Work> work;

  int64_t next_event_ms() const {
    if (gone) return kNever;
    if (terminating) return exit_ms;
    if (!ready) return ready_ms;
    return work ? work->end_ms : kNever;
  }
};

class FarmSim {
 public:
  FarmSim(const Trace& trace, Autoscaler& autoscaler, const FarmOptions& options)
      : trace_(trace), autoscaler_(autoscaler), o_(options), shards_left_(trace.jobs.size()) {
    for (size_t j = 0; j < trace.jobs.size(); ++j) shards_left_[j] = trace.shards_of(trace.jobs[j]);
  }

  FarmResult run();

 private:
  int64_t next_time(int64_t now_ms) const;
  void pod_events(int64_t t);
  void submit(int64_t t);
  void dispatch(int64_t t);
  void scale(int64_t t, int desired);
  void terminate(int64_t t, Pod& pod);
  void exit_pod(int64_t t, Pod& pod);
  int active() const;
  bool finished(int64_t t) const;

  const Trace& trace_;
  Autoscaler& autoscaler_;
  const FarmOptions o_;
  FarmResult result_;
  std::deque<Shard> queue_;  // pending shards, head first
  std::vector<Pod> pods_;    // every pod ever created, by creation
  std::vector<int64_t> pod_end_ms_;
  std::vector<int64_t> shards_left_;
  size_t next_job_ = 0;
  size_t jobs_done_ = 0;
  double metric_ = 0;  // pending + leased at the last scrape
  int64_t next_scrape_ms_ = 0;
  int64_t next_action_ms_ = 0;
};

int FarmSim::active() const {
  int n = 0;
  for (const Pod& p : pods_) n += !p.gone && !p.terminating;
  return n;
}

bool FarmSim::finished(int64_t t) const {
  if (t < o_.day_ms || jobs_done_ < trace_.jobs.size()) return false;
  for (const Pod& p : pods_) {
    if (!p.gone && p.terminating) return false;
  }
  return active() <= autoscaler_.idle_replicas();
}

int64_t FarmSim::next_time(int64_t now_ms) const {
  int64_t t = std::min({next_scrape_ms_, next_action_ms_, now_ms < o_.day_ms ? o_.day_ms : kNever});
  if (next_job_ < trace_.jobs.size()) t = std::min(t, trace_.jobs[next_job_].submit_ms);
  for (const Pod& p : pods_) t = std::min(t, p.next_event_ms());
  return t;
}

void FarmSim::exit_pod(int64_t t, Pod& pod) {
  if (pod.work) {
    // The worker gives the shard back (Queue::release): it goes to the head of the queue and
    // what was rendered of it is lost.
    queue_.push_front(pod.work->shard);
    result_.wasted_hours += double(t - pod.work->claim_ms) / kMsPerHour;
    ++result_.shards_given_back;
    pod.work.reset();
  }
  pod.gone = true;
  pod_end_ms_[&pod - pods_.data()] = t;
}

void FarmSim::pod_events(int64_t t) {
  for (Pod& pod : pods_) {
    if (pod.gone) continue;
    if (pod.terminating) {
      if (pod.exit_ms == t) exit_pod(t, pod);
      continue;
    }
    if (!pod.ready && pod.ready_ms == t) pod.ready = true;
    if (pod.work && pod.work->end_ms == t) {
      const Work& w = *pod.work;
      const TraceJob& job = trace_.jobs[w.shard.job];
      result_.render_hours += double(w.end_ms - w.claim_ms) / kMsPerHour;
      result_.queue_wait_s.push_back(double(w.claim_ms - job.submit_ms) / 1000.0);
      if (--shards_left_[w.shard.job] == 0) {
        result_.drain_s.push_back(double(t - job.submit_ms) / 1000.0);
        ++jobs_done_;
      }
      pod.work.reset();
    }
  }
}

void FarmSim::submit(int64_t t) {
  while (next_job_ < trace_.jobs.size() && trace_.jobs[next_job_].submit_ms == t) {
    const TraceJob& job = trace_.jobs[next_job_];
    for (int64_t left = job.samples; left > 0; left -= trace_.shard_size) {
      queue_.push_back({next_job_, std::min(left, trace_.shard_size)});
    }
    ++next_job_;
  }
}

void FarmSim::dispatch(int64_t t) {
  for (Pod& pod : pods_) {
    if (queue_.empty()) return;
    if (pod.gone || pod.terminating || !pod.ready || pod.work) continue;
    const Shard shard = queue_.front();
    queue_.pop_front();
    pod.work = Work{shard, t, t + shard.samples * o_.sample_ms};
  }
}

void FarmSim::terminate(int64_t t, Pod& pod) {
  pod.terminating = true;
  if (!pod.ready || !pod.work) {
    exit_pod(t, pod);
    return;
  }
  // SIGTERM: the sample in hand is finished, then the shard goes back (worker.h, stop()).
  const int64_t elapsed = t - pod.work->claim_ms;
  const int64_t samples_begun = (elapsed + o_.sample_ms - 1) / o_.sample_ms;
  pod.exit_ms = pod.work->claim_ms + samples_begun * o_.sample_ms;
  if (pod.exit_ms == t) exit_pod(t, pod);
}

void FarmSim::scale(int64_t t, int desired) {
  const int current = active();
  for (int i = current; i < desired; ++i) {
    Pod pod;
    pod.created_ms = t;
    pod.ready_ms = t + o_.startup_ms;
    pods_.push_back(pod);
    pod_end_ms_.push_back(kNever);
    ++result_.pods_created;
  }
  if (desired >= current) return;
  std::vector<size_t> candidates;
  for (size_t i = 0; i < pods_.size(); ++i) {
    if (!pods_[i].gone && !pods_[i].terminating) candidates.push_back(i);
  }
  // The ReplicaSet's deletion order (controller.ActivePodsWithRanks, simplified): not ready
  // before ready, then the most recently ready, then the newest. idle_first puts idle pods
  // before busy ones among the ready.
  std::stable_sort(candidates.begin(), candidates.end(), [&](size_t a, size_t b) {
    const Pod& x = pods_[a];
    const Pod& y = pods_[b];
    if (x.ready != y.ready) return !x.ready;
    if (o_.idle_first && x.work.has_value() != y.work.has_value()) return !x.work.has_value();
    if (x.ready_ms != y.ready_ms) return x.ready_ms > y.ready_ms;
    return a > b;
  });
  for (int i = 0; i < current - desired; ++i) terminate(t, pods_[candidates[i]]);
}

FarmResult FarmSim::run() {
  // Replicas running at midnight are ready: they were started the day before.
  for (int i = 0; i < autoscaler_.initial_replicas(); ++i) {
    Pod pod;
    pod.ready = true;
    pods_.push_back(pod);
    pod_end_ms_.push_back(kNever);
    ++result_.pods_created;
  }
  result_.peak_replicas = active();
  next_action_ms_ = autoscaler_.next_action_ms(-1);
  int64_t t = 0;
  for (;;) {
    pod_events(t);
    submit(t);
    dispatch(t);
    if (t == next_scrape_ms_) {
      int leased = 0;
      for (const Pod& p : pods_) leased += p.work.has_value();
      metric_ = double(queue_.size()) + leased;
      next_scrape_ms_ += o_.scrape_ms;
    }
    if (t == next_action_ms_) {
      scale(t, autoscaler_.act(t, active(), metric_));
      result_.peak_replicas = std::max(result_.peak_replicas, active());
      next_action_ms_ = autoscaler_.next_action_ms(t);
      dispatch(t);
    }
    if (finished(t)) break;
    const int64_t next = next_time(t);
    if (next == kNever || next > o_.give_up_ms) {
      result_.drained = jobs_done_ == trace_.jobs.size();  // else: the farm could not drain the day
      break;
    }
    t = next;
  }
  result_.end_ms = t;
  for (size_t i = 0; i < pods_.size(); ++i) {
    const int64_t end = std::min(pod_end_ms_[i], t);
    result_.worker_hours += double(end - pods_[i].created_ms) / kMsPerHour;
  }
  return result_;
}

}  // namespace

FarmResult simulate_farm(const Trace& trace, Autoscaler& autoscaler, const FarmOptions& options) {
  return FarmSim(trace, autoscaler, options).run();
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  // Nearest rank: the smallest value with at least p of the values at or below it.
  const auto rank = static_cast<size_t>(std::ceil(p * double(values.size())));
  return values[std::min(values.size() - 1, rank == 0 ? 0 : rank - 1)];
}

}  // namespace synthfarm::autoscale
