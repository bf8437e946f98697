#include "protocol/messages.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <iterator>
#include <limits>
#include <thread>
#include <vector>

#include "protocol/control.h"
#include "protocol/telemetry.h"
#include "tests/fixtures.h"

namespace synthfarm::protocol {
namespace {

TEST(TelemetryWire, HeartbeatRoundTrip) {
  Heartbeat hb;
  hb.worker_id = "host-1-2";
  hb.host = "host";
  hb.pid = 4242;
  hb.state = WorkerState::kRendering;
  hb.shard = {"job-abc", 3, 99, 150, 50};
  hb.samples_done = 17;
  hb.samples_per_sec = 2.5;
  hb.sent_ms = 1700000000123;
  hb.threads = 2;
  auto decoded = decode_telemetry(encode_telemetry(hb));
  ASSERT_TRUE(decoded) << decoded.error();
  EXPECT_EQ(std::get<Heartbeat>(*decoded), hb);
}

Histogram histogram(std::vector<double> bounds, std::vector<uint64_t> counts, double sum) {
  Histogram h;
  h.upper_bounds = std::move(bounds);
  h.counts = std::move(counts);
  h.sum = sum;
  return h;
}

Heartbeat heartbeat_with_metrics() {
  Heartbeat hb;
  hb.worker_id = "render-07-4242";
  hb.host = "render-07";
  hb.state = WorkerState::kRendering;
  hb.shard = {"job-abc", 3, 99, 150, 50};
  hb.samples_done = 40;
  WorkerMetrics m;
  m.render_seconds = histogram({0.05, 0.1, 1, 600}, {0, 3, 30, 7, 1}, 1234.5);
  m.upload_seconds = histogram({0.01, 0.1}, {38, 2, 0}, 0.9);
  m.queue_wait_seconds = histogram({1}, {2, 1}, 75.25);
  m.samples_rendered = 41;
  m.failures = {1, 2, 3, 4, 5};
  hb.metrics = m;
  return hb;
}

TEST(TelemetryWire, HeartbeatWithMetricsRoundTrip) {
  const Heartbeat hb = heartbeat_with_metrics();
  auto decoded = decode_telemetry(encode_telemetry(hb));
  ASSERT_TRUE(decoded) << decoded.error();
  EXPECT_EQ(std::get<Heartbeat>(*decoded), hb);
  EXPECT_EQ(std::get<Heartbeat>(*decoded).metrics->render_seconds.count(), 41u);
  EXPECT_EQ(failure_kind_name(FailureKind::kLeaseLost), "lease_lost");
}

// A heartbeat from a worker that predates metrics (no metrics pointer) decodes as one
// without them: fuzz/corpus/telemetry/heartbeat_before_metrics.capnp was written by such
// an encoder.
TEST(TelemetryWire, HeartbeatWithoutMetricsHasNone) {
  Heartbeat hb = heartbeat_with_metrics();
  hb.metrics.reset();
  auto decoded = decode_telemetry(encode_telemetry(hb));
  ASSERT_TRUE(decoded) << decoded.error();
  EXPECT_FALSE(std::get<Heartbeat>(*decoded).metrics.has_value());
  std::ifstream in(testing::source_path("fuzz/corpus/telemetry/heartbeat_before_metrics.capnp"), std::ios::binary);
  const std::string old_seed((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto old = decode_telemetry(old_seed);
  ASSERT_TRUE(old) << old.error();
  EXPECT_EQ(std::get<Heartbeat>(*old).worker_id, "worker-a1");
  EXPECT_FALSE(std::get<Heartbeat>(*old).metrics.has_value());
}

// Telemetry is an attack surface: histograms that break the promises of messages.h, and
// oversized messages, are refused with a reason; truncated bytes never crash the decoder.
TEST(TelemetryWire, MalformedMetricsAreRefused) {
  auto refused = [](const Histogram& render) {
    Heartbeat hb = heartbeat_with_metrics();
    hb.metrics->render_seconds = render;
    auto decoded = decode_telemetry(encode_telemetry(hb));
    return decoded ? std::string("(decoded)") : decoded.error();
  };
  std::vector<double> many(kMaxHistogramBounds + 1);
  for (size_t i = 0; i < many.size(); ++i) many[i] = static_cast<double>(i + 1);
  EXPECT_NE(refused(histogram(many, std::vector<uint64_t>(many.size() + 1), 0)).find("33 bucket bounds, at most 32"),
            std::string::npos);
  EXPECT_NE(refused(histogram({1, 2}, {1, 1}, 0)).find("2 counts for 2 bounds, expected 3"), std::string::npos);
  EXPECT_NE(refused(histogram({2, 1}, {0, 0, 0}, 0)).find("finite and increasing"), std::string::npos);
  EXPECT_NE(refused(histogram({1, 1}, {0, 0, 0}, 0)).find("finite and increasing"), std::string::npos);
  EXPECT_NE(refused(histogram({std::nan("")}, {0, 0}, 0)).find("finite and increasing"), std::string::npos);
  EXPECT_NE(refused(histogram({1}, {0, 0}, -1)).find("sum must be finite"), std::string::npos);
  EXPECT_NE(refused(histogram({1}, {0, 0}, std::numeric_limits<double>::infinity())).find("sum must be finite"),
            std::string::npos);
  EXPECT_NE(refused(histogram({1}, {UINT64_MAX, 1}, 0)).find("counts overflow"), std::string::npos);
  EXPECT_NE(refused(histogram({1}, {UINT64_MAX, 1}, 0)).find("metrics.renderSeconds"), std::string::npos);

  Heartbeat huge = heartbeat_with_metrics();
  huge.worker_id.assign(kMaxTelemetryBytes, 'w');
  auto decoded = decode_telemetry(encode_telemetry(huge));
  ASSERT_FALSE(decoded);
  EXPECT_NE(decoded.error().find("more than 65536"), std::string::npos) << decoded.error();

  const std::string bytes = encode_telemetry(heartbeat_with_metrics());
  for (size_t n = 0; n < bytes.size(); ++n) (void)decode_telemetry(std::string_view(bytes).substr(0, n));
}

TEST(TelemetryWire, SampleProgressRoundTrip) {
  SampleProgress sp;
  sp.worker_id = "w";
  sp.shard = {"job", 1, 2, 3, 4};
  sp.sample = 3;
  sp.render_ms = 12.5;
  sp.bytes = 1 << 20;
  sp.shard_complete = true;
  sp.sent_ms = 5;
  auto decoded = decode_telemetry(encode_telemetry(sp));
  ASSERT_TRUE(decoded) << decoded.error();
  EXPECT_EQ(std::get<SampleProgress>(*decoded), sp);
}

TEST(ControlWire, JobControlRoundTrip) {
  for (auto action : {JobControl::Action::kCancel, JobControl::Action::kDelete}) {
    JobControl message{"people-1a2b3c", action, 1234567};
    auto decoded = decode_job_control(encode_job_control(message));
    ASSERT_TRUE(decoded) << decoded.error();
    EXPECT_EQ(*decoded, message);
  }
  EXPECT_FALSE(decode_job_control("not a message"));
}

// Real sockets: a publisher on a free port and two subscribers, one of them connected to
// a second, absent coordinator as well (it must still receive).
TEST(ControlSockets, EverySubscriberHearsACancel) {
  std::string endpoint = "tcp://127.0.0.1:" + std::to_string(testing::free_tcp_port());
  std::string absent = "tcp://127.0.0.1:" + std::to_string(testing::free_tcp_port());
  auto publisher = ControlPublisher::bind(endpoint);
  ASSERT_TRUE(publisher) << publisher.error();
  auto a = ControlSubscriber::connect({endpoint});
  auto b = ControlSubscriber::connect({absent, endpoint});
  ASSERT_TRUE(a && b);
  // PUB/SUB drops messages sent before a subscription is joined: publish until heard.
  std::optional<JobControl> heard_a, heard_b;
  for (int i = 0; i < 100 && !(heard_a && heard_b); ++i) {
    (*publisher)->publish({"job-1", JobControl::Action::kCancel, i});
    if (!heard_a) heard_a = (*a)->receive(std::chrono::milliseconds(20));
    if (!heard_b) heard_b = (*b)->receive(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(heard_a && heard_b);
  EXPECT_EQ(heard_a->job_id, "job-1");
  EXPECT_EQ(heard_b->action, JobControl::Action::kCancel);
}

TEST(Telemetry, MessagesCrossRealZeroMqSockets) {
  int port = testing::free_tcp_port();
  std::string endpoint = "tcp://127.0.0.1:" + std::to_string(port);
  auto receiver = TelemetryReceiver::bind(endpoint);
  ASSERT_TRUE(receiver) << receiver.error();
  auto sender = TelemetrySender::connect(endpoint);
  ASSERT_TRUE(sender) << sender.error();
  Heartbeat hb;
  hb.worker_id = "w-1";
  hb.samples_done = 9;
  std::optional<Telemetry> got;
  for (int i = 0; i < 50 && !got; ++i) {
    (*sender)->send(hb);
    got = (*receiver)->receive(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(got);
  EXPECT_EQ(std::get<Heartbeat>(*got).worker_id, "w-1");
  EXPECT_EQ(std::get<Heartbeat>(*got).samples_done, 9u);
}

}  // namespace
}  // namespace synthfarm::protocol
