// recon/torch/fitter.h on keypoints made from the C++ body (as jobs/people.cpp makes them)
// and projected by hand: close fits with small residuals, people with too few keypoints
// skipped, bad numbers never reaching an output, the same bits for any thread count and
// batch, multi-view.
#include "recon/torch/fitter.h"

#include <gtest/gtest.h>

#include <cmath>

#include "base/rng.h"
#include "humans/body.h"
#include "humans/motion.h"
#include "recon/torch/fit_testing.h"

namespace synthfarm::recon::torch_fit {
namespace {

struct Truth {
  std::array<Vec3, 17> keypoints;  // world = camera here
  std::array<Vec3, 24> joints;
};

// A person 4 m in front of an identity camera, turned by `yaw_deg`.
Truth make_person(uint64_t seed, double yaw_deg) {
  Pcg32 rng(seed, 5);
  humans::Shape s;
  s.height_m = uniform(rng, 1.5, 1.9);
  s.bmi = uniform(rng, 19, 30);
  s.sex = rng.next_double();
  const humans::RestBody body = humans::build_rest_body(s);
  const humans::Pose pose = humans::random_static_pose(rng, body.joints, body.radius);
  const humans::Posed posed = humans::forward_kinematics(body.joints, pose);
  std::vector<Vec3> v;
  humans::skin(body, posed, v);
  // Facing the camera then yawed; the body's x mirrored, as the farm places bodies.
  const Mat3 face = Mat3::from_rows({-1, 0, 0}, {0, 0, -1}, {0, -1, 0});
  const Mat3 r = face * Mat3::rotation_z(deg_to_rad(yaw_deg));
  const Vec3 t{0.1, 0.9, 4.0};
  auto place = [&](Vec3 p) { return r * Vec3{-p.x, p.y, p.z} + t; };
  Truth out;
  const std::array<Vec3, 17> keypoints = humans::coco_keypoints(v, posed);
  for (int k = 0; k < 17; ++k) out.keypoints[k] = place(keypoints[k]);
  for (int j = 0; j < 24; ++j) out.joints[j] = place(posed.position[j]);
  return out;
}

const Intrinsics kK{800, 800, 320, 240, 640, 480};

ImagePerson observe(const Truth& t) {
  ImagePerson p;
  p.K = kK;
  for (int k = 0; k < 17; ++k) {
    const Vec3 x = t.keypoints[k];
    p.keypoints.xyv[3 * k] = kK.fx * x.x / x.z + kK.cx;
    p.keypoints.xyv[3 * k + 1] = kK.fy * x.y / x.z + kK.cy;
    p.keypoints.xyv[3 * k + 2] = 2;
  }
  return p;
}


const TorchPeopleFitter& fitter(int threads) { return fit_testing::shared_fitter(threads); }
using fit_testing::centred_error;

TEST(Fitter, FitsPeopleFromTheirExactKeypoints) {
  std::vector<ImagePerson> people;
  std::vector<Truth> truth;
  for (int i = 0; i < 4; ++i) {
    truth.push_back(make_person(100 + i, i * 70.0));
    people.push_back(observe(truth.back()));
  }
  const std::vector<FitResult> r = fitter(1).fit_images(people);
  ASSERT_EQ(r.size(), 4u);
  for (size_t i = 0; i < r.size(); ++i) {
    EXPECT_FALSE(r[i].skipped);
    double mean_px = 0;
    for (double px : r[i].residual_px[0]) mean_px += px / 17;
    const double err = centred_error(r[i].joints, truth[i].joints);
    std::printf("person %zu: mean residual %.2f px, centred joint error %.0f mm, loss %.2f, converged %d\n", i,
                mean_px, 1000 * err, r[i].loss, r[i].converged);
    EXPECT_LT(mean_px, 6.0);
    EXPECT_LT(err, 0.12);
  }
}

TEST(Fitter, SkipsPeopleWithTooFewKeypointsAndIgnoresBadNumbers) {
  ImagePerson few = observe(make_person(7, 0));
  for (int k = 5; k < 17; ++k) few.keypoints.xyv[3 * k + 2] = 0;  // 5 labelled
  ImagePerson bad = observe(make_person(8, 0));
  bad.keypoints.xyv[3 * 9] = std::numeric_limits<double>::quiet_NaN();  // a wrist: ignored
  bad.K = {};  // no intrinsics: the field-of-view guess from the image size (none): the extent
  const std::vector<ImagePerson> people{few, bad};
  const std::vector<FitResult> r = fitter(1).fit_images(people);
  EXPECT_TRUE(r[0].skipped);
  EXPECT_FALSE(r[0].converged);
  EXPECT_FALSE(r[1].skipped);
  EXPECT_TRUE(std::isnan(r[1].residual_px[0][9]));
  for (const FitResult& f : r) {
    EXPECT_TRUE(std::isfinite(f.loss));
    for (const Vec3& j : f.joints) EXPECT_TRUE(std::isfinite(j.x + j.y + j.z));
  }
}

TEST(Fitter, SameBitsForAnyThreadCountAndBatch) {
  std::vector<ImagePerson> people;
  for (int i = 0; i < 18; ++i) people.push_back(observe(make_person(200 + i, 30.0 * i)));
  const std::vector<FitResult> a = fitter(1).fit_images(people);
  const std::vector<FitResult> b = fitter(2).fit_images(people);
  const std::vector<FitResult> alone = fitter(1).fit_images(std::span(people).subspan(17, 1));
  for (size_t i = 0; i < people.size(); ++i) {
    EXPECT_EQ(a[i].loss, b[i].loss) << i;
    for (int j = 0; j < 24; ++j) EXPECT_EQ(a[i].joints[j], b[i].joints[j]) << i;
  }
  EXPECT_EQ(alone[0].loss, a[17].loss);
  EXPECT_EQ(alone[0].joints[20], a[17].joints[20]);
}

TEST(Fitter, DescribesItsBlasAndThreads) {
  const std::string d = fitter(2).describe();
  EXPECT_NE(d.find("OpenBLAS"), std::string::npos) << d;
  EXPECT_NE(d.find("2 fitting thread"), std::string::npos) << d;
}

}  // namespace
}  // namespace synthfarm::recon::torch_fit
