// The telemetry decoder (protocol/messages.h): Cap'n Proto bytes that any peer of the
// coordinator's telemetry socket may send (without CURVE, anyone who reaches the port),
// and what the coordinator does with a message that decodes: its live view of the farm
// (coordinator/farm_view.h), fed the message twice and read as the API, the dashboard and
// /metrics do (a heartbeat's worker metrics re-exported: coordinator/metrics_text.h).
// Properties: no crash; a message that decodes re-encodes to bytes that decode again,
// and encoding what those decode to gives the same bytes (byte equality, so a NaN rate
// compares as itself).
#include <string>
#include <variant>

#include "coordinator/api_json.h"
#include "coordinator/farm_view.h"
#include "coordinator/metrics_text.h"
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
  const auto workers = view.workers(kNowMs + 2000);
  for (const auto& worker : workers) {
    (void)protocol::worker_state_name(worker.heartbeat.state);
    (void)synthfarm::coordinator::json_text(synthfarm::coordinator::worker_json(worker, kNowMs + 2000));
  }
  const std::string text = synthfarm::coordinator::worker_metrics_text(workers, kNowMs + 2000);
  // Whatever the peer sent, each line of the exposition is one line: a comment or a sample.
  size_t start = 0;
  for (size_t end = text.find('\n'); end != std::string::npos; start = end + 1, end = text.find('\n', start)) {
    const std::string_view line(text.data() + start, end - start);
    check(line.starts_with("# ") || line.starts_with("synthfarm_worker_"), "one exposition line per sample");
  }
  check(start == text.size(), "the exposition ends with a newline");
  const std::string& job =
      std::visit([](const auto& m) -> const std::string& { return m.shard.job_id; }, *message);
  (void)view.job(job, kNowMs + 2000);
  (void)view.total_samples_per_sec(kNowMs + 2000);
  return 0;
}
