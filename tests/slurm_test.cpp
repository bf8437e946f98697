// Slurm (label cluster): synthfarm workers as a job array of ops/slurm/workers.sbatch on a
// real one-node Slurm (tests/slurm_cluster.h: munged, slurmctld, slurmd), rendering for a
// farm with security on: API tokens, Redis ACL users with their passwords in files, and
// CURVE with one worker key pair for every array task. Datasets are checked byte for byte
// against `synthfarm render --local` of the same spec.
//
//   - an array of two renders a job; the time from sbatch to the first claimed shard is
//     printed ([slurm] lines);
//   - a task stopped mid-shard (scancel --signal=TERM) gives its shard back and ends, and a
//     task requeued mid-shard (scontrol requeue) gives its shard back, comes back under the
//     same worker id and finishes the job;
//   - `synthfarm scale slurm` grows the array from the queue depth and, once the queue is
//     empty, shrinks it to nothing (--watch); the API token never reaches Slurm.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <ctime>
#include <fstream>
#include <iostream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "storage/object_store.h"
#include "tests/farm.h"
#include "tests/slurm_cluster.h"

namespace synthfarm::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

int64_t wall_ms() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}


bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::string spec(const std::string& name, int samples, int shard_size,
                 const std::string& resolution, int spp, int bounces) {
  return "name: " + name + "\nsamples: " + std::to_string(samples) +
         "\nshard_size: " + std::to_string(shard_size) +
         "\nseed: 31\ncamera:\n  resolution: " + resolution +
         "\nrender:\n  spp: " + std::to_string(spp) +
         "\n  max_bounces: " + std::to_string(bounces) + "\n";
}

// A farm with security on and no workers of its own, and a Slurm cluster to run them.
class SlurmFarm {
 public:
  SlurmFarm() {
    auto keygen = [&](const std::string& name) {
      auto [code, out] =
          run_command({binary("synthfarm"), "keygen", "--out", (secrets_.path() / name).string()});
      if (code != 0) throw std::runtime_error("synthfarm keygen: " + out);
    };
    keygen("coordinator");
    keygen("worker");
    fs::copy_file(secrets_.path() / "worker.pub", secrets_.path() / "allowed_workers");
    auto acl = secrets_.path() / "redis.acl";
    std::ofstream(acl) << shipped_redis_acl(
        {{"coordinator", "coordinator-pw"}, {"worker", "worker-pw"}});
    auto coordinator_password =
        write_secret(secrets_.path() / "coordinator.password", "coordinator-pw");
    auto worker_password = write_secret(secrets_.path() / "worker.password", "worker-pw");
    farm_ = std::make_unique<Farm>(FarmOptions{
        .workers = 0,
        .redis_args = {"--aclfile", acl.string()},
        .env = {{"SYNTHFARM_REDIS_PASSWORD_FILE", coordinator_password}},
        .coordinator_args = {"--curve-key", (secrets_.path() / "coordinator.key").string(),
                             "--curve-workers", (secrets_.path() / "allowed_workers").string()},
        .coordinator_redis_user = "coordinator",
        .worker_redis_user = "worker"});
    slurm_ = SlurmCluster::start();
    // What workers.sbatch reads; secrets as files only.
    worker_env_ = {{"SYNTHFARM_REDIS", farm_->redis_url_as("worker")},
                   {"SYNTHFARM_REDIS_PASSWORD_FILE", worker_password},
                   {"SYNTHFARM_TELEMETRY", farm_->telemetry()},
                   {"SYNTHFARM_CONTROL", farm_->control()},
                   {"SYNTHFARM_CURVE_KEY", (secrets_.path() / "worker.key").string()},
                   {"SYNTHFARM_COORDINATOR_KEY", (secrets_.path() / "coordinator.pub").string()},
                   {"SYNTHFARM_WORKER_BIN", binary("synthfarm-worker")}};
  }

  Farm& farm() { return *farm_; }
  SlurmCluster& slurm() { return *slurm_; }
  const std::map<std::string, std::string>& worker_env() const { return worker_env_; }
  fs::path task_log(const std::string& task) const {
    return slurm_->dir() / "jobs" / ("worker-" + task + ".out");
  }
  // sbatch arguments every submission here uses: one CPU per worker, logs in the cluster's dir.
  std::vector<std::string> sbatch_args() const {
    return {"--cpus-per-task=1", "--time=10",
            "--output=" + (slurm_->dir() / "jobs" / "worker-%A_%a.out").string()};
  }

  // Submits workers.sbatch as it is documented, without the API token in the environment;
  // returns the array job id.
  std::string sbatch(const std::string& array) {
    std::vector<std::string> argv = {"sbatch", "--parsable", "--array=" + array};
    auto args = sbatch_args();
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back(source_path("ops/slurm/workers.sbatch"));
    auto env = worker_env_;
    env["SYNTHFARM_TOKEN"] = "";  // unset
    auto [code, out] = slurm_->run(argv, env);
    EXPECT_EQ(code, 0) << out;
    return out.substr(0, out.find_first_of(";\n"));
  }

  // /api/workers: worker id -> (state, job).
  std::map<std::string, std::pair<std::string, std::string>> workers() {
    std::map<std::string, std::pair<std::string, std::string>> out;
    auto [status, body] = farm_->get("/api/workers");
    if (status != 200) return out;
    for (const auto& w : body["workers"]) out[w["id"]] = {w["state"], w["job"]};
    return out;
  }
  bool rendering(const std::string& worker, const std::string& job) {
    auto w = workers();
    auto it = w.find(worker);
    return it != w.end() && it->second.first == "rendering" && it->second.second == job;
  }

  std::string task_logs() const {
    std::string out;
    for (const auto& entry : fs::directory_iterator(slurm_->dir() / "jobs")) {
      std::string text = slurp(entry.path());
      out += "---- " + entry.path().filename().string() + " ----\n" +
             (text.size() > 4000 ? "[...]" + text.substr(text.size() - 4000) : text);
    }
    return out;
  }
  std::string logs() const { return farm_->all_logs(2500) + task_logs() + slurm_->logs(2500); }

 private:
  TempDir secrets_;
  std::unique_ptr<Farm> farm_;
  std::unique_ptr<SlurmCluster> slurm_;  // after the farm: its jobs end before the farm stops
  std::map<std::string, std::string> worker_env_;
};

// The job's dataset is what `synthfarm render --local` makes of the same spec, byte for
// byte, and its manifest.json lists every object once with the bytes on disk.
void expect_exact_dataset(Farm& farm, const std::string& id, const std::string& spec_text,
                          int samples) {
  auto spec_path = farm.dir() / (id + ".yaml");
  std::ofstream(spec_path) << spec_text;
  auto local = farm.dir() / ("local-" + id);
  auto [code, output] = run_command({binary("synthfarm"), "render", "--local", spec_path.string(),
                                     "--out", local.string(), "--threads", "2"});
  ASSERT_EQ(code, 0) << output;
  const fs::path root = farm.out_root() / id;
  int compared = 0;
  for (int i = 0; i < samples; ++i) {
    for (const char* ext : {"exr", "png", "json"}) {
      char key[40];
      std::snprintf(key, sizeof key, "samples/%08d.%s", i, ext);
      std::string bytes = slurp(root / key);
      EXPECT_FALSE(bytes.empty()) << key << " missing from the farm's dataset";
      EXPECT_TRUE(bytes == slurp(local / key)) << key << " differs from the local render";
      ++compared;
    }
  }
  auto manifest = json::parse(slurp(root / "manifest.json"), nullptr, false);
  ASSERT_FALSE(manifest.is_discarded()) << "no manifest.json under " << root;
  EXPECT_EQ(manifest["counts"]["samples"], samples);
  std::set<std::string> keys;
  for (const auto& o : manifest["objects"]) {
    std::string key = o["key"];
    EXPECT_TRUE(keys.insert(key).second) << "listed twice: " << key;
    EXPECT_EQ(storage::sha256_hex(slurp(root / key)), o["sha256"].get<std::string>()) << key;
  }
  EXPECT_EQ(keys.size(), static_cast<size_t>(3 * samples + 4))
      << "the samples, the two COCO files and the dataset card's two";
  std::cout << "[slurm] job " << id << ": " << compared << " objects identical to the local render"
            << std::endl;
}

// The time (ms since the epoch) of the first line of `log` holding `part`, from spdlog's
// local-time stamp ("2024-06-11T12:34:56.789 ..."); -1 when there is none.
int64_t first_log_ms(const std::string& log, const std::string& part) {
  std::istringstream in(log);
  std::string line;
  while (std::getline(in, line)) {
    std::tm tm{};
    int ms = 0;
    if (!contains(line, part) ||
        std::sscanf(line.c_str(), "%d-%d-%dT%d:%d:%d.%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                    &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7) {
      continue;
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    tm.tm_isdst = -1;
    return static_cast<int64_t>(std::mktime(&tm)) * 1000 + ms;
  }
  return -1;
}

// slurmd runs jobs as their users and slurmctld as SlurmUser: both as root here.
bool can_run_slurm() { return ::geteuid() == 0; }

// Lines of `text` holding `part`.
int count_lines(const std::string& text, const std::string& part) {
  std::istringstream in(text);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) n += contains(line, part);
  return n;
}

}  // namespace

TEST(Slurm, AnArrayRendersExactDatasetsThroughCancelAndRequeue) {
  if (!can_run_slurm()) GTEST_SKIP() << "the Slurm daemons need root";
  SlurmFarm f;
  Farm& farm = f.farm();
  SlurmCluster& slurm = f.slurm();

  // A. Two array tasks render a small job; the clock runs from sbatch to the first claim.
  const std::string spec_a = spec("slurm-a", 8, 2, "[32, 24]", 1, 0);
  const std::string id_a = farm.submit(spec_a);
  ASSERT_FALSE(id_a.empty());
  const int64_t sbatch_ms = wall_ms();
  const std::string array = f.sbatch("0-1");
  ASSERT_FALSE(array.empty()) << f.logs();
  json job_a = farm.wait(id_a, seconds(90));
  ASSERT_EQ(job_a["state"], "done") << job_a.dump() << "\n" << f.logs();
  const int64_t first_claim_ms = job_a["started_ms"].get<int64_t>() - sbatch_ms;
  int64_t worker_start_ms = -1;  // the first worker's first log line, for where the time goes
  for (const char* task : {"_0", "_1"}) {
    int64_t t = first_log_ms(slurp(f.task_log(array + task)), "[worker] worker slurm-");
    if (t > 0 && (worker_start_ms < 0 || t < worker_start_ms)) worker_start_ms = t;
  }
  std::cout << "[slurm] sbatch -> first claimed shard: " << first_claim_ms << " ms (array " << array
            << "; the first worker process logged its start "
            << (worker_start_ms > 0 ? worker_start_ms - sbatch_ms : -1) << " ms after sbatch)"
            << std::endl;
  RecordProperty("sbatch_to_first_claim_ms", std::to_string(first_claim_ms));
  EXPECT_GT(first_claim_ms, 0);
  // Both tasks' workers report to the coordinator under their array ids.
  EXPECT_TRUE(eventually(
      [&] {
        auto workers = f.workers();
        return workers.count("slurm-" + array + "_0") && workers.count("slurm-" + array + "_1");
      },
      seconds(10)))
      << "no workers slurm-" << array << "_0 and _1 on /api/workers\n"
      << f.logs();
  expect_exact_dataset(farm, id_a, spec_a, 8);

  // B. The same array's workers take the next job. One task is stopped mid-shard, the
  // other requeued mid-shard; the job still ends exact.
  // Six shards of four samples of about half a second each on one thread: enough work
  // left after the stop for the requeue, and after the requeue for the task's second life.
  const std::string spec_b = spec("slurm-b", 24, 4, "[128, 96]", 16, 2);
  const std::string id_b = farm.submit(spec_b);
  ASSERT_FALSE(id_b.empty());
  const std::string w0 = "slurm-" + array + "_0", w1 = "slurm-" + array + "_1";
  auto shards_left = [&] {
    auto [status, job] = farm.get("/api/jobs/" + id_b);
    return status == 200 ? job["shards_total"].get<int64_t>() - job["shards_done"].get<int64_t>()
                         : -1;
  };
  ASSERT_TRUE(
      eventually([&] { return f.rendering(w0, id_b) && f.rendering(w1, id_b); }, seconds(30)))
      << f.logs();
  ASSERT_GE(shards_left(), 4) << "job B went too fast to stop a task in the middle of it";

  auto [stop_code, stop_out] = slurm.run({"scancel", "--signal=TERM", array + "_1"});
  ASSERT_EQ(stop_code, 0) << stop_out;
  auto gone = [&](const std::string& task) {
    for (const auto& line : slurm.queue()) {
      if (line.rfind(task + " ", 0) == 0) return false;
    }
    return true;
  };
  ASSERT_TRUE(eventually([&] { return gone(array + "_1"); }, seconds(30))) << f.logs();
  std::string log1 = slurp(f.task_log(array + "_1"));
  EXPECT_TRUE(contains(log1, "shard " + id_b + "/") && contains(log1, "returned to the queue"))
      << log1;
  EXPECT_TRUE(contains(log1, "stopped after")) << log1;
  EXPECT_EQ(slurm.job_field(array + "_1", "JobState"), "COMPLETED")
      << "a worker stopped by SIGTERM exits 0";

  ASSERT_TRUE(eventually([&] { return f.rendering(w0, id_b); }, seconds(10))) << f.logs();
  // Two shards not done: the one the task gives back, at least, is left for its next life.
  ASSERT_GE(shards_left(), 2) << "job B went too fast to requeue a task in the middle of it";
  const auto requeued_at = Clock::now();
  auto [requeue_code, requeue_out] = slurm.run({"scontrol", "requeue", array + "_0"});
  ASSERT_EQ(requeue_code, 0) << requeue_out;
  ASSERT_TRUE(eventually(
      [&] {
        return slurm.job_field(array + "_0", "Restarts") == "1" &&
               slurm.job_field(array + "_0", "JobState") == "RUNNING";
      },
      seconds(40)))
      << slurm.job_field(array + "_0", "JobState") << "\n"
      << f.logs();
  std::cout << "[slurm] requeued task running again after "
            << std::chrono::duration<double>(Clock::now() - requeued_at).count() << " s"
            << std::endl;
  json job_b = farm.wait(id_b, seconds(90));
  ASSERT_EQ(job_b["state"], "done") << job_b.dump() << "\n" << f.logs();

  // The requeued task's log (appended across its lives): its first life gave the shard
  // back on SIGTERM, its second (restart 1) claimed shards of the job.
  std::string log0 = slurp(f.task_log(array + "_0"));
  auto second_life = log0.find("restart 1");
  ASSERT_NE(second_life, std::string::npos) << log0;
  EXPECT_TRUE(contains(log0.substr(0, second_life), "returned to the queue")) << log0;
  EXPECT_TRUE(contains(log0.substr(second_life), "shard " + id_b + "/")) << log0;
  EXPECT_EQ(count_lines(log0, "workers.sbatch: worker " + w0), 2) << log0;
  expect_exact_dataset(farm, id_b, spec_b, 24);

  // C. Misconfigured: the script says what is missing, and the task fails at once.
  auto env = f.worker_env();
  env["SYNTHFARM_REDIS"] = "";
  env["SYNTHFARM_TOKEN"] = "";
  std::vector<std::string> argv = {"sbatch", "--parsable", "--array=0"};
  for (const auto& a : f.sbatch_args()) argv.push_back(a);
  argv.push_back(source_path("ops/slurm/workers.sbatch"));
  auto [bad_code, bad_out] = slurm.run(argv, env);
  ASSERT_EQ(bad_code, 0) << bad_out;
  const std::string bad = bad_out.substr(0, bad_out.find_first_of(";\n"));
  EXPECT_TRUE(
      eventually([&] { return slurm.job_field(bad + "_0", "JobState") == "FAILED"; }, seconds(20)))
      << slurm.job_field(bad + "_0", "JobState");
  std::string bad_log = slurp(f.task_log(bad + "_0"));
  EXPECT_TRUE(contains(bad_log, "workers.sbatch: SYNTHFARM_REDIS is not set"))
      << bad_log << f.task_logs();
  if (HasFailure()) std::cout << f.logs() << std::endl;
}

TEST(Slurm, ScaleGrowsTheArrayWithTheQueueAndShrinksItToZero) {
  if (!can_run_slurm()) GTEST_SKIP() << "the Slurm daemons need root";
  SlurmFarm f;
  Farm& farm = f.farm();
  SlurmCluster& slurm = f.slurm();
  // 24 one-sample shards at 8 per worker: 3 workers wanted until fewer than 17 are left.
  const std::string spec_c = spec("slurm-scale", 24, 1, "[64, 48]", 4, 1);
  const std::string id = farm.submit(spec_c);
  ASSERT_FALSE(id.empty());

  auto scale = [&](const std::string& max, std::vector<std::string> more = {}) {
    std::vector<std::string> argv = {binary("synthfarm"),
                                     "--url",
                                     farm.url(),
                                     "scale",
                                     "slurm",
                                     "--max",
                                     max,
                                     "--shards-per-worker",
                                     "8",
                                     "--script",
                                     source_path("ops/slurm/workers.sbatch")};
    for (const auto& a : f.sbatch_args()) argv.push_back("--sbatch-arg=" + a);
    argv.insert(argv.end(), more.begin(), more.end());
    return argv;
  };
  auto env = f.worker_env();  // and SYNTHFARM_TOKEN, which the farm exported for the CLI
  auto submitted = [](const std::string& out) {
    std::smatch m;
    return std::regex_search(out, m, std::regex("submitted array job (\\d+)")) ? m[1].str()
                                                                               : std::string();
  };

  // Failures say what failed: the coordinator, the token, Slurm.
  auto no_token = env;
  no_token["SYNTHFARM_TOKEN"] = "";
  auto [token_code, token_out] = slurm.run(scale("3"), no_token);
  EXPECT_EQ(token_code, 1) << token_out;
  EXPECT_TRUE(contains(token_out, "/api/workers") &&
              contains(token_out, "scale needs a viewer token"))
      << token_out;
  auto [far_code, far_out] =
      slurm.run({binary("synthfarm"), "--url", "http://127.0.0.1:1", "scale", "slurm", "--max", "3",
                 "--script", source_path("ops/slurm/workers.sbatch")},
                env);
  EXPECT_EQ(far_code, 1) << far_out;
  EXPECT_TRUE(contains(far_out, "cannot reach the coordinator at http://127.0.0.1:1")) << far_out;
  auto broken = env;  // (a missing file would have squeue retry for a minute)
  broken["SLURM_CONF"] = (slurm.dir() / "broken.conf").string();
  std::ofstream(broken["SLURM_CONF"]) << "not a slurm.conf line\n";
  auto [broken_code, broken_out] = slurm.run(scale("3"), broken);
  EXPECT_EQ(broken_code, 1) << broken_out;
  EXPECT_TRUE(contains(broken_out, "error: `squeue --me") &&
              contains(broken_out, "failed (exit 1)"))
      << broken_out;
  std::cout << "[slurm] scale slurm with a broken slurm.conf: " << broken_out << std::flush;
  auto no_slurm = env;
  no_slurm["PATH"] = "/nonexistent";
  auto [none_code, none_out] = slurm.run(scale("3"), no_slurm);
  EXPECT_EQ(none_code, 1) << none_out;
  EXPECT_TRUE(contains(none_out,
                       "cannot run squeue: No such file or directory (is Slurm's client installed"))
      << none_out;

  auto [dry_code, dry_out] = slurm.run(scale("3", {"--dry-run"}), env);
  ASSERT_EQ(dry_code, 0) << dry_out;
  EXPECT_TRUE(contains(dry_out, "shards: 24 pending + 0 leased -> want 3 worker(s)")) << dry_out;
  EXPECT_TRUE(
      contains(dry_out, "would run: sbatch --parsable --job-name=synthfarm-worker --array=0-2"))
      << dry_out;
  EXPECT_TRUE(slurm.queue().empty()) << "a dry run submitted something";

  // Grows to --max 2, then to --max 3 with one more task (a second array), then stays.
  auto [code, out] = slurm.run(scale("2"), env);
  std::cout << "[slurm] synthfarm scale slurm --max 2:\n" << out << std::flush;
  ASSERT_EQ(code, 0) << out << f.logs();
  const std::string first = submitted(out);
  ASSERT_FALSE(first.empty()) << out;
  EXPECT_TRUE(contains(out, "submitting 2 task(s)")) << out;
  auto [more_code, more_out] = slurm.run(scale("3"), env);
  std::cout << "[slurm] synthfarm scale slurm --max 3:\n" << more_out << std::flush;
  ASSERT_EQ(more_code, 0) << more_out;
  EXPECT_TRUE(contains(more_out, "Slurm has 2 (")) << more_out;
  EXPECT_TRUE(contains(more_out, "submitting 1 task(s)")) << more_out;
  const std::string second = submitted(more_out);
  ASSERT_FALSE(second.empty()) << more_out;
  EXPECT_EQ(slurm.queue().size(), 3u);
  auto [again_code, again_out] = slurm.run(scale("3"), env);
  EXPECT_EQ(again_code, 0) << again_out;
  EXPECT_TRUE(contains(again_out, "Slurm has 3 (")) << again_out;
  EXPECT_TRUE(contains(again_out, "nothing to do")) << again_out;
  // The API token stays out of Slurm: not in the jobs' environment that slurmctld saved.
  std::string saved;
  for (const auto& entry : fs::recursive_directory_iterator(slurm.dir() / "state")) {
    if (entry.is_regular_file()) saved += slurp(entry.path());
  }
  EXPECT_TRUE(contains(saved, "SYNTHFARM_TELEMETRY="))
      << "the jobs' environment is not where this test looks";
  EXPECT_FALSE(contains(saved, farm.token())) << "the API token reached Slurm's state";

  json job = farm.wait(id, seconds(90));
  ASSERT_EQ(job["state"], "done") << job.dump() << "\n" << f.logs();
  expect_exact_dataset(farm, id, spec_c, 24);

  // The queue is empty: --watch cancels the task that never started (one CPU each, two
  // CPUs) and stops the two idle workers, and the arrays are gone.
  auto watch = scale("3", {"--watch", "1"});
  auto watch_env = slurm.env();
  for (const auto& [k, v] : env) watch_env[k] = v;
  auto watcher = ChildProcess::spawn(watch, slurm.dir() / "scale-watch.log", watch_env);
  bool empty = eventually([&] { return slurm.queue().empty(); }, seconds(40));
  std::this_thread::sleep_for(milliseconds(1500));  // one more round, with nothing left to do
  watcher->signal(SIGTERM);
  watcher->wait(seconds(5));
  std::string watched = watcher->log();
  std::cout << "[slurm] synthfarm scale slurm --watch 1:\n" << watched << std::flush;
  ASSERT_TRUE(empty) << watched << f.logs();
  EXPECT_TRUE(contains(watched, "cancelling 1 queued task(s): " + second + "_0")) << watched;
  EXPECT_TRUE(
      contains(watched, "stopping 2 started task(s) (SIGTERM): " + first + "_1 " + first + "_0"))
      << watched;
  EXPECT_TRUE(contains(watched, "want 0 worker(s)")) << watched;
  EXPECT_TRUE(contains(watched, "Slurm has 0 (0 queued, 0 started)\n  nothing to do")) << watched;
  for (const char* task : {"_0", "_1"}) {
    std::string log = slurp(f.task_log(first + task));
    EXPECT_TRUE(contains(log, "stopped after")) << log;
  }
  if (HasFailure()) std::cout << f.logs() << std::endl;
}

}  // namespace synthfarm::testing
