// human_build: cost of making one synthfarm human on one thread, against the 20 ms budget
// per person. Times the one-time topology build, then for --shapes random shapes:
// build_rest_body + a random natural pose (random_static_pose + forward_kinematics) +
// skin; dressing (dress + posing the extra meshes) is timed on its own. Reports mean and
// p95 milliseconds, the memory of the topology and of one body, and the process max RSS.
//
// With --sheet FILE it also writes a contact sheet: a PNG of 16 random dressed humans in
// a mild static pose, front view, orthographic, flat-shaded by a small z-buffer rasteriser
// (no renderer needed).
//
// Prints human-readable lines, and one machine-readable line last:
//   RESULT shapes=N mean_ms=M p95_ms=P dress_mean_ms=D topology_ms=T ratio_to_20ms=R
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include "jobs/human/appearance.h"
#include "jobs/human/body.h"
#include "jobs/human/motion.h"
#include "jobs/image_io.h"
#include "jobs/rng.h"

namespace {

using namespace synthfarm::jobs;
using namespace synthfarm::jobs::human;
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

double uniform(Pcg32& rng, double lo, double hi) { return lo + (hi - lo) * rng.next_double(); }

// A plausible random person: mostly adults, some children.
Shape random_shape(Pcg32& rng) {
  Shape s;
  s.age = rng.next_below(5) == 0 ? uniform(rng, 4, 17) : uniform(rng, 18, 80);
  const double adult = uniform(rng, 1.50, 1.95);
  s.height_m = s.age >= 18 ? adult : adult * (0.55 + 0.45 * (s.age - 4) / 14);
  s.bmi = uniform(rng, 17, 38);
  s.sex = rng.next_double();
  for (double* r : {&s.shoulder_width, &s.hip_width, &s.leg_length, &s.arm_length, &s.head_size})
    *r = uniform(rng, 0.9, 1.1);
  return s;
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * double(v.size() - 1) + 0.5));
  return v[i];
}

// ---- Contact sheet -------------------------------------------------------------------

struct Canvas {
  int width, height;
  std::vector<float> rgb, depth;
};

// Orthographic front view (the viewer at +y looking at the person): image x = body x,
// image up = body z. `origin` is where body (0, 0) lands, in pixels.
void rasterise(Canvas& c, const std::vector<Vec3>& v, const std::vector<std::array<uint32_t, 3>>& tris,
               const std::vector<Rgb>& colours, double px_per_m, double ox, double oy) {
  const Vec3 light = normalize(Vec3{-0.3, 1.0, 0.6});
  for (const auto& t : tris) {
    double x[3], y[3], d[3];
    for (int k = 0; k < 3; ++k) {
      x[k] = ox + v[t[k]].x * px_per_m;
      y[k] = oy - v[t[k]].z * px_per_m;
      d[k] = -v[t[k]].y;  // distance from the viewer, up to a constant
    }
    const Vec3 n = cross(v[t[1]] - v[t[0]], v[t[2]] - v[t[0]]);
    const double nl = length(n);
    if (nl == 0) continue;
    const double shade = 0.3 + 0.7 * std::max(0.0, dot(n, light) / nl);
    const double area = (x[1] - x[0]) * (y[2] - y[0]) - (x[2] - x[0]) * (y[1] - y[0]);
    if (std::abs(area) < 1e-12) continue;
    const int x0 = std::max(0, int(std::floor(std::min({x[0], x[1], x[2]}))));
    const int x1 = std::min(c.width - 1, int(std::ceil(std::max({x[0], x[1], x[2]}))));
    const int y0 = std::max(0, int(std::floor(std::min({y[0], y[1], y[2]}))));
    const int y1 = std::min(c.height - 1, int(std::ceil(std::max({y[0], y[1], y[2]}))));
    for (int py = y0; py <= y1; ++py) {
      for (int px = x0; px <= x1; ++px) {
        const double qx = px + 0.5, qy = py + 0.5;
        const double w0 = ((x[1] - qx) * (y[2] - qy) - (x[2] - qx) * (y[1] - qy)) / area;
        const double w1 = ((x[2] - qx) * (y[0] - qy) - (x[0] - qx) * (y[2] - qy)) / area;
        const double w2 = 1 - w0 - w1;
        if (w0 < 0 || w1 < 0 || w2 < 0) continue;
        const double depth = w0 * d[0] + w1 * d[1] + w2 * d[2];
        const size_t i = size_t(py) * c.width + px;
        if (depth >= c.depth[i]) continue;
        c.depth[i] = depth;
        const Rgb &a = colours[t[0]], &b = colours[t[1]], &e = colours[t[2]];
        c.rgb[3 * i] = float((w0 * a.r + w1 * b.r + w2 * e.r) * shade);
        c.rgb[3 * i + 1] = float((w0 * a.g + w1 * b.g + w2 * e.g) * shade);
        c.rgb[3 * i + 2] = float((w0 * a.b + w1 * b.b + w2 * e.b) * shade);
      }
    }
  }
}

void write_contact_sheet(const std::string& path, uint64_t seed) {
  constexpr int kCols = 8, kRows = 2, kCellW = 280, kCellH = 480;
  constexpr double kPxPerM = 200;
  Canvas c{kCols * kCellW, kRows * kCellH, {}, {}};
  c.rgb.assign(size_t(3) * c.width * c.height, 0.55f);
  c.depth.assign(size_t(c.width) * c.height, 1e30f);
  for (int i = 0; i < kCols * kRows; ++i) {
    Pcg32 rng = Pcg32::for_purpose(seed, "contact_sheet", uint64_t(i));
    const RestBody body = build_rest_body(random_shape(rng));
    const Pose pose = random_static_pose(rng, body.joints, body.radius);
    const Posed posed = forward_kinematics(body.joints, pose);
    const Appearance look = draw_appearance(rng, 1 + int(rng.next_below(10)));
    const DressedBody dressed = dress(body, look);
    const double ox = (i % kCols + 0.5) * kCellW, oy = (i / kCols + 1) * kCellH - 20;
    std::vector<Vec3> v;
    skin(body, posed, v);
    rasterise(c, v, topology().triangles, dressed.body_colors, kPxPerM, ox, oy);
    for (const ExtraMesh& e : dressed.extras) {
      pose_extra(e, body, posed, v);
      rasterise(c, v, e.triangles, e.colors, kPxPerM, ox, oy);
    }
    fmt::print("  sheet {:2d}: {:.2f} m, bmi {:.1f}, sex {:.2f}, age {:.0f}, tone {}: {}\n", i,
               body.shape.height_m, body.shape.bmi, body.shape.sex, body.shape.age, look.skin_tone,
               describe(look));
  }
  Frame frame;
  frame.width = c.width;
  frame.height = c.height;
  frame.rgb = std::move(c.rgb);
  std::ofstream(path, std::ios::binary) << encode_png(frame, 1.6);
  fmt::print("  contact sheet: {} ({}x{})\n", path, frame.width, frame.height);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"build + pose + skin time of synthfarm humans (one thread)"};
  int shapes = 200;
  uint64_t seed = 1;
  std::string sheet;
  app.add_option("--shapes", shapes, "random shapes to time")->capture_default_str()->check(CLI::Range(1, 100000));
  app.add_option("--seed", seed, "random seed")->capture_default_str();
  app.add_option("--sheet", sheet, "write a PNG contact sheet of 16 dressed humans here");
  CLI11_PARSE(app, argc, argv);

  auto t0 = Clock::now();
  const Topology& topo = topology();
  const double topology_ms = ms_since(t0);

  std::vector<double> build_ms, dress_ms;
  std::vector<Vec3> posed_vertices, extra_vertices;
  size_t body_bytes = 0;
  double checksum = 0;  // keeps the work observable
  for (int i = 0; i < shapes; ++i) {
    Pcg32 rng = Pcg32::for_purpose(seed, "human_build", uint64_t(i));
    const Shape shape = random_shape(rng);
    auto t1 = Clock::now();
    const RestBody body = build_rest_body(shape);
    const Pose pose = random_static_pose(rng, body.joints, body.radius);
    const Posed posed = forward_kinematics(body.joints, pose);
    skin(body, posed, posed_vertices);
    build_ms.push_back(ms_since(t1));
    auto t2 = Clock::now();
    const DressedBody dressed = dress(body, draw_appearance(rng, 5));
    for (const ExtraMesh& e : dressed.extras) pose_extra(e, body, posed, extra_vertices);
    dress_ms.push_back(ms_since(t2));
    checksum += posed_vertices[i % posed_vertices.size()].z;
    body_bytes = sizeof(RestBody) + body.vertices.capacity() * sizeof(Vec3) +
                 posed_vertices.capacity() * sizeof(Vec3);
  }
  double mean = 0, dress_mean = 0;
  for (double m : build_ms) mean += m / double(build_ms.size());
  for (double m : dress_ms) dress_mean += m / double(dress_ms.size());
  const double p95 = percentile(build_ms, 0.95);

  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  fmt::print("bench human_build shapes={} seed={} (one thread)\n", shapes, seed);
  fmt::print("  topology: {} vertices, {} triangles, built once in {:.1f} ms, {:.2f} MB (with the shape binding)\n",
             topo.vertex_count, topo.triangles.size(), topology_ms, double(topo.memory_bytes()) / 1e6);
  fmt::print("  build_rest_body + random_static_pose + forward_kinematics + skin: mean {:.3f} ms, p95 {:.3f} ms\n",
             mean, p95);
  fmt::print("  dress + pose extras (hair, skirt): mean {:.3f} ms, p95 {:.3f} ms\n", dress_mean,
             percentile(dress_ms, 0.95));
  fmt::print("  one body: {:.2f} MB (rest vertices + posed vertices)\n", double(body_bytes) / 1e6);
  fmt::print("  process max RSS: {:.1f} MB\n", double(usage.ru_maxrss) / 1024.0);
  fmt::print("  ratio mean / 20 ms target: {:.4f}  (p95: {:.4f}; target < 1)\n", mean / 20.0, p95 / 20.0);
  fmt::print("  checksum {:.6f}\n", checksum);
  if (!sheet.empty()) write_contact_sheet(sheet, seed);
  fmt::print("RESULT shapes={} mean_ms={:.4f} p95_ms={:.4f} dress_mean_ms={:.4f} topology_ms={:.1f} ratio_to_20ms={:.4f}\n",
             shapes, mean, p95, dress_mean, topology_ms, mean / 20.0);
  return 0;
}
