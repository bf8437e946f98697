#include "coordinator/telemetry_relay.h"

#include <spdlog/spdlog.h>

namespace synthfarm::coordinator {

TelemetryRelay::TelemetryRelay(const queue::RedisEndpoint& endpoint, std::string stream_key)
    : key_(std::move(stream_key)),
      writer_(queue::RedisClient::create(endpoint, std::chrono::seconds(2))),
      // Longer than any blocking read asks for, so a quiet stream is not a timeout.
      reader_(queue::RedisClient::create(endpoint, std::chrono::seconds(5))) {}

queue::RedisResult<void> TelemetryRelay::publish(const std::vector<protocol::Telemetry>& messages) {
  if (messages.empty()) return {};
  std::vector<std::vector<std::string>> commands;
  commands.reserve(messages.size());
  for (const auto& m : messages) {
    commands.push_back({"XADD", key_, "MAXLEN", "~", std::to_string(kStreamLength), "*", "m",
                        protocol::encode_telemetry(m)});
  }
  auto replies = writer_->pipeline(commands);
  if (!replies) return tl::unexpected(replies.error());
  return {};
}

queue::RedisResult<std::vector<protocol::Telemetry>> TelemetryRelay::read(std::chrono::milliseconds wait) {
  auto reply = reader_->command(
      {"XREAD", "COUNT", "1000", "BLOCK", std::to_string(wait.count()), "STREAMS", key_, last_id_});
  if (!reply) return tl::unexpected(reply.error());
  std::vector<protocol::Telemetry> out;
  // [[key, [[id, [field, value, ...]], ...]]], or nil when nothing came within `wait`.
  for (const auto& stream : reply->elements) {
    if (stream.elements.size() < 2) continue;
    for (const auto& entry : stream.elements[1].elements) {
      if (entry.elements.size() < 2) continue;
      last_id_ = entry.elements[0].str;
      const auto& fields = entry.elements[1].elements;
      for (size_t i = 0; i + 1 < fields.size(); i += 2) {
        if (fields[i].str != "m") continue;
        auto message = protocol::decode_telemetry(fields[i + 1].str);
        if (message) {
          out.push_back(std::move(*message));
        } else {
          ++undecodable_;
        }
      }
    }
  }
  return out;
}

void TelemetryRelay::publish_or_apply(const std::vector<protocol::Telemetry>& batch, FarmView& view, int64_t now_ms) {
  if (auto published = publish(batch); !published) {
    if (publishing_) spdlog::warn("shared view: {}; showing local telemetry only", published.error().message);
    publishing_ = false;
    for (const auto& m : batch) view.on_telemetry(m, now_ms);
  } else if (!publishing_) {
    spdlog::info("shared view: publishing telemetry to Redis again");
    publishing_ = true;
  }
}

void TelemetryRelay::apply_loop(FarmView& view, const Clock& clock, const std::atomic<bool>& stop) {
  int failures = 0;
  while (!stop) {
    auto messages = read(std::chrono::milliseconds(500));
    if (!messages) {
      if (failures++ % 20 == 0) spdlog::warn("shared view: {}", messages.error().message);
      queue::sleep_unless_stopped(std::chrono::seconds(1), stop);
      continue;
    }
    failures = 0;
    const int64_t now = clock.wall_ms();
    for (const auto& m : *messages) view.on_telemetry(m, now);
  }
}

}  // namespace synthfarm::coordinator
