// autoscale_sim: replays a day of job submissions against the worker autoscaling rules and
// compares each with a fixed-size farm of the same cost.
//
//   1. Measures what one sample costs: renders a handful of samples of a real spec
//      (examples/quickstart.yaml by default) in this process with jobs::SampleRenderer on
//      every core, the way one synthfarm-worker does (a worker pod has 2 cores, as this
//      machine; ops/k8s/base/worker.yaml); or takes --seconds-per-sample.
//   2. Builds a seeded day of jobs (bench/autoscale/trace.h for the model) and prints its totals.
//   3. Simulates the farm (bench/autoscale/farm.h) under the KEDA ScaledObject and under the
//      plain HPA read from the manifests, and under a fixed farm of N = ceil(worker-hours / 24)
//      workers all day for each; prints worker-hours, queue wait per shard (submission to
//      the claim) and time to drain per job (submission to last shard done) as a table and
//      ratios.
//   4. Sweeps the ScaledObject's threshold, cooldownPeriod and maxReplicaCount (the rest as
//      in the file) so the defaults can be chosen from figures.
//
// The output is deterministic for a given seed and cost (--seconds-per-sample); a measured
// cost varies a little from run to run and machine to machine. Run from the repository root
// (bench/autoscale_sim.sh does): the default paths are relative to it.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/autoscale/autoscaler.h"
#include "bench/autoscale/farm.h"
#include "bench/autoscale/manifests.h"
#include "bench/autoscale/trace.h"
#include "jobs/sample.h"
#include "jobs/spec.h"

namespace {

using namespace synthfarm;
using namespace synthfarm::autoscale;

constexpr const char* kProdScaledObject = "ops/k8s/overlays/prod/worker-scaledobject.yaml";
constexpr const char* kProdHpa = "ops/k8s/overlays/prod-hpa/worker-hpa.yaml";
constexpr const char* kTestScaledObject = "bench/autoscale/testdata/worker-scaledobject.yaml";
constexpr const char* kTestHpa = "bench/autoscale/testdata/worker-hpa.yaml";

// The production manifest when it exists, else the stand-in kept beside this benchmark.
std::string default_manifest(const char* prod, const char* stand_in) {
  return std::filesystem::exists(prod) ? prod : stand_in;
}

// Seconds per sample of `spec_path` on one worker (all cores): the mean over samples 1..`samples`
// of each sample's best time over `rounds` rounds (the machine is shared: the best round is
// the least disturbed one), after one untimed warm-up render of sample 0 (the first render also
// builds the process's shared body topology, which a long-running worker pays once). The
// samples differ (scene kind, people, props), which is why several are timed.
tl::expected<double, std::string> measure_seconds_per_sample(const std::string& spec_path, int samples, int rounds) {
  std::ifstream in(spec_path, std::ios::binary);
  if (!in) return tl::unexpected(fmt::format("{}: cannot read the file", spec_path));
  std::ostringstream text;
  text << in.rdbuf();
  auto spec = jobs::parse_spec(text.str(), spec_path);
  if (!spec) {
    std::string message;
    for (const jobs::SpecError& e : spec.error()) message += e.to_string() + "\n";
    return tl::unexpected(message);
  }
  auto renderer = jobs::SampleRenderer::create(0);
  if (!renderer) return tl::unexpected("renderer: " + renderer.error());
  fmt::print("cost: {} ({}x{}, {} spp, {} bounces), {} render threads (every core: one worker)\n", spec_path,
             spec->camera.width, spec->camera.height, spec->render.spp, spec->render.max_bounces,
             std::thread::hardware_concurrency());
  auto render_s = [&](uint64_t index) -> tl::expected<double, std::string> {
    const auto t0 = std::chrono::steady_clock::now();
    auto objects = (*renderer)->render(*spec, index % uint64_t(spec->samples));
    if (!objects) return tl::unexpected(fmt::format("sample {}: {}", index, objects.error()));
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  auto warm_up = render_s(0);
  if (!warm_up) return tl::unexpected(warm_up.error());
  fmt::print("  sample 0: {:.3f} s (warm-up, not counted)\n", *warm_up);
  std::vector<double> best(size_t(samples), 1e300);
  for (int round = 0; round < rounds; ++round) {
    for (int i = 1; i <= samples; ++i) {
      auto s = render_s(uint64_t(i));
      if (!s) return tl::unexpected(s.error());
      best[size_t(i - 1)] = std::min(best[size_t(i - 1)], *s);
    }
  }
  double total_s = 0;
  std::string line;
  for (int i = 1; i <= samples; ++i) {
    total_s += best[size_t(i - 1)];
    line += fmt::format(" {}:{:.3f}", i, best[size_t(i - 1)]);
  }
  fmt::print("  best of {} rounds per sample (s):{}\n", rounds, line);
  return total_s / samples;
}

std::string duration(double s) {
  if (s < 120) return fmt::format("{:.0f} s", s);
  if (s < 7200) return fmt::format("{:.1f} min", s / 60);
  return fmt::format("{:.2f} h", s / 3600);
}

std::string clock_time(int64_t ms) {
  const int64_t minutes = ms / 60000;
  return fmt::format("{}{:02}:{:02}", minutes >= 24 * 60 ? "+1d " : "", minutes / 60 % 24, minutes % 60);
}

void print_trace(const Trace& trace, const TraceOptions& o, double seconds_per_sample) {
  std::vector<double> sizes;
  std::vector<int64_t> by_hour(24, 0);
  for (const TraceJob& j : trace.jobs) {
    sizes.push_back(double(j.samples));
    by_hour[size_t(j.submit_ms / 3600000) % 24] += j.samples;
  }
  fmt::print("\nday: seed {}, {} users + {} overnight jobs, shard_size {}\n", o.seed, o.users, o.overnight_jobs,
             trace.shard_size);
  fmt::print("  {} jobs, {} samples, {} shards; {:.2f} worker-hours of rendering at {:.3f} s/sample\n",
             trace.jobs.size(), trace.samples(), trace.shards(),
             double(trace.samples()) * seconds_per_sample / 3600, seconds_per_sample);
  fmt::print("  job size: median {:.0f}, p95 {:.0f}, max {:.0f} samples; first submission {}, last {}\n",
             percentile(sizes, 0.5), percentile(sizes, 0.95), percentile(sizes, 1.0),
             clock_time(trace.jobs.front().submit_ms), clock_time(trace.jobs.back().submit_ms));
  std::string hours;
  for (int h = 0; h < 24; ++h) {
    if (by_hour[h] > 0) hours += fmt::format(" {:02}h:{}", h, by_hour[h]);
  }
  fmt::print("  samples submitted by hour:{}\n", hours);
}

struct Row {
  std::string name;
  FarmResult r;
};

void print_table(const std::vector<Row>& rows) {
  fmt::print("\n| farm | worker-hours | busy | peak pods | pods started | wasted | wait p50 | wait p95 "
             "| drain p50 | drain p95 | drain max |\n|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (const Row& row : rows) {
    const FarmResult& r = row.r;
    fmt::print("| {} | {:.2f} | {:.0f}% | {} | {} | {:.2f} h ({} shards) | {} | {} | {} | {} | {}{} |\n", row.name,
               r.worker_hours, 100 * r.render_hours / r.worker_hours, r.peak_replicas, r.pods_created,
               r.wasted_hours, r.shards_given_back, duration(percentile(r.queue_wait_s, 0.5)),
               duration(percentile(r.queue_wait_s, 0.95)), duration(percentile(r.drain_s, 0.5)),
               duration(percentile(r.drain_s, 0.95)), duration(percentile(r.drain_s, 1.0)),
               r.drained ? "" : " (not drained)");
  }
}

double ratio(double a, double b) { return b > 0 ? a / b : 0; }

// Runs `autoscaler` and a fixed farm of the same cost; appends both rows, returns the fixed N.
int run_pair(const std::string& name, Autoscaler& autoscaler, const Trace& trace, const FarmOptions& farm,
             std::vector<Row>& rows) {
  rows.push_back({name, simulate_farm(trace, autoscaler, farm)});
  const int n = std::max(1, static_cast<int>(std::ceil(rows.back().r.worker_hours / 24.0 - 1e-9)));
  auto fixed = make_fixed(n);
  rows.push_back({fmt::format("fixed, {} workers (same cost as {})", n, name), simulate_farm(trace, *fixed, farm)});
  return n;
}

void print_ratios(const Row& scaled, const Row& fixed) {
  const FarmResult& a = scaled.r;
  const FarmResult& f = fixed.r;
  fmt::print("  {} / {}: worker-hours {:.2f}x, wait p95 {:.3f}x, drain p95 {:.3f}x, drain max {:.3f}x\n", scaled.name,
             fixed.name, ratio(a.worker_hours, f.worker_hours),
             ratio(percentile(a.queue_wait_s, 0.95), percentile(f.queue_wait_s, 0.95)),
             ratio(percentile(a.drain_s, 0.95), percentile(f.drain_s, 0.95)),
             ratio(percentile(a.drain_s, 1.0), percentile(f.drain_s, 1.0)));
}

std::vector<double> parse_list(const std::string& text) {
  std::vector<double> values;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) values.push_back(std::stod(item));
  return values;
}

// One row per setting: the ScaledObject with one or more fields changed.
void sweep(const ScaledObjectSpec& base, const Trace& trace, const FarmOptions& farm,
           const std::vector<double>& thresholds, const std::vector<double>& cooldowns,
           const std::vector<double>& maxima) {
  fmt::print("\nsweep: the ScaledObject above with threshold (shards per worker), cooldownPeriod and "
             "maxReplicaCount changed; 'fixed' is ceil(worker-hours / 24) workers all day\n");
  fmt::print("\n| threshold | cooldown | max | worker-hours | busy | wasted h | wait p50 | wait p95 | drain p50 "
             "| drain p95 | drain max | fixed N | fixed wait p95 | fixed drain p95 |\n"
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (double threshold : thresholds) {
    for (double cooldown : cooldowns) {
      for (double max_replicas : maxima) {
        ScaledObjectSpec so = base;
        so.threshold = threshold;
        so.cooldown_period_s = static_cast<int>(cooldown);
        so.max_replica_count = std::max(static_cast<int>(max_replicas), so.min_replica_count);
        KedaAutoscaler keda(so);
        std::vector<Row> rows;
        const int n = run_pair("KEDA", keda, trace, farm, rows);
        const FarmResult& r = rows[0].r;
        const FarmResult& f = rows[1].r;
        fmt::print("| {:g} | {} s | {} | {:.2f} | {:.0f}% | {:.2f} | {} | {} | {} | {} | {}{} | {} | {} | {} |\n",
                   threshold, so.cooldown_period_s, so.max_replica_count, r.worker_hours,
                   100 * r.render_hours / r.worker_hours, r.wasted_hours, duration(percentile(r.queue_wait_s, 0.5)),
                   duration(percentile(r.queue_wait_s, 0.95)), duration(percentile(r.drain_s, 0.5)),
                   duration(percentile(r.drain_s, 0.95)),
                   duration(percentile(r.drain_s, 1.0)), r.drained ? "" : " (not drained)", n,
                   duration(percentile(f.queue_wait_s, 0.95)), duration(percentile(f.drain_s, 0.95)));
      }
    }
  }
}

struct Options {
  std::string scaledobject;
  std::string hpa;
  std::string spec = "examples/quickstart.yaml";
  int measure_samples = 8;
  int measure_rounds = 2;
  double seconds_per_sample = 0;
  double startup_s = 20;
  double scrape_s = 15;
  TraceOptions trace;
  bool no_sweep = false;
  std::string sweep_thresholds = "1,2,4,8";
  std::string sweep_cooldowns = "60,300";
  std::string sweep_max = "20,50,100";
  std::string sweep_cooldowns_alone = "15,30,60,120,300,900";
};

void add_flags(CLI::App& app, Options& o) {
  app.add_option("--scaledobject", o.scaledobject,
                 fmt::format("KEDA ScaledObject (default {} when it exists, else {})", kProdScaledObject,
                             kTestScaledObject));
  app.add_option("--hpa", o.hpa, fmt::format("HorizontalPodAutoscaler (default {} when it exists, else {})",
                                             kProdHpa, kTestHpa));
  app.add_option("--spec", o.spec, "spec whose samples are timed for the cost")->capture_default_str();
  app.add_option("--measure-samples", o.measure_samples, "samples timed (after one warm-up)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  app.add_option("--measure-rounds", o.measure_rounds, "rounds over the timed samples; each sample's best counts")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  app.add_option("--seconds-per-sample", o.seconds_per_sample, "skip measuring: one sample's cost on one worker")
      ->check(CLI::PositiveNumber);
  app.add_option("--startup-s", o.startup_s, "pod creation to ready, seconds")->capture_default_str();
  app.add_option("--scrape-s", o.scrape_s, "Prometheus scrape interval, seconds")->capture_default_str();
  app.add_option("--seed", o.trace.seed, "the day's seed")->capture_default_str();
  app.add_option("--users", o.trace.users, "people submitting jobs")->capture_default_str()->check(CLI::Range(0, 1000));
  app.add_option("--overnight-jobs", o.trace.overnight_jobs, "large jobs submitted 19:00-23:00")
      ->capture_default_str()
      ->check(CLI::Range(0, 1000));
  app.add_option("--shard-size", o.trace.shard_size, "samples per shard")->capture_default_str()->check(CLI::Range(1, 100000));
  app.add_flag("--no-sweep", o.no_sweep, "only the main table");
  app.add_option("--sweep-thresholds", o.sweep_thresholds, "threshold values swept")->capture_default_str();
  app.add_option("--sweep-max", o.sweep_max, "maxReplicaCount values swept")->capture_default_str();
  app.add_option("--sweep-cooldowns", o.sweep_cooldowns, "cooldownPeriod values of the threshold x max grid")
      ->capture_default_str();
  app.add_option("--sweep-cooldowns-alone", o.sweep_cooldowns_alone,
                 "cooldownPeriod values swept with the file's threshold and max")
      ->capture_default_str();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"replays a day of jobs against the worker autoscaling rules (KEDA, HPA) and a fixed farm"};
  Options o;
  add_flags(app, o);
  CLI11_PARSE(app, argc, argv);
  if (o.scaledobject.empty()) o.scaledobject = default_manifest(kProdScaledObject, kTestScaledObject);
  if (o.hpa.empty()) o.hpa = default_manifest(kProdHpa, kTestHpa);
  auto scaled_object = read_scaled_object(o.scaledobject);
  auto hpa = read_hpa(o.hpa);
  if (!scaled_object || !hpa) {
    fmt::print(stderr, "error: {}\n", scaled_object ? hpa.error() : scaled_object.error());
    return 2;
  }
  fmt::print("bench autoscale_sim\n");
  double seconds_per_sample = o.seconds_per_sample;
  if (seconds_per_sample <= 0) {
    auto measured = measure_seconds_per_sample(o.spec, o.measure_samples, o.measure_rounds);
    if (!measured) {
      fmt::print(stderr, "error: {}\n", measured.error());
      return 1;
    }
    seconds_per_sample = *measured;
    fmt::print("  measured: {:.3f} s/sample (mean of {} samples); a shard of {} takes {:.1f} s\n", seconds_per_sample,
               o.measure_samples, o.trace.shard_size, seconds_per_sample * double(o.trace.shard_size));
  } else {
    fmt::print("cost: {:.3f} s/sample (given, not measured)\n", seconds_per_sample);
  }
  FarmOptions farm;
  farm.sample_ms = std::max<int64_t>(1, std::llround(seconds_per_sample * 1000));
  farm.startup_ms = std::llround(o.startup_s * 1000);
  farm.scrape_ms = std::max<int64_t>(1000, std::llround(o.scrape_s * 1000));
  const Trace trace = make_day(o.trace);
  print_trace(trace, o.trace, seconds_per_sample);

  KedaAutoscaler keda(*scaled_object);
  auto hpa_autoscaler = make_hpa(*hpa);
  fmt::print("\npolicies (metric: pending + leased shards, scraped every {:.0f} s; pods ready {:.0f} s after "
             "creation):\n  {}: {}\n  {}: {}\n",
             o.scrape_s, o.startup_s, o.scaledobject, keda.describe(), o.hpa, hpa_autoscaler->describe());
  std::vector<Row> rows;
  const int keda_n = run_pair("KEDA", keda, trace, farm, rows);
  const int hpa_n = run_pair("HPA", *hpa_autoscaler, trace, farm, rows);
  print_table(rows);
  fmt::print("\nratios (autoscaled / fixed of the same cost; < 1 is better for the autoscaler):\n");
  print_ratios(rows[0], rows[1]);
  print_ratios(rows[2], rows[3]);
  FarmOptions idle_first = farm;
  idle_first.idle_first = true;
  KedaAutoscaler keda_idle_first(*scaled_object);
  const FarmResult what_if = simulate_farm(trace, keda_idle_first, idle_first);
  fmt::print("  what-if, KEDA deleting idle pods first (pod-deletion-cost): wasted {:.2f} h ({} shards) "
             "instead of {:.2f} h, worker-hours {:.2f}, drain p95 {}\n",
             what_if.wasted_hours, what_if.shards_given_back, rows[0].r.wasted_hours, what_if.worker_hours,
             duration(percentile(what_if.drain_s, 0.95)));
  if (!o.no_sweep) {
    sweep(*scaled_object, trace, farm, parse_list(o.sweep_thresholds), parse_list(o.sweep_cooldowns),
          parse_list(o.sweep_max));
    sweep(*scaled_object, trace, farm, {scaled_object->threshold}, parse_list(o.sweep_cooldowns_alone),
          {double(scaled_object->max_replica_count)});
  }
  const FarmResult& k = rows[0].r;
  fmt::print("\nRESULT seconds_per_sample={:.4f} keda_worker_hours={:.3f} keda_wait_p95_s={:.1f} fixed_n={} "
             "fixed_wait_p95_s={:.1f} hpa_worker_hours={:.3f} hpa_wait_p95_s={:.1f} hpa_fixed_n={}\n",
             seconds_per_sample, k.worker_hours, percentile(k.queue_wait_s, 0.95), keda_n,
             percentile(rows[1].r.queue_wait_s, 0.95), rows[2].r.worker_hours, percentile(rows[2].r.queue_wait_s, 0.95),
             hpa_n);
  return 0;
}
