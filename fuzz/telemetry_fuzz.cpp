// The telemetry decoder (protocol/messages.h): Cap'n Proto bytes that any peer of the
// coordinator's telemetry socket may send (without CURVE, anyone who reaches the port),
// and what the coordinator does with a message that decodes: its live view of the farm
// (coordinator/farm_view.h), fed the message twice and read as the API and dashboard do.
// Properties: no crash; a message that decodes re-encodes to bytes that decode again,
// and encoding what those decode to gives the same bytes (byte equality, so a NaN rate
// compares as itself).
#include <string>
#include <variant>

#include "coordinator/farm_view.h"
#include "fuzz/fuzz_check.h"
#include "protocol/messages.h"

using synthfarm::fuzz::as_text;
using synthfarm::fuzz::check;
namespace protocol = synthfarm::protocol;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto message = protocol::decode_telemetry(as_text(data, size));
  if (!message) return 0;
  const std::string bytes = protocol::encode_telemetry(*message);
  auto again = protocol::decode_telemetry(bytes);
  check(again.has_value(), "a re-encoded telemetry message decodes");
  check(protocol::encode_telemetry(*again) == bytes, "telemetry encoding is stable");

  synthfarm::coordinator::FarmView view;
  constexpr int64_t kNowMs = 1'765'000'000'000;
  view.on_telemetry(*message, kNowMs);
  view.on_telemetry(*message, kNowMs + 1000);
  for (const auto& worker : view.workers(kNowMs + 2000)) {
    (void)protocol::worker_state_name(worker.heartbeat.state);
  }
  const std::string& job =
      std::visit([](const auto& m) -> const std::string& { return m.shard.job_id; }, *message);
  (void)view.job(job, kNowMs + 2000);
  (void)view.total_samples_per_sec(kNowMs + 2000);
  return 0;
}
