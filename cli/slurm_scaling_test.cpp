#include "cli/slurm_scaling.h"

#include <gtest/gtest.h>

namespace synthfarm::cli {
namespace {

SlurmTask task(int64_t job, int64_t index, const std::string& state) { return {job, index, state}; }

std::vector<std::string> slurm_ids(const std::vector<SlurmTask>& tasks) {
  std::vector<std::string> out;
  for (const auto& t : tasks) out.push_back(t.slurm_id());
  return out;
}

ScalePolicy policy(int64_t max, int64_t per = 2, bool shrink_running = false) {
  return {.max_workers = max, .shards_per_worker = per, .shrink_running = shrink_running};
}

TEST(QueueDepth, ReadsBothGaugesFromPrometheusText) {
  auto depth = parse_queue_depth(
      "# HELP synthfarm_shards_pending Shards waiting.\n# TYPE synthfarm_shards_pending gauge\n"
      "synthfarm_shards_pending 12\nsynthfarm_jobs{state=\"running\"} 3\n"
      "synthfarm_shards_leased 4.0 1712345678000\nsynthfarm_shards_pending_total 99\n");
  ASSERT_TRUE(depth) << depth.error();
  EXPECT_EQ(depth->pending, 12);
  EXPECT_EQ(depth->leased, 4);
}

TEST(QueueDepth, MissingOrMalformedGaugesAreErrorsThatSayWhy) {
  auto redis_down = parse_queue_depth("synthfarm_redis_up 0\nsynthfarm_workers_alive 2\n");
  ASSERT_FALSE(redis_down);
  EXPECT_NE(redis_down.error().find("cannot reach Redis"), std::string::npos) << redis_down.error();
  EXPECT_NE(redis_down.error().find("synthfarm_shards_pending"), std::string::npos)
      << redis_down.error();

  auto other = parse_queue_depth("<html>not metrics</html>\n");
  ASSERT_FALSE(other);
  EXPECT_NE(other.error().find("is this a synthfarm coordinator"), std::string::npos)
      << other.error();

  auto no_leased = parse_queue_depth("synthfarm_shards_pending 3\n");
  ASSERT_FALSE(no_leased);
  EXPECT_NE(no_leased.error().find("synthfarm_shards_leased"), std::string::npos)
      << no_leased.error();

  for (const char* bad : {"synthfarm_shards_pending -1\nsynthfarm_shards_leased 0\n",
                          "synthfarm_shards_pending 1.5\nsynthfarm_shards_leased 0\n",
                          "synthfarm_shards_pending NaN\nsynthfarm_shards_leased 0\n",
                          "synthfarm_shards_pending\t\nsynthfarm_shards_leased 0\n"}) {
    auto depth = parse_queue_depth(bad);
    EXPECT_FALSE(depth) << bad;
  }
}

TEST(Squeue, ParsesTasksAndPlainJobs) {
  auto tasks = parse_squeue("101|0|RUNNING\n101|3|PENDING\n\n205|N/A|RUNNING\n");
  ASSERT_TRUE(tasks) << tasks.error();
  ASSERT_EQ(tasks->size(), 3u);
  EXPECT_EQ((*tasks)[1].slurm_id(), "101_3");
  EXPECT_EQ((*tasks)[1].state, "PENDING");
  EXPECT_EQ((*tasks)[1].worker_id("slurm-"), "slurm-101_3");
  EXPECT_EQ((*tasks)[2].slurm_id(), "205");
  EXPECT_EQ((*tasks)[2].worker_id("a-"), "a-205_0");  // workers.sbatch: a plain job is task 0
  EXPECT_TRUE(parse_squeue("")->empty());
}

TEST(Squeue, RejectsWhatItCannotCountExactly) {
  // A pending array squeue did not split into tasks (it does with --array).
  auto folded = parse_squeue("101|0|RUNNING\n101|[1-7]|PENDING\n");
  ASSERT_FALSE(folded);
  EXPECT_NE(folded.error().find("line 2"), std::string::npos) << folded.error();
  EXPECT_FALSE(parse_squeue("JOBID PARTITION NAME\n"));
  EXPECT_FALSE(parse_squeue("x|1|RUNNING\n"));
  EXPECT_FALSE(parse_squeue("1|1|RUNNING|extra\n"));
}

TEST(WantedWorkers, CeilingOfWorkPerWorkerCappedAtMaxAndZeroWithoutWork) {
  EXPECT_EQ(wanted_workers({0, 0}, policy(10)), 0);
  EXPECT_EQ(wanted_workers({1, 0}, policy(10)), 1);
  EXPECT_EQ(wanted_workers({3, 0}, policy(10)), 2);
  EXPECT_EQ(wanted_workers({3, 2}, policy(10)), 3);  // leased shards count
  EXPECT_EQ(wanted_workers({0, 1}, policy(10)), 1);  // the last shard keeps its worker
  EXPECT_EQ(wanted_workers({1000, 0}, policy(10)), 10);
  EXPECT_EQ(wanted_workers({7, 0}, policy(10, 1)), 7);
  EXPECT_EQ(wanted_workers({7, 0}, policy(0)), 0);
}

TEST(PlanScale, GrowsByTheDifference) {
  auto plan = plan_scale({10, 0}, {task(7, 0, "RUNNING"), task(7, 1, "PENDING")},
                         {{"slurm-7_0", WorkerActivity::kIdle}}, policy(4));
  EXPECT_EQ(plan.wanted, 4);
  EXPECT_EQ(plan.queued, 1);
  EXPECT_EQ(plan.started, 1);
  EXPECT_EQ(plan.submit, 2);
  EXPECT_TRUE(plan.cancel.empty());
  EXPECT_TRUE(plan.stop.empty());
}

TEST(PlanScale, EndingTasksAreNeitherCountedNorTouched) {
  // A completing task, and a running one whose worker is already stopping (SIGTERM sent),
  // are on their way out: the queue gets new tasks in their place.
  auto plan = plan_scale(
      {4, 0},
      {task(7, 0, "COMPLETING"), task(7, 1, "RUNNING"), task(7, 2, "CANCELLED"),
       task(7, 3, "RUNNING")},
      {{"slurm-7_1", WorkerActivity::kStopping}, {"slurm-7_3", WorkerActivity::kRendering}},
      policy(4));
  EXPECT_EQ(plan.current(), 1);
  EXPECT_EQ(plan.submit, 1);
  auto none = plan_scale({0, 0}, {task(7, 1, "RUNNING")},
                         {{"slurm-7_1", WorkerActivity::kStopping}}, policy(4));
  EXPECT_EQ(none.current(), 0);
  EXPECT_TRUE(none.stop.empty());
}

TEST(PlanScale, ShrinksQueuedTasksFirstNewestFirst) {
  std::vector<SlurmTask> tasks = {task(7, 0, "RUNNING"), task(7, 1, "PENDING"),
                                  task(9, 0, "PENDING"), task(7, 2, "PENDING"),
                                  task(9, 1, "REQUEUED")};
  auto plan = plan_scale({2, 0}, tasks, {{"slurm-7_0", WorkerActivity::kRendering}}, policy(10));
  EXPECT_EQ(plan.wanted, 1);
  EXPECT_EQ(plan.submit, 0);
  EXPECT_EQ(slurm_ids(plan.cancel), (std::vector<std::string>{"9_1", "9_0", "7_2", "7_1"}));
  EXPECT_TRUE(plan.stop.empty());
  EXPECT_EQ(plan.kept_busy, 0);
}

TEST(PlanScale, NeverStopsATaskHoldingAShardUnlessAllowed) {
  // 2 shards leased, nothing pending: one worker wanted, three running. The idle one goes;
  // of the two rendering ones, one is over the count but holds a shard.
  std::vector<SlurmTask> tasks = {task(7, 0, "RUNNING"), task(7, 1, "RUNNING"),
                                  task(7, 2, "RUNNING")};
  std::map<std::string, WorkerActivity> workers = {{"slurm-7_0", WorkerActivity::kRendering},
                                                   {"slurm-7_1", WorkerActivity::kIdle},
                                                   {"slurm-7_2", WorkerActivity::kRendering}};
  auto kept = plan_scale({0, 2}, tasks, workers, policy(10, 2));
  EXPECT_EQ(kept.wanted, 1);
  EXPECT_EQ(slurm_ids(kept.stop), (std::vector<std::string>{"7_1"}));
  EXPECT_EQ(kept.kept_busy, 1);

  auto shrunk = plan_scale({0, 2}, tasks, workers, policy(10, 2, /*shrink_running=*/true));
  EXPECT_EQ(slurm_ids(shrunk.stop),
            (std::vector<std::string>{"7_1", "7_2"}));  // idle first, then newest
  EXPECT_EQ(shrunk.kept_busy, 0);
}

TEST(PlanScale, AWorkerNotHeardFromMayHoldAShardWhileAnyIsLeased) {
  std::vector<SlurmTask> tasks = {task(7, 0, "RUNNING"), task(7, 1, "CONFIGURING")};
  auto busy = plan_scale({0, 1}, tasks, {{"slurm-7_0", WorkerActivity::kRendering}}, policy(10));
  EXPECT_EQ(busy.wanted, 1);
  EXPECT_TRUE(busy.stop.empty());
  EXPECT_EQ(busy.kept_busy, 1);
  // Nothing leased: nobody holds work, whatever the heartbeats said last.
  auto empty = plan_scale({0, 0}, tasks, {{"slurm-7_0", WorkerActivity::kRendering}}, policy(10));
  EXPECT_EQ(slurm_ids(empty.stop), (std::vector<std::string>{"7_1", "7_0"}));
}

TEST(PlanScale, ShrinksToZeroWhenTheQueueIsEmptyAndToMaxWhenOverIt) {
  std::vector<SlurmTask> tasks = {task(3, 0, "RUNNING"), task(3, 1, "RUNNING"),
                                  task(4, 0, "PENDING")};
  auto zero = plan_scale({0, 0}, tasks, {}, policy(5));
  EXPECT_EQ(slurm_ids(zero.cancel), (std::vector<std::string>{"4_0"}));
  EXPECT_EQ(slurm_ids(zero.stop), (std::vector<std::string>{"3_1", "3_0"}));
  EXPECT_EQ(zero.submit, 0);

  auto capped = plan_scale(
      {100, 0}, tasks, {{"slurm-3_0", WorkerActivity::kIdle}, {"slurm-3_1", WorkerActivity::kIdle}},
      policy(1));
  EXPECT_EQ(capped.wanted, 1);
  EXPECT_EQ(slurm_ids(capped.cancel), (std::vector<std::string>{"4_0"}));
  EXPECT_EQ(slurm_ids(capped.stop), (std::vector<std::string>{"3_1"}));
}

TEST(PlanScale, WorkerIdsFollowThePrefix) {
  ScalePolicy p = policy(10);
  p.worker_prefix = "east-";
  // Under another prefix this worker is unknown, so (shards leased) it may hold one.
  auto plan =
      plan_scale({0, 1}, {task(7, 0, "RUNNING"), task(7, 1, "RUNNING")},
                 {{"east-7_1", WorkerActivity::kIdle}, {"slurm-7_0", WorkerActivity::kIdle}}, p);
  EXPECT_EQ(slurm_ids(plan.stop), (std::vector<std::string>{"7_1"}));
  EXPECT_EQ(plan.kept_busy, 0);
}

}  // namespace
}  // namespace synthfarm::cli
