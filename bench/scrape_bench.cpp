// scrape_bench: what one /metrics scrape costs in Redis with many jobs, the way the
// coordinator did it before the per-state counters (every job hash read, Queue::jobs with
// a limit above the job count, then counted by state) against the counters
// (Queue::job_counts(), one HGETALL of a small hash). Both ways also make the reads every
// scrape makes (pending and leased shard counts, samples completed), and their job counts
// must agree.
//
// Fills a scratch Redis with --jobs jobs of one shard each (the quickstart spec's canonical
// JSON stored with each, as real jobs store theirs) in a mix of states, unless it holds
// jobs already, then alternates --rounds rounds of --scrapes old-way scrapes and
// --scrapes-after new-way ones, keeping each side's best round (the machine is shared: the
// best round is the least disturbed). Also times the dashboard's snapshot reads (the
// newest 200 jobs, and the counters now) and a recount of the counters from every job hash
// (what a coordinator does once at start on a Redis from before them).
//
// With --http URL it instead times GET URL/metrics of a running coordinator.
// Run by bench/metrics_scrape.sh, which starts the redis-server and the coordinators.
// Prints human-readable lines, and one machine-readable line last:
//   RESULT jobs=N before_ms=A after_ms=B ratio=R snapshot_before_ms=C snapshot_after_ms=D
//   rebuild_ms=E RESULT http_requests=N mean_ms=A min_ms=B jobs=J            (--http)
#include <fmt/format.h>
#include <httplib.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "jobs/spec.h"
#include "queue/queue.h"
#include "queue/redis.h"

namespace {

using namespace synthfarm;
using Clock = std::chrono::steady_clock;
using Counts = std::map<std::string, int64_t>;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

Counts nonzero(const Counts& counts) {
  Counts out;
  for (const auto& [state, n] : counts) {
    if (n != 0) out[state] = n;
  }
  return out;
}

std::string format_counts(const Counts& counts) {
  std::string out;
  for (const auto& [state, n] : counts)
    out += fmt::format("{}{} {}", out.empty() ? "" : ", ", state, n);
  return out;
}

// The Redis reads of the coordinator's metrics() before the counters (commit 09cfd20):
// every job hash, counted by state, then the queue sizes and the samples counter.
queue::RedisResult<Counts> scrape_before(queue::Queue& q) {
  auto records = q.jobs(100000);
  if (!records) return tl::unexpected(records.error());
  Counts by_state = {{"queued", 0}, {"running", 0}, {"finalizing", 0},
                     {"done", 0},   {"partial", 0}, {"failed", 0}};
  for (const auto& r : *records) by_state[r.state]++;
  for (auto r : {q.pending_shards(), q.leased_shards(), q.samples_rendered()}) {
    if (!r) return tl::unexpected(r.error());
  }
  return by_state;
}

// The same scrape now: the counters instead of the job hashes.
queue::RedisResult<Counts> scrape_after(queue::Queue& q) {
  auto counts = q.job_counts();
  if (!counts) return tl::unexpected(counts.error());
  for (auto r : {q.pending_shards(), q.leased_shards(), q.samples_rendered()}) {
    if (!r) return tl::unexpected(r.error());
  }
  return counts->by_state;
}

// The dashboard snapshot's Redis reads: the newest 200 jobs and the pending count, and
// now the counters too.
queue::RedisResult<Counts> snapshot_reads(queue::Queue& q, bool with_counters) {
  auto records = q.jobs();
  if (!records) return tl::unexpected(records.error());
  if (auto p = q.pending_shards(); !p) return tl::unexpected(p.error());
  if (!with_counters) return Counts{};
  auto counts = q.job_counts();
  if (!counts) return tl::unexpected(counts.error());
  return counts->by_state;
}

// Mean ms per call of `scrape` over `n` calls.
template <typename F>
tl::expected<double, std::string> time_calls(int n, F&& scrape) {
  auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) {
    auto r = scrape();
    if (!r) return tl::unexpected(r.error().message);
  }
  return ms_since(t0) / n;
}

// One shard per job; states by position, in the proportions of a farm that has run a
// while: 60% done, 5% failed, 5% running, 5% cancelled, 5% paused, 20% queued.
tl::expected<void, std::string> fill(queue::Queue& q, int64_t jobs, const std::string& spec_json) {
  auto at = [&](double fraction) {
    return static_cast<int64_t>(static_cast<double>(jobs) * fraction);
  };
  const int64_t done_end = at(0.60), failed_end = at(0.65), running_end = at(0.70),
                cancelled_end = at(0.75), paused_end = at(0.80);
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  auto id = [](int64_t i) { return fmt::format("bench-{:06d}", i); };
  for (int64_t i = 0; i < jobs; ++i) {
    queue::JobSubmission s;
    s.name = "quickstart";
    s.samples = 4;
    s.shard_size = 4;
    s.shards = 1;
    s.max_attempts = i >= done_end && i < failed_end ? 1 : 3;
    s.storage = "file:///tmp/synthfarm-scrape-bench/" + id(i);  // never written
    s.spec_json = spec_json;
    if (auto ok = q.submit(id(i), s, now_ms + i); !ok)
      return tl::unexpected("submit: " + ok.error().message);
  }
  // Claims hand out shards in submission order (one priority): job i's shard is the i-th.
  for (int64_t i = 0; i < running_end; ++i) {
    auto lease = q.claim("bench-worker", 3600 * 1000);  // no lease expires during the bench
    if (!lease || !*lease)
      return tl::unexpected("claim: " + (lease ? "queue empty" : lease.error().message));
    queue::ShardRef shard = (*lease)->shard;
    shard.sample_count = 4;
    if (i < done_end) {
      if (auto ok = q.complete(shard); !ok || !*ok)
        return tl::unexpected("complete " + shard.job_id);
      if (auto ok = q.mark_done(shard.job_id); !ok)
        return tl::unexpected("mark_done: " + ok.error().message);
    } else if (i < failed_end) {
      if (auto ok = q.fail(shard, "bench", "bench-worker"); !ok)
        return tl::unexpected("fail: " + ok.error().message);
      if (auto ok = q.mark_done(shard.job_id); !ok)
        return tl::unexpected("mark_done: " + ok.error().message);
    }
  }
  for (int64_t i = running_end; i < paused_end; ++i) {
    auto action = i < cancelled_end ? queue::JobAction::kCancel : queue::JobAction::kPause;
    if (auto ok = q.control(action, id(i)); !ok)
      return tl::unexpected("control: " + ok.error().message);
  }
  return {};
}

struct Http {
  std::string host;
  int port = 0;
};

int run_http(const std::string& url, int requests, bool keep_alive) {
  const std::string scheme = "http://";
  auto colon = url.rfind(':');
  if (url.rfind(scheme, 0) != 0 || colon == std::string::npos || colon < scheme.size()) {
    fmt::print(stderr, "--http: expected http://host:port, got {}\n", url);
    return 2;
  }
  Http api{url.substr(scheme.size(), colon - scheme.size()), std::stoi(url.substr(colon + 1))};
  httplib::Client client(api.host, api.port);
  client.set_read_timeout(60, 0);
  client.set_keep_alive(keep_alive);  // Prometheus keeps its connection
  auto get = [&]() -> tl::expected<std::string, std::string> {
    auto res = client.Get("/metrics");
    if (!res) return tl::unexpected(httplib::to_string(res.error()));
    if (res->status != 200) return tl::unexpected(fmt::format("status {}", res->status));
    return res->body;
  };
  auto first = get();  // connects; not timed
  if (!first) {
    fmt::print(stderr, "GET {}/metrics: {}\n", url, first.error());
    return 1;
  }
  std::vector<double> ms;
  for (int i = 0; i < requests; ++i) {
    auto t0 = Clock::now();
    auto body = get();
    ms.push_back(ms_since(t0));
    if (!body) {
      fmt::print(stderr, "GET {}/metrics: {}\n", url, body.error());
      return 1;
    }
  }
  Counts by_state;
  std::istringstream in(*first);
  std::string line;
  const std::string name = "synthfarm_jobs{state=\"";
  while (std::getline(in, line)) {
    if (line.rfind(name, 0) != 0) continue;
    auto quote = line.find('"', name.size());
    by_state[line.substr(name.size(), quote - name.size())] =
        std::stoll(line.substr(line.rfind(' ') + 1));
  }
  int64_t jobs = 0;
  for (const auto& [state, n] : by_state) jobs += n;
  double mean = 0;
  for (double m : ms) mean += m;
  mean /= static_cast<double>(ms.size());
  std::sort(ms.begin(), ms.end());
  auto quantile = [&](double q) {
    return ms[static_cast<size_t>(q * static_cast<double>(ms.size() - 1))];
  };
  fmt::print(
      "GET {}/metrics x {}: mean {:.3f} ms, best {:.3f}, median {:.3f}, p90 {:.3f}; "
      "synthfarm_jobs: {}\n",
      url, requests, mean, ms.front(), quantile(0.5), quantile(0.9),
      format_counts(nonzero(by_state)));
  fmt::print(
      "RESULT http_requests={} mean_ms={:.4f} min_ms={:.4f} median_ms={:.4f} p90_ms={:.4f} "
      "jobs={}\n",
      requests, mean, ms.front(), quantile(0.5), quantile(0.9), jobs);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "cost of a /metrics scrape: every job hash read (before) against per-state counters (after)"};
  std::string redis_url = "redis://127.0.0.1:6379";
  std::string prefix = "sf";
  std::string spec_path = "examples/quickstart.yaml";
  std::string http_url;
  int64_t jobs = 10000;
  int scrapes = 20;
  int scrapes_after = 2000;
  int rounds = 3;
  int requests = 50;
  bool new_connections = false;
  app.add_option("--redis", redis_url, "Redis address (a scratch server)")->capture_default_str();
  app.add_option("--prefix", prefix, "key prefix (the coordinator's --key-prefix)")
      ->capture_default_str();
  app.add_option("--spec", spec_path, "spec whose canonical JSON every job stores")
      ->capture_default_str();
  app.add_option("--jobs", jobs, "jobs to fill an empty Redis with")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  app.add_option("--scrapes", scrapes, "old-way scrapes per round")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  app.add_option("--scrapes-after", scrapes_after, "new-way scrapes per round")
      ->capture_default_str()
      ->check(CLI::Range(1, 10000000));
  app.add_option("--rounds", rounds, "alternating rounds; the best of each side is kept")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  app.add_option("--http", http_url,
                 "time GET /metrics of the coordinator at http://host:port instead");
  app.add_option("--requests", requests, "--http: timed requests")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  app.add_flag("--new-connections", new_connections,
               "--http: a new TCP connection per request (default: keep-alive)");
  CLI11_PARSE(app, argc, argv);

  if (!http_url.empty()) return run_http(http_url, requests, !new_connections);

  auto endpoint = queue::RedisEndpoint::parse(redis_url);
  if (!endpoint) {
    fmt::print(stderr, "--redis: {}\n", endpoint.error());
    return 2;
  }
  std::ifstream spec_file(spec_path);
  std::stringstream spec_text;
  spec_text << spec_file.rdbuf();
  auto spec = jobs::parse_spec(spec_text.str(), spec_path);
  if (!spec_file || !spec) {
    fmt::print(stderr, "--spec {}: {}\n", spec_path,
               spec ? "cannot read" : spec.error()[0].to_string());
    return 2;
  }
  const std::string spec_json = jobs::spec_to_json(*spec);

  auto redis = queue::RedisClient::create(*endpoint, std::chrono::seconds(60));
  queue::Queue q(*redis, queue::keys::Keys{prefix});
  auto listed = redis->command({"ZCARD", q.keys().jobs()});
  if (!listed) {
    fmt::print(stderr, "redis: {}\n", listed.error().message);
    return 1;
  }
  if (listed->as_int() == 0) {
    auto t0 = Clock::now();
    if (auto ok = fill(q, jobs, spec_json); !ok) {
      fmt::print(stderr, "fill: {}\n", ok.error());
      return 1;
    }
    fmt::print("filled {} jobs in {:.1f} s\n", jobs, ms_since(t0) / 1000);
  } else {
    jobs = listed->as_int();
    fmt::print("using the {} jobs already in Redis\n", jobs);
  }
  auto before_counts = scrape_before(q);
  auto after_counts = scrape_after(q);
  if (!before_counts || !after_counts) {
    fmt::print(stderr, "scrape: {}\n",
               (before_counts ? after_counts.error() : before_counts.error()).message);
    return 1;
  }
  if (nonzero(*before_counts) != nonzero(*after_counts)) {
    fmt::print(stderr, "the two ways disagree: before {}; after {}\n",
               format_counts(nonzero(*before_counts)), format_counts(nonzero(*after_counts)));
    return 1;
  }
  fmt::print("{} jobs, spec_json {} bytes each; both ways count: {}\n", jobs, spec_json.size(),
             format_counts(nonzero(*after_counts)));

  double before_ms = 1e300, after_ms = 1e300, snap_before_ms = 1e300, snap_after_ms = 1e300,
         rebuild_ms = 1e300;
  for (int round = 1; round <= rounds; ++round) {
    auto b = time_calls(scrapes, [&] { return scrape_before(q); });
    auto a = time_calls(scrapes_after, [&] { return scrape_after(q); });
    auto sb = time_calls(scrapes, [&] { return snapshot_reads(q, false); });
    auto sa = time_calls(scrapes, [&] { return snapshot_reads(q, true); });
    // A coordinator on a Redis from before the counters recounts once, at start.
    auto r = time_calls(1, [&] { return q.rebuild_job_counts(); });
    for (const auto* t : {&b, &a, &sb, &sa, &r}) {
      if (!*t) {
        fmt::print(stderr, "round {}: {}\n", round, t->error());
        return 1;
      }
    }
    fmt::print(
        "  round {}: scrape {:.3f} ms before ({} scrapes), {:.4f} ms after ({}); snapshot {:.3f} "
        "ms before, "
        "{:.3f} ms after; recount {:.2f} ms\n",
        round, *b, scrapes, *a, scrapes_after, *sb, *sa, *r);
    before_ms = std::min(before_ms, *b);
    after_ms = std::min(after_ms, *a);
    snap_before_ms = std::min(snap_before_ms, *sb);
    snap_after_ms = std::min(snap_after_ms, *sa);
    rebuild_ms = std::min(rebuild_ms, *r);
  }
  if (auto recounted = scrape_after(q);
      !recounted || nonzero(*recounted) != nonzero(*after_counts)) {
    fmt::print(stderr, "the recount changed the numbers\n");
    return 1;
  }
  const double ratio = before_ms / after_ms;
  fmt::print("best of {} round(s):\n", rounds);
  fmt::print("scrape ms: before {:.1f}, after {:.3f}, ratio {:.0f}x\n", before_ms, after_ms, ratio);
  fmt::print("snapshot ms (newest 200 jobs + totals): before {:.2f}, after {:.2f}\n",
             snap_before_ms, snap_after_ms);
  fmt::print("recount of the counters from {} job hashes (once, at coordinator start): {:.1f} ms\n",
             jobs, rebuild_ms);
  fmt::print(
      "RESULT jobs={} before_ms={:.4f} after_ms={:.4f} ratio={:.1f} snapshot_before_ms={:.4f} "
      "snapshot_after_ms={:.4f} rebuild_ms={:.3f}\n",
      jobs, before_ms, after_ms, ratio, snap_before_ms, snap_after_ms, rebuild_ms);
  return 0;
}
