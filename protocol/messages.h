// Plain C++ forms of the wire messages in synthfarm.capnp and their codecs.
// Cap'n Proto types stay inside protocol/: callers see only these structs and bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include <tl/expected.hpp>

#include "queue/shard.h"

namespace synthfarm::protocol {

// Telemetry names shards as the queue does.
using queue::ShardRef;

enum class WorkerState { kIdle, kRendering, kStopping };
std::string_view worker_state_name(WorkerState state);

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

// Flat (unpacked) Cap'n Proto message bytes.
std::string encode_telemetry(const Telemetry& message);
tl::expected<Telemetry, std::string> decode_telemetry(std::string_view bytes);

std::string encode_job_control(const JobControl& message);
tl::expected<JobControl, std::string> decode_job_control(std::string_view bytes);

}  // namespace synthfarm::protocol
