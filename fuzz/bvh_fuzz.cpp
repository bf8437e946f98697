// The BVH motion-capture parser (humans/mocap_bvh.h): .bvh files a spec names
// (humans.bvh), read by workers from storage. A parsed file goes on, as in a render, to
// the joint map and to retargeting (first, middle, last and a fractional frame), which
// index the parsed arrays with the parsed channel layout.
// Properties: no crash; a parsed motion's arrays agree with its declared counts.
#include "fuzz/fuzz_check.h"
#include "humans/mocap_bvh.h"
#include "humans/test_skeleton.h"

using synthfarm::fuzz::as_text;
using synthfarm::fuzz::check;
namespace humans = synthfarm::humans;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto motion = humans::parse_bvh(as_text(data, size), "fuzz.bvh");
  if (!motion) {
    (void)motion.error().to_string();
    return 0;
  }
  check(!motion->joints.empty(), "a parsed motion has a root joint");
  check(motion->frame_count >= 1, "a parsed motion has a frame");
  check(motion->values.size() ==
            static_cast<size_t>(motion->frame_count) * static_cast<size_t>(motion->channel_count),
        "one row of channel_count values per frame");
  for (const auto& joint : motion->joints) {
    check(joint.first_channel >= 0 &&
              joint.first_channel + static_cast<int>(joint.channels.size()) <= motion->channel_count,
          "every joint's channels lie within a frame row");
  }
  auto map = humans::resolve_joint_map(*motion, "auto");
  if (!map) return 0;
  static const humans::RestJoints rest = humans::test_rest(1.75);
  const double last = motion->frame_count - 1;
  for (double frame : {0.0, 0.5, last / 2, last}) {
    (void)humans::retarget_frame(*motion, *map, rest, frame);
  }
  return 0;
}
