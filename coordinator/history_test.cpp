#include "coordinator/history.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace synthfarm::coordinator {
namespace {

using nlohmann::json;

History::FarmPoint farm_at(int64_t i) {
  History::FarmPoint p;
  p.samples_per_sec = static_cast<double>(i % 12);  // 0..11 over each minute: mean 5.5
  p.shards_pending = 1000 - i / 12;
  p.shards_leased = i % 2 == 0 ? 4 : -1;  // every other sample Redis did not answer
  p.workers_alive = 3;
  p.jobs_active = 1;
  return p;
}

// Two hours at 5 s: the fine series keeps the last hour, the coarse one a point a minute,
// each the mean of the minute's twelve samples (unknown ones left out).
TEST(History, TheLastHourAtTheIntervalAndTheRunAtAPointAMinute) {
  History history(5000);
  const int64_t start = 1'000'000'020'000;  // on a minute boundary
  ASSERT_EQ(start % History::kCoarseStepMs, 0);
  for (int64_t i = 0; i < 2 * 720; ++i) {
    EXPECT_TRUE(history.due(start + 5000 * i));
    history.record(start + 5000 * i, farm_at(i), {{"job-1", {i * 10, 2.0, static_cast<double>(1440 - i)}}});
    EXPECT_FALSE(history.due(start + 5000 * i + 4999));
  }
  const json fine = history.farm_json(false);
  EXPECT_EQ(fine["interval_ms"], 5000);
  ASSERT_EQ(fine["t"].size(), 720u);
  EXPECT_EQ(fine["t"].front(), start + 5000 * 720);
  EXPECT_EQ(fine["t"].back(), start + 5000 * 1439);
  EXPECT_EQ(fine["samples_per_sec"].back(), 1439 % 12);
  EXPECT_TRUE(fine["shards_leased"].back().is_null()) << "an unknown gauge is null, not -1";
  EXPECT_EQ(fine["shards_leased"][fine["t"].size() - 2], 4);

  const json coarse = history.farm_json(true);
  EXPECT_EQ(coarse["interval_ms"], History::kCoarseStepMs);
  ASSERT_EQ(coarse["t"].size(), 119u) << "the running minute is not closed yet";
  EXPECT_EQ(coarse["t"].front(), start);
  for (size_t m = 0; m < coarse["t"].size(); ++m) {
    EXPECT_DOUBLE_EQ(coarse["samples_per_sec"][m].get<double>(), 5.5);
    EXPECT_EQ(coarse["shards_pending"][m], 1000 - static_cast<int64_t>(m));
    EXPECT_EQ(coarse["shards_leased"][m], 4) << "the mean of the known values";
  }
  // A job's samples done is a counter: its minute keeps the last value, not the mean.
  const auto job = history.job_json("job-1", true);
  ASSERT_TRUE(job.has_value());
  EXPECT_EQ((*job)["samples_done"][0], 110);
  EXPECT_EQ((*job)["samples_per_sec"][0], 2.0);
  EXPECT_FALSE(history.job_json("job-2", false).has_value());
  const json tail = history.farm_tail();
  EXPECT_EQ(tail["t"], start + 5000 * 1439);
  EXPECT_EQ(tail["workers_alive"], 3);
}

TEST(History, KeepsTheSeriesOfTheJobsSeenLast) {
  History history(1000);
  EXPECT_TRUE(history.farm_tail().is_null());
  for (int64_t i = 0; i < static_cast<int64_t>(History::kMaxJobs) + 10; ++i) {
    history.record(1000 * (i + 1), {}, {{"job-" + std::to_string(i), {i, 0, -1}}});
  }
  EXPECT_FALSE(history.job_json("job-0", false).has_value());
  EXPECT_FALSE(history.job_json("job-9", false).has_value());
  ASSERT_TRUE(history.job_json("job-10", false).has_value());
  EXPECT_TRUE((*history.job_json("job-10", false))["eta_s"][0].is_null());
}

// A worker's samples/s shares the farm's times: its points are the newest of the farm's,
// null while it is lost, and its series goes when the farm view forgets it or once it has
// been lost for an hour.
TEST(History, KeepsEachWorkersRateOverTheLastHour) {
  History history(5000);
  using Workers = std::map<std::string, History::WorkerPoint>;
  int64_t t = 1'000'000'000'000;
  for (int i = 0; i < 3; ++i, t += 5000) history.record(t, {}, {}, Workers{{"w1", {1.5, true}}});
  for (int i = 0; i < 2; ++i, t += 5000) {
    history.record(t, {}, {}, Workers{{"w1", {1.5, false}}, {"w2", {0.3, true}}, {"lost-at-start", {1, false}}});
  }
  const json farm = history.farm_json(false);
  const auto w1 = history.worker_json("w1");
  ASSERT_TRUE(w1.has_value());
  EXPECT_EQ((*w1)["interval_ms"], 5000);
  EXPECT_TRUE((*w1)["t"] == farm["t"]) << (*w1)["t"] << " against " << farm["t"];
  EXPECT_EQ((*w1)["samples_per_sec"], json::parse("[1.5, 1.5, 1.5, null, null]"));
  const auto w2 = history.worker_json("w2");
  ASSERT_TRUE(w2.has_value());
  EXPECT_EQ((*w2)["t"], json({farm["t"][3], farm["t"][4]})) << "the newest of the farm's times";
  EXPECT_EQ((*w2)["samples_per_sec"], json::parse("[0.3, 0.3]")) << "a float's 0.3 reads 0.3";
  EXPECT_FALSE(history.worker_json("lost-at-start").has_value());
  EXPECT_FALSE(history.worker_json("nobody").has_value());

  // An hour and a bit later w1 has been lost too long; w2 left the farm view.
  const int64_t last_alive = t - 5000 * 3;
  for (; t <= last_alive + History::kWorkerLostMs + 5000; t += 5000) {
    history.record(t, {}, {}, Workers{{"w1", {0, false}}, {"w3", {2, true}}});
  }
  EXPECT_FALSE(history.worker_json("w1").has_value());
  EXPECT_FALSE(history.worker_json("w2").has_value());
  history.record(t, {}, {}, Workers{{"w3", {2, true}}});  // its 720th point
  const auto w3 = history.worker_json("w3");
  ASSERT_TRUE(w3.has_value());
  const json times = history.farm_json(false)["t"];
  ASSERT_EQ((*w3)["t"].size(), 720u) << "the last hour at the interval";
  EXPECT_TRUE((*w3)["t"] == times) << "the farm's times, " << times.front() << " to " << times.back();
  EXPECT_EQ((*w3)["samples_per_sec"].back(), 2);
}

}  // namespace
}  // namespace synthfarm::coordinator
