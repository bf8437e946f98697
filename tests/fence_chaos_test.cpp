// Chaos for the lease fence (issue: a finished dataset stays finished). A worker is paused
// (SIGSTOP) at a random point of its shard, in each of three phases: while rendering,
// inside an upload (right before the commit of a sample object), and between its last
// sample and the shard manifest. Another worker finishes the job; then the paused worker
// is cut off from Redis (a TCP proxy in this test stops forwarding) and resumed, for longer
// than its lease. Nothing under the dataset's prefix may be created or replaced after
// manifest.json: every file keeps its inode, mtime and size, and no file appears.
//
// The same on S3 (s3rver), comparing LastModified, ETag and size. SYNTHFARM_FENCE_TRIALS
// sets the number of trials (default 12 per store, a third per phase; bench/fence_soak.sh
// runs more);
// SYNTHFARM_CHAOS_SEED the seed of the pause points.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <functional>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <regex>
#include <sstream>
#include <thread>
#include <vector>

#include "tests/farm.h"

namespace synthfarm::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

template <typename F>
bool eventually(F done, milliseconds timeout, milliseconds step = milliseconds(10)) {
  auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(step);
  }
  return done();
}

// A TCP proxy on a free loopback port in front of `target_port`. cut() stops forwarding:
// bytes in flight stay unanswered and new connections are accepted but never reach the
// target, as on a partitioned network (the client's own timeouts fire). restore() closes
// every connection that lived through the cut (clients reconnect) and forwards again.
class TcpProxy {
 public:
  explicit TcpProxy(int target_port) : target_port_(target_port) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr = loopback(0);
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(listen_fd_, 64) != 0) {
      throw std::runtime_error("proxy: cannot listen");
    }
    socklen_t len = sizeof addr;
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    accept_thread_ = std::thread([this] { accept_loop(); });
  }
  ~TcpProxy() {
    stop_ = true;
    accept_thread_.join();
    close(listen_fd_);
    std::lock_guard lock(mutex_);
    for (auto& t : pumps_) t.join();
  }
  int port() const { return port_; }
  void cut() { ++epoch_, cut_ = true; }
  void restore() {
    ++epoch_;
    cut_ = false;
  }

 private:
  static sockaddr_in loopback(int port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    return addr;
  }
  void accept_loop() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      int client = accept(listen_fd_, nullptr, nullptr);
      if (client < 0) continue;
      std::lock_guard lock(mutex_);
      pumps_.emplace_back([this, client] { pump(client); });
    }
  }
  // One connection: waits out a cut before connecting upstream; a cut while connected
  // freezes it, and it is closed when the cut ends.
  void pump(int client) {
    while (cut_ && !stop_) std::this_thread::sleep_for(milliseconds(10));
    const uint64_t epoch = epoch_;
    int upstream = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr = loopback(target_port_);
    if (stop_ || epoch_ != epoch || connect(upstream, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      close(upstream);
      close(client);
      return;
    }
    pollfd fds[2] = {{client, POLLIN, 0}, {upstream, POLLIN, 0}};
    char buf[16384];
    bool open = true;
    while (open && !stop_) {
      if (cut_) {
        std::this_thread::sleep_for(milliseconds(10));
        continue;
      }
      if (epoch_ != epoch) break;  // lived through a cut
      if (poll(fds, 2, 50) <= 0) continue;
      for (int i = 0; i < 2 && open; ++i) {
        if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        ssize_t n = read(fds[i].fd, buf, sizeof buf);
        if (n <= 0 || write(fds[1 - i].fd, buf, static_cast<size_t>(n)) != n) open = false;
      }
    }
    close(upstream);
    close(client);
  }

  const int target_port_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<bool> cut_{false};
  std::atomic<uint64_t> epoch_{0};
  std::thread accept_thread_;
  std::mutex mutex_;
  std::vector<std::thread> pumps_;  // GUARDED_BY(mutex_)
};

// A dataset as seen from outside: key -> what changes when the object is created again
// (a file's inode, mtime and size; an S3 object's LastModified, ETag and size).
using Listing = std::map<std::string, std::string>;
// Lists job `id`'s objects; the store's temp files (never listed, never in a manifest) go
// to `temps`.
using Lister = std::function<Listing(const std::string& id, std::vector<std::string>* temps)>;

Listing list_files(const fs::path& root, std::vector<std::string>* temps) {
  Listing files;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    const std::string rel = it->path().lexically_relative(root).generic_string();
    if (it->path().filename().string().starts_with(".tmp.")) {
      temps->push_back(rel);
      continue;
    }
    files[rel] = std::to_string(st.st_ino) + " " + std::to_string(st.st_mtim.tv_sec) + "." +
                 std::to_string(st.st_mtim.tv_nsec) + " " + std::to_string(st.st_size);
  }
  return files;
}

// Through awscli (ListObjectsV2), as a user of the bucket would see it.
Listing list_s3(const S3Server& server, const std::string& prefix) {
  auto [code, out] = server.aws({"s3api", "list-objects-v2", "--bucket", server.bucket(), "--prefix", prefix,
                                 "--output", "json"});
  Listing objects;
  EXPECT_EQ(code, 0) << out;
  auto listing = nlohmann::json::parse(out, nullptr, false);
  if (listing.is_discarded() || !listing.contains("Contents")) return objects;
  for (const auto& o : listing["Contents"]) {
    objects[o.value("Key", "").substr(prefix.size())] = o.value("LastModified", "") + " " + o.value("ETag", "") +
                                                        " " + std::to_string(o.value("Size", int64_t{-1}));
  }
  return objects;
}

std::string differences(const Listing& before, const Listing& after) {
  std::ostringstream out;
  for (const auto& [key, state] : after) {
    auto it = before.find(key);
    if (it == before.end()) out << "  created: " << key << " (" << state << ")\n";
    else if (it->second != state) out << "  replaced: " << key << " (" << it->second << " -> " << state << ")\n";
  }
  for (const auto& [key, state] : before) {
    if (!after.count(key)) out << "  removed: " << key << "\n";
  }
  return out.str();
}

// The process is stopped (state T in /proc/PID/stat).
bool is_stopped(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t paren = text.rfind(')');
  return paren != std::string::npos && paren + 2 < text.size() && text[paren + 2] == 'T';
}

enum class Phase { kRendering, kUploading, kBeforeManifest };
const char* name(Phase phase) {
  switch (phase) {
    case Phase::kRendering: return "rendering";
    case Phase::kUploading: return "uploading";
    case Phase::kBeforeManifest: return "before the shard manifest";
  }
  return "?";
}

constexpr int kSamples = 4;            // one shard of four samples
constexpr int kObjectsPerSample = 3;   // .exr, .png, .json
constexpr int64_t kLeaseMs = 1500;

// The trials: in each, a victim worker (reaching Redis through a proxy) takes a one-shard
// job and is paused in the trial's phase; a rescuer finishes the job; the victim is cut
// off from Redis and resumed for longer than its lease; `list` must see no change.
// `step_clock` (optional) is called just before the victim is resumed.
void run_pause_trials(Farm& farm, int default_trials, const Lister& list,
                      const std::function<void(int trial)>& step_clock = {}) {
  uint32_t seed = 20261207;
  if (const char* s = std::getenv("SYNTHFARM_CHAOS_SEED"); s && *s) seed = static_cast<uint32_t>(std::stoul(s));
  int trials = default_trials;
  if (const char* s = std::getenv("SYNTHFARM_FENCE_TRIALS"); s && *s) trials = std::stoi(s);
  std::cout << "[fence] seed " << seed << ", " << trials << " trials" << std::endl;
  std::mt19937 rng(seed);

  TcpProxy proxy(std::stoi(farm.redis_url().substr(farm.redis_url().rfind(':') + 1)));
  const std::string via_proxy = "redis://127.0.0.1:" + std::to_string(proxy.port());
  // Render-only workers: the trials need no fitting, and not loading its plugin saves
  // about half a second a worker.
  auto rescuer = farm.start_worker({"--tasks", "render"});
  std::map<Phase, int> hit, writes_after_manifest;
  const auto t0 = Clock::now();
  for (int trial = 0; trial < trials; ++trial) {
    const Phase phase = static_cast<Phase>(trial % 3);
    rescuer->signal(SIGSTOP);  // the victim must take the shard
    std::map<std::string, std::string> env;
    if (phase == Phase::kUploading) {
      std::uniform_int_distribution<int> commit(1, kSamples * kObjectsPerSample);
      env["SYNTHFARM_TEST_FAULT"] = "stop-at-commit=" + std::to_string(commit(rng));
    } else if (phase == Phase::kBeforeManifest) {
      env["SYNTHFARM_TEST_FAULT"] = "stop-at-commit=" + std::to_string(kSamples * kObjectsPerSample + 1);
    }
    auto victim = farm.start_worker_via(via_proxy, {"--tasks", "render"}, env);
    const std::string id = farm.submit("name: fence-" + std::to_string(trial) + "\nsamples: " +
                                       std::to_string(kSamples) + "\nshard_size: " + std::to_string(kSamples) +
                                       "\nmax_attempts: 100\nseed: " + std::to_string(trial) +
                                       "\ncamera:\n  resolution: [64, 48]\nrender:\n  spp: 4\n  max_bounces: 1\n");
    ASSERT_FALSE(id.empty());
    const std::regex claim("shard " + id + "/0 \\(samples 0\\.\\.3\\) token ([0-9]+)");
    std::smatch m;
    std::string log;
    ASSERT_TRUE(eventually([&] { log = victim->log(); return std::regex_search(log, m, claim); }, seconds(60)))
        << "trial " << trial << ": the victim never claimed the shard\n" << victim->log();
    if (phase == Phase::kRendering) {
      std::uniform_int_distribution<int> delay_ms(0, 200);
      std::this_thread::sleep_for(milliseconds(delay_ms(rng)));
      victim->signal(SIGSTOP);
    }
    ASSERT_TRUE(eventually([&] { return is_stopped(victim->pid()); }, seconds(60)))
        << "trial " << trial << " (" << name(phase) << "): the victim never stopped\n" << victim->log();
    const bool victim_done = victim->log().find("shard " + id + "/0 failed") != std::string::npos ||
                             farm.get("/api/jobs/" + id).second.value("state", "") == "done";
    rescuer->signal(SIGCONT);
    auto job = farm.wait(id, seconds(60));
    ASSERT_EQ(job["state"], "done") << job.dump() << "\n" << farm.all_logs(2000);
    std::vector<std::string> temps;
    const Listing before = list(id, &temps);
    ASSERT_TRUE(before.count("manifest.json"));

    // Cut the victim off from Redis and let it run, longer than its lease.
    rescuer->signal(SIGSTOP);
    proxy.cut();
    if (step_clock) step_clock(trial);
    victim->signal(SIGCONT);
    const bool noticed = eventually(
        [&] { return std::regex_search(victim->log(), std::regex("shard " + id + "/0: lease lost|lease on " + id)); },
        milliseconds(kLeaseMs + 2000));
    std::this_thread::sleep_for(milliseconds(500));  // whatever it does next, give it time to do it
    temps.clear();
    const Listing after = list(id, &temps);
    const std::string changed = differences(before, after);
    EXPECT_TRUE(temps.empty()) << "trial " << trial << ": temp files left behind: " << temps.front();
    if (!victim_done) ++hit[phase];
    if (!changed.empty()) ++writes_after_manifest[phase];
    EXPECT_TRUE(changed.empty()) << "trial " << trial << " (paused " << name(phase)
                                 << "): the dataset changed after manifest.json:\n" << changed << victim->log();
    EXPECT_TRUE(noticed || victim_done) << "trial " << trial << ": the victim never dropped the shard\n"
                                        << victim->log();
    proxy.restore();
    victim->signal(SIGKILL);
    victim->wait(seconds(10));
    rescuer->signal(SIGCONT);
    if (::testing::Test::HasFailure()) break;
  }
  const double took = std::chrono::duration<double>(Clock::now() - t0).count();
  std::cout << "[fence] " << trials << " trials in " << took << " s; paused while rendering "
            << hit[Phase::kRendering] << ", uploading " << hit[Phase::kUploading] << ", before the shard manifest "
            << hit[Phase::kBeforeManifest] << "; trials with writes after manifest.json: "
            << writes_after_manifest[Phase::kRendering] + writes_after_manifest[Phase::kUploading] +
                   writes_after_manifest[Phase::kBeforeManifest]
            << std::endl;
  for (Phase phase : {Phase::kRendering, Phase::kUploading, Phase::kBeforeManifest}) {
    EXPECT_GT(hit[phase], 0) << "no trial paused the victim " << name(phase);
  }
  rescuer->signal(SIGTERM);
  rescuer->wait(seconds(20));
}

TEST(FenceChaos, PausedWorkerCutOffFromRedisWritesNothingAfterTheManifest) {
  Farm farm({.workers = 0, .threads = 1, .lease_ms = kLeaseMs});
  run_pause_trials(farm, 12, [&](const std::string& id, std::vector<std::string>* temps) {
    return list_files(farm.out_root() / id, temps);
  });
}

// The same with the dataset on S3 (s3rver): no object's LastModified, ETag or size changes
// and none appears after manifest.json.
TEST(FenceChaos, PausedWorkerCutOffFromRedisWritesNothingAfterTheManifestOnS3) {
  auto server = S3Server::start();
  auto env = server->client_env();
  Farm farm({.workers = 0, .threads = 1, .lease_ms = kLeaseMs, .storage_root = "s3://" + server->bucket() + "/fenced",
             .env = env, .s3_endpoint = server->endpoint()});
  run_pause_trials(farm, 12, [&](const std::string& id, std::vector<std::string>*) {
    return list_s3(*server, "fenced/" + id + "/");
  });
}

// No pause at all: a worker cut off from Redis while it renders notices on its own
// clock, within its lease, that it may not write any more: it drops the shard (before the
// reaper can give it away) and writes nothing after manifest.json, however long it stays
// cut off.
TEST(FenceChaos, WorkerCutOffWhileRenderingStopsWritingWithinItsLease) {
  Farm farm({.workers = 0, .threads = 1, .lease_ms = kLeaseMs});
  TcpProxy proxy(std::stoi(farm.redis_url().substr(farm.redis_url().rfind(':') + 1)));
  auto rescuer = farm.start_worker();
  rescuer->signal(SIGSTOP);
  auto victim = farm.start_worker_via("redis://127.0.0.1:" + std::to_string(proxy.port()));
  const std::string id = farm.submit("name: cut\nsamples: 40\nshard_size: 40\nmax_attempts: 100\nseed: 8\n"
                                     "camera:\n  resolution: [64, 48]\nrender:\n  spp: 4\n  max_bounces: 1\n");
  ASSERT_FALSE(id.empty());
  const fs::path root = farm.out_root() / id;
  ASSERT_TRUE(eventually([&] { return fs::exists(root / "samples/00000001.json"); }, seconds(60)))
      << victim->log();
  proxy.cut();
  const auto cut_at = Clock::now();
  rescuer->signal(SIGCONT);
  const std::regex dropped("shard " + id + "/0: lease lost \\(token [0-9]+: ");
  ASSERT_TRUE(eventually([&] { return std::regex_search(victim->log(), dropped); }, seconds(10)))
      << "the cut-off worker never dropped its shard on its own deadline\n" << victim->log();
  const double noticed_s = std::chrono::duration<double>(Clock::now() - cut_at).count();
  std::cout << "[fence] cut-off worker dropped its shard " << noticed_s << " s after the cut (lease "
            << kLeaseMs / 1000.0 << " s)" << std::endl;
  EXPECT_LT(noticed_s, kLeaseMs / 1000.0) << "it must stop before its lease could have been given away";
  auto job = farm.wait(id, seconds(120));
  ASSERT_EQ(job["state"], "done") << job.dump() << farm.all_logs(2000);
  std::vector<std::string> temps;
  const Listing before = list_files(root, &temps);
  std::this_thread::sleep_for(seconds(3));  // still cut off
  const Listing after = list_files(root, &temps);
  EXPECT_EQ(differences(before, after), "") << victim->log();
  EXPECT_TRUE(temps.empty()) << temps.front();
  proxy.restore();
  victim->signal(SIGTERM);
  rescuer->signal(SIGTERM);
  victim->wait(seconds(20));
  rescuer->wait(seconds(20));
}

// The workers' wall clock (CLOCK_REALTIME, through libfaketime, whose offset a file
// holds; CLOCK_MONOTONIC and CLOCK_BOOTTIME left alone) stepped by hours, back and forth:
// a worker renders a 3 s shard on a 1.5 s lease through two steps with one claim and no
// lost lease (renewals are paced on the boot clock), and paused workers resumed right
// after a step still write nothing after manifest.json.
TEST(FenceChaos, WallClockStepsNeitherEndNorExtendALease) {
  const std::string faketime = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1";
  ASSERT_TRUE(fs::exists(faketime)) << faketime << " is missing: apt-get install libfaketime (ops/setup.sh does)";
  TempDir dir;
  const fs::path offset = dir.path() / "wall-clock-offset";
  auto step = [&](const std::string& seconds_offset) { std::ofstream(offset) << seconds_offset << "\n"; };
  step("+0");
  Farm farm({.workers = 0, .threads = 1, .lease_ms = kLeaseMs,
             .worker_env = {{"LD_PRELOAD", faketime}, {"FAKETIME_TIMESTAMP_FILE", offset.string()},
                            {"FAKETIME_NO_CACHE", "1"}, {"FAKETIME_DONT_FAKE_MONOTONIC", "1"}}});
  {
    auto worker = farm.start_worker();
    const std::string id = farm.submit("name: steps\nsamples: 40\nshard_size: 40\nmax_attempts: 1\nseed: 4\n"
                                       "camera:\n  resolution: [64, 48]\nrender:\n  spp: 4\n  max_bounces: 1\n");
    const fs::path root = farm.out_root() / id;
    ASSERT_TRUE(eventually([&] { return fs::exists(root / "samples/00000001.json"); }, seconds(60))) << worker->log();
    step("-3600");
    ASSERT_TRUE(eventually([&] { return fs::exists(root / "samples/00000015.json"); }, seconds(60))) << worker->log();
    step("+7200");
    auto job = farm.wait(id, seconds(60));
    EXPECT_EQ(job["state"], "done") << job.dump() << worker->log();
    EXPECT_EQ(worker->log().find("lease lost"), std::string::npos) << worker->log();
    EXPECT_EQ(worker->log().find("lease on"), std::string::npos) << worker->log();
    EXPECT_NE(worker->log().find("shard " + id + "/0 (samples 0..39) token"), std::string::npos);
    worker->signal(SIGTERM);
    worker->wait(seconds(20));
  }
  run_pause_trials(
      farm, 6,
      [&](const std::string& id, std::vector<std::string>* temps) { return list_files(farm.out_root() / id, temps); },
      [&](int trial) { step(trial % 2 == 0 ? "-7200" : "+7200"); });
}

// Counts the renames into place in one directory (IN_MOVED_TO), by file name: the file
// store's every stored object, repeats included, as a witness beside the workers' count.
class RenameCounter {
 public:
  explicit RenameCounter(const fs::path& dir) {
    fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd_ < 0 || inotify_add_watch(fd_, dir.c_str(), IN_MOVED_TO) < 0) throw std::runtime_error("inotify");
    thread_ = std::thread([this] {
      alignas(inotify_event) char buf[65536];
      while (!stop_) {
        pollfd p{fd_, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0) continue;
        ssize_t n = read(fd_, buf, sizeof buf);
        for (ssize_t at = 0; at < n;) {
          auto* event = reinterpret_cast<inotify_event*>(buf + at);
          if (event->len > 0) {
            std::lock_guard lock(mutex_);
            ++renames_[event->name];
          }
          at += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
        }
      }
    });
  }
  ~RenameCounter() {
    stop_ = true;
    thread_.join();
    close(fd_);
  }
  std::map<std::string, int> renames() {
    std::lock_guard lock(mutex_);
    return renames_;
  }

 private:
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mutex_;
  std::map<std::string, int> renames_;  // GUARDED_BY(mutex_)
};

// Redis killed and restarted, and unreachable for 5 s (longer than the lease), while
// workers store samples: `renders` ends equal to the renders the store saw stored (each
// sample's three objects are put in one order, so its stored renders are the renames of
// the object it puts last, the fewest), and never below the samples.
TEST(FenceChaos, RendersAreExactThroughRedisRestartsAndOutages) {
  constexpr int kJobSamples = 160;
  Farm farm({.workers = 0, .threads = 1, .lease_ms = 3000,
             .redis_args = {"--appendonly", "yes", "--appendfsync", "everysec"}});
  TcpProxy proxy(std::stoi(farm.redis_url().substr(farm.redis_url().rfind(':') + 1)));
  const std::string via_proxy = "redis://127.0.0.1:" + std::to_string(proxy.port());
  const std::string id = farm.submit("name: renders\nsamples: " + std::to_string(kJobSamples) +
                                     "\nshard_size: 5\nmax_attempts: 100\nseed: 3\ncamera:\n  resolution: [64, 48]\n"
                                     "render:\n  spp: 4\n  max_bounces: 1\n");
  ASSERT_FALSE(id.empty());
  const fs::path samples = farm.out_root() / id / "samples";
  fs::create_directories(samples);
  RenameCounter counter(samples);
  std::vector<std::unique_ptr<ChildProcess>> workers;
  for (int i = 0; i < 2; ++i) workers.push_back(farm.start_worker_via(via_proxy));
  auto samples_done = [&] { return farm.get("/api/jobs/" + id).second.value("samples_done", 0); };
  ASSERT_TRUE(eventually([&] { return samples_done() >= 20; }, seconds(60), milliseconds(50))) << farm.all_logs();
  proxy.cut();
  std::this_thread::sleep_for(seconds(5));
  proxy.restore();
  ASSERT_TRUE(eventually([&] { return samples_done() >= 80; }, seconds(60), milliseconds(50))) << farm.all_logs();
  farm.restart_redis();
  auto job = farm.wait(id, seconds(180));
  ASSERT_EQ(job["state"], "done") << job.dump() << farm.all_logs(3000);
  // Renders of leases that ended without a completion are reported after their lease:
  // give the workers a moment, then stop them gracefully (a stop reports too).
  for (auto& w : workers) w->signal(SIGTERM);
  for (auto& w : workers) w->wait(seconds(30));
  std::this_thread::sleep_for(milliseconds(300));
  const auto renames = counter.renames();
  std::map<int, std::map<std::string, int>> per_sample;  // index -> extension -> renames
  for (const auto& [file, n] : renames) {
    int index = 0;
    char ext[8] = {};
    if (std::sscanf(file.c_str(), "%8d.%7s", &index, ext) == 2) per_sample[index][ext] += n;
  }
  int64_t stored = 0;
  for (const auto& [index, by_ext] : per_sample) {
    int fewest = INT32_MAX;
    for (const char* ext : {"exr", "png", "json"}) fewest = std::min(fewest, by_ext.count(ext) ? by_ext.at(ext) : 0);
    stored += fewest;
  }
  job = farm.get("/api/jobs/" + id).second;
  const int64_t renders = job.value("renders", -1);
  std::cout << "[fence] renders " << renders << " (GET /api/jobs), stored renders seen by inotify " << stored
            << ", samples " << kJobSamples << std::endl;
  EXPECT_EQ(static_cast<int>(per_sample.size()), kJobSamples);
  EXPECT_GE(renders, kJobSamples) << job.dump();
  EXPECT_EQ(renders, stored) << farm.all_logs(3000);
}

// `synthfarm verify` names each object under a job's prefix that manifest.json does not
// list and each temp file; `synthfarm gc` removes them, and refuses on a running job.
TEST(FenceChaos, VerifyNamesStraysAndGcRemovesThemOnlyOnceTheJobEnded) {
  Farm farm({.workers = 1, .threads = 1, .lease_ms = 3000});
  const std::string spec = "name: gc\nsamples: 4\nshard_size: 2\nseed: 1\ncamera:\n  resolution: [32, 24]\n"
                           "render:\n  spp: 1\n  max_bounces: 0\n";
  const std::string id = farm.submit(spec);
  ASSERT_EQ(farm.wait(id, seconds(120))["state"], "done") << farm.all_logs();
  const fs::path root = farm.out_root() / id;
  auto cli = [&](const std::vector<std::string>& args) {
    std::vector<std::string> argv = {binary("synthfarm"), "--url", farm.url()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv, seconds(60));
  };
  auto [clean_status, clean] = cli({"verify", id});
  EXPECT_EQ(clean_status, 0) << clean;
  const std::vector<std::string> planted = {"samples/00000009.exr", "notes.txt", "shards/extra.json",
                                            "samples/.tmp.00000001.png.123.abc.0"};
  for (const auto& rel : planted) std::ofstream(root / rel) << "stray";
  auto [status, out] = cli({"verify", id});
  EXPECT_EQ(status, 1) << out;
  for (const auto& rel : planted) EXPECT_NE(out.find(rel), std::string::npos) << rel << " not named:\n" << out;
  EXPECT_EQ(out.find("shards/000000.manifest.json"), std::string::npos) << "a shard manifest is no stray\n" << out;

  // A job that has not ended (its worker stopped): gc refuses and removes nothing.
  farm.workers()[0]->signal(SIGSTOP);
  const std::string queued = farm.submit(spec);
  auto [refused_status, refused] = cli({"gc", queued});
  farm.workers()[0]->signal(SIGCONT);
  EXPECT_EQ(refused_status, 2) << refused;
  EXPECT_NE(refused.find("has ended"), std::string::npos) << refused;

  auto [gc_status, gc] = cli({"gc", id});
  EXPECT_EQ(gc_status, 0) << gc;
  for (const auto& rel : planted) EXPECT_FALSE(fs::exists(root / rel)) << rel << " still there\n" << gc;
  EXPECT_TRUE(fs::exists(root / "manifest.json"));
  EXPECT_TRUE(fs::exists(root / "samples/00000003.exr"));
  auto [after_status, after] = cli({"verify", id});
  EXPECT_EQ(after_status, 0) << after;
}

}  // namespace
}  // namespace synthfarm::testing
