// The scan readers (recon/scan_input.h): a user's .ply or .obj scan that a reconstruction
// job fits the body to. Every input goes to both readers.
// Properties: no crash; a read scan has finite points and triangles that index them.
#include "fuzz/fuzz_check.h"
#include "recon/scan_input.h"

#include <cmath>

using synthfarm::fuzz::as_text;
using synthfarm::fuzz::check;
namespace recon = synthfarm::recon;

namespace {

void check_scan(const tl::expected<recon::Scan, std::string>& scan) {
  if (!scan) return;
  check(!scan->points.empty(), "a read scan has points");
  for (const auto& p : scan->points) {
    check(std::isfinite(p.x) && std::isfinite(p.y) && std::isfinite(p.z), "points are finite");
  }
  for (const auto& t : scan->triangles) {
    for (uint32_t i : t) check(i < scan->points.size(), "triangles index the points");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  check_scan(recon::read_scan(as_text(data, size), "fuzz.ply"));
  check_scan(recon::read_scan(as_text(data, size), "fuzz.obj"));
  return 0;
}
