#include "bench/autoscale/trace.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "base/rng.h"

namespace synthfarm::autoscale {

namespace {

constexpr int64_t kMinute = 60 * 1000;
constexpr int64_t kHour = 60 * kMinute;

// Uniform whole second in [low_ms, high_ms).
int64_t uniform_ms(Pcg32& rng, int64_t low_ms, int64_t high_ms) {
  const auto seconds = static_cast<uint32_t>((high_ms - low_ms) / 1000);
  return low_ms + int64_t{rng.next_below(seconds)} * 1000;
}

int64_t round_up(int64_t value, int64_t step) { return (value + step - 1) / step * step; }

void add_user_jobs(const TraceOptions& o, int user, std::vector<TraceJob>& jobs) {
  Pcg32 rng = Pcg32::for_purpose(o.seed, "autoscale_trace_user", uint64_t(user));
  const int64_t arrive = uniform_ms(rng, 8 * kHour, 10 * kHour);
  const int64_t leave = uniform_ms(rng, 17 * kHour, 19 * kHour);
  const int bursts = 2 + static_cast<int>(rng.next_below(4));
  for (int b = 0; b < bursts; ++b) {
    // A burst starts in the working day outside lunch: draw from the day minus the lunch
    // hour, then step over it.
    int64_t t = uniform_ms(rng, arrive, leave - 30 * kMinute - kHour);
    if (t >= 12 * kHour) t += kHour;
    const int count = 1 + static_cast<int>(rng.next_below(4));
    for (int j = 0; j < count; ++j) {
      if (j > 0) t += uniform_ms(rng, kMinute, 10 * kMinute);
      const double size = bounded_pareto(rng.next_double(), double(o.min_samples), double(o.max_samples),
                                         o.pareto_alpha);
      const int64_t samples = std::min(o.max_samples, round_up(static_cast<int64_t>(std::ceil(size)), 10));
      jobs.push_back({t, samples, fmt::format("user{}", user)});
    }
  }
}

}  // namespace

double bounded_pareto(double u, double low, double high, double alpha) {
  // Inverse of the CDF F(x) = (1 - (low/x)^alpha) / (1 - (low/high)^alpha).
  const double tail = 1.0 - u * (1.0 - std::pow(low / high, alpha));
  return low / std::pow(tail, 1.0 / alpha);
}

int64_t Trace::samples() const {
  int64_t n = 0;
  for (const TraceJob& j : jobs) n += j.samples;
  return n;
}

int64_t Trace::shards() const {
  int64_t n = 0;
  for (const TraceJob& j : jobs) n += shards_of(j);
  return n;
}

Trace make_day(const TraceOptions& o) {
  Trace trace;
  trace.shard_size = o.shard_size;
  for (int user = 0; user < o.users; ++user) add_user_jobs(o, user, trace.jobs);
  Pcg32 rng = Pcg32::for_purpose(o.seed, "autoscale_trace_overnight");
  for (int k = 0; k < o.overnight_jobs; ++k) {
    const int64_t t = uniform_ms(rng, 19 * kHour, 23 * kHour);
    const int64_t samples = 10000 + int64_t{rng.next_below(101)} * 100;  // 10,000 .. 20,000
    trace.jobs.push_back({t, std::min(samples, o.max_samples), "overnight"});
  }
  std::stable_sort(trace.jobs.begin(), trace.jobs.end(),
                   [](const TraceJob& a, const TraceJob& b) { return a.submit_ms < b.submit_ms; });
  return trace;
}

}  // namespace synthfarm::autoscale
