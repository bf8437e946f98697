// Chaos: real redis-server, coordinator and workers as separate processes, with
// workers killed (SIGKILL) and stalled (SIGSTOP), redis-server crashed and restarted
// from its append-only file, the coordinator crashed and restarted, and a sample that
// always throws. Each scenario checks the dataset on disk and the queue in Redis.
//
// Scenario A draws its kill schedule from a seeded std::mt19937; the seed is printed and
// can be set with SYNTHFARM_CHAOS_SEED to replay a schedule (timing still varies: the
// processes race each other, which is the point).
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "queue/redis.h"
#include "storage/object_store.h"
#include "tests/farm.h"

namespace synthfarm::testing {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

const std::vector<std::string> kAofArgs = {"--appendonly", "yes", "--appendfsync", "everysec"};

std::string sample_key(int index, const char* ext) {
  char key[40];
  std::snprintf(key, sizeof key, "samples/%08d.%s", index, ext);
  return key;
}

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}


// Reads the queue's state straight from Redis. Survives a Redis restart: the client
// reconnects on the next call after a broken link, and each read is retried (bounded)
// while Redis is away or still loading its append-only file.
class RedisProbe {
 public:
  explicit RedisProbe(const std::string& url)
      : client_(queue::RedisClient::create(*queue::RedisEndpoint::parse(url), seconds(2))) {}

  std::optional<queue::RedisReply> command(const std::vector<std::string>& args,
                                              milliseconds timeout = milliseconds(15000)) {
    auto deadline = Clock::now() + timeout;
    for (;;) {
      auto reply = client_->command(args);
      if (reply) return *reply;
      last_error_ = reply.error().message;
      if (Clock::now() >= deadline) return std::nullopt;
      std::this_thread::sleep_for(milliseconds(100));
    }
  }
  // HGET; "" when the field or key is missing, "<unreachable>" when Redis never answered.
  std::string hget(const std::string& key, const std::string& field) {
    auto r = command({"HGET", key, field});
    if (!r) return "<unreachable: " + last_error_ + ">";
    return r->is_nil() ? "" : r->str;
  }
  int64_t hget_int(const std::string& key, const std::string& field, int64_t fallback = -1) {
    std::string v = hget(key, field);
    try {
      return v.empty() ? fallback : std::stoll(v);
    } catch (...) {
      return fallback;
    }
  }
  // One round trip; empty when Redis never answered.
  std::vector<queue::RedisReply> pipeline(const std::vector<std::vector<std::string>>& commands,
                                             milliseconds timeout = milliseconds(15000)) {
    auto deadline = Clock::now() + timeout;
    for (;;) {
      auto replies = client_->pipeline(commands);
      if (replies) return *replies;
      last_error_ = replies.error().message;
      if (Clock::now() >= deadline) return {};
      std::this_thread::sleep_for(milliseconds(100));
    }
  }
  std::vector<std::string> strings(const std::vector<std::string>& args) {
    std::vector<std::string> out;
    auto r = command(args);
    if (r) {
      for (const auto& e : r->elements) out.push_back(e.str);
    }
    return out;
  }
  const std::string& last_error() const { return last_error_; }

 private:
  std::unique_ptr<queue::RedisClient> client_;
  std::string last_error_;
};

std::string job_key(const std::string& id) { return "sf:job:" + id; }
std::string shard_key(const std::string& id, int n) { return "sf:job:" + id + ":shard:" + std::to_string(n); }

// Every file under `root`: sha256 of the visible ones by relative path, and the names of
// temporary files (".tmp.*", the file store's only scratch names) separately.
struct Tree {
  std::map<std::string, std::string> files;  // relative path -> sha256
  std::map<std::string, uint64_t> sizes;
  std::vector<std::string> temps;
};

Tree read_tree(const fs::path& root) {
  Tree tree;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    std::string rel = it->path().lexically_relative(root).generic_string();
    if (it->path().filename().string().starts_with(".tmp.")) {
      tree.temps.push_back(rel);
      continue;
    }
    std::string bytes = slurp(it->path());
    tree.files[rel] = storage::sha256_hex(bytes);
    tree.sizes[rel] = bytes.size();
  }
  return tree;
}

std::string describe(const std::vector<std::string>& names, size_t max = 20) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < max; ++i) out += "  " + names[i] + "\n";
  if (names.size() > max) out += "  ... (" + std::to_string(names.size() - max) + " more)\n";
  return out;
}

// Checks manifest.json of the job at `root` against the disk: it lists exactly the
// .exr/.png/.json of `samples` and the two COCO files, each once, each with the size and
// sha256 on disk.
// Returns the manifest's keys.
std::set<std::string> check_manifest(const fs::path& root, const std::vector<int>& samples,
                                     const std::string& logs) {
  std::set<std::string> keys;
  std::string text = slurp(root / "manifest.json");
  EXPECT_FALSE(text.empty()) << "no manifest.json under " << root << "\n" << logs;
  auto manifest = json::parse(text, nullptr, false);
  if (manifest.is_discarded() || !manifest.contains("objects")) {
    ADD_FAILURE() << "manifest.json is not a dataset manifest:\n" << text.substr(0, 2000) << "\n" << logs;
    return keys;
  }
  size_t mismatched = 0;
  for (const auto& o : manifest["objects"]) {
    std::string key = o["key"];
    EXPECT_TRUE(keys.insert(key).second) << "listed twice in manifest.json: " << key;
    std::string bytes = slurp(root / key);
    if (bytes.size() != o["size"].get<uint64_t>() || storage::sha256_hex(bytes) != o["sha256"].get<std::string>()) {
      if (++mismatched <= 10) {
        ADD_FAILURE() << key << ": on disk " << bytes.size() << " bytes sha256 " << storage::sha256_hex(bytes)
                      << ", manifest says " << o["size"] << " bytes sha256 " << o["sha256"];
      }
    }
  }
  EXPECT_EQ(mismatched, 0u) << "objects whose bytes differ from manifest.json";
  std::set<std::string> expected;
  for (int i : samples) {
    for (const char* ext : {"exr", "png", "json"}) expected.insert(sample_key(i, ext));
  }
  expected.insert("annotations/coco_person_keypoints.json");
  expected.insert("annotations/instances.json");
  expected.insert("dataset_card.json");
  expected.insert("dataset_card.html");
  std::vector<std::string> missing, extra;
  std::set_difference(expected.begin(), expected.end(), keys.begin(), keys.end(), std::back_inserter(missing));
  std::set_difference(keys.begin(), keys.end(), expected.begin(), expected.end(), std::back_inserter(extra));
  EXPECT_TRUE(missing.empty()) << missing.size() << " object(s) missing from manifest.json:\n" << describe(missing);
  EXPECT_TRUE(extra.empty()) << extra.size() << " unexpected object(s) in manifest.json:\n" << describe(extra);
  EXPECT_EQ(manifest["counts"]["samples"], samples.size()) << manifest["counts"].dump();
  return keys;
}

// Log timestamps ("2024-06-11T12:34:56.789 ...") as milliseconds; -1 if the line has none.
int64_t log_time_ms(const std::string& line) {
  int y, mo, d, h, mi, s, ms;
  if (std::sscanf(line.c_str(), "%d-%d-%dT%d:%d:%d.%d", &y, &mo, &d, &h, &mi, &s, &ms) != 7) return -1;
  // Days from the civil date (H. Hinnant's algorithm), so a run across midnight works.
  y -= mo <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  int64_t days = era * 146097 + doe - 719468;
  return ((days * 24 + h) * 60 + mi) * 60000 + s * 1000 + ms;
}

// Lines of `text` that match `re`, as (time ms, line).
std::vector<std::pair<int64_t, std::string>> log_lines(const std::string& text, const std::regex& re) {
  std::vector<std::pair<int64_t, std::string>> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (std::regex_search(line, re)) out.emplace_back(log_time_ms(line), line);
  }
  return out;
}

std::string small_spec(const std::string& name, int samples, int shard_size, int max_attempts,
                       const std::string& resolution = "[16, 12]", int spp = 1, int max_bounces = 0) {
  return "name: " + name + "\nsamples: " + std::to_string(samples) + "\nshard_size: " +
         std::to_string(shard_size) + "\nmax_attempts: " + std::to_string(max_attempts) +
         "\nseed: 11\ncamera:\n  resolution: " + resolution + "\nrender:\n  spp: " + std::to_string(spp) +
         "\n  max_bounces: " + std::to_string(max_bounces) + "\n";
}

// ---------------------------------------------------------------------------------------
// A. 1000 samples while workers are SIGKILLed every few seconds, redis-server crashes
// (SIGKILL) and restarts from its AOF once, and the coordinator crashes and restarts once.
TEST(Chaos, KilledWorkersRedisAndCoordinatorLeaveAnExactDataset) {
  uint32_t seed = 20240611;
  if (const char* s = std::getenv("SYNTHFARM_CHAOS_SEED"); s && *s) seed = static_cast<uint32_t>(std::stoul(s));
  std::cout << "[chaos] seed " << seed << " (set SYNTHFARM_CHAOS_SEED to replay)" << std::endl;
  RecordProperty("seed", std::to_string(seed));
  std::mt19937 rng(seed);

  constexpr int kSamples = 1000, kShardSize = 10, kShards = kSamples / kShardSize, kWorkers = 4;
  Farm farm({.workers = kWorkers, .threads = 1, .lease_ms = 3000, .redis_args = kAofArgs});
  RedisProbe redis(farm.redis_url());
  auto aof = redis.strings({"CONFIG", "GET", "appendonly"});
  ASSERT_EQ(aof.size(), 2u);
  ASSERT_EQ(aof[1], "yes") << "redis-server must run with AOF on for this test";

  // max_attempts is high on purpose: a shard whose holders are killed 3 times in a row
  // would be dead-lettered (expired leases count as attempts), and that is scenario C's
  // business, not this one's. Here every shard must end done.
  // Samples of ~70 ms on one core (64x48, 4 spp, one bounce; most of it building the
  // people): at 16x12 and 1 spp the farm renders 1000 samples in a few seconds on 2 cores,
  // too fast for kills "every few seconds"; this way the job runs for about a minute.
  std::string id = farm.submit(small_spec("chaos", kSamples, kShardSize, 100, "[64, 48]", 4, 1));
  ASSERT_FALSE(id.empty());
  const std::string jkey = job_key(id);
  const auto t0 = Clock::now();

  // Which shards are done, and the render count, in one round trip (so the two agree).
  auto snapshot = [&](std::set<int>& done, int64_t& renders) {
    std::vector<std::vector<std::string>> commands;
    for (int n = 0; n < kShards; ++n) commands.push_back({"HGET", shard_key(id, n), "state"});
    commands.push_back({"HGET", jkey, "renders"});
    auto replies = redis.pipeline(commands);
    if (replies.size() != commands.size()) return false;
    done.clear();
    for (int n = 0; n < kShards; ++n) {
      if (replies[n].str == "done") done.insert(n);
    }
    renders = replies.back().as_int(0);
    return true;
  };

  int kills = 0;
  bool redis_restarted = false, coordinator_restarted = false;
  int64_t workers_at_crash = 0, lost_completions = 0, renders_before_crash = 0, renders_after_crash = 0;
  std::string state;
  std::uniform_int_distribution<int> interval_ms(1000, 3000);
  std::uniform_int_distribution<size_t> victim(0, kWorkers - 1);
  std::ostringstream timeline;
  // At most 40 steps (about 80 s of chaos, 30-odd kills); then the farm finishes in peace.
  for (int step = 0; step < 40 && seconds_since(t0) < 300; ++step) {
    // Sleep for the drawn interval, but notice the end of the job at once.
    auto wake = Clock::now() + milliseconds(interval_ms(rng));
    while (Clock::now() < wake) {
      state = redis.hget(jkey, "state");
      if (state == "done" || state == "failed") break;
      std::this_thread::sleep_for(milliseconds(100));
    }
    if (state == "done" || state == "failed") break;
    const size_t w = victim(rng);  // drawn every step, so the schedule only depends on the seed
    char at[32];
    std::snprintf(at, sizeof at, "%7.2f s ", seconds_since(t0));
    int64_t done_now = redis.hget_int(jkey, "shards_done");
    if (step == 1) {
      workers_at_crash = static_cast<int64_t>(farm.workers().size());
      std::set<int> done_before, done_after;
      ASSERT_TRUE(snapshot(done_before, renders_before_crash)) << redis.last_error();
      farm.restart_redis();
      redis_restarted = true;
      ASSERT_FALSE(redis.hget(jkey, "state").empty())
          << "the job is gone after the Redis restart (AOF not reloaded?): " << redis.last_error() << "\n"
          << farm.all_logs();
      ASSERT_TRUE(snapshot(done_after, renders_after_crash)) << redis.last_error();
      std::vector<int> lost;
      std::set_difference(done_before.begin(), done_before.end(), done_after.begin(), done_after.end(),
                          std::back_inserter(lost));
      lost_completions = static_cast<int64_t>(lost.size());
      timeline << at << "redis-server SIGKILL + restart: " << done_before.size() << " shards done before, "
               << done_after.size() << " after reloading the AOF (" << lost_completions << " completions lost); "
               << "renders " << renders_before_crash << " before, " << renders_after_crash << " after\n";
    } else if (step == 3) {
      farm.restart_coordinator();
      coordinator_restarted = true;
      timeline << at << "coordinator SIGKILL + restart (shards_done " << done_now << ")\n";
    } else {
      pid_t pid = farm.workers()[w]->pid();
      farm.kill_worker(w);
      ++kills;
      timeline << at << "SIGKILL worker slot " << w << " pid " << pid << " (shards_done " << done_now << ")\n";
    }
  }
  std::cout << "[chaos] timeline:\n" << timeline.str() << std::flush;
  ASSERT_TRUE(redis_restarted && coordinator_restarted)
      << "the job ended before the Redis and coordinator crashes were done; make it longer\n"
      << timeline.str();

  json job = farm.wait(id, seconds(300));
  const double run_s = seconds_since(t0);
  std::cout << "[chaos] job " << id << " ended " << job.value("state", "?") << " after " << run_s << " s, "
            << kills << " worker kills" << std::endl;
  ASSERT_EQ(job["state"], "done") << job.dump() << "\n" << timeline.str() << farm.all_logs();
  EXPECT_EQ(job["samples_done"], kSamples) << job.dump();
  EXPECT_EQ(job["shards_done"], kShards) << job.dump();
  EXPECT_EQ(job["shards_failed"], 0) << job.dump();
  EXPECT_EQ(job["error"], "") << job.dump();

  // The dataset: manifest.json lists samples 0..999 exactly, bytes as recorded.
  const fs::path root = farm.out_root() / id;
  std::vector<int> all(kSamples);
  for (int i = 0; i < kSamples; ++i) all[i] = i;
  auto keys = check_manifest(root, all, farm.all_logs(1500));
  EXPECT_EQ(keys.size(), 3u * kSamples + 4u) << "the samples, the two COCO files and the card's two";

  // Nothing else under the prefix but the shard manifests, manifest.json and temp files
  // of writes a SIGKILL cut short (".tmp.*", at most one per killed process: a worker
  // writes from one thread; plus the coordinator's manifest.json).
  Tree tree = read_tree(root);
  const std::regex shard_manifest(R"(^shards/(\d{6})\.manifest\.json$)");
  std::set<int> shard_manifests;
  std::vector<std::string> strays;
  for (const auto& [rel, sha] : tree.files) {
    std::smatch m;
    if (keys.count(rel) || rel == "manifest.json") continue;
    if (std::regex_match(rel, m, shard_manifest)) {
      shard_manifests.insert(std::stoi(m[1]));
      continue;
    }
    strays.push_back(rel);
  }
  EXPECT_TRUE(strays.empty()) << strays.size() << " file(s) outside the manifest under " << root << ":\n"
                              << describe(strays);
  EXPECT_EQ(shard_manifests.size(), static_cast<size_t>(kShards));
  if (!shard_manifests.empty()) {
    EXPECT_EQ(*shard_manifests.begin(), 0);
    EXPECT_EQ(*shard_manifests.rbegin(), kShards - 1);
  }
  std::cout << "[chaos] leftover temp files (SIGKILL mid-write): " << tree.temps.size() << "\n"
            << describe(tree.temps, 5) << std::flush;
  EXPECT_LE(tree.temps.size(), static_cast<size_t>(kills + 1))
      << "more temp files than killed processes could leave:\n" << describe(tree.temps);

  // Redis: nothing of the job is leased, pending or dead any more.
  for (const auto& m : redis.strings({"ZRANGE", "sf:queue:leases", "0", "-1"})) {
    EXPECT_NE(m.rfind(id + "/", 0), 0u) << "still leased: " << m;
  }
  for (const auto& m : redis.strings({"LRANGE", "sf:queue:dead", "0", "-1"})) {
    EXPECT_NE(m.rfind(id + "/", 0), 0u) << "dead-lettered: " << m;
  }

  // Wasted work is bounded. The job hash field `renders` counts sample renders (workers
  // add 1 after storing a sample's objects). Renders beyond the 1000 that count come
  // only from:
  //  - each killed worker: at most the one shard it held (kShardSize renders);
  //  - the Redis crash: each worker alive then may lose its shard once (a claim or a
  //    renewal lost in the AOF window, or its lease reaped while Redis was away), and
  //    may complete one more shard in the instant between our snapshot and the SIGKILL
  //    (a completion we cannot see was lost): 2 x kShardSize per worker;
  //  - completions the crash lost (the AOF's last second): shards done in the snapshot
  //    before the crash but not after the reload, each rendered again once. (With
  //    appendfsync everysec, killing the process loses nothing Redis acknowledged: the
  //    AOF write is in the kernel before the reply goes out. Only an OS crash loses the
  //    last second, so this term is 0 here, but the bound does not rely on it.)
  // The coordinator crash renders nothing.
  //   renders <= 1000 + kShardSize x (kills + 2 x workers at the crash + lost completions)
  // The count can also fall short: increments in the lost AOF second are gone (renders
  // before the crash minus after the reload), and so are those a worker sent while Redis
  // was down (a statistic, not retried): at most one shard's worth per worker.
  //   renders >= 1000 - lost increments - kShardSize x workers at the crash
  const int64_t bound = kSamples + kShardSize * (kills + 2 * workers_at_crash + lost_completions);
  const int64_t lost_renders = std::max<int64_t>(0, renders_before_crash - renders_after_crash);
  const int64_t floor = kSamples - lost_renders - kShardSize * workers_at_crash;
  const int64_t renders = redis.hget_int(jkey, "renders");
  std::cout << "[chaos] renders " << renders << ", bound " << bound << " = " << kSamples << " + " << kShardSize
            << " x (" << kills << " kills + 2 x " << workers_at_crash << " workers at the Redis crash + "
            << lost_completions << " completions lost in the AOF window); floor " << floor << std::endl;
  RecordProperty("renders", std::to_string(renders));
  RecordProperty("render_bound", std::to_string(bound));
  EXPECT_GE(renders, floor) << "the job hash field 'renders' must count every sample render (HGET " << jkey
                            << " renders)\n" << timeline.str();
  EXPECT_LE(renders, bound) << timeline.str();

  if (HasFailure()) std::cout << timeline.str() << farm.all_logs() << std::endl;
}

// ---------------------------------------------------------------------------------------
// B. A worker stalled (SIGSTOP) past its lease while another finishes its shard: when it
// wakes, its renewal or completion is rejected and the dataset does not change.
TEST(Chaos, StalledWorkerIsFencedOffAfterItsLeaseAndChangesNothing) {
  Farm farm({.workers = 1, .threads = 1, .lease_ms = 2000});
  RedisProbe redis(farm.redis_url());
  // One shard of samples slow enough (a few hundred ms each) to stop the worker mid-shard.
  std::string id = farm.submit(
      "name: stall\nsamples: 6\nshard_size: 6\nseed: 5\ncamera:\n  resolution: [160, 120]\n"
      "render:\n  spp: 32\n  max_bounces: 1\n");
  ASSERT_FALSE(id.empty());
  const fs::path root = farm.out_root() / id;
  ChildProcess& stalled = *farm.workers()[0];

  // Wait until it holds the shard and has stored its first sample, then stop it.
  const std::regex claim_re("shard " + id + "/0 \\(samples [0-9]+\\.\\.[0-9]+\\) token ([0-9]+)");
  std::smatch m;
  std::string log;
  ASSERT_TRUE(eventually(
      [&] {
        log = stalled.log();
        return std::regex_search(log, m, claim_re) && fs::exists(root / sample_key(0, "json"));
      },
      seconds(120), milliseconds(20)))
      << "the worker never claimed the shard and stored a sample\n" << farm.all_logs();
  const std::string stalled_token = m[1];
  stalled.signal(SIGSTOP);
  const auto stopped_at = Clock::now();
  const std::string skey = shard_key(id, 0);
  ASSERT_EQ(redis.hget(skey, "state"), "leased") << "the worker finished the shard before it was stopped";
  ASSERT_EQ(redis.hget(skey, "token"), stalled_token);

  // Another worker takes the shard over once the reaper has put it back, and finishes it.
  auto rescuer = farm.start_worker();
  json job = farm.wait(id, seconds(180));
  ASSERT_EQ(job["state"], "done") << job.dump() << "\n" << farm.all_logs() << "\n---- rescuer ----\n"
                                  << rescuer->log();
  EXPECT_GT(seconds_since(stopped_at), 2.0) << "the job ended before the stalled worker's lease could expire";
  const std::string final_token = redis.hget(skey, "token");
  EXPECT_NE(final_token, stalled_token) << "the stalled worker's token should have been fenced off";
  EXPECT_EQ(redis.hget(skey, "state"), "done");
  EXPECT_EQ(redis.hget_int(skey, "attempts"), 2) << "claimed once by each worker";
  EXPECT_NE(rescuer->log().find("token " + final_token), std::string::npos)
      << "the rescuer should hold the final token " << final_token << "\n" << rescuer->log();

  Tree before = read_tree(root);
  ASSERT_TRUE(before.files.count("manifest.json"));

  // Wake the stalled worker: it must find out that it lost the lease, one way or another.
  stalled.signal(SIGCONT);
  const std::regex fenced(
      "completion rejected|lease lost|lease on " + id + "/0 lost|" + "token " + stalled_token + " is stale");
  ASSERT_TRUE(eventually([&] { return std::regex_search(stalled.log(), fenced); }, seconds(60)))
      << "the stalled worker never noticed it lost the lease\n" << stalled.log();
  // Let it settle: whatever it does after noticing must not touch the dataset.
  std::this_thread::sleep_for(seconds(2));
  EXPECT_TRUE(stalled.running()) << stalled.log();
  std::cout << "[chaos] stalled worker's log after SIGCONT:\n";
  for (const auto& [t, line] : log_lines(stalled.log(), std::regex("lease|rejected|stale|" + id)))
    std::cout << "  " << line << "\n";
  std::cout << std::flush;

  Tree after = read_tree(root);
  EXPECT_EQ(before.files, after.files) << "the dataset changed after the stalled worker woke up\n"
                                       << stalled.log();
  EXPECT_TRUE(after.temps.empty()) << "temp files left behind:\n" << describe(after.temps);
  check_manifest(root, {0, 1, 2, 3, 4, 5}, farm.all_logs(1500));
  EXPECT_EQ(redis.hget(skey, "token"), final_token) << "the stalled worker changed the shard's record";
  EXPECT_EQ(redis.hget(skey, "state"), "done");
  EXPECT_EQ(redis.hget(job_key(id), "state"), "done");
  EXPECT_EQ(redis.hget_int(job_key(id), "shards_done"), 1);
  EXPECT_EQ(redis.hget_int(job_key(id), "samples_done"), 6);
  if (HasFailure()) std::cout << farm.all_logs() << "\n---- rescuer ----\n" << rescuer->log() << std::endl;
  rescuer->signal(SIGTERM);
  rescuer->wait(seconds(20));
}

// ---------------------------------------------------------------------------------------
// C. A sample that always throws: its shard is retried with backoff, dead-lettered after
// max_attempts, and the job fails naming it while every other shard completes.
TEST(Chaos, ShardThatAlwaysThrowsIsDeadLetteredAndTheOthersFinish) {
  Farm farm({.workers = 2,
             .threads = 1,
             .lease_ms = 10000,
             .worker_env = {{"SYNTHFARM_TEST_FAULT", "throw-on-sample=7"}}});
  RedisProbe redis(farm.redis_url());
  constexpr int kSamples = 30, kShardSize = 5, kShards = 6, kMaxAttempts = 3, kBadShard = 1;
  std::string id = farm.submit(small_spec("faulty", kSamples, kShardSize, kMaxAttempts));
  ASSERT_FALSE(id.empty());
  const auto t0 = Clock::now();
  json job = farm.wait(id, seconds(180));
  std::cout << "[chaos] faulty job ended " << job.value("state", "?") << " after " << seconds_since(t0) << " s"
            << std::endl;

  ASSERT_EQ(job["state"], "failed") << job.dump() << "\n" << farm.all_logs();
  const std::string error = job.value("error", "");
  EXPECT_NE(error.find("shard 1"), std::string::npos) << "the error should name the dead shard: " << error;
  EXPECT_EQ(job["shards_failed"], 1) << job.dump();
  EXPECT_EQ(job["shards_done"], kShards - 1) << job.dump();
  EXPECT_EQ(job["samples_done"], kSamples - kShardSize) << job.dump();
  // The API names the dead shard with its attempts and error.
  ASSERT_TRUE(job.contains("dead_shards")) << job.dump();
  ASSERT_EQ(job["dead_shards"].size(), 1u) << job.dump();
  EXPECT_EQ(job["dead_shards"][0].value("shard", -1), kBadShard) << job.dump();
  EXPECT_EQ(job["dead_shards"][0].value("attempts", -1), kMaxAttempts) << job.dump();

  const std::string bad = shard_key(id, kBadShard);
  EXPECT_EQ(redis.hget(bad, "state"), "dead");
  EXPECT_EQ(redis.hget_int(bad, "attempts"), kMaxAttempts);
  EXPECT_NE(redis.hget(bad, "last_error").find("sample 7"), std::string::npos) << redis.hget(bad, "last_error");
  auto dead = redis.strings({"LRANGE", "sf:queue:dead", "0", "-1"});
  EXPECT_EQ(std::count(dead.begin(), dead.end(), id + "/" + std::to_string(kBadShard)), 1)
      << "sf:queue:dead should hold " << id << "/1 once";
  for (int n = 0; n < kShards; ++n) {
    if (n == kBadShard) continue;
    EXPECT_EQ(redis.hget(shard_key(id, n), "state"), "done") << "shard " << n;
    EXPECT_EQ(redis.hget_int(shard_key(id, n), "attempts"), 1) << "shard " << n;
  }

  // manifest.json of the completed shards only.
  std::vector<int> completed;
  for (int i = 0; i < kSamples; ++i) {
    if (i / kShardSize != kBadShard) completed.push_back(i);
  }
  check_manifest(farm.out_root() / id, completed, farm.all_logs(1500));

  // Backoff: the k-th retry of the shard is claimed no sooner than 2^(k-1) s after the
  // k-th failure (worker logs: "shard <id>/1 (samples 5..9) token N", "shard <id>/1 failed").
  std::string logs;
  for (auto& w : farm.workers()) logs += w->log();
  auto claims = log_lines(logs, std::regex("shard " + id + "/1 \\(samples"));
  auto fails = log_lines(logs, std::regex("shard " + id + "/1 failed"));
  std::sort(claims.begin(), claims.end());
  std::sort(fails.begin(), fails.end());
  ASSERT_EQ(claims.size(), static_cast<size_t>(kMaxAttempts)) << logs;
  ASSERT_EQ(fails.size(), static_cast<size_t>(kMaxAttempts)) << logs;
  for (int k = 1; k < kMaxAttempts; ++k) {
    int64_t gap = claims[k].first - fails[k - 1].first;
    int64_t backoff = 1000LL << (k - 1);
    std::cout << "[chaos] retry " << k << " claimed " << gap << " ms after failure " << k << " (backoff "
              << backoff << " ms)" << std::endl;
    EXPECT_GE(gap, backoff - 20) << fails[k - 1].second << "\n" << claims[k].second;
  }

  // Every render counts, the failed attempts' too: 25 good samples, and samples 5 and 6
  // in each of the 3 attempts (sample 7 itself throws; counted or not).
  const int64_t renders = redis.hget_int(job_key(id), "renders");
  EXPECT_EQ(job.value("renders", -1), renders) << "GET /api/jobs/" << id << " and Redis disagree";
  EXPECT_GE(renders, kSamples - kShardSize + 2 * kMaxAttempts) << "HGET sf:job:" << id << " renders";
  EXPECT_LE(renders, kSamples - kShardSize + 3 * kMaxAttempts) << "HGET sf:job:" << id << " renders";
  if (HasFailure()) std::cout << farm.all_logs() << std::endl;
}

}  // namespace
}  // namespace synthfarm::testing
