#include "protocol/messages.h"

#include <gtest/gtest.h>

#include <thread>

#include "protocol/control.h"
#include "tests/fixtures.h"

namespace synthfarm::protocol {
namespace {

jobs::JobSpec full_spec() {
  jobs::JobSpec spec;
  spec.name = "people-indoor";
  spec.samples = 1234;
  spec.shard_size = 7;
  spec.seed = 0xfedcba9876543210ull;
  spec.priority = -3;
  spec.max_attempts = 5;
  spec.on_dead_shards = "partial";
  spec.humans.bvh = {"file:///assets/walk.bvh", "s3://mocap/run.bvh"};
  spec.humans.bvh_preset = "cmu";
  spec.humans.bvh_joint_map = {{"left_hip", "LThigh"}, {"head", "Head_1"}};
  spec.humans.body = jobs::Choice{{"parametric", "character"}, {2, 1}};
  spec.humans.characters = {"file:///assets/alice.glb"};
  spec.humans.character_preset = "none";
  spec.humans.character_joint_map = {{"nose", "Nose"}, {"left_eye", "LeftEye"}};
  spec.clip = {12, 25};
  spec.camera.f_number = jobs::Distribution::uniform(1.4, 8);
  spec.scene.patterns = jobs::Distribution::constant(0.3);
  spec.scene.metal = jobs::Distribution::uniform(0, 0.5);
  spec.lighting.sky = jobs::Choice{{"gradient", "preetham"}, {1, 2}};
  spec.lighting.turbidity = jobs::Distribution::constant(7);
  spec.lighting.area_lights = jobs::Distribution::uniform_int(1, 3);
  spec.lighting.lamp_intensity = jobs::Distribution::constant(50);
  spec.lighting.environment = jobs::Choice{{"sky", "file:///hdri/a.exr"}, {}};
  spec.lighting.environment_rotation_deg = jobs::Distribution::constant(45);
  spec.output.storage = "file:///data/out/people";
  spec.output.layers = {jobs::Layer::kRgb, jobs::Layer::kSemantic};
  spec.output.preview_png = false;
  spec.camera.width = 321;
  spec.camera.height = 123;
  spec.camera.fov_deg = jobs::Distribution::normal(60, 5, 40, 80);
  spec.camera.keep_in_frame = "none";
  spec.render.spp = 3;
  spec.render.max_bounces = 7;
  spec.scene.kind = {{"studio", "room"}, {2.0, 1.0}};
  jobs::Distribution props;
  props.kind = jobs::Distribution::Kind::kChoice;
  props.values = {1, 2, 5};
  props.weights = {0.5, 0.25, 0.25};
  spec.scene.props = props;
  spec.lighting.sky_intensity = jobs::Distribution::uniform(0.5, 2);
  spec.humans.count = jobs::Distribution::constant(2);
  spec.humans.motion = {{"walk", "wave"}, {}};
  return spec;
}

TEST(JobSpecWire, RoundTripKeepsEveryField) {
  auto spec = full_spec();
  auto decoded = decode_job_spec(encode_job_spec(spec));
  ASSERT_TRUE(decoded) << decoded.error();
  EXPECT_EQ(*decoded, spec);
}

TEST(JobSpecWire, DefaultsRoundTrip) {
  jobs::JobSpec spec;
  spec.name = "x";
  spec.samples = 1;
  auto decoded = decode_job_spec(encode_job_spec(spec));
  ASSERT_TRUE(decoded) << decoded.error();
  EXPECT_EQ(*decoded, spec);
}

TEST(JobSpecWire, GarbageIsAnErrorNotACrash) {
  auto decoded = decode_job_spec(std::string("\x05\x00\x00\x00garbage-bytes", 17));
  EXPECT_FALSE(decoded);
}

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

}  // namespace
}  // namespace synthfarm::protocol
