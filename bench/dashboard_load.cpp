// dashboard_load: what a big farm costs the dashboard and what dashboards cost the
// coordinator, in one run on one farm (tests/farm.h: redis-server and a real coordinator,
// no real workers).
//
// 1. Page load: the dashboard opened in headless Chromium (tests/webdriver.h) on the
//    empty farm, then again once --workers simulated workers heartbeat it
//    (tests/fake_workers.h, real ZeroMQ telemetry) and --jobs jobs are queued through the
//    API (not run). Per load: the time from navigation start to the page's
//    'dashboard-ready' mark (the first data drawn, jobs and workers, layout included), the
//    JS heap after a garbage collection (CDP Runtime.getHeapUsage) and the DOM's element
//    count; the median of --loads loads each, and the loaded/empty ratios.
// 2. Coordinator CPU per connected dashboard: utime+stime of the coordinator
//    (/proc/PID/stat) over --seconds with 0, 1, 2 and 4 clients reading the live stream
//    (/api/events, plain HTTP), and with one Chromium page; printed per dashboard above
//    the 0-client baseline (which includes the simulated workers' heartbeats). The same
//    for redis-server, which answers each snapshot's job reads.
//
// Build: cmake --build build --target dashboard_load synthfarm-coordinator
// Run:   build/bin/dashboard_load [--workers 500] [--jobs 100] [--loads 3] [--seconds 20]
// Prints human-readable lines and one RESULT line last.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "queue/redis.h"
#include "tests/fake_workers.h"
#include "tests/farm.h"
#include "tests/webdriver.h"

namespace {

using namespace synthfarm::testing;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

struct Options {
  int workers = 500;
  int jobs = 100;
  int loads = 3;
  double seconds = 20;
  std::vector<int> dashboards = {0, 1, 2, 4};
  bool chromium_dashboard = true;
  bool timeline = false;  // print where each load's time went
};

// utime + stime of process `pid`, seconds; nullopt if it is gone.
std::optional<double> cpu_seconds(int pid) {
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string line;
  if (!std::getline(in, line)) return std::nullopt;
  auto close = line.rfind(')');  // field 2 (comm) may hold spaces
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(line.substr(close + 2));
  std::vector<std::string> fields;
  for (std::string f; rest >> f;) fields.push_back(f);
  if (fields.size() < 13) return std::nullopt;  // fields[11], [12]: utime, stime (fields 14, 15)
  return (std::stod(fields[11]) + std::stod(fields[12])) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

struct Load {
  double ready_ms = 0;  // navigation start to 'dashboard-ready'
  double heap_mb = 0;   // JS heap used after a GC
  double elements = 0;  // DOM elements
  int jobs = 0, workers = 0;
};

// Opens the dashboard afresh `loads` times (the session cookie is set already).
std::vector<Load> measure_loads(WebDriver& browser, const Farm& farm, int loads, bool timeline) {
  std::vector<Load> out;
  for (int r = 0; r < loads; ++r) {
    browser.open("about:blank");
    browser.open(farm.url() + "/");
    const std::string ready = "const m = performance.getEntriesByName('dashboard-ready')[0];"
                              "return m ? {t: m.startTime, jobs: m.detail.jobs, workers: m.detail.workers} : null;";
    json mark;
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    while ((mark = browser.run(ready)).is_null() && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (mark.is_null()) throw std::runtime_error("the dashboard did not mark dashboard-ready within 30 s");
    std::this_thread::sleep_for(std::chrono::seconds(3));  // a few live snapshots in
    browser.cdp("HeapProfiler.collectGarbage");
    const json heap = browser.cdp("Runtime.getHeapUsage");
    Load load;
    load.ready_ms = mark["t"];
    load.jobs = mark["jobs"];
    load.workers = mark["workers"];
    load.heap_mb = heap["usedSize"].get<double>() / 1e6;
    load.elements = browser.run("return document.getElementsByTagName('*').length;").get<double>();
    out.push_back(load);
    if (timeline) {
      const json entries = browser.run(
          "return performance.getEntries().filter(e => e.entryType !== 'paint' || true).map(e => ({n: e.name, "
          "type: e.entryType, s: e.startTime, e: e.responseEnd || (e.startTime + e.duration)}));");
      for (const auto& e : entries) {
        fmt::print("    {:>7.0f} {:>7.0f} ms  {:<10} {}\n", e["s"].get<double>(), e["e"].get<double>(),
                   e["type"].get<std::string>(), e["n"].get<std::string>());
      }
    }
    fmt::print("  load {}: ready at {:.0f} ms ({} jobs, {} workers drawn), heap {:.2f} MB, {} elements\n", r + 1,
               load.ready_ms, load.jobs, load.workers, load.heap_mb, load.elements);
  }
  return out;
}

struct LoadSummary {
  double ready_ms, heap_mb, elements;
};
LoadSummary summarise(const std::vector<Load>& loads) {
  std::vector<double> ready, heap, elements;
  for (const auto& l : loads) {
    ready.push_back(l.ready_ms);
    heap.push_back(l.heap_mb);
    elements.push_back(l.elements);
  }
  return {median(ready), median(heap), median(elements)};
}

// Clients reading /api/events as a dashboard's stream does, each on its own thread.
class StreamClients {
 public:
  StreamClients(const Farm& farm, int n) {
    for (int i = 0; i < n; ++i) {
      threads_.emplace_back([this, &farm] {
        httplib::Client client("127.0.0.1", std::stoi(farm.url().substr(farm.url().rfind(':') + 1)));
        client.set_read_timeout(30, 0);
        if (!farm.token().empty()) client.set_bearer_token_auth(farm.token());
        client.Get("/api/events", [this](const char*, size_t length) {
          bytes_ += length;
          return !stop_;
        });
      });
    }
  }
  ~StreamClients() {
    stop_ = true;
    for (auto& t : threads_) t.join();  // each returns at its stream's next snapshot (1 s)
  }
  uint64_t bytes() const { return bytes_; }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> bytes_{0};
  std::vector<std::thread> threads_;
};

// CPU seconds per second of the coordinator and of redis-server over the window.
struct Cpu {
  double coordinator = 0, redis = 0;
};
Cpu cpu_window(int coordinator_pid, int redis_pid, double seconds) {
  const double c0 = *cpu_seconds(coordinator_pid), r0 = *cpu_seconds(redis_pid);
  const auto t0 = Clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  const double c1 = *cpu_seconds(coordinator_pid), r1 = *cpu_seconds(redis_pid);
  const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  return {(c1 - c0) / wall, (r1 - r0) / wall};
}

// redis-server's pid, from INFO server.
int redis_pid(const Farm& farm) {
  auto redis = synthfarm::queue::RedisClient::create(*synthfarm::queue::RedisEndpoint::parse(farm.redis_url()));
  auto info = redis->command({"INFO", "server"});
  if (!info) throw std::runtime_error("INFO server: " + info.error().message);
  const auto at = info->str.find("process_id:");
  if (at == std::string::npos) throw std::runtime_error("INFO server has no process_id");
  return std::stoi(info->str.substr(at + 11));
}

void queue_jobs(Farm& farm, int jobs) {
  for (int j = 0; j < jobs; ++j) {
    farm.submit(fmt::format("name: load-{:03d}\nsamples: 40\nshard_size: 10\ncamera: {{resolution: [64, 48]}}\n", j));
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  CLI::App app{"dashboard load time and heap with many workers and jobs; coordinator CPU per dashboard"};
  app.add_option("--workers", opt.workers, "simulated workers")->capture_default_str()->check(CLI::Range(1, 5000));
  app.add_option("--jobs", opt.jobs, "jobs queued through the API (not run)")->capture_default_str()->check(CLI::Range(0, 200));
  app.add_option("--loads", opt.loads, "page loads per side (median)")->capture_default_str()->check(CLI::Range(1, 20));
  app.add_option("--seconds", opt.seconds, "CPU window per dashboard count")->capture_default_str();
  app.add_option("--dashboards", opt.dashboards, "stream clients per CPU window")->capture_default_str();
  app.add_flag("--timeline", opt.timeline, "print each load's resource and user timings");
  app.add_flag("!--no-chromium-dashboard", opt.chromium_dashboard, "skip the window with one Chromium page");
  CLI11_PARSE(app, argc, argv);

  // gtest's assertions in the fixtures report to a test that does not exist here: the
  // fixtures throw or print instead, and the checks below say what went wrong.
  Farm farm({.workers = 0});
  WebDriver browser(farm.dir());
  browser.open(farm.login_url());  // logs in once; later loads use the session cookie
  std::this_thread::sleep_for(std::chrono::seconds(2));

  fmt::print("empty farm ({} jobs, 0 workers):\n", 0);
  const LoadSummary empty = summarise(measure_loads(browser, farm, opt.loads, opt.timeline));

  FakeWorkersOptions sim;
  sim.telemetry = farm.telemetry();
  sim.workers = opt.workers;
  auto workers = FakeWorkers::start(sim);
  if (!workers) {
    fmt::print(stderr, "{}\n", workers.error());
    return 1;
  }
  queue_jobs(farm, opt.jobs);
  if (!eventually([&] { return farm.get("/api/workers").second["workers"].size() == static_cast<size_t>(opt.workers); },
                  std::chrono::seconds(30))) {
    fmt::print(stderr, "the coordinator does not list {} workers\n", opt.workers);
    return 1;
  }
  fmt::print("loaded farm ({} jobs queued, {} simulated workers):\n", opt.jobs, opt.workers);
  const LoadSummary loaded = summarise(measure_loads(browser, farm, opt.loads, opt.timeline));
  browser.open("about:blank");

  fmt::print("\n| | empty farm | {} workers, {} jobs | ratio |\n|---|---|---|---|\n", opt.workers, opt.jobs);
  fmt::print("| page load to first render, ms (median of {}) | {:.0f} | {:.0f} | {:.2f} |\n", opt.loads,
             empty.ready_ms, loaded.ready_ms, loaded.ready_ms / empty.ready_ms);
  fmt::print("| JS heap after GC, MB | {:.2f} | {:.2f} | {:.2f} |\n", empty.heap_mb, loaded.heap_mb,
             loaded.heap_mb / empty.heap_mb);
  fmt::print("| DOM elements | {:.0f} | {:.0f} | {:.2f} |\n\n", empty.elements, loaded.elements,
             loaded.elements / empty.elements);

  const int pid = farm.coordinator().pid();
  const int rpid = redis_pid(farm);
  std::vector<Cpu> cpu;
  Cpu base;
  for (int n : opt.dashboards) {
    StreamClients clients(farm, n);
    std::this_thread::sleep_for(std::chrono::seconds(2));
    const uint64_t b0 = clients.bytes();
    const Cpu c = cpu_window(pid, rpid, opt.seconds);
    const double kb_s = static_cast<double>(clients.bytes() - b0) / 1e3 / opt.seconds / std::max(n, 1);
    if (n == 0) base = c;
    cpu.push_back(c);
    fmt::print("{} stream client(s): coordinator {:.4f} CPU-s/s, redis-server {:.4f}{}\n", n, c.coordinator, c.redis,
               n ? fmt::format("; per dashboard above 0: coordinator {:.4f}, redis {:.4f}; {:.1f} kB/s each",
                               (c.coordinator - base.coordinator) / n, (c.redis - base.redis) / n, kb_s)
                 : "");
  }
  std::optional<Cpu> chromium;
  if (opt.chromium_dashboard) {
    browser.open(farm.url() + "/");
    std::this_thread::sleep_for(std::chrono::seconds(3));
    chromium = cpu_window(pid, rpid, opt.seconds);
    browser.open("about:blank");
    fmt::print("1 Chromium page: coordinator {:.4f} CPU-s/s ({:.4f} above 0), redis-server {:.4f} ({:.4f} above 0)\n",
               chromium->coordinator, chromium->coordinator - base.coordinator, chromium->redis,
               chromium->redis - base.redis);
  }
  fmt::print("RESULT workers={} jobs={} empty_ready_ms={:.0f} loaded_ready_ms={:.0f} ready_ratio={:.2f} "
             "empty_heap_mb={:.2f} loaded_heap_mb={:.2f} heap_ratio={:.2f}",
             opt.workers, opt.jobs, empty.ready_ms, loaded.ready_ms, loaded.ready_ms / empty.ready_ms, empty.heap_mb,
             loaded.heap_mb, loaded.heap_mb / empty.heap_mb);
  for (size_t i = 0; i < cpu.size(); ++i) {
    fmt::print(" cpu_{}={:.4f} redis_cpu_{}={:.4f}", opt.dashboards[i], cpu[i].coordinator, opt.dashboards[i], cpu[i].redis);
  }
  if (chromium) fmt::print(" cpu_chromium={:.4f} redis_cpu_chromium={:.4f}", chromium->coordinator, chromium->redis);
  fmt::print("\n");
  return 0;
}
