#include "protocol/messages.h"

#include <gtest/gtest.h>

#include <thread>

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
