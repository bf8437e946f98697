// The job control decoder (protocol/messages.h): Cap'n Proto bytes a worker receives on
// its control subscription (from whoever binds the coordinator's control endpoint).
// Properties as for telemetry: no crash, and decode/encode is stable.
#include <string>

#include "fuzz/fuzz_check.h"
#include "protocol/messages.h"

using synthfarm::fuzz::as_text;
using synthfarm::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto message = synthfarm::protocol::decode_job_control(as_text(data, size));
  if (!message) return 0;
  const std::string bytes = synthfarm::protocol::encode_job_control(*message);
  auto again = synthfarm::protocol::decode_job_control(bytes);
  check(again.has_value(), "a re-encoded control message decodes");
  check(*again == *message, "a control message survives encode and decode");
  return 0;
}
