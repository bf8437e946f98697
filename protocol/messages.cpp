#include "protocol/messages.h"

#include <cmath>
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include <cstring>
#include <fmt/format.h>

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

// Bounds for reading outside bytes: a message is at most kMaxTelemetryBytes, and no read
// of it may traverse more than a few times its size (Cap'n Proto's guard against
// amplification: many pointers to one large list), nor nest deeper than our schemas do.
capnp::ReaderOptions reader_options() {
  capnp::ReaderOptions options;
  options.traversalLimitInWords = 4 * kMaxTelemetryBytes / sizeof(capnp::word);
  options.nestingLimit = 16;
  return options;
}

tl::expected<void, std::string> check_size(std::string_view bytes, const char* what) {
  if (bytes.size() <= kMaxTelemetryBytes) return {};
  return tl::unexpected(fmt::format("{} of {} bytes: more than {}", what, bytes.size(), kMaxTelemetryBytes));
}

void put_histogram(wire::Histogram::Builder out, const Histogram& h) {
  auto bounds = out.initUpperBounds(static_cast<unsigned>(h.upper_bounds.size()));
  for (size_t i = 0; i < h.upper_bounds.size(); ++i) bounds.set(static_cast<unsigned>(i), h.upper_bounds[i]);
  auto counts = out.initCounts(static_cast<unsigned>(h.counts.size()));
  for (size_t i = 0; i < h.counts.size(); ++i) counts.set(static_cast<unsigned>(i), h.counts[i]);
  out.setSum(h.sum);
}

// A histogram as Histogram (messages.h) promises it, or why not.
tl::expected<Histogram, std::string> get_histogram(wire::Histogram::Reader in, const char* field) {
  auto bounds = in.getUpperBounds();
  auto counts = in.getCounts();
  if (bounds.size() > kMaxHistogramBounds) {
    return tl::unexpected(fmt::format("{}: {} bucket bounds, at most {}", field, bounds.size(), kMaxHistogramBounds));
  }
  if (counts.size() != bounds.size() + 1) {
    return tl::unexpected(fmt::format("{}: {} counts for {} bounds, expected {}", field, counts.size(),
                                      bounds.size(), bounds.size() + 1));
  }
  Histogram h;
  for (double bound : bounds) {
    if (!std::isfinite(bound) || (!h.upper_bounds.empty() && bound <= h.upper_bounds.back())) {
      return tl::unexpected(fmt::format("{}: bucket bounds must be finite and increasing", field));
    }
    h.upper_bounds.push_back(bound);
  }
  uint64_t total = 0;
  for (uint64_t n : counts) {
    if (n > UINT64_MAX - total) return tl::unexpected(fmt::format("{}: counts overflow", field));
    total += n;
    h.counts.push_back(n);
  }
  h.sum = in.getSum();
  if (!std::isfinite(h.sum) || h.sum < 0) return tl::unexpected(fmt::format("{}: sum must be finite and >= 0", field));
  return h;
}

void put_metrics(wire::WorkerMetrics::Builder out, const WorkerMetrics& m) {
  put_histogram(out.initRenderSeconds(), m.render_seconds);
  put_histogram(out.initUploadSeconds(), m.upload_seconds);
  put_histogram(out.initQueueWaitSeconds(), m.queue_wait_seconds);
  out.setSamplesRendered(m.samples_rendered);
  auto f = out.initFailures();
  auto n = [&](FailureKind kind) { return m.failures[static_cast<size_t>(kind)]; };
  f.setRender(n(FailureKind::kRender));
  f.setInput(n(FailureKind::kInput));
  f.setUpload(n(FailureKind::kUpload));
  f.setLeaseLost(n(FailureKind::kLeaseLost));
  f.setCancelled(n(FailureKind::kCancelled));
}

tl::expected<WorkerMetrics, std::string> get_metrics(wire::WorkerMetrics::Reader in) {
  WorkerMetrics m;
  auto render = get_histogram(in.getRenderSeconds(), "metrics.renderSeconds");
  if (!render) return tl::unexpected(render.error());
  auto upload = get_histogram(in.getUploadSeconds(), "metrics.uploadSeconds");
  if (!upload) return tl::unexpected(upload.error());
  auto wait = get_histogram(in.getQueueWaitSeconds(), "metrics.queueWaitSeconds");
  if (!wait) return tl::unexpected(wait.error());
  m.render_seconds = std::move(*render);
  m.upload_seconds = std::move(*upload);
  m.queue_wait_seconds = std::move(*wait);
  m.samples_rendered = in.getSamplesRendered();
  auto f = in.getFailures();
  m.failures = {f.getRender(), f.getInput(), f.getUpload(), f.getLeaseLost(), f.getCancelled()};
  return m;
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

std::string_view failure_kind_name(FailureKind kind) {
  switch (kind) {
    case FailureKind::kRender: return "render";
    case FailureKind::kInput: return "input";
    case FailureKind::kUpload: return "upload";
    case FailureKind::kLeaseLost: return "lease_lost";
    case FailureKind::kCancelled: return "cancelled";
  }
  return "unknown";
}

uint64_t Histogram::count() const {
  uint64_t total = 0;
  for (uint64_t n : counts) total += n;
  return total;
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
    if (hb->metrics) put_metrics(h.initMetrics(), *hb->metrics);
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
  if (auto ok = check_size(bytes, "telemetry message"); !ok) return tl::unexpected(ok.error());
  try {
    auto words = aligned_words(bytes);
    capnp::FlatArrayMessageReader message(words, reader_options());
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
        if (h.hasMetrics()) {
          auto metrics = get_metrics(h.getMetrics());
          if (!metrics) return tl::unexpected("heartbeat: " + metrics.error());
          hb.metrics = std::move(*metrics);
        }
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
  if (auto ok = check_size(bytes, "control message"); !ok) return tl::unexpected(ok.error());
  try {
    auto words = aligned_words(bytes);
    capnp::FlatArrayMessageReader message(words, reader_options());
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
