// Queue scripts against a real redis-server started on a free port.
#include "queue/queue.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <thread>

#include "tests/fixtures.h"

namespace synthfarm::queue {
namespace {

class QueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = testing::RedisServer::start();
    auto endpoint = RedisEndpoint::parse(server_->url());
    ASSERT_TRUE(endpoint);
    redis_ = RedisClient::create(*endpoint);
    queue_ = std::make_unique<Queue>(*redis_);
  }

  JobSubmission spec(int64_t samples, int64_t shard_size) {
    JobSubmission s;
    s.name = "q";
    s.samples = samples;
    s.shard_size = shard_size;
    s.shards = (samples + shard_size - 1) / shard_size;
    s.storage = "file:///tmp/q";
    s.spec_json = R"({"name":"q"})";
    return s;
  }

  std::string shard_state(const std::string& job, uint64_t shard) {
    auto r = redis_->command({"HGET", queue_->keys().shard(job, shard), "state"});
    return r ? r->str : "?";
  }

  // The counters, states with no jobs left out.
  std::map<std::string, int64_t> counters() {
    auto counts = queue_->job_counts();
    EXPECT_TRUE(counts) << counts.error().message;
    std::map<std::string, int64_t> out;
    if (counts) {
      for (const auto& [state, n] : counts->by_state) {
        if (n != 0) out[state] = n;
      }
    }
    return out;
  }

  // What the counters must equal: the jobs of sf:jobs counted by the state in their hashes.
  std::map<std::string, int64_t> recount() {
    std::map<std::string, int64_t> out;
    auto ids = redis_->command({"ZRANGE", queue_->keys().jobs(), "0", "-1"});
    EXPECT_TRUE(ids);
    if (!ids || ids->elements.empty()) return out;
    std::vector<std::vector<std::string>> cmds;
    for (const auto& id : ids->elements) cmds.push_back({"HGET", queue_->keys().job(id.str), "state"});
    auto states = redis_->pipeline(cmds);
    EXPECT_TRUE(states);
    if (!states) return out;
    for (const auto& s : *states) {
      if (!s.is_nil()) ++out[s.str];
    }
    return out;
  }

  bool drop_counters() { return redis_->command({"DEL", queue_->keys().jobs_by_state()}).has_value(); }

  std::unique_ptr<testing::RedisServer> server_;
  std::unique_ptr<RedisClient> redis_;
  std::unique_ptr<Queue> queue_;
};

TEST_F(QueueTest, ClaimsShardsInOrderWithIncreasingTokens) {
  ASSERT_TRUE(queue_->submit("job-a", spec(10, 4), 1000));
  EXPECT_EQ(*queue_->pending_shards(), 3);
  uint64_t last_token = 0;
  for (uint64_t n = 0; n < 3; ++n) {
    auto lease = queue_->claim("w1", 30000);
    ASSERT_TRUE(lease);
    ASSERT_TRUE(lease->has_value());
    EXPECT_EQ((*lease)->shard.job_id, "job-a");
    EXPECT_EQ((*lease)->shard.shard, n);
    EXPECT_GT((*lease)->shard.token, last_token);
    last_token = (*lease)->shard.token;
  }
  auto none = queue_->claim("w1", 30000);
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());
  EXPECT_EQ(queue_->job("job-a")->value().state, "running");
}

TEST_F(QueueTest, DuplicateJobIdIsRefused) {
  ASSERT_TRUE(queue_->submit("job-a", spec(1, 1), 1));
  auto again = queue_->submit("job-a", spec(1, 1), 2);
  ASSERT_FALSE(again);
  EXPECT_NE(again.error().message.find("exists"), std::string::npos);
}

TEST_F(QueueTest, CompletionNeedsTheCurrentToken) {
  ASSERT_TRUE(queue_->submit("job-b", spec(3, 2), 1));
  auto l0 = queue_->claim("w1", 30000)->value();
  auto l1 = queue_->claim("w2", 30000)->value();
  ShardRef stale = l0.shard;
  stale.token += 1000;
  EXPECT_FALSE(*queue_->complete(stale));
  EXPECT_EQ(shard_state("job-b", 0), "leased");

  l0.shard.sample_count = 2;
  l1.shard.sample_count = 1;
  EXPECT_TRUE(*queue_->complete(l0.shard));
  EXPECT_FALSE(*queue_->complete(l0.shard)) << "a second completion is not accepted";
  EXPECT_EQ(queue_->job("job-b")->value().state, "running");
  EXPECT_TRUE(*queue_->complete(l1.shard));
  auto job = queue_->job("job-b")->value();
  EXPECT_EQ(job.state, "finalizing");
  EXPECT_EQ(job.shards_done, 2);
  EXPECT_EQ(job.samples_done, 3);
  EXPECT_EQ(*queue_->finalizable(), std::vector<std::string>{"job-b"});
  ASSERT_TRUE(queue_->mark_done("job-b"));
  EXPECT_EQ(queue_->job("job-b")->value().state, "done");
  EXPECT_TRUE(queue_->finalizable()->empty());
}

// manifest.json is the last write of a dataset: no coordinator may start it while a
// shard of the job is leased (the state machine never gets there, so plant one).
TEST_F(QueueTest, NoFinalizeWhileAShardOfTheJobIsLeased) {
  ASSERT_TRUE(queue_->submit("job-f", spec(2, 2), 1));
  auto lease = queue_->claim("w1", 30000)->value();
  lease.shard.sample_count = 2;
  ASSERT_TRUE(*queue_->complete(lease.shard, 2));
  ASSERT_EQ(queue_->job("job-f")->value().state, "finalizing");
  ASSERT_TRUE(redis_->command({"ZADD", queue_->keys().leases(), "99999999999999", "job-f/0"}));
  ASSERT_TRUE(redis_->command({"ZADD", queue_->keys().leases(), "99999999999999", "job-f2/0"}));
  auto claim = queue_->finalize_claim("job-f", "c1", 60000);
  ASSERT_TRUE(claim);
  EXPECT_FALSE(claim->has_value()) << "finalize_claim while job-f/0 is leased";
  ASSERT_TRUE(redis_->command({"ZREM", queue_->keys().leases(), "job-f/0"}));
  claim = queue_->finalize_claim("job-f", "c1", 60000);
  ASSERT_TRUE(claim);
  EXPECT_TRUE(claim->has_value()) << "another job's lease (job-f2/0) does not hold job-f up";
}

// `renders` counts the sample renders each lease stored, once per fencing token: retried
// completions and reports (a lost reply) add nothing, a stale holder's renders count too,
// and a finished job never shows fewer renders than samples.
TEST_F(QueueTest, RendersCountEachLeaseOnceWhateverIsRetried) {
  ASSERT_TRUE(queue_->submit("job-r", spec(4, 2), 1));
  auto first = queue_->claim("w1", 30000)->value();
  first.shard.sample_count = 2;
  // w1 stored one sample and failed; its report is sent twice (the first reply was lost).
  EXPECT_EQ(*queue_->add_renders(first.shard, 1), 1);
  EXPECT_EQ(*queue_->add_renders(first.shard, 1), 0);
  ASSERT_EQ(*queue_->fail(first.shard, "boom", "w1"), FailOutcome::kRetry);
  EXPECT_EQ(queue_->job("job-r")->value().renders, 1);

  auto other = queue_->claim("w2", 30000)->value();
  other.shard.sample_count = 2;
  EXPECT_TRUE(*queue_->complete(other.shard, 2));
  EXPECT_FALSE(*queue_->complete(other.shard, 2)) << "the retried completion is stale";
  EXPECT_EQ(queue_->job("job-r")->value().renders, 3);

  ASSERT_TRUE(redis_->command({"ZREM", queue_->keys().delayed(), "job-r/0"}));
  ASSERT_TRUE(redis_->command({"ZADD", queue_->keys().pending(), "0", "job-r/0"}));
  auto again = queue_->claim("w3", 30000)->value();
  again.shard.sample_count = 2;
  ShardRef stale = again.shard;
  stale.token += 1000;  // a holder fenced off earlier: its completion is refused, its renders count
  EXPECT_FALSE(*queue_->complete(stale, 2));
  EXPECT_TRUE(*queue_->complete(again.shard, 2));
  auto job = queue_->job("job-r")->value();
  EXPECT_EQ(job.state, "finalizing");
  EXPECT_EQ(job.samples_done, 4);
  EXPECT_EQ(job.renders, 7);
  EXPECT_GE(job.renders, job.samples);

  ASSERT_TRUE(queue_->control(JobAction::kDelete, "job-r"));
  EXPECT_EQ(*queue_->add_renders(again.shard, 5), 0) << "a deleted job is not brought back";
  EXPECT_EQ(redis_->command({"EXISTS", queue_->keys().job("job-r"), queue_->keys().job("job-r") + ":renders"})->as_int(), 0);
}

// Two coordinators on one Redis: one finalizes a job at a time, and every claim of the job
// (the holder again, or another coordinator once the holder's lock lapsed) gets the same
// finalized time, so a rewritten manifest.json has the same bytes.
TEST_F(QueueTest, OneCoordinatorFinalizesAJobAtATimeWithOneFinalizedTime) {
  ASSERT_TRUE(queue_->submit("job-z", spec(1, 1), 1));
  auto lease = queue_->claim("w1", 30000)->value();
  lease.shard.sample_count = 1;
  ASSERT_TRUE(*queue_->complete(lease.shard));
  auto first = queue_->finalize_claim("job-z", "coordinator-a", 60000);
  ASSERT_TRUE(first && first->has_value());
  EXPECT_GT(**first, 1'700'000'000'000);
  EXPECT_FALSE(queue_->finalize_claim("job-z", "coordinator-b", 60000)->has_value()) << "a holds the lock";
  EXPECT_EQ(*queue_->finalize_claim("job-z", "coordinator-a", 60000), *first) << "the holder renews it";
  // a dies: its lock lapses, b takes over with a's finalized time.
  ASSERT_TRUE(queue_->finalize_claim("job-z", "coordinator-a", 1));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(*queue_->finalize_claim("job-z", "coordinator-b", 60000), *first);
  ASSERT_TRUE(queue_->mark_done("job-z"));
  EXPECT_EQ(redis_->command({"EXISTS", queue_->keys().job("job-z") + ":finalizer"})->as_int(), 0)
      << "mark_done drops the lock";
  ASSERT_TRUE(queue_->finalize_claim("job-z", "coordinator-b", 60000));
  ASSERT_TRUE(queue_->control(JobAction::kDelete, "job-z")->changed);
  EXPECT_EQ(redis_->command({"EXISTS", queue_->keys().job("job-z") + ":finalizer"})->as_int(), 0)
      << "deleting the job deletes its lock";
}

TEST_F(QueueTest, ExpiredLeaseIsReapedAndTheOldHolderFenced) {
  ASSERT_TRUE(queue_->submit("job-c", spec(2, 2), 1));
  auto first = queue_->claim("slow", 50)->value();
  std::this_thread::sleep_for(std::chrono::milliseconds(120));
  EXPECT_EQ(queue_->reap_expired()->requeued, 1);
  EXPECT_EQ(shard_state("job-c", 0), "pending");
  auto second = queue_->claim("fast", 30000)->value();
  EXPECT_EQ(second.shard.shard, 0u);
  EXPECT_GT(second.shard.token, first.shard.token);
  EXPECT_FALSE(queue_->extend(first.shard, 30000)->has_value()) << "old holder cannot renew";
  EXPECT_FALSE(*queue_->complete(first.shard)) << "old holder cannot complete";
  EXPECT_TRUE(queue_->extend(second.shard, 30000)->has_value());
  second.shard.sample_count = 2;
  EXPECT_TRUE(*queue_->complete(second.shard));
}

TEST_F(QueueTest, ExtendMovesTheDeadlineFromRedisTime) {
  ASSERT_TRUE(queue_->submit("job-d", spec(1, 1), 1));
  auto lease = queue_->claim("w", 100)->value();
  auto extended = queue_->extend(lease.shard, 60000);
  ASSERT_TRUE(extended && extended->has_value());
  EXPECT_GE(**extended, lease.deadline_ms + 59000);
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  EXPECT_EQ(queue_->reap_expired()->requeued, 0) << "an extended lease is not reaped";
}

TEST_F(QueueTest, ReleaseReturnsTheShardToTheHeadWithoutCountingAnAttempt) {
  ASSERT_TRUE(queue_->submit("job-e", spec(4, 1), 1));
  auto lease = queue_->claim("w", 30000)->value();
  EXPECT_TRUE(*queue_->release(lease.shard));
  EXPECT_FALSE(*queue_->release(lease.shard));
  auto again = queue_->claim("w", 30000)->value();
  EXPECT_EQ(again.shard.shard, 0u) << "released shard is handed out next";
  auto attempts = redis_->command({"HGET", queue_->keys().shard("job-e", 0), "attempts"});
  EXPECT_EQ(attempts->as_int(), 1);
}

TEST_F(QueueTest, FailingShardIsRetriedThenDeadLetteredWhileTheRestFinishes) {
  auto s = spec(2, 1);
  s.max_attempts = 2;
  queue_->set_retry_backoff_ms(0);
  ASSERT_TRUE(queue_->submit("job-f", s, 1));
  auto a1 = queue_->claim("w", 30000)->value();
  EXPECT_EQ(*queue_->fail(a1.shard, "boom", "w"), FailOutcome::kRetry);
  EXPECT_EQ(*queue_->fail(a1.shard, "boom", "w"), FailOutcome::kStale);
  // The retried shard 0 rejoins the tail: shard 1 comes first.
  auto b = queue_->claim("w", 30000)->value();
  EXPECT_EQ(b.shard.shard, 1u);
  auto a2 = queue_->claim("w", 30000)->value();
  EXPECT_EQ(a2.shard.shard, 0u);
  EXPECT_EQ(*queue_->fail(a2.shard, "boom again", "w"), FailOutcome::kDead);
  auto job = queue_->job("job-f")->value();
  EXPECT_EQ(job.state, "running") << "the other shard is still being rendered";
  EXPECT_EQ(job.shards_dead, 1);
  EXPECT_NE(job.error.find("shard 0"), std::string::npos) << job.error;
  EXPECT_NE(job.error.find("boom again"), std::string::npos) << job.error;
  auto dead = redis_->command({"LRANGE", queue_->keys().dead(), "0", "-1"});
  ASSERT_EQ(dead->elements.size(), 1u);
  EXPECT_EQ(dead->elements[0].str, "job-f/0");
  b.shard.sample_count = 1;
  EXPECT_TRUE(*queue_->complete(b.shard));
  EXPECT_EQ(queue_->job("job-f")->value().state, "finalizing") << "every shard has ended";
  ASSERT_TRUE(queue_->mark_done("job-f"));
  EXPECT_EQ(queue_->job("job-f")->value().state, "failed");
  auto dead_shards = queue_->dead_shards("job-f");
  ASSERT_EQ(dead_shards->size(), 1u);
  EXPECT_EQ((*dead_shards)[0].attempts, 2);

  // Retrying the dead shard puts it back with fresh attempts.
  auto retried = queue_->control(JobAction::kRetryDead, "job-f");
  ASSERT_TRUE(retried);
  EXPECT_EQ(retried->count, 1);
  job = queue_->job("job-f")->value();
  EXPECT_EQ(job.state, "running");
  EXPECT_EQ(job.shards_dead, 0);
  auto again = queue_->claim("w", 30000)->value();
  EXPECT_EQ(again.shard.shard, 0u);
  again.shard.sample_count = 1;
  EXPECT_TRUE(*queue_->complete(again.shard));
  ASSERT_TRUE(queue_->mark_done("job-f"));
  EXPECT_EQ(queue_->job("job-f")->value().state, "done");
}

// With on_dead_shards: partial, a job whose shard died ends "partial", not "failed", and
// its dead shard can still be retried.
TEST_F(QueueTest, ADeadShardEndsAPartialJobAsPartial) {
  auto s = spec(2, 1);
  s.max_attempts = 1;
  s.on_dead_shards = "partial";
  ASSERT_TRUE(queue_->submit("job-p", s, 1));
  auto a = queue_->claim("w", 30000)->value();
  EXPECT_EQ(*queue_->fail(a.shard, "boom", "w"), FailOutcome::kDead);
  auto b = queue_->claim("w", 30000)->value();
  b.shard.sample_count = 1;
  EXPECT_TRUE(*queue_->complete(b.shard));
  ASSERT_TRUE(queue_->mark_done("job-p"));
  auto job = queue_->job("job-p")->value();
  EXPECT_EQ(job.state, "partial");
  EXPECT_NE(job.error.find("shard " + std::to_string(a.shard.shard) + " dead-lettered"), std::string::npos) << job.error;
  EXPECT_EQ(queue_->control(JobAction::kRetryDead, "job-p")->count, 1);
  EXPECT_EQ(queue_->job("job-p")->value().state, "running");
}

TEST_F(QueueTest, RetriesWaitForTheirBackoff) {
  queue_->set_retry_backoff_ms(300);
  ASSERT_TRUE(queue_->submit("job-r", spec(1, 1), 1));
  auto a = queue_->claim("w", 30000)->value();
  EXPECT_EQ(*queue_->fail(a.shard, "x", "w"), FailOutcome::kRetry);
  EXPECT_FALSE(queue_->claim("w", 30000)->has_value()) << "not before the backoff";
  std::this_thread::sleep_for(std::chrono::milliseconds(350));
  EXPECT_TRUE(queue_->claim("w", 30000)->has_value());
}

TEST_F(QueueTest, HigherPriorityFirstThenFifo) {
  auto low = spec(2, 1);
  auto high = spec(2, 1);
  high.priority = 5;
  ASSERT_TRUE(queue_->submit("low", low, 1));
  ASSERT_TRUE(queue_->submit("high", high, 2));
  auto later = spec(1, 1);
  later.priority = 5;
  ASSERT_TRUE(queue_->submit("high-later", later, 3));
  std::vector<std::string> order;
  for (int i = 0; i < 5; ++i) {
    auto l = queue_->claim("w", 30000)->value();
    order.push_back(keys::shard_member(l.shard.job_id, l.shard.shard));
  }
  EXPECT_EQ(order, (std::vector<std::string>{"high/0", "high/1", "high-later/0", "low/0", "low/1"}));
}

TEST_F(QueueTest, AWorkerClaimsOnlyTheTasksItRunsInPriorityOrderAcrossTasks) {
  auto fit = spec(2, 1);
  fit.task = "fit_people";
  auto render = spec(2, 1);
  ASSERT_TRUE(queue_->submit("fit", fit, 1));
  ASSERT_TRUE(queue_->submit("render", render, 2));
  auto urgent = spec(1, 1);
  urgent.task = "fuse_depth";
  urgent.priority = 9;
  ASSERT_TRUE(queue_->submit("urgent", urgent, 3));
  EXPECT_EQ(*queue_->pending_shards(), 5) << "every task's queue counts";
  EXPECT_EQ(queue_->job("fit")->value().task, "fit_people");

  // A render-only worker (the default) passes the fitting shards by, leaving them queued.
  EXPECT_EQ(queue_->claim("renderer", 30000)->value().shard.job_id, "render");
  auto fitter = queue_->claim("fitter", 30000, {"fit_people"})->value();
  EXPECT_EQ(keys::shard_member(fitter.shard.job_id, fitter.shard.shard), "fit/0");
  // Across tasks: priority first, then the order of submission.
  std::vector<std::string> order;
  for (int i = 0; i < 3; ++i) {
    auto l = queue_->claim("any", 30000, {"render", "fit_people", "fuse_depth"})->value();
    order.push_back(keys::shard_member(l.shard.job_id, l.shard.shard));
  }
  EXPECT_EQ(order, (std::vector<std::string>{"urgent/0", "fit/1", "render/1"}));
  EXPECT_FALSE(queue_->claim("any", 30000, {"render", "fit_people", "fuse_depth"})->has_value());
}

TEST_F(QueueTest, RetriedAndResumedShardsGoBackToTheirTasksQueue) {
  auto fit = spec(2, 1);
  fit.task = "fit_people";
  ASSERT_TRUE(queue_->submit("fit", fit, 1));
  auto lease = queue_->claim("w", 30000, {"fit_people"})->value();
  ASSERT_TRUE(queue_->release(lease.shard));
  EXPECT_FALSE(queue_->claim("w", 30000)->has_value()) << "a released fitting shard is no render shard";
  ASSERT_TRUE(queue_->control(JobAction::kPause, "fit")->changed);
  EXPECT_FALSE(queue_->claim("w", 30000, {"fit_people"})->has_value());
  ASSERT_TRUE(queue_->control(JobAction::kResume, "fit")->changed);
  EXPECT_EQ(queue_->claim("w", 30000, {"fit_people"})->value().shard.shard, 0u);
  EXPECT_EQ(queue_->claim("w", 30000, {"fit_people"})->value().shard.shard, 1u);
}

TEST_F(QueueTest, PauseParksShardsAndResumeBringsThemBack) {
  ASSERT_TRUE(queue_->submit("job-p", spec(3, 1), 1));
  auto first = queue_->claim("w", 30000)->value();
  ASSERT_TRUE(queue_->control(JobAction::kPause, "job-p")->changed);
  EXPECT_FALSE(queue_->claim("w", 30000)->has_value()) << "a paused job hands out nothing";
  EXPECT_TRUE(queue_->extend(first.shard, 30000)->has_value()) << "work in flight goes on";
  first.shard.sample_count = 1;
  EXPECT_TRUE(*queue_->complete(first.shard));
  ASSERT_TRUE(queue_->control(JobAction::kResume, "job-p")->changed);
  EXPECT_EQ(queue_->job("job-p")->value().state, "running");
  EXPECT_EQ(queue_->claim("w", 30000)->value().shard.shard, 1u);
  EXPECT_EQ(queue_->claim("w", 30000)->value().shard.shard, 2u);
  EXPECT_FALSE(queue_->control(JobAction::kResume, "job-p")->changed);
  EXPECT_FALSE(queue_->control(JobAction::kPause, "nope")->found);
}

TEST_F(QueueTest, CancelFencesWorkersAndDropsQueuedShards) {
  ASSERT_TRUE(queue_->submit("job-x", spec(3, 1), 1));
  auto held = queue_->claim("w", 30000)->value();
  ASSERT_TRUE(queue_->control(JobAction::kCancel, "job-x")->changed);
  EXPECT_FALSE(queue_->extend(held.shard, 30000)->has_value()) << "the holder learns at its next renewal";
  held.shard.sample_count = 1;
  EXPECT_FALSE(*queue_->complete(held.shard));
  EXPECT_FALSE(queue_->claim("w", 30000)->has_value());
  EXPECT_EQ(*queue_->pending_shards(), 0);
  EXPECT_EQ(queue_->job("job-x")->value().state, "cancelled");
}

TEST_F(QueueTest, DeleteRemovesTheJobAndItsEntries) {
  ASSERT_TRUE(queue_->submit("job-d", spec(3, 1), 1));
  auto held = queue_->claim("w", 30000)->value();
  ASSERT_TRUE(queue_->control(JobAction::kDelete, "job-d")->changed);
  EXPECT_FALSE(queue_->job("job-d")->has_value());
  EXPECT_EQ(*queue_->leased_shards(), 0);
  EXPECT_FALSE(queue_->claim("w", 30000)->has_value());
  EXPECT_EQ(*queue_->pending_shards(), 0);
  auto keys = redis_->command({"KEYS", "sf:job:job-d*"});
  EXPECT_TRUE(keys->elements.empty());
  EXPECT_FALSE(*queue_->complete(held.shard));
}

TEST_F(QueueTest, AWorkerThatFailsThreeShardsIsBlocklistedForTheJob) {
  auto s = spec(5, 1);
  s.max_attempts = 10;
  queue_->set_retry_backoff_ms(0);
  ASSERT_TRUE(queue_->submit("job-b", s, 1));
  for (int i = 0; i < 3; ++i) {
    auto l = queue_->claim("bad", 30000)->value();
    EXPECT_EQ(*queue_->fail(l.shard, "gpu on fire", "bad"), FailOutcome::kRetry);
  }
  EXPECT_EQ(*queue_->blocklist("job-b"), std::vector<std::string>{"bad"});
  EXPECT_FALSE(queue_->claim("bad", 30000)->has_value()) << "blocklisted for this job";
  EXPECT_EQ(*queue_->pending_shards(), 5) << "and the shards stay queued for others";
  EXPECT_TRUE(queue_->claim("good", 30000)->has_value());
}

TEST_F(QueueTest, AShardWhoseLeaseKeepsExpiringIsDeadLettered) {
  auto s = spec(1, 1);
  s.max_attempts = 2;
  ASSERT_TRUE(queue_->submit("job-k", s, 1));
  for (int attempt = 1; attempt <= 2; ++attempt) {
    ASSERT_TRUE(queue_->claim("dies", 20)->has_value());
    std::this_thread::sleep_for(std::chrono::milliseconds(40));
    auto reaped = queue_->reap_expired();
    EXPECT_EQ(reaped->requeued, attempt < 2 ? 1 : 0);
    EXPECT_EQ(reaped->dead, attempt < 2 ? 0 : 1);
  }
  auto job = queue_->job("job-k")->value();
  EXPECT_EQ(job.state, "finalizing");
  EXPECT_EQ(job.shards_dead, 1);
  EXPECT_NE(job.error.find("lease expired"), std::string::npos) << job.error;
}

TEST_F(QueueTest, ScriptsSurviveAScriptCacheFlush) {
  ASSERT_TRUE(queue_->submit("job-g", spec(2, 1), 1));
  ASSERT_TRUE(queue_->claim("w", 30000)->has_value());
  ASSERT_TRUE(redis_->command({"SCRIPT", "FLUSH"}));
  auto lease = queue_->claim("w", 30000);
  ASSERT_TRUE(lease) << lease.error().message;
  EXPECT_TRUE(lease->has_value());
}

using Counts = std::map<std::string, int64_t>;

// Each script that changes a job's state moves the job between the counters: this walks
// every transition (and delete) and checks the counters against the expected numbers and
// a recount from the job hashes after each step.
TEST_F(QueueTest, JobCountsFollowEveryTransition) {
  queue_->set_retry_backoff_ms(0);
  auto expect_counts = [&](const Counts& expected, const char* step) {
    EXPECT_EQ(counters(), expected) << step;
    EXPECT_EQ(recount(), expected) << step << ": the recount from the job hashes";
  };
  auto one_shot = [&](const std::string& on_dead) {
    auto s = spec(1, 1);
    s.max_attempts = 1;
    s.on_dead_shards = on_dead;
    return s;
  };
  auto claim = [&]() { return queue_->claim("w", 30000)->value(); };
  auto complete = [&](Lease lease) {
    lease.shard.sample_count = 1;
    EXPECT_TRUE(*queue_->complete(lease.shard));
  };
  auto job_count = queue_->job_counts();
  ASSERT_TRUE(job_count) << job_count.error().message;
  EXPECT_EQ(job_count->by_state.size(), kJobStates.size()) << "every state, at 0";
  EXPECT_EQ(job_count->total(), 0);

  ASSERT_TRUE(queue_->submit("a", spec(2, 1), 1));
  ASSERT_TRUE(queue_->submit("b", spec(1, 1), 2));
  ASSERT_TRUE(queue_->submit("c", spec(1, 1), 3));
  expect_counts({{"queued", 3}}, "submit");
  auto a0 = claim();
  expect_counts({{"queued", 2}, {"running", 1}}, "claim");
  ASSERT_TRUE(queue_->control(JobAction::kPause, "a")->changed);
  expect_counts({{"queued", 2}, {"paused", 1}}, "pause a running job");
  ASSERT_TRUE(queue_->control(JobAction::kResume, "a")->changed);
  expect_counts({{"queued", 2}, {"running", 1}}, "resume it");
  ASSERT_TRUE(queue_->control(JobAction::kPause, "b")->changed);
  expect_counts({{"queued", 1}, {"running", 1}, {"paused", 1}}, "pause a queued job");
  ASSERT_TRUE(queue_->control(JobAction::kResume, "b")->changed);
  expect_counts({{"queued", 2}, {"running", 1}}, "resume it");
  ASSERT_TRUE(queue_->control(JobAction::kCancel, "c")->changed);
  expect_counts({{"queued", 1}, {"running", 1}, {"cancelled", 1}}, "cancel");
  EXPECT_FALSE(queue_->control(JobAction::kCancel, "c")->changed);
  expect_counts({{"queued", 1}, {"running", 1}, {"cancelled", 1}}, "a refused cancel");

  complete(a0);
  expect_counts({{"queued", 1}, {"running", 1}, {"cancelled", 1}}, "a shard done, one to go");
  complete(claim());
  expect_counts({{"queued", 1}, {"finalizing", 1}, {"cancelled", 1}}, "the last shard done");
  ASSERT_TRUE(queue_->mark_done("a"));
  expect_counts({{"queued", 1}, {"done", 1}, {"cancelled", 1}}, "mark_done");
  ASSERT_TRUE(queue_->mark_done("a"));
  expect_counts({{"queued", 1}, {"done", 1}, {"cancelled", 1}}, "mark_done again");
  complete(claim());  // b
  ASSERT_TRUE(queue_->mark_done("b"));
  expect_counts({{"done", 2}, {"cancelled", 1}}, "b done");

  ASSERT_TRUE(queue_->submit("d", one_shot("fail"), 4));
  auto d0 = claim();  // c/0, cancelled, is dropped on the way
  EXPECT_EQ(d0.shard.job_id, "d");
  EXPECT_EQ(*queue_->fail(d0.shard, "boom", "w"), FailOutcome::kDead);
  expect_counts({{"done", 2}, {"cancelled", 1}, {"finalizing", 1}}, "its only shard dead-lettered");
  ASSERT_TRUE(queue_->mark_done("d"));
  expect_counts({{"done", 2}, {"cancelled", 1}, {"failed", 1}}, "mark_done of a job with a dead shard");
  EXPECT_EQ(queue_->control(JobAction::kRetryDead, "d")->count, 1);
  expect_counts({{"done", 2}, {"cancelled", 1}, {"running", 1}}, "retry of the failed job");
  complete(claim());
  ASSERT_TRUE(queue_->mark_done("d"));
  expect_counts({{"done", 3}, {"cancelled", 1}}, "the retried job done");

  ASSERT_TRUE(queue_->submit("e", one_shot("partial"), 5));
  EXPECT_EQ(*queue_->fail(claim().shard, "boom", "w"), FailOutcome::kDead);
  ASSERT_TRUE(queue_->mark_done("e"));
  expect_counts({{"done", 3}, {"cancelled", 1}, {"partial", 1}}, "partial");
  EXPECT_EQ(queue_->control(JobAction::kRetryDead, "e")->count, 1);
  expect_counts({{"done", 3}, {"cancelled", 1}, {"running", 1}}, "retry of the partial job");
  ASSERT_TRUE(queue_->submit("f", spec(1, 1), 6));
  auto lost = queue_->claim("dies", 1)->value();  // e/0 again, its worker dies
  EXPECT_EQ(lost.shard.job_id, "e");
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(queue_->reap_expired()->dead, 1);
  expect_counts({{"done", 3}, {"cancelled", 1}, {"finalizing", 1}, {"queued", 1}}, "reap dead-letters its shard");
  ASSERT_TRUE(queue_->mark_done("e"));
  complete(claim());  // f
  ASSERT_TRUE(queue_->mark_failed("f", "finalize: disk full"));
  expect_counts({{"done", 3}, {"cancelled", 1}, {"partial", 1}, {"failed", 1}}, "mark_failed");

  ASSERT_TRUE(queue_->submit("g", spec(1, 1), 7));
  ASSERT_TRUE(queue_->control(JobAction::kPause, "g")->changed);
  for (std::string id : {"a", "c", "e", "f", "g"}) ASSERT_TRUE(queue_->control(JobAction::kDelete, id)->changed);
  expect_counts({{"done", 2}}, "delete of a done, a cancelled, a partial, a failed and a paused job");
  EXPECT_FALSE(queue_->control(JobAction::kDelete, "a")->found);
  expect_counts({{"done", 2}}, "delete of a job that is gone");
  ASSERT_TRUE(queue_->mark_failed("a", "finalize: too late"));
  expect_counts({{"done", 2}}, "mark_failed of a deleted job");
  EXPECT_FALSE(queue_->job("a")->has_value()) << "no stray job hash";
}

// A random sequence of every queue operation, the counters checked against a recount
// from the job hashes after each one: a script that forgot the counters, or moved them
// twice, shows up as a difference.
TEST_F(QueueTest, JobCountsEqualARecountAfterRandomOperations) {
  queue_->set_retry_backoff_ms(0);
  std::mt19937 rng(20261205);  // fixed seed: the same sequence on every run
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  std::vector<std::string> jobs;
  std::vector<Lease> held;
  std::set<std::string> seen;  // states the counters held at some point
  int submitted = 0;
  auto take_held = [&]() {
    size_t i = pick(held.size());
    Lease lease = held[i];
    held.erase(held.begin() + static_cast<std::ptrdiff_t>(i));
    return lease;
  };
  for (int step = 0; step < 1500; ++step) {
    size_t op = pick(14);
    std::string what;
    if (op == 0 || jobs.empty()) {
      auto s = spec(1 + static_cast<int64_t>(pick(3)), 1);
      s.max_attempts = 1 + static_cast<int>(pick(2));
      s.on_dead_shards = pick(2) ? "partial" : "fail";
      std::string id = "job-" + std::to_string(submitted++);
      ASSERT_TRUE(queue_->submit(id, s, step));
      jobs.push_back(id);
      what = "submit " + id;
    } else if (op <= 3) {
      // Short leases now and then, so that reap finds some expired.
      auto lease = queue_->claim("w" + std::to_string(pick(4)), pick(4) == 0 ? 1 : 30000);
      ASSERT_TRUE(lease);
      if (lease->has_value()) held.push_back(**lease);
      what = "claim";
    } else if (op <= 5 && !held.empty()) {
      Lease lease = take_held();
      lease.shard.sample_count = 1;
      ASSERT_TRUE(queue_->complete(lease.shard));
      what = "complete " + lease.shard.job_id;
    } else if (op == 6 && !held.empty()) {
      Lease lease = take_held();
      ASSERT_TRUE(queue_->fail(lease.shard, "boom", "w" + std::to_string(pick(4))));
      what = "fail " + lease.shard.job_id;
    } else if (op == 7 && !held.empty()) {
      ASSERT_TRUE(queue_->release(take_held().shard));
      what = "release";
    } else if (op == 8) {
      ASSERT_TRUE(queue_->reap_expired());
      what = "reap";
    } else if (op <= 11) {
      static constexpr JobAction kActions[] = {JobAction::kPause, JobAction::kResume, JobAction::kPause,
                                               JobAction::kResume, JobAction::kCancel, JobAction::kRetryDead,
                                               JobAction::kRetryDead, JobAction::kDelete};
      JobAction action = kActions[pick(std::size(kActions))];
      std::string id = jobs[pick(jobs.size())];
      ASSERT_TRUE(queue_->control(action, id));
      what = "control " + std::to_string(static_cast<int>(action)) + " " + id;
    } else {
      auto ready = queue_->finalizable();
      ASSERT_TRUE(ready);
      for (const auto& id : *ready) {
        ASSERT_TRUE(pick(4) == 0 ? queue_->mark_failed(id, "finalize: boom") : queue_->mark_done(id));
      }
      what = "finalize";
    }
    auto counted = counters();
    ASSERT_EQ(counted, recount()) << "after step " << step << ": " << what;
    for (const auto& [state, n] : counted) seen.insert(state);
  }
  EXPECT_EQ(seen, std::set<std::string>(kJobStates.begin(), kJobStates.end()))
      << "the sequence reached every state";
  auto before = counters();
  auto rebuilt = queue_->rebuild_job_counts();
  ASSERT_TRUE(rebuilt && rebuilt->has_value());
  auto listed = redis_->command({"ZCARD", queue_->keys().jobs()});
  EXPECT_EQ(**rebuilt, listed->as_int());
  EXPECT_EQ(counters(), before) << "a rebuild gives the same numbers";
}

// A Redis whose jobs predate the counters holds the job hashes and no counters: the
// coordinator counts them at start, or else the first script that needs the counters
// does; either way once, never on top of counters that exist.
TEST_F(QueueTest, JobCountsAreRebuiltOnceForJobsFromBeforeThem) {
  ASSERT_TRUE(queue_->submit("a", spec(1, 1), 1));
  ASSERT_TRUE(queue_->submit("b", spec(1, 1), 2));
  ASSERT_TRUE(queue_->submit("c", spec(1, 1), 3));
  ASSERT_TRUE(queue_->claim("w", 30000)->has_value());
  ASSERT_TRUE(queue_->control(JobAction::kCancel, "c")->changed);
  const Counts expected = {{"queued", 1}, {"running", 1}, {"cancelled", 1}};

  ASSERT_TRUE(drop_counters());
  auto rebuilt = queue_->rebuild_job_counts(/*only_if_missing=*/true);
  ASSERT_TRUE(rebuilt);
  ASSERT_TRUE(rebuilt->has_value());
  EXPECT_EQ(**rebuilt, 3);
  EXPECT_EQ(counters(), expected);
  EXPECT_FALSE(queue_->rebuild_job_counts(true)->has_value()) << "the counters exist: nothing counted twice";
  EXPECT_EQ(queue_->rebuild_job_counts(false)->value_or(-1), 3);
  EXPECT_EQ(counters(), expected) << "a forced rebuild replaces the counters, it does not add to them";

  // No rebuild: the first script that changes a state counts the jobs first.
  ASSERT_TRUE(drop_counters());
  ASSERT_TRUE(queue_->control(JobAction::kPause, "b")->changed);
  EXPECT_EQ(counters(), (Counts{{"paused", 1}, {"running", 1}, {"cancelled", 1}}));
  ASSERT_TRUE(drop_counters());
  ASSERT_TRUE(queue_->control(JobAction::kDelete, "b")->changed);
  EXPECT_EQ(counters(), (Counts{{"running", 1}, {"cancelled", 1}}));
  ASSERT_TRUE(drop_counters());
  ASSERT_TRUE(queue_->submit("d", spec(1, 1), 4));
  EXPECT_EQ(counters(), (Counts{{"queued", 1}, {"running", 1}, {"cancelled", 1}}));
  // Or reading them does.
  ASSERT_TRUE(drop_counters());
  EXPECT_EQ(counters(), (Counts{{"queued", 1}, {"running", 1}, {"cancelled", 1}}));
  EXPECT_EQ(recount(), counters());
}

TEST(RedisClient, UnreachableServerIsAConnectionErrorNamingTheAddress) {
  int port = testing::free_tcp_port();
  auto redis = RedisClient::create({"127.0.0.1", port, 0}, std::chrono::milliseconds(500));
  auto reply = redis->command({"PING"});
  ASSERT_FALSE(reply);
  EXPECT_TRUE(reply.error().connection);
  EXPECT_NE(reply.error().message.find("127.0.0.1:" + std::to_string(port)), std::string::npos);
}

TEST(RedisClient, ReconnectsAfterTheServerComesBack) {
  auto server = testing::RedisServer::start();
  auto redis = RedisClient::create(RedisEndpoint::parse(server->url()).value());
  ASSERT_TRUE(redis->command({"SET", "k", "v"}));
  int port = server->port();
  server.reset();
  EXPECT_FALSE(redis->command({"GET", "k"}));
  // A new server on the same port: the same client reconnects by itself.
  auto again = testing::RedisServer::start({}, port);
  auto pong = redis->command({"PING"});
  ASSERT_TRUE(pong) << pong.error().message;
  EXPECT_EQ(pong->str, "PONG");
}

// Against `requirepass`, the default user's password (ACL users: tests/security_test.cpp).
TEST(RedisClient, AuthenticatesOnEveryConnect) {
  auto server = testing::RedisServer::start({"--requirepass", "s3cret"});
  auto endpoint = RedisEndpoint::parse(server->url()).value();
  endpoint.password = "s3cret";
  auto redis = RedisClient::create(endpoint);
  ASSERT_TRUE(redis->command({"SET", "k", "v"}));
  int port = server->port();
  server.reset();
  EXPECT_FALSE(redis->command({"GET", "k"}));
  // The reconnect to a new server sends AUTH again before the command.
  auto again = testing::RedisServer::start({"--requirepass", "s3cret"}, port);
  auto pong = redis->command({"PING"});
  ASSERT_TRUE(pong) << pong.error().message;
  EXPECT_EQ(pong->str, "PONG");
}

TEST(RedisClient, AWrongPasswordIsRefusedCredentialsNotAConnectionError) {
  auto server = testing::RedisServer::start({"--requirepass", "s3cret"});
  auto endpoint = RedisEndpoint::parse(server->url()).value();
  endpoint.password = "hunter2";
  auto reply = RedisClient::create(endpoint)->command({"PING"});
  ASSERT_FALSE(reply);
  EXPECT_TRUE(reply.error().credentials_refused);
  EXPECT_FALSE(reply.error().connection) << "retrying cannot help";
  EXPECT_NE(reply.error().message.find("127.0.0.1:" + std::to_string(server->port()) + " refused user 'default'"),
            std::string::npos)
      << reply.error().message;
  EXPECT_NE(reply.error().message.find("WRONGPASS"), std::string::npos) << reply.error().message;
  EXPECT_EQ(reply.error().message.find("hunter2"), std::string::npos) << reply.error().message;
  // retry_with_backoff gives up at once.
  std::atomic<bool> stop{false};
  int attempts = 0;
  auto redis = RedisClient::create(endpoint);
  auto retried = retry_with_backoff<RedisReply>(
      [&] {
        ++attempts;
        return redis->command({"PING"});
      },
      stop, nullptr);
  EXPECT_FALSE(retried);
  EXPECT_EQ(attempts, 1);
}

TEST(RedisClient, NoPasswordForAServerThatWantsOneIsRefusedCredentials) {
  auto server = testing::RedisServer::start({"--requirepass", "s3cret"});
  auto reply = RedisClient::create(RedisEndpoint::parse(server->url()).value())->command({"PING"});
  ASSERT_FALSE(reply);
  EXPECT_TRUE(reply.error().credentials_refused);
  EXPECT_FALSE(reply.error().connection);
  EXPECT_NE(reply.error().message.find("NOAUTH"), std::string::npos) << reply.error().message;
}

}  // namespace
}  // namespace synthfarm::queue
