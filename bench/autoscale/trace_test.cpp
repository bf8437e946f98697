// Unit tests of the day's trace (trace.h): deterministic for a seed, within its bounds, and
// the size distribution's shape.
#include "bench/autoscale/trace.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace synthfarm::autoscale {
namespace {

TEST(Trace, SameSeedSameDay) {
  const Trace a = make_day({});
  const Trace b = make_day({});
  ASSERT_EQ(a.jobs.size(), b.jobs.size());
  for (size_t i = 0; i < a.jobs.size(); ++i) {
    EXPECT_EQ(a.jobs[i].submit_ms, b.jobs[i].submit_ms);
    EXPECT_EQ(a.jobs[i].samples, b.jobs[i].samples);
    EXPECT_EQ(a.jobs[i].who, b.jobs[i].who);
  }
  TraceOptions other;
  other.seed = 2;
  EXPECT_NE(make_day(other).samples(), a.samples());
}

TEST(Trace, JobsWithinTheModel) {
  TraceOptions o;
  o.users = 50;
  const Trace t = make_day(o);
  int overnight = 0;
  for (const TraceJob& j : t.jobs) {
    EXPECT_GE(j.samples, 100);
    EXPECT_LE(j.samples, 20000);
    EXPECT_EQ(j.samples % 10, 0);
    if (j.who == "overnight") {
      ++overnight;
      EXPECT_GE(j.submit_ms, 19 * 3600 * 1000LL);
      EXPECT_LT(j.submit_ms, 23 * 3600 * 1000LL);
      EXPECT_GE(j.samples, 10000);
    } else {
      EXPECT_GE(j.submit_ms, 8 * 3600 * 1000LL);
      EXPECT_LT(j.submit_ms, 19 * 3600 * 1000LL);
      // Bursts never start in the lunch hour (a burst's later jobs may run into it).
    }
  }
  EXPECT_EQ(overnight, 3);
  EXPECT_TRUE(std::is_sorted(t.jobs.begin(), t.jobs.end(),
                             [](const TraceJob& a, const TraceJob& b) { return a.submit_ms < b.submit_ms; }));
  // 50 users x 2..5 bursts x 1..4 jobs.
  EXPECT_GE(t.jobs.size(), 100u + 3u);
  EXPECT_LE(t.jobs.size(), 1000u + 3u);
}

TEST(Trace, BoundedParetoShape) {
  EXPECT_DOUBLE_EQ(bounded_pareto(0.0, 100, 20000, 0.9), 100);
  EXPECT_NEAR(bounded_pareto(1.0 - 1e-12, 100, 20000, 0.9), 20000, 1e-3);
  // Median: (100/x)^0.9 = 1 - 0.5 * (1 - 0.005^0.9) -> x = 214.
  EXPECT_NEAR(bounded_pareto(0.5, 100, 20000, 0.9), 214.2, 0.5);
}

TEST(Trace, ShardsOfAJob) {
  Trace t;
  t.shard_size = 50;
  EXPECT_EQ(t.shards_of({0, 100, ""}), 2);
  EXPECT_EQ(t.shards_of({0, 110, ""}), 3);
}

}  // namespace
}  // namespace synthfarm::autoscale
