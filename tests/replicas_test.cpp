// Two coordinators on one farm, as two Kubernetes replicas behind one Service would be:
// each worker's telemetry reaches one of them, both run the reaper and the finalizer, and
// users reach either. With --shared-view both show every worker; each job's dataset is
// written once, and manifest.json never changes afterwards.
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/farm.h"
#include "tests/fixtures.h"

namespace synthfarm::testing {
namespace {

std::string file_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

nlohmann::json get_json(const std::string& url, const std::string& path, const std::string& token) {
  httplib::Client client(url);
  client.set_bearer_token_auth(token);
  auto res = client.Get(path);
  if (!res || res->status != 200) return nullptr;
  return nlohmann::json::parse(res->body, nullptr, false);
}

std::set<std::string> alive_workers(const std::string& url, const std::string& token) {
  std::set<std::string> ids;
  auto body = get_json(url, "/api/workers", token);
  if (!body.is_object() || !body["workers"].is_array()) return ids;
  for (const auto& w : body["workers"]) {
    if (w.value("alive", false)) ids.insert(w.value("id", ""));
  }
  return ids;
}

size_t count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

TEST(CoordinatorReplicasTest, BothShowEveryWorkerAndEachJobIsFinalizedOnce) {
  FarmOptions options;
  options.workers = 0;
  options.coordinator_args = {"--shared-view"};
  Farm farm(options);
  CoordinatorReplica b = farm.start_coordinator_replica();
  // w1 reports to the farm's coordinator (a), w2 to b; both hear both control sockets.
  farm.workers().push_back(farm.start_worker({"--control", b.control()}));
  farm.workers().push_back(ChildProcess::spawn(
      {binary("synthfarm-worker"), "--redis", farm.redis_url(), "--coordinator", b.telemetry(), "--control",
       farm.control(), "--control", b.control(), "--threads", "1", "--id", "w2", "--lease-ms", "10000"},
      farm.dir() / "worker-2.log"));

  const std::set<std::string> both = {"w1", "w2"};
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while ((alive_workers(farm.url(), farm.token()) != both || alive_workers(b.url(), farm.token()) != both) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_EQ(alive_workers(farm.url(), farm.token()), both) << farm.logs();
  EXPECT_EQ(alive_workers(b.url(), farm.token()), both) << b.process->log();

  const std::string id = farm.submit(
      "name: replicas\nsamples: 12\nshard_size: 2\nseed: 7\ncamera:\n  resolution: [64, 48]\nrender:\n  spp: 1\n"
      "  max_bounces: 1\n");
  auto job = farm.wait(id, std::chrono::seconds(240));
  ASSERT_EQ(job.value("state", ""), "done") << farm.logs() << b.process->log();
  // b, which finalized nothing or everything, shows the same job.
  EXPECT_EQ(get_json(b.url(), "/api/jobs/" + id, farm.token()).value("state", ""), "done");

  const auto manifest_path = farm.out_root() / id / "manifest.json";
  const std::string manifest = file_text(manifest_path);
  ASSERT_FALSE(manifest.empty());
  const auto written = std::filesystem::last_write_time(manifest_path);
  // Several housekeeping passes of both coordinators later, nothing has rewritten it.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_EQ(file_text(manifest_path), manifest);
  EXPECT_EQ(std::filesystem::last_write_time(manifest_path), written);
  const std::string logs = file_text(farm.dir() / "coordinator.log") + b.process->log();
  EXPECT_EQ(count(logs, "job " + id + " done"), 1u) << "one coordinator finalized the job, once\n" << logs;
}

}  // namespace
}  // namespace synthfarm::testing
