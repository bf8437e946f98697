// Runs another program and collects what it prints: argument vectors only, never a shell
// string, so no argument is ever re-parsed or globbed. Internal to cli/ (the `scale`
// commands run Slurm's sbatch, squeue and scancel through it).
#pragma once

#include <chrono>
#include <string>
#include <tl/expected.hpp>
#include <vector>

namespace synthfarm::cli {

struct ProcessResult {
  int exit_code = 0;  // the program's exit status, or 128 + the signal that ended it
  std::string out, err;
};

struct ProcessOptions {
  std::chrono::milliseconds timeout{60000};  // then SIGKILL, and an error
  // Variables of this process's environment the child does not get (e.g. secrets it has
  // no use for).
  std::vector<std::string> drop_env = {};
};

// Runs argv[0] (looked up on PATH) with argv. An error when it cannot be started (with the
// reason: "No such file or directory") or does not end within the timeout; a program that
// runs and fails is a result with its exit code and output, for the caller to judge.
tl::expected<ProcessResult, std::string> run_process(const std::vector<std::string>& argv,
                                                     const ProcessOptions& options = {});

// argv as a person would type it, quoting what needs quoting: for messages and --dry-run.
std::string describe_command(const std::vector<std::string>& argv);

}  // namespace synthfarm::cli
