// What the synthfarm command's groups of commands share: exit codes, reading spec files
// (errors name file, line, column and field) and the progress bar. The HTTP helpers that
// talk to a coordinator are coordinator_client.h's. Internal to cli/.
#pragma once

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "jobs/spec.h"

namespace synthfarm::cli {

// Exit codes: 0 success, 1 failure (job failed, server unreachable), 2 bad input,
// 3 `wait`: the job ended partial (on_dead_shards: partial).
constexpr int kExitFailure = 1;
constexpr int kExitBadInput = 2;
constexpr int kExitPartial = 3;

// Input files a spec points at (humans.bvh, characters, environments), read through storage.
tl::expected<std::string, std::string> read_asset(const std::string& uri);
// A local file's bytes; `ok` false when it cannot be read.
std::string read_file(const std::string& path, bool& ok);
// "1h 02m", "3m 07s", "12s"; "--" for unknown.
std::string format_duration(double seconds);
void print_spec_errors(const std::vector<jobs::SpecError>& errors);
// Reads and validates a spec file; on failure prints every problem (file:line:column:
// field: message) and returns nullopt. `text` receives the file's bytes.
std::optional<jobs::JobSpec> load_spec(const std::string& path, std::string& text);

// One line, redrawn in place on a terminal; on a pipe, printed at most every few seconds.
class ProgressBar {
 public:
  explicit ProgressBar(std::string label)
      : label_(std::move(label)), tty_(isatty(fileno(stderr))) {}
  void update(int64_t done, int64_t total, double rate, double eta_s, const std::string& state,
              bool force = false) {
    auto now = std::chrono::steady_clock::now();
    if (!tty_ && !force && now - last_ < std::chrono::seconds(5)) return;
    last_ = now;
    constexpr int kWidth = 30;
    int filled = total > 0 ? static_cast<int>(kWidth * done / total) : 0;
    std::string bar(filled, '#');
    bar.resize(kWidth, '-');
    int pct = total > 0 ? static_cast<int>(100 * done / total) : 0;
    std::string line =
        fmt::format("{} [{}] {:3d}% {}/{} samples  {:.2f} samples/s  ETA {}  {}", label_, bar, pct,
                    done, total, rate, format_duration(eta_s), state);
    if (tty_) {
      fmt::print(stderr, "\r{}\x1b[K", line);
    } else {
      fmt::print(stderr, "{}\n", line);
    }
    std::fflush(stderr);
  }
  void finish() {
    if (tty_) fmt::print(stderr, "\n");
  }

 private:
  std::string label_;
  bool tty_;
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace synthfarm::cli
