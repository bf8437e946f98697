#include "tests/fake_workers.h"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

namespace synthfarm::testing {
namespace {

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

protocol::Heartbeat FakeWorkers::profile(const FakeWorkersOptions& options, int i) {
  protocol::Heartbeat hb;
  const int digits = std::max<int>(3, static_cast<int>(std::to_string(std::max(options.workers - 1, 0)).size()));
  hb.worker_id = fmt::format("{}{:0{}d}", options.id_prefix, i, digits);
  hb.host = fmt::format("host-{:02d}", i % std::max(options.hosts, 1));
  hb.pid = static_cast<uint32_t>(1000 + i);
  hb.threads = 1u << (i % 5);
  const int kind = i % 10;
  if (kind <= 5 || kind == 9) {
    hb.state = protocol::WorkerState::kRendering;
    hb.shard = {fmt::format("sim-job-{}", i % 7), static_cast<uint64_t>(i), 1, static_cast<uint64_t>(i) * 50, 50};
    hb.samples_per_sec = 0.25 + static_cast<double>((37 * i) % 200) / 40.0;
  } else {
    hb.state = kind == 8 ? protocol::WorkerState::kStopping : protocol::WorkerState::kIdle;
  }
  hb.samples_done = static_cast<uint64_t>(i % 13) * 10;
  return hb;
}

bool FakeWorkers::goes_lost(const FakeWorkersOptions& options, int i) {
  return options.lost_every > 0 && i % options.lost_every == options.lost_every - 1;
}

tl::expected<std::unique_ptr<FakeWorkers>, std::string> FakeWorkers::start(FakeWorkersOptions options) {
  auto sender = protocol::TelemetrySender::connect(options.telemetry);
  if (!sender) return tl::unexpected("fake workers: " + sender.error());
  // Messages sent before the connection is up are dropped (ZMQ_IMMEDIATE): wait for it.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while ((*sender)->link().state != protocol::LinkState::kUp) {
    if (std::chrono::steady_clock::now() > deadline) {
      return tl::unexpected("fake workers: no connection to " + options.telemetry + " within 10 s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::unique_ptr<FakeWorkers> workers(new FakeWorkers(std::move(options)));
  workers->thread_ = std::thread([w = workers.get(), s = std::move(*sender)]() mutable { w->run(std::move(s)); });
  return workers;
}

FakeWorkers::~FakeWorkers() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

void FakeWorkers::run(std::unique_ptr<protocol::TelemetrySender> sender) {
  std::vector<protocol::Heartbeat> beats;
  std::vector<double> done;  // samples done, fractional between heartbeats
  for (int i = 0; i < options_.workers; ++i) {
    beats.push_back(profile(options_, i));
    done.push_back(static_cast<double>(beats.back().samples_done));
  }
  const double period_s = std::chrono::duration<double>(options_.period).count();
  auto next = std::chrono::steady_clock::now();
  for (int round = 0; !stopping_; ++round) {
    for (int i = 0; i < options_.workers && !stopping_; ++i) {
      if (goes_lost(options_, i) && round >= options_.lost_after_beats) continue;
      auto& hb = beats[i];
      if (hb.state == protocol::WorkerState::kRendering && round > 0) done[i] += hb.samples_per_sec * period_s;
      hb.samples_done = static_cast<uint64_t>(done[i]);
      hb.sent_ms = wall_ms();
      if (sender->send(hb)) {
        ++sent_;
      } else {
        ++dropped_;
      }
    }
    next += options_.period;
    while (!stopping_ && std::chrono::steady_clock::now() < next) {
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
          next - std::chrono::steady_clock::now(), std::chrono::milliseconds(50)));
    }
  }
}

}  // namespace synthfarm::testing
