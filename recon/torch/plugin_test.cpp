// recon::plugin_people_fitter() in a program that does not link LibTorch: the plugin opens
// through the RUNPATH, describes itself and fits a person from keypoints it is given.
#include <gtest/gtest.h>

#include "recon/people_fit.h"

namespace synthfarm::recon {
namespace {

TEST(PluginPeopleFitter, OpensAndFits) {
  auto fitter = plugin_people_fitter(1);
  ASSERT_TRUE(fitter.has_value()) << fitter.error();
  EXPECT_NE((*fitter)->describe().find("LibTorch"), std::string::npos);
  // A person standing 4 m away, keypoints drawn by hand (an A-pose-like stick figure).
  ImagePerson p;
  p.K = {800, 800, 320, 240, 640, 480};
  const double xy[17][2] = {{320, 95},  {327, 88},  {313, 88},  {335, 92},  {305, 92},  {350, 130},
                            {290, 130}, {375, 175}, {265, 175}, {395, 215}, {245, 215}, {338, 232},
                            {302, 232}, {340, 310}, {300, 310}, {342, 385}, {298, 385}};
  for (int k = 0; k < 17; ++k) p.keypoints.xyv[3 * k] = xy[k][0], p.keypoints.xyv[3 * k + 1] = xy[k][1],
                               p.keypoints.xyv[3 * k + 2] = 2;
  const std::vector<FitResult> r = (*fitter)->fit_images(std::span(&p, 1));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_FALSE(r[0].skipped);
  EXPECT_GT(r[0].joints[0].z, 2.0);  // in front of the camera, metres away
  EXPECT_LT(r[0].joints[0].z, 8.0);
  // A sequence of one frame is that frame fitted, about where fit_images put it.
  const auto one = (*fitter)->fit_sequence(std::span(&p.keypoints, 1), p.K, 30);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_FALSE(one[0].skipped);
  EXPECT_NEAR(one[0].joints[0].z, r[0].joints[0].z, 1.0);
  // A bad thread count is an error, not a crash.
  auto stale = plugin_people_fitter(0);
  ASSERT_FALSE(stale.has_value());
  EXPECT_NE(stale.error().find("threads must be 1..1024"), std::string::npos) << stale.error();
}

}  // namespace
}  // namespace synthfarm::recon
