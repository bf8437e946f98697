// The workers' metrics as the coordinator re-exports them: the Prometheus text format to
// the letter (checked by hand and by Debian's promtool), the API's compact form, and the
// Grafana dashboard's queries against the names a real scrape holds.
#include "coordinator/metrics_text.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "coordinator/api_json.h"
#include "queue/redis.h"
#include "tests/fixtures.h"

namespace synthfarm::coordinator {
namespace {

using nlohmann::json;
using protocol::FailureKind;

constexpr int64_t kNowMs = 1'765'000'000'000;

protocol::Histogram histogram(std::vector<double> bounds, std::vector<uint64_t> counts,
                              double sum) {
  protocol::Histogram h;
  h.upper_bounds = std::move(bounds);
  h.counts = std::move(counts);
  h.sum = sum;
  return h;
}

WorkerView worker(const std::string& id, const std::string& host, int64_t last_seen_ms) {
  WorkerView w;
  w.heartbeat.worker_id = id;
  w.heartbeat.host = host;
  w.last_seen_ms = last_seen_ms;
  protocol::WorkerMetrics m;
  m.render_seconds = histogram({0.5, 1, 2.5}, {1, 3, 0, 2}, 1234.5);
  m.upload_seconds = histogram({0.01}, {4, 1}, 0.125);
  m.queue_wait_seconds = histogram({1, 10}, {2, 0, 1}, 700);
  m.samples_rendered = 6;
  m.failures[static_cast<size_t>(FailureKind::kInput)] = 2;
  m.failures[static_cast<size_t>(FailureKind::kLeaseLost)] = 1;
  w.heartbeat.metrics = m;
  return w;
}

std::string fmt_count(double n) { return std::to_string(static_cast<uint64_t>(n)); }

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The names of the samples in an exposition (what PromQL can select), e.g.
// synthfarm_worker_render_seconds_bucket.
std::set<std::string> sample_names(const std::string& text) {
  std::set<std::string> names;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    names.insert(line.substr(0, line.find_first_of("{ ")));
  }
  return names;
}

// What promtool does not check (it parses and lints): no series twice, and every
// histogram's buckets in increasing le, cumulative, ending in +Inf equal to its _count.
void expect_sound_exposition(const std::string& text) {
  std::set<std::string> series;
  std::map<std::string, std::pair<double, double>>
      buckets;                        // name{labels without le} -> (last le, last count)
  std::map<std::string, double> inf;  // the same key -> the +Inf bucket
  std::istringstream in(text);
  const std::regex le_label(",?le=\"([^\"]*)\"");
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    const std::string key = line.substr(0, line.rfind(' '));
    const double value = std::stod(line.substr(line.rfind(' ') + 1));
    EXPECT_TRUE(series.insert(key).second) << "a series twice: " << key;
    std::smatch le;
    if (key.find("_bucket{") == std::string::npos || !std::regex_search(key, le, le_label))
      continue;
    const std::string group =
        std::regex_replace(key, le_label, "", std::regex_constants::format_first_only);
    const double bound = le[1] == "+Inf" ? INFINITY : std::stod(le[1]);
    auto [it, first] = buckets.try_emplace(group, bound, value);
    if (!first) {
      EXPECT_GT(bound, it->second.first) << "le not increasing: " << key;
      EXPECT_GE(value, it->second.second) << "buckets not cumulative: " << key;
      it->second = {bound, value};
    }
    if (le[1] == "+Inf") inf[group] = value;
  }
  EXPECT_FALSE(buckets.empty()) << text;
  for (const auto& [group, last] : buckets) {
    EXPECT_TRUE(std::isinf(last.first)) << "no +Inf bucket last: " << group;
    std::string count = group;
    count.replace(count.find("_bucket{"), 8, "_count{");
    EXPECT_TRUE(series.contains(count)) << "no " << count;
    EXPECT_NE(text.find(count + " " + fmt_count(inf[group]) + "\n"), std::string::npos)
        << count << " != +Inf bucket";
  }
}

// promtool (Debian's prometheus package, ops/setup.sh) on `text`: its exit code and output.
std::pair<int, std::string> promtool_check_metrics(const std::string& text) {
  testing::TempDir dir;
  const auto path = dir.path() / "metrics.txt";
  std::ofstream(path, std::ios::binary) << text;
  return testing::run_command({"sh", "-c", "promtool check metrics < " + path.string()});
}

TEST(WorkerMetricsText, HistogramsAreCumulativeEndingInInfThenSumAndCount) {
  const std::string text =
      worker_metrics_text({worker("render-07-4242", "render-07", kNowMs)}, kNowMs);
  const std::string labels = "worker=\"render-07-4242\",host=\"render-07\"";
  EXPECT_NE(text.find("# HELP synthfarm_worker_render_seconds "), std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE synthfarm_worker_render_seconds histogram\n"
                      "synthfarm_worker_render_seconds_bucket{" +
                      labels +
                      ",le=\"0.5\"} 1\n"
                      "synthfarm_worker_render_seconds_bucket{" +
                      labels +
                      ",le=\"1\"} 4\n"
                      "synthfarm_worker_render_seconds_bucket{" +
                      labels +
                      ",le=\"2.5\"} 4\n"
                      "synthfarm_worker_render_seconds_bucket{" +
                      labels +
                      ",le=\"+Inf\"} 6\n"
                      "synthfarm_worker_render_seconds_sum{" +
                      labels +
                      "} 1234.5\n"
                      "synthfarm_worker_render_seconds_count{" +
                      labels + "} 6\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("synthfarm_worker_upload_seconds_bucket{" + labels +
                      ",le=\"0.01\"} 4\n"
                      "synthfarm_worker_upload_seconds_bucket{" +
                      labels +
                      ",le=\"+Inf\"} 5\n"
                      "synthfarm_worker_upload_seconds_sum{" +
                      labels + "} 0.125\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("synthfarm_worker_queue_wait_seconds_count{" + labels + "} 3\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("# TYPE synthfarm_worker_samples_rendered_total counter\n"
                      "synthfarm_worker_samples_rendered_total{" +
                      labels + "} 6\n"),
            std::string::npos)
      << text;
  // Every kind, zeros included: a series that appeared at 1 would lose its first increase.
  EXPECT_NE(text.find("# TYPE synthfarm_worker_failures_total counter\n"
                      "synthfarm_worker_failures_total{" +
                      labels +
                      ",kind=\"render\"} 0\n"
                      "synthfarm_worker_failures_total{" +
                      labels +
                      ",kind=\"input\"} 2\n"
                      "synthfarm_worker_failures_total{" +
                      labels +
                      ",kind=\"upload\"} 0\n"
                      "synthfarm_worker_failures_total{" +
                      labels +
                      ",kind=\"lease_lost\"} 1\n"
                      "synthfarm_worker_failures_total{" +
                      labels + ",kind=\"cancelled\"} 0\n"),
            std::string::npos)
      << text;
}

// Worker ids and host names come from the network: quotes, backslashes, newlines, control
// characters and bytes that are not UTF-8 must not break a line or the scrape.
TEST(WorkerMetricsText, LabelsAreEscaped) {
  EXPECT_EQ(prometheus_label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  EXPECT_EQ(prometheus_label_value("x\xff"
                                   "y\x01z"),
            "x\xEF\xBF\xBDy\xEF\xBF\xBDz");
  EXPECT_EQ(prometheus_label_value("caf\xC3\xA9 \xE2\x82\xAC"),
            "caf\xC3\xA9 \xE2\x82\xAC");                                      // UTF-8 stays
  EXPECT_EQ(prometheus_label_value("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong '/'
  EXPECT_EQ(prometheus_label_value("\xED\xA0\x80"),
            "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");                          // a surrogate
  EXPECT_EQ(prometheus_label_value("\xE2\x82"), "\xEF\xBF\xBD\xEF\xBF\xBD");  // cut short

  // Two ids that differ only in bytes replaced by U+FFFD: one series, not a duplicate.
  const std::string text =
      worker_metrics_text({worker("evil\"}\n# TYPE x counter\nx 1", "h\\", kNowMs),
                           worker("w\xff", "h", kNowMs), worker("w\xfe", "h", kNowMs)},
                          kNowMs);
  EXPECT_NE(text.find("worker=\"evil\\\"}\\n# TYPE x counter\\nx 1\",host=\"h\\\\\""),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("\nx 1"), std::string::npos) << text;
  size_t count = 0;
  for (size_t at = text.find("synthfarm_worker_samples_rendered_total{worker=\"w\xEF\xBF\xBD\"");
       at != std::string::npos;
       at = text.find("synthfarm_worker_samples_rendered_total{worker=\"w\xEF\xBF\xBD\"", at + 1)) {
    ++count;
  }
  EXPECT_EQ(count, 1u) << text;
  auto [code, output] = promtool_check_metrics(text);
  EXPECT_EQ(code, 0) << "promtool check metrics (Debian package prometheus, ops/setup.sh):\n"
                     << output << "\n"
                     << text;
}

TEST(WorkerMetricsText, LostWorkersSeriesGoAfterFiveMinutesAndOldWorkersHaveNone) {
  WorkerView old_worker = worker("old", "h", kNowMs);
  old_worker.heartbeat.metrics.reset();  // a worker that predates metrics
  const std::vector<WorkerView> workers = {
      worker("lost", "h", kNowMs - FarmView::kMetricsKeepMs - 1),
      worker("quiet", "h", kNowMs - FarmView::kMetricsKeepMs), old_worker};
  const std::string text = worker_metrics_text(workers, kNowMs);
  EXPECT_EQ(text.find("worker=\"lost\""), std::string::npos) << text;
  EXPECT_NE(text.find("worker=\"quiet\""), std::string::npos) << text;
  EXPECT_EQ(text.find("worker=\"old\""), std::string::npos) << text;
  // No worker to report: the families are described, with no series.
  const std::string none = worker_metrics_text({old_worker}, kNowMs);
  EXPECT_NE(none.find("# TYPE synthfarm_worker_render_seconds histogram\n"), std::string::npos) << none;
  EXPECT_EQ(none.find("\nsynthfarm_worker"), std::string::npos) << none;
}

TEST(WorkerJson, CarriesACompactMetricsObject) {
  const json j = worker_json(worker("w1", "h", kNowMs), kNowMs);
  EXPECT_EQ(j["metrics"], json::parse(R"({"render_s_mean": 205.75, "upload_s_mean": 0.025,
      "queue_wait_s_mean": 233.3333, "samples_rendered": 6, "failures": {"input": 2, "lease_lost": 1}})"))
      << j.dump();
  WorkerView fresh = worker("w2", "h", kNowMs);
  fresh.heartbeat.metrics = protocol::WorkerMetrics{};
  EXPECT_EQ(worker_json(fresh, kNowMs)["metrics"],
            json::parse(R"({"render_s_mean": null, "upload_s_mean": null, "queue_wait_s_mean": null,
                "samples_rendered": 0, "failures": {}})"));
  fresh.heartbeat.metrics.reset();
  EXPECT_TRUE(worker_json(fresh, kNowMs)["metrics"].is_null());
}

// The whole scrape, with a real Redis behind the queue's figures.
class ScrapeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = testing::RedisServer::start();
    auto endpoint = queue::RedisEndpoint::parse(server_->url());
    ASSERT_TRUE(endpoint);
    redis_ = queue::RedisClient::create(*endpoint);
    queue_ = std::make_unique<queue::Queue>(*redis_);
    queue::JobSubmission job;
    job.name = "metrics";
    job.samples = 8;
    job.shard_size = 4;
    job.shards = 2;
    job.storage = "file:///tmp/metrics";
    job.spec_json = R"({"name":"metrics"})";
    ASSERT_TRUE(queue_->submit("metrics-000001", job, kNowMs));
    for (const auto& w : {worker("render-07-4242", "render-07", kNowMs),
                          worker("render-08-17", "render-08", kNowMs)}) {
      view_.on_telemetry(w.heartbeat, kNowMs);
    }
  }
  std::string scrape() { return prometheus_text(*queue_, view_, kNowMs, {}); }

  std::unique_ptr<testing::RedisServer> server_;
  std::unique_ptr<queue::RedisClient> redis_;
  std::unique_ptr<queue::Queue> queue_;
  FarmView view_;
};

TEST_F(ScrapeTest, PromtoolAcceptsTheWholeScrape) {
  const std::string text = scrape();
  EXPECT_NE(text.find("synthfarm_shards_pending 2\n"), std::string::npos) << text;
  EXPECT_NE(
      text.find(
          "synthfarm_worker_render_seconds_count{worker=\"render-08-17\",host=\"render-08\"} 6\n"),
      std::string::npos)
      << text;
  auto [code, output] = promtool_check_metrics(text);
  EXPECT_EQ(code, 0) << "promtool check metrics (Debian package prometheus, ops/setup.sh):\n"
                     << output << "\n"
                     << text;
  expect_sound_exposition(text);
}

// ops/grafana/synthfarm.json: every synthfarm_ name a panel queries is one a scrape holds,
// and every query is PromQL that Prometheus parses (promtool check rules, with Grafana's
// $__rate_interval as 5m).
TEST_F(ScrapeTest, EveryMetricTheGrafanaDashboardQueriesIsExported) {
  const std::set<std::string> exported = sample_names(scrape());
  const json dashboard = json::parse(slurp(testing::source_path("ops/grafana/synthfarm.json")));
  const std::regex metric_name("synthfarm_[a-z0-9_]+");
  std::string rules = "groups:\n- name: dashboard\n  rules:\n";
  int queries = 0;
  for (const json& panel : dashboard.at("panels")) {
    SCOPED_TRACE(panel.at("title").get<std::string>());
    EXPECT_EQ(panel.at("datasource").at("uid"), "${DS_PROMETHEUS}");
    ASSERT_FALSE(panel.at("targets").empty());
    for (const json& target : panel.at("targets")) {
      const std::string expr = target.at("expr");
      EXPECT_EQ(target.at("datasource").at("uid"), "${DS_PROMETHEUS}");
      int names = 0;
      for (auto it = std::sregex_iterator(expr.begin(), expr.end(), metric_name);
           it != std::sregex_iterator(); ++it) {
        ++names;
        EXPECT_TRUE(exported.contains(it->str()))
            << it->str() << " in " << expr << " is not in a scrape";
      }
      EXPECT_GT(names, 0) << expr;
      const std::string promql = std::regex_replace(expr, std::regex("\\$__rate_interval"), "5m");
      rules += "  - record: dashboard:query_" + std::to_string(++queries) +
               "\n    expr: " + json(promql).dump() + "\n";
    }
  }
  EXPECT_GE(queries, 10);
  EXPECT_EQ(dashboard.at("templating").at("list").at(0).at("name"), "DS_PROMETHEUS");
  testing::TempDir dir;
  std::ofstream(dir.path() / "rules.yaml") << rules;
  auto [code, output] =
      testing::run_command({"promtool", "check", "rules", (dir.path() / "rules.yaml").string()});
  EXPECT_EQ(code, 0) << "promtool check rules (Debian package prometheus, ops/setup.sh):\n"
                     << output << "\n"
                     << rules;
}

}  // namespace
}  // namespace synthfarm::coordinator
