// fence_cost: what the worker's lease fence costs a render farm, in samples/s.
//
// Runs the worker's hot path without Redis: SampleRenderer renders each sample of a spec,
// UploadPipeline stores its objects in a file:// store, and the shard manifest is written
// create-only at the end of each shard. Two variants alternate, round by round, in one
// process on the same machine: "fenced" does what the worker does (a LeaseFence whose
// guard every put asks right before its rename, and the render loop's checks before and
// after each sample), "unfenced" the same without the guard or the checks. Prints
// samples/s of each, their ratio, and the cost of one check() in nanoseconds.
//
//   build/bin/fence_cost [--spec bench/throughput.yaml] [--rounds 3] [--threads 2]
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "base/boot_clock.h"
#include "jobs/manifest.h"
#include "jobs/sample.h"
#include "jobs/sharding.h"
#include "jobs/spec.h"
#include "storage/object_store.h"
#include "worker/lease_fence.h"
#include "worker/upload_pipeline.h"

namespace {

using namespace synthfarm;
using Clock = std::chrono::steady_clock;

// Renders and stores every sample of `spec` into `store`, fenced or not; returns seconds.
double run(const jobs::JobSpec& spec, const jobs::SampleRenderer& renderer, storage::ObjectStore& store, bool fenced) {
  auto boot = system_boot_clock();
  const auto t0 = Clock::now();
  const uint64_t shards = jobs::shard_count(spec.samples, spec.shard_size);
  std::atomic<bool> interrupt{false};
  for (uint64_t n = 0; n < shards; ++n) {
    // A lease that never ends during the bench: the check runs in full, and says yes.
    worker::LeaseFence fence(boot, int64_t{1} << 40, boot->boot_ms());
    storage::PutOptions put_options;
    if (fenced) put_options.guard = fence.guard();
    worker::UploadPipeline uploads(store, worker::UploadLimits{}, put_options);
    auto range = jobs::shard_range(spec.samples, spec.shard_size, n);
    for (uint64_t index = range.begin; index < range.end; ++index) {
      if (fenced && fence.check()) throw std::runtime_error("fence refused");
      auto objects = renderer.render(spec, index, &interrupt);
      if (!objects) throw std::runtime_error(objects.error());
      if (fenced && fence.check()) throw std::runtime_error("fence refused");
      worker::SampleUpload upload;
      upload.index = index;
      for (const auto& [key, data] : objects->keyed(index)) upload.objects.emplace_back(key, *data);
      if (!uploads.submit(std::move(upload), {})) throw std::runtime_error(*uploads.failure());
    }
    if (!uploads.wait_all({})) throw std::runtime_error(*uploads.failure());
    jobs::ShardManifest manifest{"bench", n, range.begin, range.size(), {}};
    for (auto& sample : uploads.take_stored()) {
      for (auto& object : sample.objects) manifest.objects.push_back(std::move(object));
    }
    storage::PutOptions commit = put_options;
    commit.create_only = true;
    (void)store.remove(jobs::shard_manifest_key(n));  // every round commits afresh
    auto put = store.put(jobs::shard_manifest_key(n), jobs::shard_manifest_to_json(manifest), commit);
    if (!put) throw std::runtime_error(put.error().message);
  }
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("fence_cost: samples/s with and without the worker's lease fence, in one run");
  std::string spec_path = "bench/throughput.yaml";
  int rounds = 3, threads = 2;
  app.add_option("--spec", spec_path, "the spec to render")->capture_default_str();
  app.add_option("--rounds", rounds, "rounds of each variant, alternating")->check(CLI::Range(1, 100));
  app.add_option("--threads", threads, "render threads inside a sample")->check(CLI::Range(1, 256));
  CLI11_PARSE(app, argc, argv);

  std::ifstream in(spec_path);
  if (!in) {
    fmt::print(stderr, "fence_cost: cannot read {}\n", spec_path);
    return 2;
  }
  std::stringstream text;
  text << in.rdbuf();
  auto spec = jobs::parse_spec(text.str(), spec_path);
  if (!spec) {
    fmt::print(stderr, "{}\n", spec.error().front().to_string());
    return 2;
  }
  auto renderer = jobs::SampleRenderer::create(threads);
  if (!renderer) {
    fmt::print(stderr, "renderer: {}\n", renderer.error());
    return 2;
  }
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("fence_cost-{}", ::getpid());
  auto store = storage::open_store("file://" + dir.string());
  if (!store) {
    fmt::print(stderr, "{}\n", store.error().message);
    return 2;
  }

  // One check() alone, a million times.
  auto boot = system_boot_clock();
  worker::LeaseFence fence(boot, int64_t{1} << 40, boot->boot_ms());
  const auto c0 = Clock::now();
  int refused = 0;
  for (int i = 0; i < 1000000; ++i) refused += fence.check().has_value();
  const double check_ns = std::chrono::duration<double, std::nano>(Clock::now() - c0).count() / 1e6;

  double fenced_s = 0, unfenced_s = 0;
  (void)run(*spec, **renderer, **store, true);  // warm-up: caches, page cache, directories
  for (int r = 0; r < rounds; ++r) {
    unfenced_s += run(*spec, **renderer, **store, false);
    fenced_s += run(*spec, **renderer, **store, true);
  }
  std::filesystem::remove_all(dir);
  const double samples = static_cast<double>(spec->samples) * rounds;
  const double unfenced_rate = samples / unfenced_s, fenced_rate = samples / fenced_s;
  fmt::print("bench fence_cost spec={} samples={} rounds={} threads={}\n", spec_path, spec->samples, rounds, threads);
  fmt::print("  unfenced : {:.3f} samples/s\n", unfenced_rate);
  fmt::print("  fenced   : {:.3f} samples/s\n", fenced_rate);
  fmt::print("  fenced/unfenced = {:.4f} (cost {:+.2f}%)\n", fenced_rate / unfenced_rate,
             100.0 * (1.0 - fenced_rate / unfenced_rate));
  fmt::print("  one LeaseFence::check(): {:.1f} ns{}\n", check_ns, refused ? " (refused!)" : "");
  return 0;
}
