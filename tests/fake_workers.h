// Many simulated workers in one process, for the dashboard's browser test and benchmark:
// each sends the heartbeats a real worker would (protocol::Heartbeat through the real
// protocol::TelemetrySender over ZeroMQ) to a real coordinator, once a period, with its
// own id, host, pid, threads, state, job/shard and rate. They claim nothing: no Redis, no
// leases, no rendering; the coordinator sees them only through telemetry, as it sees a
// real worker between two lease renewals.
//
// One sender (one ZeroMQ connection) carries every simulated worker's heartbeats: the
// coordinator keys workers by the id in the message, not by the connection, and 500
// connections would cost the test 500 ZeroMQ I/O threads (bench/heartbeat_load.cpp
// measures that case). Thread-safe: a background thread owns the sender.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include <tl/expected.hpp>

#include "protocol/messages.h"
#include "protocol/telemetry.h"

namespace synthfarm::testing {

struct FakeWorkersOptions {
  std::string telemetry;             // the coordinator's telemetry endpoint, tcp://host:port
  int workers = 500;
  std::string id_prefix = "sim-";    // ids are <prefix>000, <prefix>001, ...
  int hosts = 50;                    // worker i runs on host-<i % hosts>
  std::chrono::milliseconds period{1000};
  // Every lost_every-th worker (i % lost_every == lost_every - 1) stops after its first
  // `lost_after_beats` heartbeats, so the coordinator soon shows it lost. 0: none.
  int lost_every = 10;
  int lost_after_beats = 3;
};

class FakeWorkers {
 public:
  // Connects (waits up to 10 s for the connection to come up) and starts heartbeating.
  static tl::expected<std::unique_ptr<FakeWorkers>, std::string> start(FakeWorkersOptions options);
  ~FakeWorkers();
  FakeWorkers(const FakeWorkers&) = delete;
  FakeWorkers& operator=(const FakeWorkers&) = delete;

  // What worker i looks like in its first heartbeat (the fields stay the same afterwards,
  // except samples_done, which grows at its rate while it renders, and sent_ms):
  // state by i % 10: 0-5 rendering (job sim-job-<i % 7>, shard i, rate 0.25 + (37 i mod 200)/40
  // samples/s), 6-7 idle, 8 stopping, 9 rendering until it goes quiet (lost_every = 10).
  static protocol::Heartbeat profile(const FakeWorkersOptions& options, int i);
  // Whether worker i goes quiet after its first heartbeats.
  static bool goes_lost(const FakeWorkersOptions& options, int i);

  uint64_t sent() const { return sent_.load(); }
  uint64_t dropped() const { return dropped_.load(); }

 private:
  explicit FakeWorkers(FakeWorkersOptions options) : options_(std::move(options)) {}
  void run(std::unique_ptr<protocol::TelemetrySender> sender);

  FakeWorkersOptions options_;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> sent_{0}, dropped_{0};
  std::thread thread_;
};

}  // namespace synthfarm::testing
