// The relay between coordinator replicas (telemetry_relay.h) against a real redis-server:
// a heartbeat crosses the Redis stream whole, the worker's metrics included.
#include "coordinator/telemetry_relay.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "tests/fixtures.h"

namespace synthfarm::coordinator {
namespace {

TEST(TelemetryRelay, AHeartbeatCrossesTheStreamWithItsMetrics) {
  auto server = testing::RedisServer::start();
  auto endpoint = queue::RedisEndpoint::parse(server->url());
  ASSERT_TRUE(endpoint);
  TelemetryRelay writer(*endpoint, "sf:telemetry"), reader(*endpoint, "sf:telemetry");

  protocol::Heartbeat hb;
  hb.worker_id = "render-07-4242";
  hb.host = "render-07";
  hb.pid = 4242;
  protocol::WorkerMetrics m;
  m.render_seconds.upper_bounds = {0.5, 1};
  m.render_seconds.counts = {1, 2, 3};
  m.render_seconds.sum = 9.5;
  m.upload_seconds.upper_bounds = {0.01};
  m.upload_seconds.counts = {6, 0};
  m.upload_seconds.sum = 0.02;
  m.queue_wait_seconds.counts = {2};  // no bounds: only +Inf
  m.samples_rendered = 6;
  m.failures = {0, 1, 0, 0, 2};
  hb.metrics = m;

  // A reader sees what is appended after its first read: publish until it has heard.
  std::atomic<bool> heard{false};
  std::thread publisher([&] {
    for (int i = 0; i < 100 && !heard; ++i) {
      ASSERT_TRUE(writer.publish({hb}));
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  std::vector<protocol::Telemetry> got;
  for (int i = 0; i < 20 && got.empty(); ++i) {
    auto read = reader.read(std::chrono::milliseconds(250));
    ASSERT_TRUE(read) << read.error().message;
    got = std::move(*read);
  }
  heard = true;
  publisher.join();
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(std::get<protocol::Heartbeat>(got.front()), hb);
  EXPECT_EQ(reader.undecodable(), 0u);
}

}  // namespace
}  // namespace synthfarm::coordinator
