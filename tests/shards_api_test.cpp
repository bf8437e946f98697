// The job page's and the Failures view's routes against a real farm (redis-server and the
// coordinator; no worker: the test moves the shards itself through the queue's scripts, as
// workers do): GET /api/jobs/{id}/shards and /shards/{n}, the blocklist's reasons in
// GET /api/jobs/{id}, GET /api/failures, their errors, and the size of a page of a
// 100,000-shard job.
#include <gtest/gtest.h>

#include <chrono>

#include "queue/queue.h"
#include "tests/farm.h"

namespace synthfarm::testing {
namespace {

using nlohmann::json;

class ShardsApi : public ::testing::Test {
 protected:
  void SetUp() override {
    farm_ = std::make_unique<Farm>(FarmOptions{.workers = 0});
    redis_ = queue::RedisClient::create(queue::RedisEndpoint::parse(farm_->redis_url()).value());
    queue_ = std::make_unique<queue::Queue>(*redis_);
    queue_->set_retry_backoff_ms(0);
  }

  queue::Lease claim(const std::string& worker) {
    auto lease = queue_->claim(worker, 60000);
    EXPECT_TRUE(lease && lease->has_value());
    return lease && lease->has_value() ? **lease : queue::Lease{};
  }

  std::unique_ptr<Farm> farm_;
  std::unique_ptr<queue::RedisClient> redis_;
  std::unique_ptr<queue::Queue> queue_;
};

TEST_F(ShardsApi, ShowsEveryShardAndTheFailuresWithWhy) {
  const std::string id = farm_->submit(
      "name: grid\nsamples: 6\nshard_size: 2\nmax_attempts: 3\ncamera: {resolution: [32, 24]}\n");
  // Shard 0 done by w1; shard 1 fails three times on "bad" (dead, and "bad" blocklisted);
  // shard 2 leased by w2.
  auto done = claim("w1");
  ASSERT_EQ(done.shard.shard, 0u);
  done.shard.sample_count = 2;
  ASSERT_TRUE(*queue_->complete(done.shard));
  auto first = claim("bad");
  ASSERT_EQ(first.shard.shard, 1u);
  ASSERT_EQ(*queue_->fail(first.shard, "boom 1", "bad", "tail 1\n"), queue::FailOutcome::kRetry);
  auto leased = claim("w2");
  ASSERT_EQ(leased.shard.shard, 2u);
  for (int attempt = 2; attempt <= 3; ++attempt) {
    auto again = claim("bad");
    ASSERT_EQ(again.shard.shard, 1u);
    queue_->fail(again.shard, "boom " + std::to_string(attempt), "bad",
                 "tail " + std::to_string(attempt) + "\n");
  }

  auto [status, page] = farm_->get("/api/jobs/" + id + "/shards");
  ASSERT_EQ(status, 200) << page;
  EXPECT_EQ(page["states"], "dxl");
  EXPECT_EQ(page["attempts"], json::array({1, 3, 1}));
  EXPECT_EQ(page["shards_total"], 3);
  EXPECT_EQ(page["from"], 0);
  EXPECT_TRUE(page["next_from"].is_null());
  EXPECT_EQ(page["counts"], json({{"pending", 0}, {"leased", 1}, {"done", 1}, {"dead", 1}}));
  ASSERT_EQ(page["details"].size(), 2u) << "details only for shards claimed and not done: " << page;
  EXPECT_EQ(page["details"][0]["shard"], 1);
  EXPECT_NE(page["details"][0]["error"].get<std::string>().find("boom 3"), std::string::npos);
  EXPECT_FALSE(page["details"][0].contains("log_tail")) << "a page carries no log tails";
  EXPECT_EQ(page["details"][1]["worker"], "w2");
  EXPECT_EQ(page["details"][1]["deadline_ms"], leased.deadline_ms);

  auto [pstatus, part] = farm_->get("/api/jobs/" + id + "/shards?from=1&count=1");
  ASSERT_EQ(pstatus, 200) << part;
  EXPECT_EQ(part["states"], "x");
  EXPECT_EQ(part["next_from"], 2);

  // One shard in full: its log tail and its samples.
  auto [sstatus, shard] = farm_->get("/api/jobs/" + id + "/shards/1");
  ASSERT_EQ(sstatus, 200) << shard;
  EXPECT_EQ(shard["state"], "dead");
  EXPECT_EQ(shard["attempts"], 3);
  EXPECT_EQ(shard["log_tail"], "tail 3\n");
  EXPECT_EQ(shard["samples"], json({{"first", 2}, {"count", 2}}));
  EXPECT_GT(shard["dead_ms"].get<int64_t>(), 0);

  // Why "bad" is blocklisted, in the job and farm-wide, with the dead letter's log tail.
  auto job = farm_->get("/api/jobs/" + id).second;
  EXPECT_EQ(job["blocklisted_workers"], json::array({"bad"}));
  ASSERT_EQ(job["blocklist"].size(), 1u) << job;
  EXPECT_EQ(job["blocklist"][0]["worker"], "bad");
  EXPECT_EQ(job["blocklist"][0]["shard"], 1);
  EXPECT_EQ(job["blocklist"][0]["failures"], 3);
  EXPECT_EQ(job["blocklist"][0]["error"], "boom 3");
  EXPECT_GT(job["blocklist"][0]["at_ms"].get<int64_t>(), 0);
  auto [fstatus, failures] = farm_->get("/api/failures");
  ASSERT_EQ(fstatus, 200) << failures;
  ASSERT_EQ(failures["dead"].size(), 1u) << failures;
  EXPECT_EQ(failures["dead"][0]["job"], id);
  EXPECT_EQ(failures["dead"][0]["job_name"], "grid");
  EXPECT_EQ(failures["dead"][0]["job_state"], "running");
  EXPECT_EQ(failures["dead"][0]["shard"], 1);
  EXPECT_EQ(failures["dead"][0]["log_tail"], "tail 3\n");
  EXPECT_EQ(failures["more"], false);
  ASSERT_EQ(failures["blocklisted"].size(), 1u) << failures;
  EXPECT_EQ(failures["blocklisted"][0]["job"], id);
  EXPECT_EQ(failures["blocklisted"][0]["error"], "boom 3");

  // Bad requests name what is wrong.
  auto error_of = [&](const std::string& path) {
    auto [code, body] = farm_->get(path);
    return std::to_string(code) + " " +
           (body.is_object() ? body.value("error", std::string()) : std::string());
  };
  EXPECT_EQ(error_of("/api/jobs/" + id + "/shards?count=0"),
            "400 count: expected 1 to 10000 shards, got 0");
  EXPECT_EQ(error_of("/api/jobs/" + id + "/shards?from=abc"),
            "400 from: expected a whole number, got 'abc'");
  EXPECT_NE(
      error_of("/api/jobs/" + id + "/shards?from=4").find("400 from: job " + id + " has 3 shards"),
      std::string::npos);
  EXPECT_EQ(error_of("/api/jobs/nope-000000/shards"), "404 no job nope-000000");
  EXPECT_EQ(error_of("/api/jobs/" + id + "/shards/3"),
            "404 job " + id + " has 3 shards (0 to 2); no shard 3");
  EXPECT_EQ(error_of("/api/failures?limit=0"), "400 limit: expected 1 to 200 dead letters, got 0");
}

// A page of a very big job stays small: 10,000 shards at most, one byte of state and a
// small number of attempts each.
TEST_F(ShardsApi, APageOfAHundredThousandShardJobIsBounded) {
  const std::string id =
      farm_->submit("name: big\nsamples: 100000\nshard_size: 1\ncamera: {resolution: [32, 24]}\n");
  const auto t0 = std::chrono::steady_clock::now();
  auto [status, text] = farm_->get_raw("/api/jobs/" + id + "/shards");
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(status, 200) << text.substr(0, 300);
  auto page = json::parse(text);
  EXPECT_EQ(page["count"], 10000);
  EXPECT_EQ(page["next_from"], 10000);
  EXPECT_EQ(page["states"].get<std::string>(), std::string(10000, 'p'));
  EXPECT_LT(text.size(), 40000u) << "bytes of a default page";
  std::printf("[ shards ] a 10,000-shard page of a 100,000-shard job: %zu bytes in %.1f ms\n",
              text.size(), ms);
  auto last = farm_->get("/api/jobs/" + id + "/shards?from=99990").second;
  EXPECT_EQ(last["count"], 10);
  EXPECT_TRUE(last["next_from"].is_null());
}

}  // namespace
}  // namespace synthfarm::testing
