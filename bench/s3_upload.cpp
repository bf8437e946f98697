// Uploads every file of a directory to a storage URI with synthfarm's ObjectStore, on N
// threads, and prints the throughput; run by bench/s3_upload.sh beside `aws s3 cp`.
// The files are read into memory first: only the uploads are timed.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "storage/object_store.h"

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  CLI::App app{"upload a directory's files with synthfarm's storage client"};
  std::string uri, dir;
  int threads = 10;
  app.add_option("--uri", uri, "destination, e.g. s3://bucket/prefix")->required();
  app.add_option("--dir", dir, "directory of files to upload")->required();
  app.add_option("--threads", threads, "concurrent uploads")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  std::vector<std::pair<std::string, std::string>> files;
  uint64_t total = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    files.emplace_back(entry.path().filename().string(), ss.str());
    total += files.back().second.size();
  }
  std::sort(files.begin(), files.end());
  auto store = synthfarm::storage::open_store(uri);
  if (!store) {
    fmt::print(stderr, "error: {}\n", store.error().message);
    return 1;
  }
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (size_t i = next++; i < files.size() && !failed; i = next++) {
        auto put = (*store)->put(files[i].first, files[i].second);
        if (!put) {
          fmt::print(stderr, "error: {}\n", put.error().message);
          failed = true;
        }
      }
    });
  }
  for (auto& thread : pool) thread.join();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (failed) return 1;
  fmt::print("{} objects, {:.1f} MiB in {:.3f} s: {:.1f} MiB/s\n", files.size(), total / 1048576.0,
             seconds, total / 1048576.0 / seconds);
  return 0;
}
