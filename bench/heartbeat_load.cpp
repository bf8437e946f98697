// heartbeat_load: simulated workers heartbeating a real coordinator, while measuring the
// coordinator's CPU time from /proc/PID/stat (utime + stime).
//
// Each simulated worker is its own protocol::TelemetrySender (the class the worker uses:
// its own ZeroMQ context and its own TCP connection to the coordinator's PULL socket),
// sending one protocol::Heartbeat per period with a random phase. All senders are owned
// by one thread, which is allowed: each sender has one owner thread. --workers 0 measures
// the idle coordinator over the same window.
//
// Run by bench/heartbeat_load.sh, which starts redis-server and the coordinator. Prints
// human-readable lines, and one machine-readable line last:
//   RESULT workers=N seconds=S sent=X dropped=Y received=Z cpu_pct=P listed=L alive=A
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "protocol/curve.h"
#include "protocol/messages.h"
#include "protocol/telemetry.h"

namespace {

using namespace synthfarm;
using Clock = std::chrono::steady_clock;

// utime + stime from a /proc/.../stat file, in seconds; nullopt if it is gone. `comm`
// receives field 2 (the thread or process name).
std::optional<double> stat_cpu_seconds(const std::string& path, std::string* comm = nullptr) {
  std::ifstream in(path);
  std::string line;
  if (!std::getline(in, line)) return std::nullopt;
  // Field 2 (comm) is in parentheses and may hold spaces: parse after the last ')'.
  auto close = line.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  if (comm) {
    auto open = line.find('(');
    *comm = open == std::string::npos ? "?" : line.substr(open + 1, close - open - 1);
  }
  std::istringstream rest(line.substr(close + 2));
  std::vector<std::string> fields;
  std::string f;
  while (rest >> f) fields.push_back(f);
  // rest starts at field 3 (state); utime is field 14, stime field 15.
  if (fields.size() < 13) return std::nullopt;
  const double ticks = std::stod(fields[11]) + std::stod(fields[12]);
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

std::optional<double> process_cpu_seconds(int pid) { return stat_cpu_seconds(fmt::format("/proc/{}/stat", pid)); }

// CPU seconds per thread of a process, keyed by "name/tid".
std::map<std::string, double> thread_cpu_seconds(int pid) {
  std::map<std::string, double> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(fmt::format("/proc/{}/task", pid), ec)) {
    std::string comm;
    auto cpu = stat_cpu_seconds((entry.path() / "stat").string(), &comm);
    if (cpu) out[comm + "/" + entry.path().filename().string()] = *cpu;
  }
  return out;
}

double own_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct HttpBase {
  std::string host;
  int port = 0;
};

std::optional<HttpBase> parse_http(const std::string& url) {
  const std::string scheme = "http://";
  if (url.rfind(scheme, 0) != 0) return std::nullopt;
  auto hostport = url.substr(scheme.size());
  auto colon = hostport.rfind(':');
  if (colon == std::string::npos) return std::nullopt;
  return HttpBase{hostport.substr(0, colon), std::stoi(hostport.substr(colon + 1))};
}

// synthfarm_telemetry_messages_total from /metrics; nullopt if unavailable.
std::optional<int64_t> telemetry_messages(const HttpBase& api) {
  httplib::Client client(api.host, api.port);
  client.set_read_timeout(10, 0);
  if (const char* token = std::getenv("SYNTHFARM_TOKEN")) client.set_bearer_token_auth(token);
  auto res = client.Get("/metrics");
  if (!res || res->status != 200) return std::nullopt;
  std::istringstream in(res->body);
  std::string line;
  const std::string name = "synthfarm_telemetry_messages_total ";
  while (std::getline(in, line)) {
    if (line.rfind(name, 0) == 0) return std::stoll(line.substr(name.size()));
  }
  return std::nullopt;
}

struct Options {
  std::string telemetry = "tcp://127.0.0.1:5555";
  std::string api_url;
  std::string id_prefix = "bench-w";
  int workers = 500;
  double seconds = 30;
  double hz = 1;
  int pid = 0;
  unsigned seed = 1;
  // CURVE: every simulated worker uses this key pair against the coordinator's key.
  std::string curve_key, coordinator_key;
};

// The command line into `o`; an exit status if the program is to stop there (--help, or a
// bad option, reported by CLI11).
std::optional<int> parse_options(int argc, char** argv, Options& o) {
  CLI::App app{"simulated workers heartbeating a synthfarm coordinator; measures its CPU"};
  app.add_option("--telemetry", o.telemetry, "coordinator's telemetry endpoint")->capture_default_str();
  app.add_option("--api", o.api_url, "coordinator's http://host:port, for /api/workers and /metrics");
  app.add_option("--pid", o.pid, "coordinator process id (CPU from /proc/PID/stat)")->required();
  app.add_option("--workers", o.workers, "simulated workers (one TelemetrySender each); 0: idle baseline")
      ->capture_default_str()
      ->check(CLI::Range(0, 10000));
  app.add_option("--seconds", o.seconds, "measured window")->capture_default_str();
  app.add_option("--hz", o.hz, "heartbeats per second per worker")->capture_default_str();
  app.add_option("--id-prefix", o.id_prefix, "worker ids are <prefix>NNN")->capture_default_str();
  app.add_option("--seed", o.seed, "phase jitter seed")->capture_default_str();
  app.add_option("--curve-key", o.curve_key, "CURVE key file of the simulated workers (all share it)");
  app.add_option("--coordinator-key", o.coordinator_key, "the coordinator's CURVE public key or .pub file");
  CLI11_PARSE(app, argc, argv);
  return std::nullopt;
}

using Senders = std::vector<std::unique_ptr<protocol::TelemetrySender>>;

// The simulated workers' connections, made and settled before the window starts; nullopt
// (after a message) if one cannot be made.
std::optional<Senders> start_senders(const std::string& telemetry, int workers,
                                     const std::optional<protocol::CurveClientConfig>& curve) {
  // One sender per worker: a ZeroMQ context (I/O thread) and a TCP connection each.
  Senders senders;
  senders.reserve(workers);
  auto t_connect = Clock::now();
  for (int i = 0; i < workers; ++i) {
    auto s = protocol::TelemetrySender::connect(telemetry, curve);
    if (!s) {
      fmt::print(stderr, "sender {}: {}\n", i, s.error());
      return std::nullopt;
    }
    senders.push_back(std::move(*s));
  }
  // Connections are made in the background (and with ZMQ_IMMEDIATE a send before the
  // handshake is dropped): let them settle before the window starts.
  if (workers > 0) std::this_thread::sleep_for(std::chrono::seconds(2));
  const double connect_s = std::chrono::duration<double>(Clock::now() - t_connect).count();
  if (workers > 0) fmt::print("{} senders created and connected in {:.2f} s\n", workers, connect_s);
  return senders;
}

// Each simulated worker's heartbeat, updated and sent once per period.
std::vector<protocol::Heartbeat> make_heartbeats(int workers, const std::string& id_prefix) {
  std::vector<protocol::Heartbeat> beats(workers);
  const std::string host = []() {
    char buf[256] = {};
    gethostname(buf, sizeof buf - 1);
    return std::string(buf);
  }();
  for (int i = 0; i < workers; ++i) {
    auto& hb = beats[i];
    hb.worker_id = fmt::format("{}{:03d}", id_prefix, i);
    hb.host = host;
    hb.pid = static_cast<uint32_t>(getpid());
    hb.threads = 1;
    // Half of them look busy, so the messages carry a shard like a rendering worker's.
    if (i % 2 == 0) {
      hb.state = protocol::WorkerState::kRendering;
      hb.shard = {"bench-job", static_cast<uint64_t>(i), 1, static_cast<uint64_t>(i) * 50, 50};
      hb.samples_per_sec = 0.5;
    }
    // The worker's own metrics, as large as a real worker's (worker/worker_metrics.h:
    // 13, 14 and 14 bucket bounds), which the coordinator re-exports on every scrape.
    auto histogram = [](size_t bounds) {
      protocol::Histogram h;
      for (size_t b = 0; b < bounds; ++b) h.upper_bounds.push_back(0.01 * static_cast<double>(1u << b));
      h.counts.assign(bounds + 1, 3);
      h.sum = 12.5;
      return h;
    };
    protocol::WorkerMetrics metrics;
    metrics.render_seconds = histogram(13);
    metrics.upload_seconds = histogram(14);
    metrics.queue_wait_seconds = histogram(14);
    metrics.samples_rendered = metrics.render_seconds.count();
    hb.metrics = metrics;
  }
  return beats;
}

// The measured window: what was sent, and the CPU the coordinator (and this program) used.
struct Window {
  double wall_s = 0;
  double cpu0 = 0, cpu1 = 0;  // coordinator CPU seconds at the start and at the end
  double cpu_pct = 0, own_pct = 0;
  std::map<std::string, double> threads0, threads1;  // the same by coordinator thread
  int64_t sent = 0, dropped = 0;
  Clock::duration max_late{0};
};

// Sends every worker's heartbeat once per period, at a random phase, for the window;
// nullopt (after a message) if the coordinator went away.
std::optional<Window> measure(const Options& opt, Senders& senders, std::vector<protocol::Heartbeat>& beats) {
  const auto period = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / opt.hz));
  const auto window = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(opt.seconds));
  std::mt19937_64 rng(opt.seed);
  std::uniform_int_distribution<int64_t> phase(0, period.count() - 1);

  using Due = std::pair<Clock::time_point, int>;
  std::priority_queue<Due, std::vector<Due>, std::greater<>> due;
  const auto start = Clock::now();
  const auto end = start + window;
  for (int i = 0; i < opt.workers; ++i) due.push({start + Clock::duration(phase(rng)), i});

  const auto threads0 = thread_cpu_seconds(opt.pid);
  const double cpu0 = *process_cpu_seconds(opt.pid);
  const double own0 = own_cpu_seconds();
  int64_t sent = 0, dropped = 0;
  Clock::duration max_late{0};
  while (!due.empty() && due.top().first < end) {
    auto [when, i] = due.top();
    due.pop();
    std::this_thread::sleep_until(when);
    max_late = std::max(max_late, Clock::now() - when);
    auto& hb = beats[i];
    hb.sent_ms = wall_ms();
    if (hb.state == protocol::WorkerState::kRendering) hb.samples_done += 1;
    if (senders[i]->send(hb)) {
      ++sent;
    } else {
      ++dropped;
    }
    due.push({when + period, i});
  }
  std::this_thread::sleep_until(end);
  const double wall_s = std::chrono::duration<double>(Clock::now() - start).count();
  auto cpu1 = process_cpu_seconds(opt.pid);
  const auto threads1 = thread_cpu_seconds(opt.pid);
  const double own1 = own_cpu_seconds();
  if (!cpu1) {
    fmt::print(stderr, "coordinator {} went away during the run\n", opt.pid);
    return std::nullopt;
  }
  const double cpu_pct = (*cpu1 - cpu0) / wall_s * 100.0;
  const double own_pct = (own1 - own0) / wall_s * 100.0;
  return Window{wall_s, cpu0, *cpu1, cpu_pct, own_pct, threads0, threads1, sent, dropped, max_late};
}

// What the coordinator saw: messages received, and workers listed (alive = heard from
// in the last 5 s; the last heartbeats are at most one period old).
struct CoordinatorView {
  std::optional<int64_t> received;
  int64_t listed = -1, alive = -1;
};

CoordinatorView coordinator_view(const std::optional<HttpBase>& api, const std::string& id_prefix,
                                 const std::optional<int64_t>& received_before) {
  CoordinatorView view;
  if (api) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let the last messages drain
    auto after = telemetry_messages(*api);
    if (after && received_before) view.received = *after - *received_before;
    httplib::Client client(api->host, api->port);
    client.set_read_timeout(10, 0);
    if (const char* token = std::getenv("SYNTHFARM_TOKEN")) client.set_bearer_token_auth(token);
    auto res = client.Get("/api/workers");
    if (res && res->status == 200) {
      auto body = nlohmann::json::parse(res->body, nullptr, false);
      if (!body.is_discarded() && body.contains("workers")) {
        view.listed = view.alive = 0;
        for (const auto& w : body["workers"]) {
          if (w.value("id", "").rfind(id_prefix, 0) != 0) continue;
          ++view.listed;
          if (w.value("alive", false)) ++view.alive;
        }
      }
    } else {
      fmt::print(stderr, "GET /api/workers failed\n");
    }
  }
  return view;
}

// The human-readable lines, then the RESULT line.
void print_results(const Options& opt, const Window& w, const CoordinatorView& view) {
  if (opt.workers > 0) {
    fmt::print("{} workers x {:.1f} Hz for {:.1f} s: {} heartbeats sent ({:.1f}/s), {} dropped, max send lateness "
               "{:.1f} ms\n",
               opt.workers, opt.hz, w.wall_s, w.sent, static_cast<double>(w.sent) / w.wall_s, w.dropped,
               std::chrono::duration<double, std::milli>(w.max_late).count());
  }
  fmt::print("coordinator pid {}: {:.3f} s CPU over {:.1f} s wall = {:.2f}% of one core\n", opt.pid, w.cpu1 - w.cpu0,
             w.wall_s, w.cpu_pct);
  // Where it went, by thread (ZeroMQ names its I/O thread ZMQbg/IO/0; the others carry
  // the process name). Threads under 0.01 s are left out.
  for (const auto& [name, t1] : w.threads1) {
    auto it = w.threads0.find(name);
    double d = t1 - (it == w.threads0.end() ? 0.0 : it->second);
    if (d >= 0.01) fmt::print("  thread {}: {:.2f} s = {:.2f}% of one core\n", name, d, d / w.wall_s * 100.0);
  }
  if (opt.workers > 0) fmt::print("load generator itself: {:.2f}% of one core\n", w.own_pct);
  if (view.received) fmt::print("coordinator telemetry messages received in the window: {}\n", *view.received);
  if (view.listed >= 0)
    fmt::print("GET /api/workers: {} workers with ids {}*, {} alive\n", view.listed, opt.id_prefix, view.alive);
  fmt::print("RESULT workers={} seconds={:.3f} sent={} dropped={} received={} cpu_s={:.3f} cpu_pct={:.3f} "
             "own_cpu_pct={:.3f} listed={} alive={}\n",
             opt.workers, w.wall_s, w.sent, w.dropped, view.received ? *view.received : -1, w.cpu1 - w.cpu0,
             w.cpu_pct, w.own_pct, view.listed, view.alive);
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  if (auto status = parse_options(argc, argv, opt)) return *status;

  std::optional<HttpBase> api;
  if (!opt.api_url.empty()) {
    api = parse_http(opt.api_url);
    if (!api) {
      fmt::print(stderr, "--api: expected http://host:port, got '{}'\n", opt.api_url);
      return 2;
    }
  }
  if (!process_cpu_seconds(opt.pid)) {
    fmt::print(stderr, "no process {} (cannot read /proc/{}/stat)\n", opt.pid, opt.pid);
    return 2;
  }

  std::optional<protocol::CurveClientConfig> curve;
  if (!opt.curve_key.empty()) {
    auto keys = protocol::read_curve_key_file(opt.curve_key);
    auto server = protocol::read_curve_public_key(opt.coordinator_key);
    if (!keys || !server) {
      fmt::print(stderr, "curve: {}\n", !keys ? keys.error() : server.error());
      return 2;
    }
    curve = protocol::CurveClientConfig{*keys, *server};
  }
  auto senders = start_senders(opt.telemetry, opt.workers, curve);
  if (!senders) return 1;
  std::vector<protocol::Heartbeat> beats = make_heartbeats(opt.workers, opt.id_prefix);

  std::optional<int64_t> received_before;
  if (api) received_before = telemetry_messages(*api);

  const auto window = measure(opt, *senders, beats);
  if (!window) return 1;
  const CoordinatorView view = coordinator_view(api, opt.id_prefix, received_before);
  print_results(opt, *window, view);
  return 0;
}
