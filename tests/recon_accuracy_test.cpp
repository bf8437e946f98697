// The people fitter (recon/people_fit.h, through its plugin) against ground truth the farm
// makes itself: 200 single-person samples (age 4..70, static and clip motions, varied
// cameras) rendered label-only at 160x120 through jobs' SampleRenderer, fitted from their
// own COCO keypoints (v from the label pass); fitted joints against joints_3d_camera.
// Keypoints are exact floats whatever the resolution, so K and the keypoints are scaled by 4
// to the 640x480 image the farm would give (the 5 px noise is meant for that size).
// Printed: MPJPE (pelvis-aligned), PA-MPJPE (similarity Procrustes over the 24 joints) and
// the height error, for exact keypoints and for keypoints with 5 px Gaussian noise and 10 %
// of the labelled ones dropped. Multi-view: the same people's 3D keypoints projected (by
// hand, all v = 2) into 4 cameras 4 m around them (the first 25 people: one call each);
// MPJPE in the world, not aligned.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "base/rng.h"
#include "humans/skeleton.h"
#include "jobs/sample.h"
#include "jobs/spec.h"
#include "recon/people_fit.h"

namespace synthfarm {
namespace {

using nlohmann::json;

constexpr int kPeople = 200;
constexpr double kScale = 4;  // rendered at 160x120, fitted as 640x480

constexpr const char* kSpec = R"(
name: recon-accuracy
samples: 200
seed: 77
output:
  layers: [instance]
camera:
  resolution: [160, 120]
  fov_deg: {uniform: [40, 75]}
  height_m: {uniform: [1.2, 2.2]}
render: {spp: 1, max_bounces: 1}
scene:
  kind: studio
  props: 0
humans:
  count: 1
  age: {uniform: [4, 70]}
  motion: {choice: [static, walk, run, wave, idle, sit]}
)";

struct Person {
  recon::ImagePerson observed;
  std::array<Vec3, 24> joints_camera, joints_world;
  std::array<Vec3, 17> keypoints_world;
  double height_m = 0;
};

Vec3 vec(const json& a) { return {a[0].get<double>(), a[1].get<double>(), a[2].get<double>()}; }

std::vector<Person> render_people() {
  const auto start = std::chrono::steady_clock::now();
  auto spec = jobs::parse_spec(kSpec);
  EXPECT_TRUE(spec.has_value());
  auto renderer = jobs::SampleRenderer::create(1);
  EXPECT_TRUE(renderer.has_value());
  std::vector<Person> people;
  for (uint64_t i = 0; i < kPeople; ++i) {
    auto objects = (*renderer)->render(*spec, i);
    EXPECT_TRUE(objects.has_value()) << objects.error();
    const json j = json::parse(objects->json);
    const auto& k = j["K"];
    const auto& w2c = j["world_to_camera"];
    Mat3 r;
    Vec3 t;
    for (int a = 0; a < 3; ++a) {
      for (int b = 0; b < 3; ++b) r.m[a][b] = w2c[a][b].get<double>();
    }
    t = {w2c[0][3].get<double>(), w2c[1][3].get<double>(), w2c[2][3].get<double>()};
    for (const json& inst : j["instances"]) {
      if (!inst.contains("keypoints")) continue;
      Person p;
      p.observed.K = {kScale * k[0][0].get<double>(), kScale * k[1][1].get<double>(), kScale * k[0][2].get<double>(),
                      kScale * k[1][2].get<double>(), int(kScale) * j["width"].get<int>(),
                      int(kScale) * j["height"].get<int>()};
      for (int n = 0; n < 51; ++n) {
        p.observed.keypoints.xyv[n] = inst["keypoints"][n].get<double>() * (n % 3 == 2 ? 1.0 : kScale);
      }
      for (int q = 0; q < 24; ++q) {
        p.joints_camera[q] = vec(inst["joints_3d_camera"][std::string(humans::kJointNames[q])]);
        p.joints_world[q] = vec(inst["joints_3d_world"][std::string(humans::kJointNames[q])]);
      }
      for (int q = 0; q < 17; ++q) p.keypoints_world[q] = r.transposed() * (vec(inst["keypoints_3d_camera"][q]) - t);
      p.height_m = inst["shape"]["height_m"].get<double>();
      people.push_back(p);
    }
  }
  std::printf("rendered %zu people (labels only, 160x120) in %.1f s\n", people.size(),
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return people;
}

// The eigenvector of the largest eigenvalue of a symmetric 4x4 matrix (Jacobi rotations).
std::array<double, 4> top_eigenvector(std::array<std::array<double, 4>, 4> a) {
  std::array<std::array<double, 4>, 4> v{};
  for (int i = 0; i < 4; ++i) v[i][i] = 1;
  for (int sweep = 0; sweep < 50; ++sweep) {
    for (int p = 0; p < 3; ++p)
      for (int q = p + 1; q < 4; ++q) {
        if (std::abs(a[p][q]) < 1e-15) continue;
        const double theta = 0.5 * std::atan2(2 * a[p][q], a[q][q] - a[p][p]);
        const double c = std::cos(theta), s = std::sin(theta);
        for (int k = 0; k < 4; ++k) {
          const double akp = a[k][p], akq = a[k][q];
          a[k][p] = c * akp - s * akq, a[k][q] = s * akp + c * akq;
        }
        for (int k = 0; k < 4; ++k) {
          const double apk = a[p][k], aqk = a[q][k];
          a[p][k] = c * apk - s * aqk, a[q][k] = s * apk + c * aqk;
        }
        for (int k = 0; k < 4; ++k) {
          const double vkp = v[k][p], vkq = v[k][q];
          v[k][p] = c * vkp - s * vkq, v[k][q] = s * vkp + c * vkq;
        }
      }
  }
  int best = 0;
  for (int i = 1; i < 4; ++i)
    if (a[i][i] > a[best][best]) best = i;
  return {v[0][best], v[1][best], v[2][best], v[3][best]};
}

// Mean joint distance after the best similarity transform of `fit` onto `truth` (Horn).
double pa_mpjpe(const std::array<Vec3, 24>& fit, const std::array<Vec3, 24>& truth) {
  Vec3 ca, cb;
  for (int j = 0; j < 24; ++j) ca = ca + fit[j] * (1.0 / 24), cb = cb + truth[j] * (1.0 / 24);
  double s[3][3] = {};
  double norm_a = 0;
  for (int j = 0; j < 24; ++j) {
    const Vec3 a = fit[j] - ca, b = truth[j] - cb;
    const double av[3] = {a.x, a.y, a.z}, bv[3] = {b.x, b.y, b.z};
    for (int x = 0; x < 3; ++x)
      for (int y = 0; y < 3; ++y) s[x][y] += av[x] * bv[y];
    norm_a += dot(a, a);
  }
  const std::array<std::array<double, 4>, 4> n = {{
      {s[0][0] + s[1][1] + s[2][2], s[1][2] - s[2][1], s[2][0] - s[0][2], s[0][1] - s[1][0]},
      {s[1][2] - s[2][1], s[0][0] - s[1][1] - s[2][2], s[0][1] + s[1][0], s[2][0] + s[0][2]},
      {s[2][0] - s[0][2], s[0][1] + s[1][0], -s[0][0] + s[1][1] - s[2][2], s[1][2] + s[2][1]},
      {s[0][1] - s[1][0], s[2][0] + s[0][2], s[1][2] + s[2][1], -s[0][0] - s[1][1] + s[2][2]}}};
  const auto q = top_eigenvector(n);
  const double w = q[0], x = q[1], y = q[2], z = q[3];
  const Mat3 r = Mat3::from_rows({1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)},
                                 {2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)},
                                 {2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)});
  double num = 0;
  for (int j = 0; j < 24; ++j) num += dot(truth[j] - cb, r * (fit[j] - ca));
  const double scale = num / norm_a;
  double e = 0;
  for (int j = 0; j < 24; ++j) e += length(r * (fit[j] - ca) * scale + cb - truth[j]) / 24;
  return e;
}

double mpjpe(const std::array<Vec3, 24>& fit, const std::array<Vec3, 24>& truth, bool align_pelvis) {
  const Vec3 offset = align_pelvis ? truth[0] - fit[0] : Vec3{};
  double e = 0;
  for (int j = 0; j < 24; ++j) e += length(fit[j] + offset - truth[j]) / 24;
  return e;
}

struct Figures {
  double mpjpe_mm = 0, pa_mpjpe_mm = 0, height_mm = 0, pa_median_mm = 0, pa_p90_mm = 0;
  int fitted = 0, skipped = 0, converged = 0;
};

Figures evaluate(const std::vector<recon::FitResult>& fits, const std::vector<Person>& people) {
  Figures f;
  std::vector<double> pa;
  for (size_t i = 0; i < fits.size(); ++i) {
    if (fits[i].skipped) {
      ++f.skipped;
      continue;
    }
    ++f.fitted;
    f.converged += fits[i].converged ? 1 : 0;
    f.mpjpe_mm += 1000 * mpjpe(fits[i].joints, people[i].joints_camera, true);
    pa.push_back(1000 * pa_mpjpe(fits[i].joints, people[i].joints_camera));
    f.pa_mpjpe_mm += pa.back();
    f.height_mm += 1000 * std::abs(fits[i].shape.height_m - people[i].height_m);
  }
  const double n = std::max(f.fitted, 1);
  f.mpjpe_mm /= n, f.pa_mpjpe_mm /= n, f.height_mm /= n;
  std::sort(pa.begin(), pa.end());
  if (!pa.empty()) f.pa_median_mm = pa[pa.size() / 2], f.pa_p90_mm = pa[pa.size() * 9 / 10];
  return f;
}

void print(const char* what, const Figures& f) {
  std::printf("recon accuracy, %s: MPJPE %.1f mm (pelvis-aligned), PA-MPJPE %.1f mm (median %.0f, 90th "
              "percentile %.0f), height error %.0f mm, %d fitted (%d converged), %d skipped\n",
              what, f.mpjpe_mm, f.pa_mpjpe_mm, f.pa_median_mm, f.pa_p90_mm, f.height_mm, f.fitted, f.converged,
              f.skipped);
}

class ReconAccuracy : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    people_ = new std::vector<Person>(render_people());
    auto fitter = recon::plugin_people_fitter(1);
    ASSERT_TRUE(fitter.has_value()) << fitter.error();
    fitter_ = new std::shared_ptr<const recon::PeopleFitter>(*fitter);
  }
  static void TearDownTestSuite() {
    delete people_;
    delete fitter_;
  }
  static std::vector<Person>* people_;
  static std::shared_ptr<const recon::PeopleFitter>* fitter_;
};
std::vector<Person>* ReconAccuracy::people_ = nullptr;
std::shared_ptr<const recon::PeopleFitter>* ReconAccuracy::fitter_ = nullptr;

TEST_F(ReconAccuracy, ExactKeypoints) {
  ASSERT_EQ(people_->size(), size_t(kPeople));
  std::vector<recon::ImagePerson> in;
  for (const Person& p : *people_) in.push_back(p.observed);
  const Figures f = evaluate((*fitter_)->fit_images(in), *people_);
  print("exact keypoints", f);
  EXPECT_LT(f.pa_mpjpe_mm, 50.0);
  EXPECT_GT(f.fitted, kPeople * 8 / 10);
}

TEST_F(ReconAccuracy, NoisyKeypoints) {
  std::vector<recon::ImagePerson> in;
  Pcg32 rng(4242, 1);
  for (const Person& p : *people_) {
    recon::ImagePerson q = p.observed;
    for (int k = 0; k < 17; ++k) {
      if (q.keypoints.xyv[3 * k + 2] <= 0) continue;
      // Box-Muller, sigma 5 px.
      const double u1 = std::max(rng.next_double(), 1e-12), u2 = rng.next_double();
      const double rad = 5.0 * std::sqrt(-2 * std::log(u1));
      q.keypoints.xyv[3 * k] += rad * std::cos(2 * kPi * u2);
      q.keypoints.xyv[3 * k + 1] += rad * std::sin(2 * kPi * u2);
      if (rng.next_double() < 0.10) q.keypoints.xyv[3 * k + 2] = 0;
    }
    in.push_back(q);
  }
  const Figures f = evaluate((*fitter_)->fit_images(in), *people_);
  print("5 px noise, 10% dropped", f);
  EXPECT_LT(f.pa_mpjpe_mm, 70.0);
}

TEST_F(ReconAccuracy, FourViews) {
  // 4 cameras at 90 degree steps, 4 m from the pelvis, 1.5 m high, looking at the pelvis.
  double world = 0, aligned = 0;
  int n = 0, converged = 0;
  const int kMultiviewPeople = 25;  // the first 25 people (one call each: time)
  for (int i = 0; i < kMultiviewPeople; ++i) {
    const Person& p = (*people_)[i];
    std::vector<recon::View> views;
    std::vector<recon::Keypoints> kps;
    const Vec3 target = p.joints_world[0];
    for (int c = 0; c < 4; ++c) {
      const double a = deg_to_rad(20.0 + 90.0 * c);
      const Vec3 eye{target.x + 4 * std::cos(a), target.y + 4 * std::sin(a), 1.5};
      const Vec3 fwd = normalize(target - eye);
      const Vec3 right = normalize(cross(fwd, Vec3{0, 0, 1}));
      const Vec3 down = cross(fwd, right);
      recon::View v;
      v.K = {800, 800, 320, 240, 640, 480};
      v.rotation = Mat3::from_rows(right, down, fwd);
      v.translation = -(v.rotation * eye);
      recon::Keypoints k;
      for (int q = 0; q < 17; ++q) {
        const Vec3 xc = v.rotation * p.keypoints_world[q] + v.translation;
        k.xyv[3 * q] = 800 * xc.x / xc.z + 320, k.xyv[3 * q + 1] = 800 * xc.y / xc.z + 240, k.xyv[3 * q + 2] = 2;
      }
      views.push_back(v);
      kps.push_back(k);
    }
    const recon::FitResult r = (*fitter_)->fit_multiview(kps, views);
    if (r.skipped) continue;
    ++n;
    converged += r.converged ? 1 : 0;
    world += 1000 * mpjpe(r.joints, p.joints_world, false);
    aligned += 1000 * pa_mpjpe(r.joints, p.joints_world);
  }
  world /= std::max(n, 1), aligned /= std::max(n, 1);
  std::printf("recon accuracy, 4 views (%d people, %d converged): MPJPE %.1f mm (world, not aligned), "
              "PA-MPJPE %.1f mm\n", n, converged, world, aligned);
  EXPECT_LT(world, 25.0);
}

}  // namespace
}  // namespace synthfarm
