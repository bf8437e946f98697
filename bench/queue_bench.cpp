// queue_bench: claim + complete cycles per second of the shard queue (queue::Queue,
// Lua scripts in Redis), with "no-op shards": nothing is rendered between the claim and
// the completion, so this is the queue's own cost per shard.
//
// Submits one job of --shards shards (1 sample each by default), then --clients threads,
// each with its own RedisClient and Queue, loop claim -> complete until the queue is
// empty. Only the claim/complete loop is timed. Run by bench/queue_throughput.sh, which
// starts the redis-server; point it at a scratch Redis: it writes keys under --prefix.
//
// Prints human-readable lines, and one machine-readable line last:
//   RESULT clients=C cycles=N seconds=S cycles_per_sec=R claim_us=A complete_us=B
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "jobs/sharding.h"
#include "queue/queue.h"
#include "queue/redis.h"

namespace {

using namespace synthfarm;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

struct ClientStats {
  int64_t cycles = 0;
  int64_t stale = 0;  // complete() said the token was not ours (must stay 0)
  double claim_s = 0;
  double complete_s = 0;
  std::string error;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"claim+complete cycles/s of the synthfarm shard queue (no-op shards)"};
  std::string redis_url = "redis://127.0.0.1:6379";
  std::string prefix = "sfbench";
  int64_t shards = 20000;
  int64_t shard_size = 1;
  int clients = 1;
  int64_t lease_ms = 60000;
  app.add_option("--redis", redis_url, "Redis address (a scratch server)")->capture_default_str();
  app.add_option("--prefix", prefix, "key prefix")->capture_default_str();
  app.add_option("--shards", shards, "shards in the job")->capture_default_str()->check(CLI::Range(1, 10000000));
  app.add_option("--shard-size", shard_size, "samples per shard")->capture_default_str()->check(CLI::Range(1, 100000));
  app.add_option("--clients", clients, "concurrent clients (threads, one RedisClient each)")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  app.add_option("--lease-ms", lease_ms, "lease length asked for at claim")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  auto endpoint = queue::RedisEndpoint::parse(redis_url);
  if (!endpoint) {
    fmt::print(stderr, "--redis: {}\n", endpoint.error());
    return 2;
  }
  queue::keys::Keys keys{prefix};

  queue::JobSubmission spec;
  spec.name = "queue-bench";
  spec.samples = shards * shard_size;
  spec.shard_size = shard_size;
  spec.shards = shards;
  spec.storage = "file:///tmp/synthfarm-queue-bench";  // never written: no-op shards
  spec.spec_json = R"({"name":"queue-bench"})";
  const int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  const std::string job_id = fmt::format("queue-bench-{}-c{}", now_ms, clients);

  auto redis = queue::RedisClient::create(*endpoint);
  queue::Queue queue(*redis, keys);
  auto t_submit = Clock::now();
  if (auto ok = queue.submit(job_id, spec, now_ms); !ok) {
    fmt::print(stderr, "submit: {}\n", ok.error().message);
    return 1;
  }
  const double submit_s = seconds_since(t_submit);
  auto pending = queue.pending_shards();
  if (!pending) {
    fmt::print(stderr, "pending_shards: {}\n", pending.error().message);
    return 1;
  }
  fmt::print("job {}: {} shards of {} sample(s) submitted in {:.3f} s; {} pending\n", job_id, shards, shard_size,
             submit_s, *pending);

  std::vector<ClientStats> stats(clients);
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      auto& st = stats[c];
      auto client = queue::RedisClient::create(*endpoint);
      queue::Queue q(*client, keys);
      // Connect (and load the scripts) before the clock starts: one untimed round trip.
      if (auto ping = client->command({"PING"}); !ping) {
        st.error = "ping: " + ping.error().message;
      }
      ++ready;
      while (!go.load()) std::this_thread::yield();
      if (!st.error.empty()) return;
      const std::string worker = fmt::format("bench-client-{}", c);
      for (;;) {
        auto t0 = Clock::now();
        auto lease = q.claim(worker, lease_ms);
        auto t1 = Clock::now();
        st.claim_s += std::chrono::duration<double>(t1 - t0).count();
        if (!lease) {
          st.error = "claim: " + lease.error().message;
          return;
        }
        if (!*lease) return;  // queue empty
        queue::ShardRef shard = (*lease)->shard;
        auto range = jobs::shard_range(static_cast<uint64_t>(spec.samples), static_cast<uint64_t>(spec.shard_size),
                                       shard.shard);
        shard.first_sample = range.begin;
        shard.sample_count = range.size();
        auto t2 = Clock::now();
        auto done = q.complete(shard);
        st.complete_s += std::chrono::duration<double>(Clock::now() - t2).count();
        if (!done) {
          st.error = "complete: " + done.error().message;
          return;
        }
        if (!*done) ++st.stale;
        ++st.cycles;
      }
    });
  }
  while (ready.load() < clients) std::this_thread::yield();
  auto t0 = Clock::now();
  go = true;
  for (auto& t : threads) t.join();
  const double elapsed = seconds_since(t0);

  ClientStats total;
  for (const auto& st : stats) {
    total.cycles += st.cycles;
    total.stale += st.stale;
    total.claim_s += st.claim_s;
    total.complete_s += st.complete_s;
    if (!st.error.empty()) {
      fmt::print(stderr, "client error: {}\n", st.error);
      return 1;
    }
  }
  auto record = queue.job(job_id);
  std::string state = record && *record ? (*record)->state : "?";
  int64_t done_shards = record && *record ? (*record)->shards_done : -1;
  if (total.cycles != shards || total.stale != 0 || done_shards != shards) {
    fmt::print(stderr, "inconsistent: {} cycles, {} stale, job shards_done {} (expected {})\n", total.cycles,
               total.stale, done_shards, shards);
    return 1;
  }
  const double rate = static_cast<double>(total.cycles) / elapsed;
  // Mean latency of one call as seen by a client (each client waits on its own calls).
  const double claim_us = total.claim_s / static_cast<double>(total.cycles) * 1e6;
  const double complete_us = total.complete_s / static_cast<double>(total.cycles) * 1e6;
  fmt::print("{} client(s): {} claim+complete cycles in {:.3f} s = {:.0f} cycles/s; mean claim {:.1f} us, "
             "complete {:.1f} us; job state {}\n",
             clients, total.cycles, elapsed, rate, claim_us, complete_us, state);
  fmt::print("RESULT clients={} cycles={} seconds={:.6f} cycles_per_sec={:.1f} claim_us={:.2f} complete_us={:.2f}\n",
             clients, total.cycles, elapsed, rate, claim_us, complete_us);
  return 0;
}
