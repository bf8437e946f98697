// QueueView against a real redis-server: the shards of a job in each state the scripts
// leave them in, the dead letters newest first, and blocklisted workers with why.
#include "queue/queue_view.h"

#include <gtest/gtest.h>

#include "queue/queue.h"
#include "tests/fixtures.h"

namespace synthfarm::queue {
namespace {

class QueueViewTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = testing::RedisServer::start();
    redis_ = RedisClient::create(RedisEndpoint::parse(server_->url()).value());
    queue_ = std::make_unique<Queue>(*redis_);
    view_ = std::make_unique<QueueView>(*redis_);
    queue_->set_retry_backoff_ms(0);
  }

  void submit(const std::string& id, int64_t shards, int max_attempts) {
    JobSubmission s;
    s.name = "v";
    s.samples = shards * 2;
    s.shard_size = 2;
    s.shards = shards;
    s.max_attempts = max_attempts;
    s.storage = "file:///tmp/v";
    s.spec_json = "{}";
    ASSERT_TRUE(queue_->submit(id, s, 1));
  }

  std::unique_ptr<testing::RedisServer> server_;
  std::unique_ptr<RedisClient> redis_;
  std::unique_ptr<Queue> queue_;
  std::unique_ptr<QueueView> view_;
};

TEST_F(QueueViewTest, ShardsShowTheStateAttemptsHolderAndErrorOfEach) {
  submit("job-s", 5, 1);
  auto done = queue_->claim("w1", 30000)->value();  // shard 0
  ASSERT_TRUE(*queue_->complete(done.shard));
  auto dead = queue_->claim("w1", 30000)->value();  // shard 1
  ASSERT_EQ(*queue_->fail(dead.shard, "sample 3 threw", "w1", "line 1\nline 2\n"),
            FailOutcome::kDead);
  auto leased = queue_->claim("w2", 30000)->value();  // shard 2

  auto shards = view_->shards("job-s", 0, 100, 5);
  ASSERT_TRUE(shards) << shards.error().message;
  ASSERT_EQ(shards->size(), 5u) << "cut to the job's shards";
  EXPECT_EQ((*shards)[0].state, "done");
  EXPECT_EQ((*shards)[0].attempts, 1);
  EXPECT_GT((*shards)[0].done_ms, 0);
  EXPECT_EQ((*shards)[1].state, "dead");
  EXPECT_NE((*shards)[1].last_error.find("sample 3 threw"), std::string::npos)
      << (*shards)[1].last_error;
  EXPECT_GT((*shards)[1].dead_ms, 0) << "dead letters record when";
  EXPECT_TRUE((*shards)[1].log_tail.empty()) << "pages carry no log tails";
  EXPECT_EQ((*shards)[2].state, "leased");
  EXPECT_EQ((*shards)[2].worker, "w2");
  EXPECT_EQ((*shards)[2].deadline_ms, leased.deadline_ms);
  for (int n : {3, 4}) {
    EXPECT_EQ((*shards)[n].state, "pending") << "never claimed: no hash yet";
    EXPECT_EQ((*shards)[n].attempts, 0);
  }
  // A page from the middle, and past the end.
  auto page = view_->shards("job-s", 2, 2, 5);
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].shard, 2u);
  EXPECT_TRUE(view_->shards("job-s", 5, 10, 5)->empty());
  // One shard in full: with the failing worker's log tail.
  auto one = view_->shard("job-s", 1);
  EXPECT_EQ(one->log_tail, "line 1\nline 2\n");
}

TEST_F(QueueViewTest, DeadLettersComeNewestFirstWithTheirLogTails) {
  submit("job-a", 1, 1);
  submit("job-b", 2, 1);
  for (const char* tail : {"first\n", "second\n", "third\n"}) {
    auto l = queue_->claim("w", 30000)->value();
    ASSERT_EQ(*queue_->fail(l.shard, std::string("error of ") + tail, "w", tail),
              FailOutcome::kDead);
  }
  auto letters = view_->dead_letters(2);
  ASSERT_TRUE(letters) << letters.error().message;
  ASSERT_EQ(letters->newest.size(), 2u);
  EXPECT_TRUE(letters->more);
  EXPECT_EQ(letters->newest[0].shard.log_tail, "third\n");
  EXPECT_EQ(letters->newest[1].shard.log_tail, "second\n");
  EXPECT_EQ(letters->newest[0].shard.state, "dead");
  EXPECT_FALSE(view_->dead_letters(3)->more);
  // A retry takes the job's letters off the list (once the finalizer has ended the job).
  ASSERT_TRUE(queue_->mark_done("job-b"));
  ASSERT_EQ(queue_->control(JobAction::kRetryDead, "job-b")->count, 2);
  auto after = view_->dead_letters(10);
  ASSERT_EQ(after->newest.size(), 1u);
  EXPECT_EQ(after->newest[0].job_id, "job-a");
}

TEST_F(QueueViewTest, BlocklistedWorkersSayWhichFailureBlocklistedThem) {
  submit("job-b", 5, 10);
  for (int i = 0; i < 3; ++i) {
    auto l = queue_->claim("bad", 30000)->value();
    ASSERT_EQ(*queue_->fail(l.shard, "gpu on fire " + std::to_string(i), "bad"),
              FailOutcome::kRetry);
  }
  // A blocklist from before reasons were kept: the worker is listed, without why.
  ASSERT_TRUE(redis_->command({"SADD", "sf:job:job-b:blocklist", "old"}));
  auto entries = view_->blocklists({"job-b", "no-such-job"});
  ASSERT_TRUE(entries) << entries.error().message;
  ASSERT_EQ(entries->size(), 2u);
  const auto& bad = (*entries)[0];
  EXPECT_EQ(bad.worker, "bad");
  EXPECT_EQ(bad.job_id, "job-b");
  ASSERT_TRUE(bad.reason_known);
  EXPECT_EQ(bad.failures, 3);
  EXPECT_EQ(bad.shard, 2u) << "the third failure's shard";
  EXPECT_EQ(bad.error, "gpu on fire 2");
  EXPECT_GT(bad.at_ms, 0);
  EXPECT_EQ((*entries)[1].worker, "old");
  EXPECT_FALSE((*entries)[1].reason_known);
  // A delete takes the reasons with the blocklist.
  ASSERT_TRUE(queue_->control(JobAction::kDelete, "job-b")->changed);
  EXPECT_TRUE(view_->blocklists({"job-b"})->empty());
  EXPECT_EQ(redis_->command({"EXISTS", "sf:job:job-b:blocklist_reasons"})->as_int(), 0);
}

TEST_F(QueueViewTest, RetryForgetsTheBlocklistAndItsReasons) {
  submit("job-r", 1, 3);
  for (int i = 0; i < 3; ++i) {
    auto l = queue_->claim("bad", 30000)->value();
    queue_->fail(l.shard, "boom", "bad");
  }
  ASSERT_EQ(view_->blocklists({"job-r"})->size(), 1u);
  ASSERT_TRUE(queue_->mark_done("job-r"));
  ASSERT_EQ(queue_->control(JobAction::kRetryDead, "job-r")->count, 1);
  EXPECT_TRUE(view_->blocklists({"job-r"})->empty());
  EXPECT_EQ(redis_->command({"EXISTS", "sf:job:job-r:blocklist_reasons"})->as_int(), 0);
}

}  // namespace
}  // namespace synthfarm::queue
