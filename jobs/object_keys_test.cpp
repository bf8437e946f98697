#include "jobs/object_keys.h"

#include <gtest/gtest.h>

namespace synthfarm::jobs {
namespace {

TEST(SampleKeyTest, FormatsIndexWithEightDigits) {
  EXPECT_EQ(sample_key(42, "exr"), "samples/00000042.exr");
  EXPECT_EQ(sample_key(123456789, "json"), "samples/123456789.json");
}

TEST(SampleKeyTest, FramesOfAClipGetThreeDigits) {
  EXPECT_EQ(frame_key(42, 3, "exr"), "samples/00000042.f003.exr");
  EXPECT_EQ(frame_key(7, 120, "png"), "samples/00000007.f120.png");
}

}  // namespace
}  // namespace synthfarm::jobs
