// The workers' own metrics end to end: a real worker renders a job and fails another
// (its input file is missing), and the coordinator's /metrics then shows that worker's
// counts as Prometheus series labelled with its id, in text promtool accepts and with
// every name the Grafana dashboard queries; GET /api/workers shows the same in brief.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <regex>
#include <set>
#include <sstream>

#include "tests/farm.h"

namespace synthfarm::testing {
namespace {

using nlohmann::json;

// The value of the sample `name{worker="<worker>",...<label>...}` in a scrape, or -1.
double sample_value(const std::string& text, const std::string& name, const std::string& worker,
                    const std::string& label = "") {
  std::istringstream in(text);
  const std::string prefix = name + "{worker=\"" + worker + "\"";
  for (std::string line; std::getline(in, line);) {
    if (!line.starts_with(prefix) || line.find(label) == std::string::npos) continue;
    return std::stod(line.substr(line.rfind(' ') + 1));
  }
  return -1;
}

std::set<std::string> sample_names(const std::string& text) {
  std::set<std::string> names;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line[0] != '#') names.insert(line.substr(0, line.find_first_of("{ ")));
  }
  return names;
}

TEST(WorkerMetricsEndToEnd, TheCoordinatorReExportsWhatAWorkerCounted) {
  Farm farm({.workers = 1, .threads = 1});
  const std::string good = farm.submit(
      "name: counted\nsamples: 6\nshard_size: 3\nseed: 7\ncamera:\n  resolution: [64, "
      "48]\nrender:\n  spp: 2\n"
      "  max_bounces: 1\n");
  EXPECT_EQ(farm.wait(good, std::chrono::seconds(120))["state"], "done") << farm.logs();
  // An input file that is not there: the shard fails with kind "input" (max_attempts 1).
  const std::string bad = farm.submit(
      "name: no-clip\nsamples: 2\nshard_size: 2\nmax_attempts: 1\ncamera:\n  resolution: [64, 48]\n"
      "render: {spp: 1}\nhumans:\n  motion: bvh\n  bvh: [file://" +
      (farm.dir() / "missing.bvh").string() + "]\n");
  EXPECT_EQ(farm.wait(bad, std::chrono::seconds(60))["state"], "failed") << farm.logs();

  auto [status, workers] = farm.get("/api/workers");
  ASSERT_EQ(status, 200);
  ASSERT_EQ(workers["workers"].size(), 1u) << workers;
  const std::string id = workers["workers"][0]["id"];

  // Heartbeats come every second and carry the counts so far.
  std::string text;
  ASSERT_TRUE(eventually(
      [&] {
        text = farm.get_raw("/metrics").second;
        return sample_value(text, "synthfarm_worker_failures_total", id, "kind=\"input\"") == 1;
      },
      std::chrono::seconds(15)))
      << text << farm.logs();
  EXPECT_EQ(sample_value(text, "synthfarm_worker_samples_rendered_total", id), 6) << text;
  EXPECT_EQ(sample_value(text, "synthfarm_worker_render_seconds_count", id), 6) << text;
  EXPECT_EQ(sample_value(text, "synthfarm_worker_render_seconds_bucket", id, "le=\"+Inf\""), 6)
      << text;
  EXPECT_GT(sample_value(text, "synthfarm_worker_render_seconds_sum", id), 0) << text;
  EXPECT_EQ(sample_value(text, "synthfarm_worker_upload_seconds_count", id), 6) << text;
  // One wait per shard claimed: two of the first job, one of the second.
  EXPECT_EQ(sample_value(text, "synthfarm_worker_queue_wait_seconds_count", id), 3) << text;
  for (const char* kind : {"render", "upload", "lease_lost", "cancelled"}) {
    EXPECT_EQ(sample_value(text, "synthfarm_worker_failures_total", id,
                           std::string("kind=\"") + kind + "\""),
              0)
        << kind << "\n"
        << text;
  }
  std::printf("/metrics with one worker: %zu bytes, of which the worker's series %zu bytes\n",
              text.size(), text.size() - text.find("# HELP synthfarm_worker_render_seconds"));

  TempDir dir;
  std::ofstream(dir.path() / "metrics.txt") << text;
  auto [code, output] = run_command(
      {"sh", "-c", "promtool check metrics < " + (dir.path() / "metrics.txt").string()});
  EXPECT_EQ(code, 0) << "promtool check metrics (Debian package prometheus, ops/setup.sh):\n"
                     << output << "\n"
                     << text;

  // Every name the Grafana dashboard queries is in this scrape.
  std::ifstream file(source_path("ops/grafana/synthfarm.json"));
  const json dashboard = json::parse(std::string(std::istreambuf_iterator<char>(file), {}));
  const std::set<std::string> names = sample_names(text);
  const std::regex metric_name("synthfarm_[a-z0-9_]+");
  for (const json& panel : dashboard["panels"]) {
    for (const json& target : panel["targets"]) {
      const std::string expr = target["expr"];
      for (auto it = std::sregex_iterator(expr.begin(), expr.end(), metric_name);
           it != std::sregex_iterator(); ++it) {
        EXPECT_TRUE(names.contains(it->str()))
            << it->str() << " (panel " << panel["title"] << ") not in:\n"
            << text;
      }
    }
  }

  // The API's compact form, as the dashboard's worker page reads it.
  auto [again, now] = farm.get("/api/workers");
  const json& metrics = now["workers"][0]["metrics"];
  EXPECT_EQ(metrics["samples_rendered"], 6) << metrics;
  EXPECT_EQ(metrics["failures"], json({{"input", 1}})) << metrics;
  EXPECT_GT(metrics["render_s_mean"].get<double>(), 0) << metrics;
  EXPECT_GE(metrics["upload_s_mean"].get<double>(), 0) << metrics;
  EXPECT_GE(metrics["queue_wait_s_mean"].get<double>(), 0) << metrics;
}

}  // namespace
}  // namespace synthfarm::testing
