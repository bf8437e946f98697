// Plain C++ forms of the wire messages in synthfarm.capnp and their codecs.
// Cap'n Proto types stay inside protocol/: callers see only these structs and bytes.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <tl/expected.hpp>

#include "queue/shard.h"

namespace synthfarm::protocol {

// Telemetry names shards as the queue does.
using queue::ShardRef;

enum class WorkerState { kIdle, kRendering, kStopping };
std::string_view worker_state_name(WorkerState state);

// Telemetry is an attack surface (anyone who reaches the coordinator's port, without
// CURVE): decoders refuse a message larger than this, or a histogram with more bounds.
inline constexpr size_t kMaxTelemetryBytes = 64 * 1024;
inline constexpr size_t kMaxHistogramBounds = 32;

// A Prometheus histogram as it travels: per-bucket counts (not cumulative), the last one
// above every bound (+Inf). Decoded ones are valid: bounds finite and strictly
// increasing, counts.size() == upper_bounds.size() + 1, sum finite and >= 0, and the total
// count fits in 64 bits.
struct Histogram {
  std::vector<double> upper_bounds;  // seconds
  std::vector<uint64_t> counts;
  double sum = 0;                    // seconds
  uint64_t count() const;            // every observation
  friend bool operator==(const Histogram&, const Histogram&) = default;
};

// Why a worker did not complete a shard (synthfarm.capnp, ShardFailures).
enum class FailureKind { kRender, kInput, kUpload, kLeaseLost, kCancelled };
inline constexpr size_t kFailureKinds = 5;
// "render", "input", "upload", "lease_lost", "cancelled": the `kind` label's values.
std::string_view failure_kind_name(FailureKind kind);
inline constexpr std::array<FailureKind, kFailureKinds> kAllFailureKinds = {
    FailureKind::kRender, FailureKind::kInput, FailureKind::kUpload, FailureKind::kLeaseLost,
    FailureKind::kCancelled};

// A worker's own metrics, cumulative since the process started (synthfarm.capnp).
struct WorkerMetrics {
  Histogram render_seconds;      // per sample rendered
  Histogram upload_seconds;      // per sample stored (all of its objects)
  Histogram queue_wait_seconds;  // per shard claimed
  uint64_t samples_rendered = 0;
  std::array<uint64_t, kFailureKinds> failures{};  // by FailureKind
  friend bool operator==(const WorkerMetrics&, const WorkerMetrics&) = default;
};

struct Heartbeat {
  std::string worker_id;
  std::string host;
  uint32_t pid = 0;
  WorkerState state = WorkerState::kIdle;
  ShardRef shard;
  uint64_t samples_done = 0;
  double samples_per_sec = 0;
  int64_t sent_ms = 0;
  uint32_t threads = 0;
  std::optional<WorkerMetrics> metrics;  // none from workers that predate it
  friend bool operator==(const Heartbeat&, const Heartbeat&) = default;
};

struct SampleProgress {
  std::string worker_id;
  ShardRef shard;
  uint64_t sample = 0;
  double render_ms = 0;
  uint64_t bytes = 0;
  bool shard_complete = false;
  int64_t sent_ms = 0;
  double residual_px = -1;  // a fit_people unit's mean reprojection error, pixels; -1: none
  friend bool operator==(const SampleProgress&, const SampleProgress&) = default;
};

using Telemetry = std::variant<Heartbeat, SampleProgress>;

// Coordinator -> workers, on the control socket.
struct JobControl {
  enum class Action { kCancel, kDelete };
  std::string job_id;
  Action action = Action::kCancel;
  int64_t sent_ms = 0;
  friend bool operator==(const JobControl&, const JobControl&) = default;
};

// Flat (unpacked) Cap'n Proto message bytes. Decoders refuse more than kMaxTelemetryBytes.
std::string encode_telemetry(const Telemetry& message);
tl::expected<Telemetry, std::string> decode_telemetry(std::string_view bytes);

std::string encode_job_control(const JobControl& message);
tl::expected<JobControl, std::string> decode_job_control(std::string_view bytes);

}  // namespace synthfarm::protocol
