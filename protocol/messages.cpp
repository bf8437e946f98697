#include "protocol/messages.h"

#include <cmath>
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include <cstring>

#include "protocol/synthfarm.capnp.h"

namespace synthfarm::protocol {
namespace {

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
    p.setResidualPx(sp.residual_px);
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
        // Display only; a value that is no distance is no figure.
        sp.residual_px = std::isfinite(p.getResidualPx()) && p.getResidualPx() >= 0 ? p.getResidualPx() : -1;
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
