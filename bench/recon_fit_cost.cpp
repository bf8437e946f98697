// recon_fit_cost: what fitting people to single-image keypoints (recon/people_fit.h, the
// LibTorch plugin) costs: people fitted per second per core, with a fitter of one thread
// (LibTorch on one intra-op thread), timed by the calling thread's CPU clock over one
// fit_images call of `--people` people (batched inside in chunks of 16). The people are the
// C++ body's (random shapes, natural static poses, turned any way, 3..6 m from a 640x480
// camera), their exact keypoints projected by hand.
// Peers measured in the same run, on the same thread: the CPU time of rendering sample 0 of
// `--spec` (the quickstart by default) on one render thread, and of the C++ body model's
// build_rest_body + forward_kinematics + skin for one person. The last line is the record
// scripts read:
//   recon_fit_cost people_per_s=... ms_per_person=... render_ms=... fit_to_render=...
//     body_ms=... fit_to_body=... sequence_100_ms=... (100 unrelated people as one "track":
//     a cost figure only; bench/recon_sequence_cost times a real walk)
//
//   build/bin/recon_fit_cost [--people 64] [--spec examples/quickstart.yaml]
#include <fmt/format.h>
#include <time.h>

#include <CLI/CLI.hpp>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "base/rng.h"
#include "humans/body.h"
#include "humans/motion.h"
#include "jobs/sample.h"
#include "jobs/spec.h"
#include "recon/people_fit.h"

namespace {

using namespace synthfarm;

double thread_cpu_s() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

const recon::Intrinsics kK{800, 800, 320, 240, 640, 480};

recon::ImagePerson make_person(uint64_t seed) {
  Pcg32 rng(seed, 9);
  humans::Shape s;
  s.height_m = uniform(rng, 1.5, 1.95);
  s.bmi = uniform(rng, 18, 32);
  s.sex = rng.next_double();
  const humans::RestBody body = humans::build_rest_body(s);
  const humans::Pose pose = humans::random_static_pose(rng, body.joints, body.radius);
  const humans::Posed posed = humans::forward_kinematics(body.joints, pose);
  std::vector<Vec3> v;
  humans::skin(body, posed, v);
  const Mat3 r = Mat3::from_rows({-1, 0, 0}, {0, 0, -1}, {0, -1, 0}) * Mat3::rotation_z(deg_to_rad(uniform(rng, 0, 360)));
  const Vec3 t{uniform(rng, -0.5, 0.5), 0.9, uniform(rng, 3, 6)};
  auto project = [&](Vec3 p, double* out) {
    const Vec3 x = r * Vec3{-p.x, p.y, p.z} + t;
    out[0] = kK.fx * x.x / x.z + kK.cx, out[1] = kK.fy * x.y / x.z + kK.cy, out[2] = 2;
  };
  recon::ImagePerson person;
  person.K = kK;
  const std::array<Vec3, 17> keypoints = humans::coco_keypoints(v, posed);
  for (size_t k = 0; k < keypoints.size(); ++k) project(keypoints[k], &person.keypoints.xyv[3 * k]);
  return person;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"people fitted per second per core from single-image keypoints"};
  int people = 64;
  std::string spec_path = "examples/quickstart.yaml";
  app.add_option("--people", people, "people fitted in one call")->check(CLI::Range(1, 100000));
  app.add_option("--spec", spec_path, "the spec whose sample 0 is the render peer");
  CLI11_PARSE(app, argc, argv);

  auto fitter = recon::plugin_people_fitter(1);
  if (!fitter) {
    fmt::print(stderr, "recon_fit_cost: {}\n", fitter.error());
    return 1;
  }
  fmt::print("{}\n", (*fitter)->describe());
  std::vector<recon::ImagePerson> in;
  for (int i = 0; i < people; ++i) in.push_back(make_person(1000 + i));

  double start = thread_cpu_s();
  const std::vector<recon::FitResult> fits = (*fitter)->fit_images(in);
  const double fit_s = thread_cpu_s() - start;
  int converged = 0;
  for (const recon::FitResult& f : fits) converged += f.converged ? 1 : 0;
  const double ms_per_person = 1000 * fit_s / people;
  fmt::print("fit_images: {} people in {:.2f} s CPU ({} converged): {:.2f} people/s per core, {:.0f} ms per person\n",
             people, fit_s, converged, people / fit_s, ms_per_person);

  // Peer 1: the C++ body for one person (shape, pose, skin).
  start = thread_cpu_s();
  constexpr int kBodies = 20;
  for (int i = 0; i < kBodies; ++i) {
    humans::Shape s;
    s.height_m = 1.5 + 0.02 * i;
    const humans::RestBody body = humans::build_rest_body(s);
    Pcg32 rng(i, 1);
    const humans::Posed posed = humans::forward_kinematics(body.joints, humans::random_static_pose(rng, body.joints, body.radius));
    std::vector<Vec3> v;
    humans::skin(body, posed, v);
  }
  const double body_ms = 1000 * (thread_cpu_s() - start) / kBodies;

  // Peer 2: rendering one sample of the spec on one render thread.
  std::ifstream file(spec_path);
  std::stringstream text;
  text << file.rdbuf();
  auto spec = jobs::parse_spec(text.str(), spec_path);
  if (!spec) {
    fmt::print(stderr, "recon_fit_cost: {}: {}\n", spec_path, spec.error().front().to_string());
    return 1;
  }
  auto renderer = jobs::SampleRenderer::create(1);
  if (!renderer) {
    fmt::print(stderr, "recon_fit_cost: {}\n", renderer.error());
    return 1;
  }
  start = thread_cpu_s();
  auto sample = (*renderer)->render(*spec, 0);
  const double render_ms = 1000 * (thread_cpu_s() - start);
  if (!sample) {
    fmt::print(stderr, "recon_fit_cost: render: {}\n", sample.error());
    return 1;
  }
  fmt::print("peers: C++ body build + pose + skin {:.1f} ms per person; rendering sample 0 of {} {:.0f} ms\n",
             body_ms, spec_path, render_ms);

  // A 100-frame "sequence" of these people (the cost only; recon_sequence_cost fits a walk).
  std::vector<recon::Keypoints> frames;
  for (int f = 0; f < 100; ++f) frames.push_back(in[f % in.size()].keypoints);
  start = thread_cpu_s();
  const std::vector<recon::FitResult> sequence = (*fitter)->fit_sequence(frames, kK, 30);
  const double sequence_ms = 1000 * (thread_cpu_s() - start);
  const bool has_sequence = !sequence.empty() && !sequence.front().skipped;
  fmt::print("recon_fit_cost people_per_s={:.2f} ms_per_person={:.0f} render_ms={:.0f} fit_to_render={:.3f} "
             "body_ms={:.1f} fit_to_body={:.1f} sequence_100_ms={}\n",
             people / fit_s, ms_per_person, render_ms, ms_per_person / render_ms, body_ms, ms_per_person / body_ms,
             has_sequence ? fmt::format("{:.0f}", sequence_ms) : std::string("n/a"));
  return 0;
}
