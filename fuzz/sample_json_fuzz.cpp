// Sample JSONs as the coordinator's finalizer reads them (jobs/coco.h DatasetBuilder):
// the per-sample label files workers write to storage, merged into the dataset's COCO
// files. Each input is added as one image, then a second time (ids continue), and the files
// are finished. Properties: no crash (every malformed field is an error naming it); an
// image that is refused adds nothing; the finished files are JSON.
#include <nlohmann/json.hpp>

#include "fuzz/fuzz_check.h"
#include "jobs/coco.h"

using synthfarm::fuzz::as_text;
using synthfarm::fuzz::check;
namespace coco = synthfarm::jobs::coco;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view json = as_text(data, size);
  coco::DatasetBuilder builder(R"({"description":"fuzz"})");
  for (int copy = 0; copy < 2; ++copy) {
    const uint64_t images = builder.images(), people = builder.person_annotations(),
                   instances = builder.instance_annotations();
    auto added = builder.add_image(json, "samples/00000000.png", "samples/00000000.json");
    if (!added) {
      check(builder.images() == images && builder.person_annotations() == people &&
                builder.instance_annotations() == instances,
            "a refused image adds nothing");
      break;
    }
  }
  const coco::DatasetBuilder::Files files = builder.finish();
  check(nlohmann::json::accept(files.person_keypoints), "the person keypoints file is JSON");
  check(nlohmann::json::accept(files.instances), "the instances file is JSON");
  return 0;
}
