// The Redis link's ACL users (ops/redis.acl) against a real redis-server: what each user
// must not do, that what it may do is enough for a whole job (the queue's scripts run
// with the caller's permissions, keys inside them checked too), and that refused
// credentials end the programs with a clear message that never holds the password.
//
// The ACL file the server loads is the shipped one, with a hash put in for each user's
// placeholder exactly as docs/security.md tells operators to: if the file changes shape,
// these tests fail rather than test a copy.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <map>
#include <sstream>

#include "queue/queue.h"
#include "queue/redis.h"
#include "tests/farm.h"

namespace synthfarm::testing {
namespace {

const std::string kCoordinatorPassword = "coordinator-test-password";
const std::string kWorkerPassword = "worker-test-password";
class RedisAclTest : public ::testing::Test {
 protected:
  void SetUp() override {
    acl_path_ = dir_.path() / "redis.acl";
    std::ofstream(acl_path_) << shipped_redis_acl(
        {{"coordinator", kCoordinatorPassword}, {"worker", kWorkerPassword}});
    // DEBUG on, so that only the ACL stands between the users and it.
    server_ = RedisServer::start({"--aclfile", acl_path_.string(), "--enable-debug-command", "yes"});
  }

  queue::RedisEndpoint endpoint(const std::string& user, const std::string& password) const {
    auto e = queue::RedisEndpoint::parse(server_->url()).value();
    e.user = user;
    e.password = password;
    return e;
  }
  std::unique_ptr<queue::RedisClient> client(const std::string& user, const std::string& password) const {
    return queue::RedisClient::create(endpoint(user, password));
  }

  TempDir dir_;
  std::filesystem::path acl_path_;
  std::unique_ptr<RedisServer> server_;
};

// Expects Redis to refuse `args` to this client, for lack of permission.
void expect_denied(queue::RedisClient& redis, const std::vector<std::string>& args) {
  std::string shown;
  for (const auto& a : args) shown += a + " ";
  auto reply = redis.command(args);
  ASSERT_FALSE(reply) << shown << "was allowed";
  EXPECT_FALSE(reply.error().connection) << reply.error().message;
  // NOPERM for a command; inside a script Redis 7.0 says "The user executing the script
  // can't run this command" or "can't access at least one of the keys".
  EXPECT_TRUE(reply.error().message.find("NOPERM") != std::string::npos ||
              reply.error().message.find("The user executing the script can't") != std::string::npos)
      << shown << ": " << reply.error().message;
}

TEST_F(RedisAclTest, TheDefaultUserIsOff) {
  auto anonymous = queue::RedisClient::create(queue::RedisEndpoint::parse(server_->url()).value());
  auto reply = anonymous->command({"PING"});
  ASSERT_FALSE(reply);
  EXPECT_TRUE(reply.error().credentials_refused) << reply.error().message;
  auto guessed = client("default", "")->command({"PING"});
  EXPECT_FALSE(guessed);
  auto with_password = client("", kCoordinatorPassword)->command({"GET", "sf:jobs"});
  ASSERT_FALSE(with_password);
  EXPECT_TRUE(with_password.error().credentials_refused) << with_password.error().message;
}

TEST_F(RedisAclTest, TheWorkerCannotAdministerRedisNorTouchKeysOutsideItsFamilies) {
  auto coordinator = client("coordinator", kCoordinatorPassword);
  ASSERT_TRUE(coordinator->command({"HSET", "sf:auth:tokens", "t1", "secret-token"}));
  auto worker = client("worker", kWorkerPassword);
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"FLUSHALL"},
           {"FLUSHDB"},
           {"CONFIG", "GET", "maxmemory-policy"},
           {"CONFIG", "SET", "maxmemory-policy", "allkeys-lru"},
           {"KEYS", "sf:*"},
           {"SCAN", "0"},
           {"DEBUG", "SLEEP", "0"},
           {"SHUTDOWN", "NOSAVE"},
           {"ACL", "LIST"},
           {"MODULE", "LIST"},
           {"SCRIPT", "FLUSH"},
           {"INFO"},
           // sf:auth:* holds the coordinator's API tokens and sessions.
           {"GET", "sf:auth:tokens"},
           {"SET", "sf:auth:tokens", "x"},
           {"HGET", "sf:auth:tokens", "t1"},
           {"HGETALL", "sf:auth:tokens"},
           {"HSET", "sf:auth:sessions", "s", "x"},
           {"DEL", "sf:auth:tokens"},
           // Keys are checked inside scripts too (Redis 7).
           {"EVAL", "return redis.call('HGET', 'sf:auth:tokens', 't1')", "0"},
           {"EVAL", "return redis.call('DEL', KEYS[1])", "1", "sf:auth:tokens"},
           {"EVAL", "return redis.call('FLUSHALL')", "0"},
           // Outside the prefix, and the job list, which only the coordinator writes.
           {"HSET", "other", "f", "v"},
           {"HSET", "sf2:job:x", "f", "v"},
           {"EVAL", "return redis.call('HSET', 'other', 'f', 'v')", "0"},
           {"ZADD", "sf:jobs", "1", "forged"},
           {"EVAL", "return redis.call('ZADD', 'sf:jobs', 1, 'forged')", "0"},
       }) {
    expect_denied(*worker, args);
  }
  // The coordinator may not administer Redis either.
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"FLUSHALL"}, {"CONFIG", "GET", "maxmemory-policy"}, {"KEYS", "*"}, {"ACL", "LIST"},
           {"SHUTDOWN", "NOSAVE"}, {"HSET", "other", "f", "v"}}) {
    expect_denied(*coordinator, args);
  }
  auto token = coordinator->command({"HGET", "sf:auth:tokens", "t1"});
  ASSERT_TRUE(token) << token.error().message;
  EXPECT_EQ(token->str, "secret-token");
  // Nor read outside the farm's prefix.
  expect_denied(*coordinator, {"EXISTS", "other", "sf2:job:x"});
  auto jobs = coordinator->command({"ZRANGE", "sf:jobs", "0", "-1"});
  ASSERT_TRUE(jobs) << jobs.error().message;
  EXPECT_TRUE(jobs->elements.empty());
}

// Every worker script (claim, extend, complete, release, fail) and every coordinator call
// of the queue, each as its own ACL user: a permission missing from ops/redis.acl fails
// here, before a half-run script leaves the queue inconsistent in production.
TEST_F(RedisAclTest, EachUserCanDoItsPartOfAWholeJob) {
  auto coordinator_redis = client("coordinator", kCoordinatorPassword);
  auto worker_redis = client("worker", kWorkerPassword);
  queue::Queue coordinator(*coordinator_redis);
  queue::Queue worker(*worker_redis);

  queue::JobSubmission job;
  job.name = "acl";
  job.samples = 3;
  job.shard_size = 1;
  job.shards = 3;
  job.max_attempts = 1;
  job.storage = "file:///tmp/acl";
  job.spec_json = R"({"name":"acl"})";
  auto submitted = coordinator.submit("acl-job", job, 1000);
  ASSERT_TRUE(submitted) << submitted.error().message;
  // Without the per-state counters, the worker's first claim counts the job hashes of
  // sf:jobs, which the worker may read but not write.
  ASSERT_TRUE(coordinator_redis->command({"DEL", coordinator.keys().jobs_by_state()}));

  auto lease = worker.claim("w1", 30000);
  ASSERT_TRUE(lease) << lease.error().message;
  ASSERT_TRUE(lease->has_value());
  queue::ShardRef shard = (*lease)->shard;
  shard.sample_count = 1;
  auto spec = worker.job_spec_json("acl-job");
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(spec->value_or(""), job.spec_json);
  auto extended = worker.extend(shard, 30000);
  ASSERT_TRUE(extended) << extended.error().message;
  EXPECT_TRUE(extended->has_value());
  auto counted = worker.add_renders(shard, 1);
  ASSERT_TRUE(counted) << counted.error().message;
  auto completed = worker.complete(shard, 1);
  ASSERT_TRUE(completed) << completed.error().message;
  EXPECT_TRUE(*completed);

  // Released (a graceful stop), claimed again, failed for good: a dead letter.
  lease = worker.claim("w1", 30000);
  ASSERT_TRUE(lease && lease->has_value());
  auto released = worker.release((*lease)->shard);
  ASSERT_TRUE(released) << released.error().message;
  EXPECT_TRUE(*released);
  lease = worker.claim("w1", 30000);
  ASSERT_TRUE(lease && lease->has_value());
  auto failed = worker.fail((*lease)->shard, "boom", "w1", "log tail");
  ASSERT_TRUE(failed) << failed.error().message;
  EXPECT_EQ(*failed, queue::FailOutcome::kDead);

  lease = worker.claim("w1", 30000);
  ASSERT_TRUE(lease && lease->has_value());
  shard = (*lease)->shard;
  shard.sample_count = 1;
  completed = worker.complete(shard);
  ASSERT_TRUE(completed) << completed.error().message;
  EXPECT_TRUE(*completed);
  auto empty = worker.claim("w1", 30000);
  ASSERT_TRUE(empty) << empty.error().message;
  EXPECT_FALSE(empty->has_value());

  // The coordinator's side: its reads, the finalizer, job control and the reaper.
  auto finalizable = coordinator.finalizable();
  ASSERT_TRUE(finalizable) << finalizable.error().message;
  EXPECT_EQ(*finalizable, std::vector<std::string>{"acl-job"});
  auto dead = coordinator.dead_shards("acl-job");
  ASSERT_TRUE(dead) << dead.error().message;
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_TRUE(coordinator.blocklist("acl-job"));
  ASSERT_TRUE(coordinator.mark_done("acl-job"));
  auto record = coordinator.job("acl-job");
  ASSERT_TRUE(record && record->has_value());
  EXPECT_EQ((*record)->state, "failed");
  EXPECT_EQ((*record)->shards_done, 2);
  EXPECT_EQ((*record)->renders, 1);
  EXPECT_EQ(coordinator.jobs().value_or(std::vector<queue::JobRecord>{}).size(), 1u);
  for (auto action : {queue::JobAction::kRetryDead, queue::JobAction::kPause, queue::JobAction::kResume,
                      queue::JobAction::kCancel}) {
    auto outcome = coordinator.control(action, "acl-job");
    ASSERT_TRUE(outcome) << outcome.error().message;
    EXPECT_TRUE(outcome->changed);
  }
  auto reaped = coordinator.reap_expired();
  ASSERT_TRUE(reaped) << reaped.error().message;
  auto counts = coordinator.job_counts();
  ASSERT_TRUE(counts) << counts.error().message;
  EXPECT_EQ(counts->by_state["cancelled"], 1);
  ASSERT_TRUE(coordinator.rebuild_job_counts());
  ASSERT_TRUE(coordinator.pending_shards());
  ASSERT_TRUE(coordinator.leased_shards());
  EXPECT_EQ(coordinator.samples_rendered().value_or(-1), 2);
  ASSERT_TRUE(coordinator.mark_failed("acl-job", "test"));
  auto deleted = coordinator.control(queue::JobAction::kDelete, "acl-job");
  ASSERT_TRUE(deleted) << deleted.error().message;
  EXPECT_TRUE(deleted->changed);
  // And the worker cannot submit: the job list is the coordinator's.
  EXPECT_FALSE(worker.submit("forged", job, 1000));
}

TEST_F(RedisAclTest, AWorkerWithAWrongPasswordSaysSoAndExitsWithoutClaiming) {
  queue::JobSubmission job;
  job.name = "waiting";
  job.samples = 1;
  job.shard_size = 1;
  job.shards = 1;
  job.storage = "file://" + (dir_.path() / "out").string();
  job.spec_json = R"({"name":"waiting"})";
  auto coordinator_redis = client("coordinator", kCoordinatorPassword);
  queue::Queue coordinator(*coordinator_redis);
  ASSERT_TRUE(coordinator.submit("waiting-job", job, 1000));

  const std::string wrong = "not-the-worker-password";
  auto worker = ChildProcess::spawn(
      {binary("synthfarm-worker"), "--redis",
       "redis://worker:" + wrong + "@127.0.0.1:" + std::to_string(server_->port()), "--coordinator",
       "tcp://127.0.0.1:" + std::to_string(free_tcp_port()), "--control",
       "tcp://127.0.0.1:" + std::to_string(free_tcp_port()), "--threads", "1", "--id", "w-wrong"},
      dir_.path() / "worker.log");
  auto status = worker->wait(std::chrono::seconds(30));
  ASSERT_TRUE(status.has_value()) << "a worker whose password is refused must exit\n" << worker->log();
  EXPECT_NE(*status, 0) << worker->log();
  const std::string log = worker->log();
  EXPECT_NE(log.find("refused user 'worker'"), std::string::npos) << log;
  EXPECT_NE(log.find("WRONGPASS"), std::string::npos) << log;
  EXPECT_NE(log.find("claiming nothing"), std::string::npos) << log;
  EXPECT_EQ(log.find(wrong), std::string::npos) << "the log holds the password:\n" << log;
  // It claimed nothing.
  EXPECT_EQ(coordinator.pending_shards().value_or(-1), 1);
  EXPECT_EQ(coordinator.leased_shards().value_or(-1), 0);
}

TEST_F(RedisAclTest, ACoordinatorWithAWrongPasswordRefusesToStart) {
  const std::string wrong = "not-the-coordinator-password";
  auto password_file = write_secret(dir_.path() / "coordinator.password", wrong);
  auto coordinator = ChildProcess::spawn(
      {binary("synthfarm-coordinator"), "--redis", "redis://coordinator@127.0.0.1:" + std::to_string(server_->port()),
       "--redis-password-file", password_file, "--listen", "127.0.0.1:" + std::to_string(free_tcp_port()),
       "--telemetry", "tcp://127.0.0.1:" + std::to_string(free_tcp_port()), "--control",
       "tcp://127.0.0.1:" + std::to_string(free_tcp_port()), "--storage-root",
       "file://" + (dir_.path() / "out").string()},
      dir_.path() / "coordinator.log");
  auto status = coordinator->wait(std::chrono::seconds(30));
  ASSERT_TRUE(status.has_value()) << "it must refuse to start\n" << coordinator->log();
  EXPECT_EQ(*status, 1) << coordinator->log();
  const std::string log = coordinator->log();
  EXPECT_NE(log.find("refused user 'coordinator'"), std::string::npos) << log;
  EXPECT_EQ(log.find(wrong), std::string::npos) << "the log holds the password:\n" << log;
}

TEST_F(RedisAclTest, APasswordFileOthersMayReadIsRefused) {
  auto password_file = write_secret(dir_.path() / "worker.password", kWorkerPassword);
  ASSERT_EQ(::chmod(password_file.c_str(), 0644), 0);
  auto [code, out] = run_command(
      {binary("synthfarm-worker"), "--redis", "redis://worker@127.0.0.1:" + std::to_string(server_->port()),
       "--threads", "1"},
      std::chrono::seconds(30), {{"SYNTHFARM_REDIS_PASSWORD_FILE", password_file}});
  EXPECT_EQ(code, 2) << out;
  EXPECT_NE(out.find(password_file), std::string::npos) << out;
  EXPECT_NE(out.find("0644"), std::string::npos) << out;
  EXPECT_EQ(out.find(kWorkerPassword), std::string::npos) << out;
}

// The whole farm, each program as its ACL user with its password in a file: a job ends
// done, the coordinator reads the eviction policy (INFO) and serves its API, and no log
// holds a password or a refused command.
TEST(RedisAclFarm, AJobRunsWithTheShippedUsers) {
  TempDir secrets;
  auto acl = secrets.path() / "redis.acl";
  std::ofstream(acl) << shipped_redis_acl(
      {{"coordinator", kCoordinatorPassword}, {"worker", kWorkerPassword}});
  auto coordinator_password = write_secret(secrets.path() / "coordinator.password", kCoordinatorPassword);
  auto worker_password = write_secret(secrets.path() / "worker.password", kWorkerPassword);
  Farm farm({.workers = 2,
             .redis_args = {"--aclfile", acl.string()},
             .worker_env = {{"SYNTHFARM_REDIS_PASSWORD_FILE", worker_password}},
             .env = {{"SYNTHFARM_REDIS_PASSWORD_FILE", coordinator_password}},
             .coordinator_redis_user = "coordinator",
             .worker_redis_user = "worker"});
  std::string id = farm.submit(
      "name: acl\nsamples: 4\nshard_size: 1\nseed: 7\ncamera:\n  resolution: [64, 48]\nrender:\n  spp: 2\n"
      "  max_bounces: 1\n");
  ASSERT_FALSE(id.empty());
  auto job = farm.wait(id, std::chrono::seconds(240));
  EXPECT_EQ(job["state"], "done") << farm.logs();
  auto [status, body] = farm.get("/api/jobs/" + id);
  EXPECT_EQ(status, 200) << body.dump();
  auto [metrics_status, metrics] = farm.get_raw("/metrics");
  EXPECT_EQ(metrics_status, 200);
  EXPECT_NE(metrics.find("synthfarm_redis_up 1"), std::string::npos) << metrics;
  EXPECT_EQ(farm.post("/api/jobs/" + id + "/retry", "").first, 200) << farm.logs();
  EXPECT_EQ(farm.post("/api/jobs/" + id + "/pause", "").first, 409) << farm.logs();
  const std::string logs = farm.all_logs(1 << 20);
  EXPECT_EQ(logs.find("cannot read redis maxmemory-policy"), std::string::npos) << logs;
  EXPECT_EQ(logs.find("NOPERM"), std::string::npos) << logs;
  EXPECT_EQ(logs.find("The user executing the script"), std::string::npos) << logs;
  EXPECT_EQ(logs.find(kCoordinatorPassword), std::string::npos) << "a log holds a password";
  EXPECT_EQ(logs.find(kWorkerPassword), std::string::npos) << "a log holds a password";
  EXPECT_NE(logs.find("redis coordinator@127.0.0.1:"), std::string::npos) << logs;
  EXPECT_NE(logs.find("redis worker@127.0.0.1:"), std::string::npos) << logs;
}

}  // namespace
}  // namespace synthfarm::testing
