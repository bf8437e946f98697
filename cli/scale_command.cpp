// `synthfarm scale slurm`: keeps a Slurm job array of workers (ops/slurm/workers.sbatch) as
// large as the coordinator's queue wants. Each round reads /metrics (the queue depth) and
// /api/workers (which worker holds a shard), lists this user's worker tasks with squeue,
// plans with slurm_scaling.h, and runs sbatch or scancel. Slurm's programs run with
// argument vectors (subprocess.h), never through a shell.
#include <fmt/chrono.h>
#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/coordinator_client.h"
#include "cli/slurm_scaling.h"
#include "cli/subprocess.h"

namespace synthfarm::cli {
namespace {

// What one round learned from the coordinator.
struct FarmState {
  QueueDepth depth;
  std::map<std::string, WorkerActivity> workers;
};

tl::expected<FarmState, std::string> read_farm(const Remote& remote) {
  auto client = client_for(remote);
  auto res = client.Get("/metrics");
  if (!res) return tl::unexpected(transport_error(remote.url, res.error()));
  if (res->status != 200) {
    return tl::unexpected(fmt::format(
        "{}/metrics answered HTTP {}{}", remote.url, res->status,
        res->status == 401 || res->status == 403
            ? " (a coordinator with --metrics-auth wants a viewer token: SYNTHFARM_TOKEN "
              "or the config file)"
            : ""));
  }
  auto depth = parse_queue_depth(res->body);
  if (!depth) return tl::unexpected(fmt::format("{}/metrics: {}", remote.url, depth.error()));
  FarmState state{*depth, {}};
  int status = 0;
  auto workers = get_json(remote, "/api/workers", status);
  if (!workers) {
    return tl::unexpected(
        fmt::format("{}/api/workers: {}{}", remote.url, workers.error(),
                    status == 401 || status == 403
                        ? " (scale needs a viewer token: SYNTHFARM_TOKEN or the config file)"
                        : ""));
  }
  for (const auto& w : (*workers)["workers"]) {
    std::string s = w.value("state", "");
    state.workers[w.value("id", "")] = s == "idle"        ? WorkerActivity::kIdle
                                       : s == "rendering" ? WorkerActivity::kRendering
                                       : s == "stopping"  ? WorkerActivity::kStopping
                                                          : WorkerActivity::kLost;
  }
  return state;
}

// Runs a Slurm client program; its failure as an error holding what it printed.
tl::expected<std::string, std::string> run_slurm(const std::vector<std::string>& argv) {
  // The API token is the scaler's, not the workers': sbatch would copy it into the job's
  // environment (and Slurm's state files) with the rest.
  auto result =
      run_process(argv, {.timeout = std::chrono::seconds(60), .drop_env = {"SYNTHFARM_TOKEN"}});
  if (!result) {
    return tl::unexpected(result.error() + (result.error().find("No such file") != std::string::npos
                                                ? " (is Slurm's client installed and on PATH?)"
                                                : ""));
  }
  if (result->exit_code != 0) {
    std::string err = result->err.empty() ? result->out : result->err;
    while (!err.empty() && err.back() == '\n') err.pop_back();
    return tl::unexpected(
        fmt::format("`{}` failed (exit {}): {}", describe_command(argv), result->exit_code, err));
  }
  return result->out;
}

std::vector<std::string> sbatch_command(const ScaleSlurmArgs& args, int64_t tasks) {
  std::vector<std::string> argv = {"sbatch", "--parsable", "--job-name=" + args.job_name,
                                   fmt::format("--array=0-{}", tasks - 1)};
  argv.insert(argv.end(), args.sbatch_args.begin(), args.sbatch_args.end());
  argv.push_back(args.script);
  return argv;
}

std::vector<std::string> with_ids(std::vector<std::string> argv,
                                  const std::vector<SlurmTask>& tasks) {
  for (const auto& t : tasks) argv.push_back(t.slurm_id());
  return argv;
}

std::string ids(const std::vector<SlurmTask>& tasks) {
  std::string out;
  for (const auto& t : tasks) out += (out.empty() ? "" : " ") + t.slurm_id();
  return out;
}

// Runs `argv`, or prints it under --dry-run; false (after printing why) when it failed.
bool act(const ScaleSlurmArgs& args, const std::vector<std::string>& argv,
         std::string* out = nullptr) {
  if (args.dry_run) {
    fmt::print("  would run: {}\n", describe_command(argv));
    return true;
  }
  auto result = run_slurm(argv);
  if (!result) {
    fmt::print(stderr, "error: {}\n", result.error());
    return false;
  }
  if (out) *out = *result;
  return true;
}

// One look at the farm and Slurm, and what follows from it. Returns the exit code.
int scale_round(const Remote& remote, const ScaleSlurmArgs& args) {
  auto farm = read_farm(remote);
  if (!farm) {
    fmt::print(stderr, "error: {}\n", farm.error());
    return kExitFailure;
  }
  auto listing = run_slurm({"squeue", "--me", "--noheader", "--array", "--name=" + args.job_name,
                            std::string("--format=") + kSqueueFormat});
  if (!listing) {
    fmt::print(stderr, "error: {}\n", listing.error());
    return kExitFailure;
  }
  auto tasks = parse_squeue(*listing);
  if (!tasks) {
    fmt::print(stderr, "error: {}\n", tasks.error());
    return kExitFailure;
  }
  ScalePolicy policy{args.max_workers, args.shards_per_worker, args.shrink_running,
                     args.worker_prefix};
  ScalePlan plan = plan_scale(farm->depth, *tasks, farm->workers, policy);
  fmt::print(
      "shards: {} pending + {} leased -> want {} worker(s) ({} shard(s) each, at most {}); Slurm "
      "has {} ({} "
      "queued, {} started)\n",
      farm->depth.pending, farm->depth.leased, plan.wanted, args.shards_per_worker,
      args.max_workers, plan.current(), plan.queued, plan.started);
  bool ok = true;
  if (plan.submit > 0) {
    std::string out;
    fmt::print("  submitting {} task(s)\n", plan.submit);
    ok = act(args, sbatch_command(args, plan.submit), &out) && ok;
    if (!args.dry_run && ok)
      fmt::print("  submitted array job {}\n", out.substr(0, out.find_first_of(";\n")));
  }
  if (!plan.cancel.empty()) {
    fmt::print("  cancelling {} queued task(s): {}\n", plan.cancel.size(), ids(plan.cancel));
    ok = act(args, with_ids({"scancel"}, plan.cancel)) && ok;
  }
  if (!plan.stop.empty()) {
    // SIGTERM to the job step (the worker), not the batch shell: the worker finishes its
    // sample, gives its shard back and exits; the task then ends on its own.
    fmt::print("  stopping {} started task(s) (SIGTERM): {}\n", plan.stop.size(), ids(plan.stop));
    ok = act(args, with_ids({"scancel", "--signal=TERM"}, plan.stop)) && ok;
  }
  if (plan.kept_busy > 0) {
    fmt::print(
        "  keeping {} more task(s) whose workers hold shards (--shrink-running stops them too)\n",
        plan.kept_busy);
  }
  if (plan.submit == 0 && plan.cancel.empty() && plan.stop.empty() && plan.kept_busy == 0) {
    fmt::print("  nothing to do\n");
  }
  std::fflush(stdout);
  return ok ? 0 : kExitFailure;
}

}  // namespace

int cmd_scale_slurm(const Remote& remote, const ScaleSlurmArgs& args) {
  for (const auto& a : args.sbatch_args) {
    if (a.starts_with("--array") || a.starts_with("-a") || a.starts_with("--job-name") ||
        a.starts_with("-J")) {
      fmt::print(
          stderr,
          "error: --sbatch-arg {}: scale sets the array and the job name itself (--job-name)\n", a);
      return kExitBadInput;
    }
  }
  std::error_code ec;
  if (!std::filesystem::is_regular_file(args.script, ec)) {
    fmt::print(
        stderr,
        "error: --script {}: no such file (the worker batch script, ops/slurm/workers.sbatch)\n",
        args.script);
    return kExitBadInput;
  }
  if (args.watch_s <= 0) return scale_round(remote, args);
  for (;;) {
    auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    fmt::print("{:%Y-%m-%dT%H:%M:%S} ", fmt::localtime(now));
    scale_round(remote, args);  // a failed round is reported; the next one tries again
    std::this_thread::sleep_for(std::chrono::duration<double>(args.watch_s));
  }
}

}  // namespace synthfarm::cli
