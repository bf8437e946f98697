// The COCO person-keypoints reader (recon/coco_input.h): a user's keypoints file that a
// reconstruction job fits the body to, parsed at submission (to count the job's units) and
// by workers. A parsed file goes on to grouping in every unit kind and to the fitter's
// inputs, which index the parsed arrays.
// Properties: no crash; parsed indices point into the file; units hold fittable people.
#include "fuzz/fuzz_check.h"
#include "recon/coco_input.h"

#include <cmath>

using synthfarm::fuzz::as_text;
using synthfarm::fuzz::check;
namespace recon = synthfarm::recon;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto file = recon::parse_coco_keypoints(as_text(data, size), "fuzz.json");
  if (!file) return 0;
  for (const auto& person : file->people) {
    check(person.image < file->images.size(), "a person's image is an image of the file");
    for (double v : person.keypoints.xyv) check(std::isfinite(v), "keypoints are finite");
  }
  for (auto kind : {recon::CocoUnitKind::kImages, recon::CocoUnitKind::kInstants, recon::CocoUnitKind::kTracks}) {
    auto units = recon::group_units(*file, kind);
    if (!units) continue;
    for (const auto& unit : units->images) {
      check(!recon::image_unit_inputs(*file, unit).empty(), "an image unit has a person");
    }
    for (const auto& unit : units->instants) {
      auto inputs = recon::instant_unit_inputs(*file, unit);
      check(inputs.views.size() == inputs.keypoints.size(), "one view per keypoint set");
    }
    for (const auto& unit : units->tracks) {
      check(unit.frames.size() <= recon::kMaxTrackFrames, "a track is at most kMaxTrackFrames long");
      check(recon::track_unit_inputs(*file, unit).size() == unit.frames.size(), "one input per frame");
    }
  }
  return 0;
}
