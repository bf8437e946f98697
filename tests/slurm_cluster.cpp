#include "tests/slurm_cluster.h"

#include <signal.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace synthfarm::testing {
namespace fs = std::filesystem;
namespace {

std::string tail_of(const fs::path& path, size_t tail) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  std::string s = text.str();
  return s.size() > tail ? "[...]" + s.substr(s.size() - tail) : s;
}

template <typename F>
bool poll_until(F done, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return done();
}

}  // namespace

std::unique_ptr<SlurmCluster> SlurmCluster::start(SlurmClusterOptions options) {
  std::unique_ptr<SlurmCluster> cluster(new SlurmCluster());
  for (const char* sub : {"munge", "state", "spool", "log", "jobs"})
    fs::create_directories(cluster->dir() / sub);
  cluster->start_munged();
  cluster->write_config(options);
  cluster->start_slurm();
  return cluster;
}

void SlurmCluster::start_munged() {
  // munged wants its key private to its owner and refuses group- or world-writable
  // directories on the way to it; --force lets it use the temp dir all the same.
  fs::path key = dir() / "munge" / "munge.key";
  {
    std::ifstream random("/dev/urandom", std::ios::binary);
    std::string bytes(1024, '\0');
    random.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    std::ofstream(key, std::ios::binary) << bytes;
  }
  ::chmod(key.c_str(), 0400);
  fs::path socket = dir() / "munge" / "munge.socket";
  munged_ = ChildProcess::spawn(
      {"munged", "--foreground", "--force", "--socket=" + socket.string(),
       "--key-file=" + key.string(), "--pid-file=" + (dir() / "munge/munged.pid").string(),
       "--seed-file=" + (dir() / "munge/munged.seed").string(),
       "--log-file=" + (dir() / "log/munged.log").string()},
      dir() / "log" / "munged.out");
  if (!poll_until([&] { return fs::exists(socket); }, std::chrono::seconds(10))) {
    throw std::runtime_error("munged did not start:\n" + logs());
  }
}

void SlurmCluster::write_config(const SlurmClusterOptions& options) {
  ctld_port_ = free_tcp_port();
  slurmd_port_ = free_tcp_port();
  while (slurmd_port_ == ctld_port_) slurmd_port_ = free_tcp_port();
  const std::string d = dir().string();
  std::ofstream conf(dir() / "slurm.conf");
  conf << "ClusterName=synthfarm-test\n"
       << "SlurmctldHost=localhost\n"
       << "SlurmctldPort=" << ctld_port_ << "\nSlurmdPort=" << slurmd_port_ << "\n"
       << "AuthType=auth/munge\nCredType=cred/munge\n"
       << "AuthInfo=socket=" << d << "/munge/munge.socket,cred_expire=" << options.cred_expire_s
       << "\n"
       << "SlurmUser=root\nSlurmdUser=root\n"
       << "StateSaveLocation=" << d << "/state\nSlurmdSpoolDir=" << d << "/spool\n"
       << "SlurmctldPidFile=" << d << "/slurmctld.pid\nSlurmdPidFile=" << d << "/slurmd.pid\n"
       << "SlurmctldLogFile=" << d << "/log/slurmctld.log\nSlurmdLogFile=" << d
       << "/log/slurmd.log\n"
       << "ProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\n"
       << "JobAcctGatherType=jobacct_gather/none\nAccountingStorageType=accounting_storage/none\n"
       << "JobCompType=jobcomp/none\nMpiDefault=none\nSwitchType=switch/none\n"
       << "SchedulerType=sched/backfill\nSchedulerParameters=sched_interval=1,bf_interval=1\n"
       << "SelectType=select/cons_tres\nSelectTypeParameters=CR_CPU\n"
       << "KillWait=" << options.kill_wait_s << "\nReturnToService=2\nMailProg=/bin/true\n"
       << "NodeName=localhost CPUs=" << options.cpus << " State=UNKNOWN\n"
       << "PartitionName=test Nodes=localhost Default=YES MaxTime=INFINITE State=UP\n";
  std::ofstream(dir() / "cgroup.conf") << "CgroupPlugin=cgroup/v1\nCgroupAutomount=no\n";
}

void SlurmCluster::start_slurm() {
  const std::string conf = (dir() / "slurm.conf").string();
  slurmctld_ = ChildProcess::spawn({"slurmctld", "-D", "-i", "-f", conf},
                                   dir() / "log" / "slurmctld.out", env());
  if (!wait_for_tcp(ctld_port_, std::chrono::seconds(20))) {
    throw std::runtime_error("slurmctld did not start:\n" + logs());
  }
  slurmd_ = ChildProcess::spawn({"slurmd", "-D", "-N", "localhost", "-f", conf},
                                dir() / "log" / "slurmd.out", env());
  bool ready = poll_until(
      [&] {
        auto [code, out] = run({"sinfo", "--noheader", "--nodes=localhost", "--format=%T"});
        return code == 0 && out.rfind("idle", 0) == 0;
      },
      std::chrono::seconds(30));
  if (!ready) throw std::runtime_error("the Slurm node did not become idle:\n" + logs());
}

SlurmCluster::~SlurmCluster() {
  if (slurmctld_ && slurmctld_->running()) {
    run({"scancel", "--me"});
    // Jobs end within KillWait; until then their processes (slurmstepd and what it runs)
    // would outlive slurmd, which does not take them down with it.
    bool ended = poll_until([&] { return queue().empty(); }, std::chrono::seconds(40));
    if (!ended) std::fprintf(stderr, "slurm cluster: jobs still listed at shutdown\n");
  }
  for (auto* daemon : {&slurmd_, &slurmctld_, &munged_}) {
    if (*daemon) {
      (*daemon)->signal(SIGTERM);
      if (!(*daemon)->wait(std::chrono::seconds(10))) (*daemon)->signal(SIGKILL);
    }
  }
}

std::pair<int, std::string> SlurmCluster::run(const std::vector<std::string>& argv,
                                              const std::map<std::string, std::string>& env,
                                              std::chrono::milliseconds timeout) const {
  auto all = this->env();
  for (const auto& [k, v] : env) all[k] = v;
  return run_command(argv, timeout, all);
}

std::string SlurmCluster::job_field(const std::string& id, const std::string& field) const {
  auto [code, out] = run({"scontrol", "show", "job", id});
  if (code != 0) return "";
  std::istringstream words(out);
  std::string word;
  while (words >> word) {
    if (word.rfind(field + "=", 0) == 0) return word.substr(field.size() + 1);
  }
  return "";
}

std::vector<std::string> SlurmCluster::queue() const {
  auto [code, out] = run({"squeue", "--noheader", "--array", "--format=%i %T"});
  std::vector<std::string> lines;
  if (code != 0) return {"<squeue failed: " + out + ">"};
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

std::string SlurmCluster::logs(size_t tail) const {
  std::string out;
  for (const char* name :
       {"munged.log", "munged.out", "slurmctld.log", "slurmctld.out", "slurmd.log", "slurmd.out"}) {
    out += std::string("---- ") + name + " ----\n" + tail_of(dir() / "log" / name, tail);
  }
  return out;
}

}  // namespace synthfarm::testing
