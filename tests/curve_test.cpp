// ZeroMQ CURVE on whole farms of real processes (docs/security.md): a worker whose key
// the coordinator does not list exits non-zero with the reason in its log and claims
// nothing, while a listed worker renders a job to done; CURVE on one side only, or a
// wrong coordinator key, ends the worker with a message saying what to fix; bad key
// files stop a process at start, naming the file. Keys come from `synthfarm keygen`, as
// an operator's would.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/farm.h"

namespace synthfarm::testing {
namespace {

namespace fs = std::filesystem;

// Two samples of one shard each, as small as e2e_test.cpp's jobs.
std::string curve_farm_spec(const std::string& name) {
  return "name: " + name +
         "\nsamples: 2\nshard_size: 1\nseed: 7\ncamera:\n  resolution: [64, 48]\nrender:\n  spp: "
         "1\n"
         "  max_bounces: 1\n";
}

// `synthfarm keygen --out PREFIX`; returns the public key it wrote to PREFIX.pub.
std::string curve_keygen(const fs::path& prefix) {
  auto [code, output] = run_command({binary("synthfarm"), "keygen", "--out", prefix.string()});
  EXPECT_EQ(code, 0) << output;
  std::ifstream in(prefix.string() + ".pub");
  std::string key;
  in >> key;
  EXPECT_EQ(key.size(), 40u) << prefix;
  return key;
}

// The keys of a coordinator and of two workers, one of them listed in the allow-list.
struct CurveFarmKeys {
  TempDir dir;
  std::string coordinator_public, listed_public, stranger_public;
  CurveFarmKeys() {
    coordinator_public = curve_keygen(dir.path() / "coordinator");
    listed_public = curve_keygen(dir.path() / "listed");
    stranger_public = curve_keygen(dir.path() / "stranger");
    std::ofstream(dir.path() / "allowed_workers") << "# render nodes\n"
                                                  << listed_public << "  # listed\n";
  }
  std::string path(const std::string& name) const { return (dir.path() / name).string(); }
  std::vector<std::string> coordinator_args() const {
    return {"--curve-key", path("coordinator.key"), "--curve-workers", path("allowed_workers")};
  }
};

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(CurveFarm, AnUnlistedWorkerExitsAndClaimsNothingWhileAListedOneRenders) {
  CurveFarmKeys keys;
  Farm farm({.workers = 0, .threads = 1, .coordinator_args = keys.coordinator_args()});
  const std::string job = farm.submit(curve_farm_spec("curve"));
  ASSERT_FALSE(job.empty());

  // Worker w1, not listed: refused at its first handshake, it stops and says why.
  auto stranger = farm.start_worker({"--curve-key", keys.path("stranger.key"), "--coordinator-key",
                                     keys.path("coordinator.pub")});
  auto status = stranger->wait(std::chrono::seconds(60));
  ASSERT_TRUE(status) << "a refused worker must not hang:\n" << stranger->log();
  EXPECT_EQ(*status, 1) << stranger->log();
  const std::string log = stranger->log();
  EXPECT_TRUE(contains(log, "refused this worker's CURVE key " + keys.stranger_public)) << log;
  EXPECT_TRUE(contains(log, "add it to the coordinator's --curve-workers list")) << log;
  EXPECT_FALSE(contains(log, "shard " + job + "/")) << "the refused worker claimed a shard:\n"
                                                    << log;
  auto [job_status, record] = farm.get("/api/jobs/" + job);
  EXPECT_EQ(record["state"], "queued") << record.dump();
  EXPECT_EQ(record["shards_done"], 0) << record.dump();
  EXPECT_TRUE(contains(farm.coordinator().log(), "key " + keys.stranger_public + " is not in"))
      << farm.coordinator().log();
  auto [metrics_status, metrics] = farm.get_raw("/metrics");
  EXPECT_TRUE(contains(metrics, "# TYPE synthfarm_telemetry_rejected_total counter\n")) << metrics;
  EXPECT_TRUE(contains(metrics, "\nsynthfarm_telemetry_rejected_total 1\n")) << metrics;

  // Worker w2, listed (the coordinator's key given as Z85 this time): it renders the job,
  // and its heartbeats reach the coordinator through CURVE.
  farm.workers().push_back(farm.start_worker(
      {"--curve-key", keys.path("listed.key"), "--coordinator-key", keys.coordinator_public}));
  EXPECT_EQ(farm.wait(job, std::chrono::seconds(300))["state"], "done") << farm.logs();
  bool heard_w2 = false, heard_w1 = false;
  for (int i = 0; i < 100 && !heard_w2; ++i) {
    auto [workers_status, workers] = farm.get("/api/workers");
    for (const auto& w : workers["workers"]) {
      heard_w2 = heard_w2 || w["id"] == "w2";
      heard_w1 = heard_w1 || w["id"] == "w1";
    }
    if (!heard_w2) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(heard_w2) << farm.logs();
  EXPECT_FALSE(heard_w1) << "telemetry from a refused worker reached the coordinator";

  // Worker w3, without CURVE: told that this coordinator requires it.
  auto plain = farm.start_worker();
  auto plain_status = plain->wait(std::chrono::seconds(60));
  ASSERT_TRUE(plain_status) << plain->log();
  EXPECT_EQ(*plain_status, 1) << plain->log();
  EXPECT_TRUE(contains(plain->log(), "start this worker with --curve-key and --coordinator-key"))
      << plain->log();

  // Worker w4, listed but given another key for the coordinator: the coordinator cannot
  // read its hello and keeps closing the connection; the worker names the flag.
  auto misled = farm.start_worker(
      {"--curve-key", keys.path("listed.key"), "--coordinator-key", keys.path("stranger.pub")});
  auto misled_status = misled->wait(std::chrono::seconds(60));
  ASSERT_TRUE(misled_status) << misled->log();
  EXPECT_EQ(*misled_status, 1) << misled->log();
  EXPECT_TRUE(contains(misled->log(),
                       "or --coordinator-key " + keys.stranger_public + " is not its public key"))
      << misled->log();
}

TEST(CurveFarm, ACurveWorkerOfAPlainCoordinatorSaysSoAndExits) {
  CurveFarmKeys keys;
  Farm farm({.workers = 0, .threads = 1});
  auto worker = farm.start_worker(
      {"--curve-key", keys.path("listed.key"), "--coordinator-key", keys.path("coordinator.pub")});
  auto status = worker->wait(std::chrono::seconds(60));
  ASSERT_TRUE(status) << worker->log();
  EXPECT_EQ(*status, 1) << worker->log();
  EXPECT_TRUE(contains(worker->log(), "does not use CURVE")) << worker->log();
}

TEST(CurveFarm, BadKeyFilesStopTheProcessAtStartNamingTheFile) {
  CurveFarmKeys keys;
  // Readable by the group: refused, with the path and the fix.
  fs::permissions(keys.path("listed.key"), fs::perms::group_read, fs::perm_options::add);
  auto [worker_code, worker_output] =
      run_command({binary("synthfarm-worker"), "--redis", "redis://127.0.0.1:1", "--curve-key",
                   keys.path("listed.key"), "--coordinator-key", keys.path("coordinator.pub")},
                  std::chrono::seconds(30));
  EXPECT_EQ(worker_code, 2) << worker_output;
  EXPECT_TRUE(contains(worker_output, keys.path("listed.key") +
                                          " holds a secret key but group or others may open it"))
      << worker_output;
  EXPECT_TRUE(contains(worker_output, "chmod 600")) << worker_output;

  // An allow-list with a bad line: the file and line are named.
  std::ofstream(keys.path("bad_workers")) << keys.listed_public << "\nnot-a-key\n";
  auto [coordinator_code, coordinator_output] =
      run_command({binary("synthfarm-coordinator"), "--redis", "redis://127.0.0.1:1", "--curve-key",
                   keys.path("coordinator.key"), "--curve-workers", keys.path("bad_workers")},
                  std::chrono::seconds(30));
  EXPECT_EQ(coordinator_code, 2) << coordinator_output;
  EXPECT_TRUE(contains(coordinator_output, keys.path("bad_workers") + ":2:")) << coordinator_output;

  // Half of the CURVE flags is an error, never a silent plain-text coordinator.
  auto [half_code, half_output] =
      run_command({binary("synthfarm-coordinator"), "--redis", "redis://127.0.0.1:1", "--curve-key",
                   keys.path("coordinator.key")},
                  std::chrono::seconds(30));
  EXPECT_EQ(half_code, 2) << half_output;
  EXPECT_TRUE(contains(half_output, "--curve-key and --curve-workers go together")) << half_output;
}

}  // namespace
}  // namespace synthfarm::testing
