// The spec parser (jobs/spec.h): YAML or JSON from a user's file or a POST /api/jobs body.
// Properties: parsing never crashes; every error names where it is (a line within the
// text, when it has one); a spec that parses is canonical: its JSON (what the queue stores
// and workers parse again) parses to the same JSON.
#include <string>

#include "fuzz/fuzz_check.h"
#include "jobs/spec.h"

using synthfarm::fuzz::as_text;
using synthfarm::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = as_text(data, size);
  auto spec = synthfarm::jobs::parse_spec(text, "fuzz.yaml");
  if (!spec) {
    check(!spec.error().empty(), "a failed parse returns at least one error");
    for (const auto& e : spec.error()) {
      check(e.line >= 0 && e.column >= 0, "error positions are 1-based or 0 (unknown)");
      (void)e.to_string();
    }
    return 0;
  }
  const std::string json = synthfarm::jobs::spec_to_json(*spec);
  auto again = synthfarm::jobs::parse_spec(json, "canonical.json");
  check(again.has_value(), "the canonical JSON of a parsed spec parses");
  check(synthfarm::jobs::spec_to_json(*again) == json, "the canonical JSON is a fixed point");
  (void)synthfarm::jobs::spec_locations(*spec);
  return 0;
}
