// The worker's health file (--health-file) with a real worker process and a real
// redis-server: rewritten about once a second while the worker is healthy, left to go
// stale while Redis is down (and fresh again once it is back), removed when the worker
// stops, left behind stale when it is killed. The probe is the one the Kubernetes
// manifests run: /bin/sh -c 'test -n "$(find PATH -mmin -1)"'.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <set>
#include <thread>

#include "tests/farm.h"

namespace synthfarm::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

// How long ago the file was last written (nullopt: it is not there).
std::optional<milliseconds> age(const fs::path& path) {
  std::error_code error;
  const auto written = fs::last_write_time(path, error);
  if (error) return std::nullopt;
  return std::chrono::duration_cast<milliseconds>(fs::file_time_type::clock::now() - written);
}

// Exit code of the liveness probe of ops/k8s, run against `path`.
int probe(const fs::path& path) {
  return run_command({"/bin/sh", "-c", "test -n \"$(find '" + path.string() + "' -mmin -1)\""})
      .first;
}


// The distinct modification times the file shows over `span`, sampled every 100 ms.
std::set<fs::file_time_type> write_times(const fs::path& path, milliseconds span) {
  std::set<fs::file_time_type> times;
  const auto end = std::chrono::steady_clock::now() + span;
  while (std::chrono::steady_clock::now() < end) {
    std::error_code error;
    const auto t = fs::last_write_time(path, error);
    if (!error) times.insert(t);
    std::this_thread::sleep_for(milliseconds(100));
  }
  return times;
}

FarmOptions no_workers() {
  FarmOptions options;
  options.workers = 0;
  return options;
}

TEST(WorkerHealth, FileIsRefreshedWhileTheWorkerRunsAndRemovedWhenItStops) {
  Farm farm(no_workers());
  const fs::path file = farm.dir() / "worker.alive";
  auto worker = farm.start_worker({"--health-file", file.string()});
  ASSERT_TRUE(eventually([&] { return age(file).has_value(); }, seconds(20))) << worker->log();

  // About once a second: at least 3 different write times in 4.5 s (some slack for a busy
  // machine), and never much older than a second.
  const auto times = write_times(file, milliseconds(4500));
  EXPECT_GE(times.size(), 3u) << worker->log();
  ASSERT_TRUE(age(file).has_value());
  EXPECT_LT(*age(file), milliseconds(2500));
  EXPECT_EQ(probe(file), 0);
  // Written whole each time (a rename), with what a person looking at it wants to know.
  const std::string text = run_command({"cat", file.string()}).second;
  EXPECT_NE(text.find("healthy at"), std::string::npos) << text;
  EXPECT_NE(text.find("redis answered"), std::string::npos) << text;
  // No temporary file is left beside it.
  size_t entries = 0;
  for (const auto& entry : fs::directory_iterator(farm.dir())) {
    if (entry.path().filename().string().find("worker.alive") != std::string::npos) ++entries;
  }
  EXPECT_EQ(entries, 1u);

  worker->signal(SIGTERM);
  const auto status = worker->wait(seconds(30));
  ASSERT_TRUE(status.has_value()) << worker->log();
  EXPECT_EQ(*status, 0) << worker->log();
  EXPECT_FALSE(fs::exists(file)) << worker->log();
  EXPECT_NE(probe(file), 0);
  EXPECT_NE(worker->log().find("removing the health file"), std::string::npos) << worker->log();
}

TEST(WorkerHealth, FileGoesStaleWhileRedisIsDownAndIsRefreshedWhenItIsBack) {
  Farm farm(no_workers());
  const fs::path file = farm.dir() / "worker.alive";
  auto worker = farm.start_worker({"--health-file", file.string()});
  // Healthy first: Redis has answered (the file the worker writes at start says "starting").
  ASSERT_TRUE(eventually(
      [&] {
        return age(file) && *age(file) < seconds(2) &&
               run_command({"cat", file.string()}).second.find("redis answered") != std::string::npos;
      },
      seconds(20)))
      << worker->log();

  farm.redis()->kill();
  // Redis may be silent for 15 s; then the file is left alone: no write for 4 s running.
  ASSERT_TRUE(eventually([&] { return age(file) && *age(file) > seconds(4); }, seconds(30)))
      << "the health file kept being refreshed with Redis down\n"
      << worker->log();
  EXPECT_TRUE(worker->running()) << worker->log();
  EXPECT_NE(worker->log().find("not healthy, so the health file"), std::string::npos)
      << worker->log();
  EXPECT_NE(worker->log().find("has not answered for"), std::string::npos) << worker->log();

  farm.restart_redis();
  EXPECT_TRUE(eventually([&] { return age(file) && *age(file) < seconds(2); }, seconds(20)))
      << "the health file was not refreshed after Redis came back\n"
      << worker->log();
  EXPECT_NE(worker->log().find("healthy again"), std::string::npos) << worker->log();
  EXPECT_EQ(probe(file), 0);
}

TEST(WorkerHealth, AKilledWorkerLeavesAFileThatGoesStale) {
  Farm farm(no_workers());
  const fs::path file = farm.dir() / "worker.alive";
  auto worker = farm.start_worker({"--health-file", file.string()});
  ASSERT_TRUE(eventually([&] { return age(file) && *age(file) < seconds(2); }, seconds(20)))
      << worker->log();
  worker->signal(SIGKILL);
  worker->wait(seconds(10));

  ASSERT_TRUE(fs::exists(file));
  EXPECT_EQ(write_times(file, milliseconds(2500)).size(), 1u) << "nobody writes it any more";
  EXPECT_EQ(probe(file), 0) << "still within the probe's minute";
  // A minute and more later the probe fails (the file's time set back rather than waited for).
  fs::last_write_time(file, fs::file_time_type::clock::now() - seconds(90));
  EXPECT_NE(probe(file), 0);
}

TEST(WorkerHealth, AHealthFileThatCannotBeWrittenStopsTheWorkerAtStart) {
  Farm farm(no_workers());
  const fs::path file = farm.dir() / "no-such-dir" / "worker.alive";
  auto worker = farm.start_worker({"--health-file", file.string()});
  const auto status = worker->wait(seconds(20));
  ASSERT_TRUE(status.has_value()) << worker->log();
  EXPECT_EQ(*status, 2) << worker->log();
  EXPECT_NE(worker->log().find("--health-file: cannot write"), std::string::npos) << worker->log();
  EXPECT_NE(worker->log().find("no-such-dir"), std::string::npos) << worker->log();
}

}  // namespace
}  // namespace synthfarm::testing
