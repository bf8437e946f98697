#include "protocol/messages.h"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include <cstring>

#include "protocol/synthfarm.capnp.h"

namespace synthfarm::protocol {
namespace {

using jobs::Choice;
using jobs::Distribution;

void put_distribution(wire::Distribution::Builder out, const Distribution& d) {
  out.setKind(static_cast<wire::Distribution::Kind>(d.kind));
  out.setA(d.a);
  out.setB(d.b);
  out.setClipLo(d.clip_lo);
  out.setClipHi(d.clip_hi);
  auto values = out.initValues(static_cast<unsigned>(d.values.size()));
  for (unsigned i = 0; i < d.values.size(); ++i) values.set(i, d.values[i]);
  auto weights = out.initWeights(static_cast<unsigned>(d.weights.size()));
  for (unsigned i = 0; i < d.weights.size(); ++i) weights.set(i, d.weights[i]);
}

Distribution get_distribution(wire::Distribution::Reader in) {
  Distribution d;
  d.kind = static_cast<Distribution::Kind>(in.getKind());
  d.a = in.getA();
  d.b = in.getB();
  d.clip_lo = in.getClipLo();
  d.clip_hi = in.getClipHi();
  for (double v : in.getValues()) d.values.push_back(v);
  for (double w : in.getWeights()) d.weights.push_back(w);
  return d;
}

void put_choice(wire::Choice::Builder out, const Choice& c) {
  auto values = out.initValues(static_cast<unsigned>(c.values.size()));
  for (unsigned i = 0; i < c.values.size(); ++i) values.set(i, c.values[i]);
  auto weights = out.initWeights(static_cast<unsigned>(c.weights.size()));
  for (unsigned i = 0; i < c.weights.size(); ++i) weights.set(i, c.weights[i]);
}

Choice get_choice(wire::Choice::Reader in) {
  Choice c;
  for (auto v : in.getValues()) c.values.emplace_back(v.cStr());
  for (double w : in.getWeights()) c.weights.push_back(w);
  return c;
}

std::string to_bytes(capnp::MessageBuilder& message) {
  auto words = capnp::messageToFlatArray(message);
  auto bytes = words.asBytes();
  return std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
}

// Cap'n Proto needs word-aligned input; copy into an aligned buffer.
kj::Array<capnp::word> aligned_words(std::string_view bytes) {
  auto words = kj::heapArray<capnp::word>((bytes.size() + sizeof(capnp::word) - 1) /
                                          sizeof(capnp::word));
  memset(words.begin(), 0, words.size() * sizeof(capnp::word));
  memcpy(words.begin(), bytes.data(), bytes.size());
  return words;
}

void put_shard(wire::ShardRef::Builder out, const ShardRef& s) {
  out.setJobId(s.job_id);
  out.setShard(s.shard);
  out.setToken(s.token);
  out.setFirstSample(s.first_sample);
  out.setSampleCount(s.sample_count);
}

ShardRef get_shard(wire::ShardRef::Reader in) {
  return {in.getJobId().cStr(), in.getShard(), in.getToken(), in.getFirstSample(),
          in.getSampleCount()};
}

}  // namespace

std::string_view worker_state_name(WorkerState state) {
  switch (state) {
    case WorkerState::kIdle: return "idle";
    case WorkerState::kRendering: return "rendering";
    case WorkerState::kStopping: return "stopping";
  }
  return "unknown";
}

std::string encode_job_spec(const jobs::JobSpec& spec) {
  capnp::MallocMessageBuilder message;
  auto out = message.initRoot<wire::JobSpec>();
  out.setName(spec.name);
  out.setSamples(spec.samples);
  out.setShardSize(spec.shard_size);
  out.setSeed(spec.seed);
  out.setPriority(spec.priority);
  out.setMaxAttempts(spec.max_attempts);
  out.setOnDeadShards(spec.on_dead_shards);

  auto output = out.initOutput();
  output.setStorage(spec.output.storage);
  auto layers = output.initLayers(static_cast<unsigned>(spec.output.layers.size()));
  for (unsigned i = 0; i < spec.output.layers.size(); ++i) {
    auto name = jobs::layer_name(spec.output.layers[i]);
    layers.set(i, capnp::Text::Reader(name.data(), name.size()));
  }
  auto labels = output.initLabels(static_cast<unsigned>(spec.output.labels.size()));
  for (unsigned i = 0; i < spec.output.labels.size(); ++i) labels.set(i, spec.output.labels[i]);
  output.setPreviewPng(spec.output.preview_png);

  auto camera = out.initCamera();
  camera.setWidth(spec.camera.width);
  camera.setHeight(spec.camera.height);
  put_distribution(camera.initFovDeg(), spec.camera.fov_deg);
  put_distribution(camera.initHeightM(), spec.camera.height_m);
  put_distribution(camera.initDistanceM(), spec.camera.distance_m);
  camera.setKeepInFrame(spec.camera.keep_in_frame);
  put_distribution(camera.initFNumber(), spec.camera.f_number);

  auto render = out.initRender();
  render.setSpp(spec.render.spp);
  render.setMaxBounces(spec.render.max_bounces);

  auto scene = out.initScene();
  put_choice(scene.initKind(), spec.scene.kind);
  put_distribution(scene.initProps(), spec.scene.props);
  put_distribution(scene.initPatterns(), spec.scene.patterns);
  put_distribution(scene.initMetal(), spec.scene.metal);

  auto lighting = out.initLighting();
  put_distribution(lighting.initSunElevationDeg(), spec.lighting.sun_elevation_deg);
  put_distribution(lighting.initSunAzimuthDeg(), spec.lighting.sun_azimuth_deg);
  put_distribution(lighting.initSunIntensity(), spec.lighting.sun_intensity);
  put_distribution(lighting.initSkyIntensity(), spec.lighting.sky_intensity);
  put_choice(lighting.initSky(), spec.lighting.sky);
  put_distribution(lighting.initTurbidity(), spec.lighting.turbidity);
  put_distribution(lighting.initAreaLights(), spec.lighting.area_lights);
  put_distribution(lighting.initAreaLightIntensity(), spec.lighting.area_light_intensity);
  put_distribution(lighting.initLamps(), spec.lighting.lamps);
  put_distribution(lighting.initLampIntensity(), spec.lighting.lamp_intensity);
  put_choice(lighting.initEnvironment(), spec.lighting.environment);
  put_distribution(lighting.initEnvironmentIntensity(), spec.lighting.environment_intensity);
  put_distribution(lighting.initEnvironmentRotationDeg(), spec.lighting.environment_rotation_deg);

  auto humans = out.initHumans();
  put_distribution(humans.initCount(), spec.humans.count);
  put_distribution(humans.initHeightM(), spec.humans.height_m);
  put_distribution(humans.initBmi(), spec.humans.bmi);
  put_distribution(humans.initSkinTone(), spec.humans.skin_tone);
  put_choice(humans.initMotion(), spec.humans.motion);
  put_distribution(humans.initSex(), spec.humans.sex);
  put_distribution(humans.initAge(), spec.humans.age);
  put_distribution(humans.initShoulderWidth(), spec.humans.shoulder_width);
  put_distribution(humans.initHipWidth(), spec.humans.hip_width);
  put_distribution(humans.initLegLength(), spec.humans.leg_length);
  put_distribution(humans.initArmLength(), spec.humans.arm_length);
  put_distribution(humans.initHeadSize(), spec.humans.head_size);
  put_distribution(humans.initMotionSpeed(), spec.humans.motion_speed);
  put_distribution(humans.initMotionPhase(), spec.humans.motion_phase);
  auto bvh = humans.initBvh(static_cast<unsigned>(spec.humans.bvh.size()));
  for (unsigned i = 0; i < spec.humans.bvh.size(); ++i) bvh.set(i, spec.humans.bvh[i]);
  humans.setBvhPreset(spec.humans.bvh_preset);
  auto map = humans.initBvhJointMap(static_cast<unsigned>(spec.humans.bvh_joint_map.size()));
  unsigned entry = 0;
  for (const auto& [ours, theirs] : spec.humans.bvh_joint_map) map.set(entry++, ours + "=" + theirs);
  put_choice(humans.initBody(), spec.humans.body);
  auto characters = humans.initCharacters(static_cast<unsigned>(spec.humans.characters.size()));
  for (unsigned i = 0; i < spec.humans.characters.size(); ++i) characters.set(i, spec.humans.characters[i]);
  humans.setCharacterPreset(spec.humans.character_preset);
  auto character_map = humans.initCharacterJointMap(static_cast<unsigned>(spec.humans.character_joint_map.size()));
  entry = 0;
  for (const auto& [keypoint, joint] : spec.humans.character_joint_map) {
    character_map.set(entry++, keypoint + "=" + joint);
  }
  auto clip = out.initClip();
  clip.setFrames(spec.clip.frames);
  clip.setFps(spec.clip.fps);
  return to_bytes(message);
}

tl::expected<jobs::JobSpec, std::string> decode_job_spec(std::string_view bytes) {
  try {
    auto words = aligned_words(bytes);
    capnp::FlatArrayMessageReader message(words);
    auto in = message.getRoot<wire::JobSpec>();
    jobs::JobSpec spec;
    spec.name = in.getName().cStr();
    spec.samples = in.getSamples();
    spec.shard_size = in.getShardSize();
    spec.seed = in.getSeed();
    spec.priority = in.getPriority();
    spec.max_attempts = in.getMaxAttempts();
    if (in.hasOnDeadShards()) spec.on_dead_shards = in.getOnDeadShards().cStr();

    auto output = in.getOutput();
    spec.output.storage = output.getStorage().cStr();
    spec.output.layers.clear();
    for (auto name : output.getLayers()) {
      auto layer = jobs::layer_from_name(name.cStr());
      if (!layer) return tl::unexpected(std::string("job spec names an unknown layer '") +
                                        name.cStr() + "' (is this worker older than the coordinator?)");
      spec.output.layers.push_back(*layer);
    }
    spec.output.labels.clear();
    for (auto label : output.getLabels()) spec.output.labels.emplace_back(label.cStr());
    spec.output.preview_png = output.getPreviewPng();

    auto camera = in.getCamera();
    spec.camera.width = camera.getWidth();
    spec.camera.height = camera.getHeight();
    spec.camera.fov_deg = get_distribution(camera.getFovDeg());
    spec.camera.height_m = get_distribution(camera.getHeightM());
    spec.camera.distance_m = get_distribution(camera.getDistanceM());
    spec.camera.keep_in_frame = camera.getKeepInFrame().cStr();
    spec.camera.f_number = get_distribution(camera.getFNumber());

    spec.render.spp = in.getRender().getSpp();
    spec.render.max_bounces = in.getRender().getMaxBounces();

    spec.scene.kind = get_choice(in.getScene().getKind());
    spec.scene.props = get_distribution(in.getScene().getProps());
    spec.scene.patterns = get_distribution(in.getScene().getPatterns());
    spec.scene.metal = get_distribution(in.getScene().getMetal());

    auto lighting = in.getLighting();
    spec.lighting.sun_elevation_deg = get_distribution(lighting.getSunElevationDeg());
    spec.lighting.sun_azimuth_deg = get_distribution(lighting.getSunAzimuthDeg());
    spec.lighting.sun_intensity = get_distribution(lighting.getSunIntensity());
    spec.lighting.sky_intensity = get_distribution(lighting.getSkyIntensity());
    spec.lighting.sky = get_choice(lighting.getSky());
    spec.lighting.turbidity = get_distribution(lighting.getTurbidity());
    spec.lighting.area_lights = get_distribution(lighting.getAreaLights());
    spec.lighting.area_light_intensity = get_distribution(lighting.getAreaLightIntensity());
    spec.lighting.lamps = get_distribution(lighting.getLamps());
    spec.lighting.lamp_intensity = get_distribution(lighting.getLampIntensity());
    spec.lighting.environment = get_choice(lighting.getEnvironment());
    spec.lighting.environment_intensity = get_distribution(lighting.getEnvironmentIntensity());
    spec.lighting.environment_rotation_deg = get_distribution(lighting.getEnvironmentRotationDeg());

    auto humans = in.getHumans();
    spec.humans.count = get_distribution(humans.getCount());
    spec.humans.height_m = get_distribution(humans.getHeightM());
    spec.humans.bmi = get_distribution(humans.getBmi());
    spec.humans.skin_tone = get_distribution(humans.getSkinTone());
    spec.humans.motion = get_choice(humans.getMotion());
    spec.humans.sex = get_distribution(humans.getSex());
    spec.humans.age = get_distribution(humans.getAge());
    spec.humans.shoulder_width = get_distribution(humans.getShoulderWidth());
    spec.humans.hip_width = get_distribution(humans.getHipWidth());
    spec.humans.leg_length = get_distribution(humans.getLegLength());
    spec.humans.arm_length = get_distribution(humans.getArmLength());
    spec.humans.head_size = get_distribution(humans.getHeadSize());
    spec.humans.motion_speed = get_distribution(humans.getMotionSpeed());
    spec.humans.motion_phase = get_distribution(humans.getMotionPhase());
    for (auto uri : humans.getBvh()) spec.humans.bvh.push_back(uri.cStr());
    if (humans.hasBvhPreset()) spec.humans.bvh_preset = humans.getBvhPreset().cStr();
    for (auto entry : humans.getBvhJointMap()) {
      std::string text = entry.cStr();
      auto eq = text.find('=');
      if (eq != std::string::npos) spec.humans.bvh_joint_map[text.substr(0, eq)] = text.substr(eq + 1);
    }
    // Specs from a coordinator older than these fields keep the defaults.
    if (humans.hasBody()) spec.humans.body = get_choice(humans.getBody());
    for (auto uri : humans.getCharacters()) spec.humans.characters.push_back(uri.cStr());
    if (humans.hasCharacterPreset()) spec.humans.character_preset = humans.getCharacterPreset().cStr();
    for (auto entry : humans.getCharacterJointMap()) {
      std::string text = entry.cStr();
      auto eq = text.find('=');
      if (eq != std::string::npos) spec.humans.character_joint_map[text.substr(0, eq)] = text.substr(eq + 1);
    }
    if (in.hasClip()) {
      spec.clip.frames = in.getClip().getFrames();
      spec.clip.fps = in.getClip().getFps();
    }
    return spec;
  } catch (const kj::Exception& e) {
    return tl::unexpected("malformed job spec message: " + std::string(e.getDescription().cStr()));
  }
}

std::string encode_telemetry(const Telemetry& message) {
  capnp::MallocMessageBuilder builder;
  auto out = builder.initRoot<wire::Telemetry>();
  if (const auto* hb = std::get_if<Heartbeat>(&message)) {
    auto h = out.initHeartbeat();
    h.setWorkerId(hb->worker_id);
    h.setHost(hb->host);
    h.setPid(hb->pid);
    h.setState(static_cast<wire::Heartbeat::State>(hb->state));
    put_shard(h.initShard(), hb->shard);
    h.setSamplesDone(hb->samples_done);
    h.setSamplesPerSec(hb->samples_per_sec);
    h.setSentMs(hb->sent_ms);
    h.setThreads(hb->threads);
  } else {
    const auto& sp = std::get<SampleProgress>(message);
    auto p = out.initSampleProgress();
    p.setWorkerId(sp.worker_id);
    put_shard(p.initShard(), sp.shard);
    p.setSample(sp.sample);
    p.setRenderMs(sp.render_ms);
    p.setBytes(sp.bytes);
    p.setShardComplete(sp.shard_complete);
    p.setSentMs(sp.sent_ms);
  }
  return to_bytes(builder);
}

tl::expected<Telemetry, std::string> decode_telemetry(std::string_view bytes) {
  try {
    auto words = aligned_words(bytes);
    capnp::FlatArrayMessageReader message(words);
    auto in = message.getRoot<wire::Telemetry>();
    switch (in.which()) {
      case wire::Telemetry::HEARTBEAT: {
        auto h = in.getHeartbeat();
        Heartbeat hb;
        hb.worker_id = h.getWorkerId().cStr();
        hb.host = h.getHost().cStr();
        hb.pid = h.getPid();
        hb.state = static_cast<WorkerState>(h.getState());
        hb.shard = get_shard(h.getShard());
        hb.samples_done = h.getSamplesDone();
        hb.samples_per_sec = h.getSamplesPerSec();
        hb.sent_ms = h.getSentMs();
        hb.threads = h.getThreads();
        return hb;
      }
      case wire::Telemetry::SAMPLE_PROGRESS: {
        auto p = in.getSampleProgress();
        SampleProgress sp;
        sp.worker_id = p.getWorkerId().cStr();
        sp.shard = get_shard(p.getShard());
        sp.sample = p.getSample();
        sp.render_ms = p.getRenderMs();
        sp.bytes = p.getBytes();
        sp.shard_complete = p.getShardComplete();
        sp.sent_ms = p.getSentMs();
        return sp;
      }
    }
    return tl::unexpected(std::string("telemetry message of an unknown kind"));
  } catch (const kj::Exception& e) {
    return tl::unexpected("malformed telemetry message: " + std::string(e.getDescription().cStr()));
  }
}

std::string encode_job_control(const JobControl& message) {
  capnp::MallocMessageBuilder builder;
  auto out = builder.initRoot<wire::JobControl>();
  out.setJobId(message.job_id);
  out.setAction(message.action == JobControl::Action::kDelete ? wire::JobControl::Action::DELETE
                                                               : wire::JobControl::Action::CANCEL);
  out.setSentMs(message.sent_ms);
  return to_bytes(builder);
}

tl::expected<JobControl, std::string> decode_job_control(std::string_view bytes) {
  try {
    auto words = aligned_words(bytes);
    capnp::FlatArrayMessageReader message(words);
    auto in = message.getRoot<wire::JobControl>();
    JobControl out;
    out.job_id = in.getJobId().cStr();
    switch (in.getAction()) {
      case wire::JobControl::Action::CANCEL:
        out.action = JobControl::Action::kCancel;
        break;
      case wire::JobControl::Action::DELETE:
        out.action = JobControl::Action::kDelete;
        break;
      default:
        return tl::unexpected(std::string("control message with an unknown action"));
    }
    out.sent_ms = in.getSentMs();
    return out;
  } catch (const kj::Exception& e) {
    return tl::unexpected("malformed control message: " + std::string(e.getDescription().cStr()));
  }
}

}  // namespace synthfarm::protocol
