// A one-node Slurm cluster for tests, from Debian's slurm-wlm and munge: munged with its own
// key and socket, slurmctld and slurmd on free ports, every config, state, spool, log and
// job output file in one temp dir. Nothing of the machine's own Slurm or munge is used or
// needed (none runs on a fresh CI machine). Slurm's client programs reach this cluster
// through SLURM_CONF, which env() holds.
//
// Settings that work in the containers these tests run in: proctrack/linuxproc,
// task/none, cgroup.conf with cgroup/v1 and no automount (no cgroup is touched), root as
// SlurmUser. The cluster is tuned for tests: the scheduler runs every second, a requeued
// job may start again after cred_expire_s (Slurm's default: 120 s), and a cancelled job
// gets kill_wait_s between SIGTERM and SIGKILL.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/fixtures.h"

namespace synthfarm::testing {

struct SlurmClusterOptions {
  int cpus = 2;           // the node's CPUs
  int cred_expire_s = 5;  // also how long a requeued job waits before it may start again
  int kill_wait_s = 5;
};

class SlurmCluster {
 public:
  // Starts the daemons and waits until the node takes jobs; throws with the daemons' logs
  // when it cannot.
  static std::unique_ptr<SlurmCluster> start(SlurmClusterOptions options = {});
  // Cancels every job, waits until they have ended (so no job process outlives the
  // test), then stops slurmd, slurmctld and munged; the temp dir goes with them.
  ~SlurmCluster();
  SlurmCluster(const SlurmCluster&) = delete;
  SlurmCluster& operator=(const SlurmCluster&) = delete;

  const std::filesystem::path& dir() const { return dir_.path(); }
  // SLURM_CONF for Slurm's client programs (sbatch, squeue, scancel, scontrol).
  std::map<std::string, std::string> env() const {
    return {{"SLURM_CONF", (dir() / "slurm.conf").string()}};
  }
  // Runs a Slurm client program (or anything that calls them) against this cluster;
  // `env` is added to env().
  std::pair<int, std::string> run(
      const std::vector<std::string>& argv, const std::map<std::string, std::string>& env = {},
      std::chrono::milliseconds timeout = std::chrono::seconds(60)) const;
  // One field of `scontrol show job ID` (e.g. "JobState", "Restarts"); "" if absent.
  std::string job_field(const std::string& id, const std::string& field) const;
  // `squeue -h -r -o '%i %T'` lines, e.g. "12_0 RUNNING".
  std::vector<std::string> queue() const;
  // The daemons' logs (the last `tail` bytes of each).
  std::string logs(size_t tail = 4000) const;

 private:
  SlurmCluster() = default;
  void write_config(const SlurmClusterOptions& options);
  void start_munged();
  void start_slurm();
  TempDir dir_;
  int ctld_port_ = 0;
  int slurmd_port_ = 0;
  std::unique_ptr<ChildProcess> munged_, slurmctld_, slurmd_;
};

}  // namespace synthfarm::testing
