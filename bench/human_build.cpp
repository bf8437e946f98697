// human_build: cost of making one synthfarm human on one thread, against the 20 ms budget
// per person. Times the one-time topology build, then for --shapes random shapes:
// build_rest_body + a random natural pose (random_static_pose + forward_kinematics) +
// skin; dressing (dress + posing the extra meshes) is timed on its own. Reports mean and
// p95 milliseconds, the memory of the topology and of one body, and the process max RSS.
//
// With --sheet FILE it also writes a contact sheet: a PNG of 16 random people (the
// scene generator's people: shape, static pose, clothes and hair drawn from the spec's
// defaults, ages 4 to 80), front view, each rendered by the project's path tracer.
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

#include "humans/appearance.h"
#include "humans/body.h"
#include "humans/motion.h"
#include "render/image_io.h"
#include "jobs/people.h"
#include "render/renderer.h"
#include "jobs/scene.h"
#include "base/rng.h"

namespace {

using namespace synthfarm;
using namespace synthfarm::jobs;
using namespace synthfarm::render;
using namespace synthfarm::humans;
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}


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

// One studio cell per person, rendered by the project's path tracer: the person faces
// the camera (+y) on a grey floor before a grey backdrop, lit by sun and sky.
Frame render_cell(const Renderer& renderer, const JobSpec& spec, uint64_t person_seed, int width, int height) {
  SampleScene scene;
  scene.kind = "studio";
  Person person = build_person(spec, person_seed, 0, 0.0);
  scene.camera = look_at_camera(width, height, 13.0, {0, 6.2, 1.05}, {0, 0, 1.0});
  scene.sun.direction = normalize(Vec3{-0.4, 0.8, 0.9});
  scene.sun.intensity = 2.5;
  scene.sky = Sky::uniform(0.8);
  uint32_t id = 1;
  for (Mesh& m : person.meshes) {
    m.instance_id = id;
    m.semantic = SemanticClass::kPerson;
    scene.meshes.push_back(std::move(m));
  }
  scene.instances.push_back({id, SemanticClass::kPerson, "person"});
  person.info.instance_id = id;
  scene.humans.push_back(person.info);
  Mesh floor, backdrop;
  floor.albedo = backdrop.albedo = {0.45f, 0.45f, 0.47f};
  floor.instance_id = 2;
  floor.semantic = SemanticClass::kFloor;
  add_quad(floor, {-20, -3, 0}, {20, -3, 0}, {20, 20, 0}, {-20, 20, 0});
  backdrop.instance_id = 3;
  backdrop.semantic = SemanticClass::kWall;
  add_quad(backdrop, {-20, -3, 0}, {-20, -3, 10}, {20, -3, 10}, {20, -3, 0});
  scene.meshes.push_back(std::move(floor));
  scene.meshes.push_back(std::move(backdrop));
  scene.instances.push_back({2, SemanticClass::kFloor, "floor"});
  scene.instances.push_back({3, SemanticClass::kWall, "backdrop"});
  auto frame = renderer.render(scene, RenderSettings{64, 2, person_seed, 0});
  if (!frame) throw std::runtime_error(frame.error());
  const Human& h = scene.humans[0];
  fmt::print("  sheet: {:.2f} m, bmi {:.1f}, sex {:.2f}, age {:.0f}, tone {}: {}\n", h.shape.height_m, h.shape.bmi,
             h.shape.sex, h.shape.age, h.skin_tone, h.outfit);
  return std::move(*frame);
}

void write_contact_sheet(const std::string& path, uint64_t seed) {
  constexpr int kCols = 8, kRows = 2, kCellW = 200, kCellH = 360;
  auto renderer = Renderer::create();
  if (!renderer) throw std::runtime_error(renderer.error());
  JobSpec spec;
  spec.name = "contact-sheet";
  spec.samples = 1;
  spec.humans.age = Distribution::uniform(4, 80);  // about one in five a child
  spec.humans.motion = {{"static"}, {}};
  Frame sheet;
  sheet.width = kCols * kCellW;
  sheet.height = kRows * kCellH;
  sheet.rgb.assign(size_t(3) * sheet.width * sheet.height, 0.0f);
  for (int i = 0; i < kCols * kRows; ++i) {
    Frame cell = render_cell(**renderer, spec, sample_seed(seed, uint64_t(i)), kCellW, kCellH);
    const int ox = (i % kCols) * kCellW, oy = (i / kCols) * kCellH;
    for (int y = 0; y < kCellH; ++y) {
      std::copy_n(&cell.rgb[size_t(3) * y * kCellW], 3 * kCellW,
                  &sheet.rgb[size_t(3) * ((oy + y) * sheet.width + ox)]);
    }
  }
  std::ofstream(path, std::ios::binary) << encode_png(sheet);
  fmt::print("  contact sheet: {} ({}x{}, path traced, 64 spp)\n", path, sheet.width, sheet.height);
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
