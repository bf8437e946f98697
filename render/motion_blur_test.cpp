// Tests of motion blur (Scene::motion_blur): an emissive square moving across a black view
// streaks over the analytic length (its size plus its travel in the shutter, in pixels) with
// the coverage a box shutter gives, while its labels stay those of mid-shutter exactly; a
// camera moving past a still square streaks it the same; a scene that holds still renders
// the same bytes with motion blur on; shutter positions that do not fit are refused; and
// motion-blurred renders are identical for any thread count and tiling.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "render/renderer.h"
#include "render/renderer_testing.h"
#include "render/scene.h"

namespace synthfarm::render {
namespace {

// The geometry of the streak scenes: a camera at (0, 0, 1) looking along +y, 128 x 8 pixels,
// 40 degrees wide; a square of side kSide facing it kDistance away, centred on the optical
// axis at mid-shutter. kSpeed for kShutter moves it (or the camera) kTravel.
constexpr int kWidth = 128, kHeight = 8;
constexpr double kDistance = 5.0;              // metres
constexpr double kSide = 0.3;                  // metres
constexpr double kSpeed = 30.0;                // metres per second
constexpr double kShutter = 1.0 / 30;          // seconds
constexpr double kTravel = kSpeed * kShutter;  // metres in the shutter (1 m)
constexpr float kGlow = 4.0f;                  // the square's emitted radiance

// The emissive square centred at `centre` (in the plane y = centre.y, facing -y).
Mesh square_at(Vec3 centre) {
  Mesh mesh;
  mesh.instance_id = 1;
  mesh.semantic = SemanticClass::kProp;
  mesh.material = 0;
  const double h = kSide / 2;
  add_quad(mesh, centre + Vec3{-h, 0, -h}, centre + Vec3{h, 0, -h}, centre + Vec3{h, 0, h},
           centre + Vec3{-h, 0, h});
  return mesh;
}

// The black scene with the square at mid-shutter; motion blur off, nothing moving yet.
Scene streak_scene() {
  Scene scene;
  scene.kind = "analytic";
  scene.camera = look_at_camera(kWidth, kHeight, 40, {0, 0, 1}, {0, 1, 1});
  scene.sky = Sky::uniform(0.0);
  Material glow;
  glow.base_color = {0, 0, 0};
  glow.emission = {kGlow, kGlow, kGlow};
  scene.materials = {glow};
  scene.meshes = {square_at({0, kDistance, 1})};
  scene.instances = {{1, SemanticClass::kProp, "box"}};
  return scene;
}

// Every row's red radiance, averaged over the rows (the square covers them all), divided
// by the glow: the fraction of the shutter each column sees the square.
std::vector<double> column_coverage(const Frame& frame) {
  std::vector<double> coverage(static_cast<size_t>(frame.width), 0.0);
  for (int y = 0; y < frame.height; ++y) {
    for (int x = 0; x < frame.width; ++x) {
      coverage[x] +=
          frame.rgb[3 * (static_cast<size_t>(y) * frame.width + x)] / (kGlow * frame.height);
    }
  }
  return coverage;
}

// The streak's length in pixels: from the first to the last column that saw the square.
int streak_length(const std::vector<double>& coverage) {
  int first = -1, last = -1;
  for (int x = 0; x < static_cast<int>(coverage.size()); ++x) {
    if (coverage[x] <= 0) continue;
    if (first < 0) first = x;
    last = x;
  }
  return first < 0 ? 0 : last - first + 1;
}

RenderSettings streak_settings() {
  RenderSettings settings;
  settings.spp = 256;
  settings.max_bounces = 0;
  settings.seed = 11;
  settings.threads = 2;
  return settings;
}

// The labels must be those of the scene at mid-shutter, bit for bit.
void expect_same_labels(const Frame& a, const Frame& b, const std::string& what) {
  EXPECT_EQ(a.instance, b.instance) << what;
  EXPECT_EQ(a.semantic, b.semantic) << what;
  EXPECT_EQ(a.depth, b.depth) << what;
  EXPECT_EQ(a.normal, b.normal) << what;
  EXPECT_EQ(a.albedo, b.albedo) << what;
}

// Checks a streak of an emissive square whose image moves `travel_px` pixels in the shutter:
// it spans the square's width plus that travel; the columns that see the square the whole
// shutter long (none here: it travels more than its width) and the plateau in between see
// it for width / travel of the shutter; every column's coverage integrates to the width.
void expect_streak(const Frame& frame, double side_px, double travel_px, const char* what) {
  const std::vector<double> coverage = column_coverage(frame);
  const int measured = streak_length(coverage);
  const double analytic = side_px + travel_px;
  double total = 0;
  for (double c : coverage) total += c;
  // The plateau: the columns the square's image covers from the travel's middle on both
  // sides, side_px / travel_px of the shutter (a box shutter, time uniform in it).
  const double centre = kWidth / 2.0;
  const double plateau_half = (travel_px - side_px) / 2;
  double plateau = 0;
  int plateau_columns = 0;
  for (int x = static_cast<int>(std::ceil(centre - plateau_half)) + 1;
       x + 1 < static_cast<int>(std::floor(centre + plateau_half)); ++x) {
    plateau += coverage[x];
    ++plateau_columns;
  }
  plateau /= std::max(plateau_columns, 1);
  std::printf(
      "%s: streak %d px measured, %.2f px analytic (square %.2f px + travel %.2f px); "
      "plateau coverage %.4f over %d columns, analytic %.4f; integral %.3f px, "
      "analytic %.3f px\n",
      what, measured, analytic, side_px, travel_px, plateau, plateau_columns, side_px / travel_px,
      total, side_px);
  EXPECT_NEAR(measured, analytic, 1.5) << what;
  EXPECT_GT(plateau_columns, 10) << what;
  EXPECT_NEAR(plateau, side_px / travel_px, 0.02) << what;
  EXPECT_NEAR(total, side_px, 0.1) << what;
}

TEST(MotionBlurTest, AMovingSquareStreaksOverItsTravelAndIsLabelledAtMidShutter) {
  auto renderer = renderer_testing::make_renderer();
  const Scene still = streak_scene();
  Scene moving = still;
  moving.motion_blur = true;
  // Across the view along +x (image x), kTravel in the shutter, centred on mid-shutter.
  const Mesh open = square_at({-kTravel / 2, kDistance, 1});
  const Mesh close = square_at({kTravel / 2, kDistance, 1});
  moving.meshes[0].shutter_positions = {open.positions, close.positions};

  const Frame blurred = renderer_testing::render_frame(*renderer, moving, streak_settings());
  const Frame sharp = renderer_testing::render_frame(*renderer, still, streak_settings());
  const double px_per_m = still.camera.fx / kDistance;
  expect_streak(blurred, kSide * px_per_m, kTravel * px_per_m, "moving square");
  // Without motion blur the square is as wide as itself.
  const int sharp_length = streak_length(column_coverage(sharp));
  std::printf("still square: %d px measured, %.2f px analytic\n", sharp_length, kSide * px_per_m);
  EXPECT_NEAR(sharp_length, kSide * px_per_m, 1.5);
  // Labels (ids, depth, normal, albedo) are the still square's, exactly.
  expect_same_labels(blurred, sharp, "moving vs still square");
  int labelled = 0;
  for (uint32_t id : blurred.instance) labelled += id == 1 ? 1 : 0;
  EXPECT_NEAR(labelled / static_cast<double>(kHeight), kSide * px_per_m, 1.0);

  // Motion blur off: the same shutter positions are ignored, the render is the still one.
  moving.motion_blur = false;
  const Frame off = renderer_testing::render_frame(*renderer, moving, streak_settings());
  EXPECT_EQ(off.rgb, sharp.rgb);
  expect_same_labels(off, sharp, "motion blur off");
}

TEST(MotionBlurTest, AMovingCameraStreaksAStillSquare) {
  auto renderer = renderer_testing::make_renderer();
  const Scene still = streak_scene();
  Scene panning = still;
  panning.motion_blur = true;
  // The camera pans along its own x axis: the square's image moves the other way.
  const Vec3 x_axis = still.camera.rotation.row(0);
  panning.camera.shutter_positions = {{still.camera.position - x_axis * (kTravel / 2),
                                       still.camera.position + x_axis * (kTravel / 2)}};
  const Frame blurred = renderer_testing::render_frame(*renderer, panning, streak_settings());
  const double px_per_m = still.camera.fx / kDistance;
  expect_streak(blurred, kSide * px_per_m, kTravel * px_per_m, "panning camera");
  const Frame sharp = renderer_testing::render_frame(*renderer, still, streak_settings());
  expect_same_labels(blurred, sharp, "panning vs still camera");
}

TEST(MotionBlurTest, AStillSceneRendersTheSameBytesWithMotionBlurOn) {
  auto renderer = renderer_testing::make_renderer();
  Scene scene = streak_scene();
  // Something lit besides the glow, so that bounces and shadow rays are traced too.
  Mesh floor;
  floor.instance_id = 2;
  floor.semantic = SemanticClass::kFloor;
  floor.albedo = {0.5f, 0.5f, 0.5f};
  add_quad(floor, {-50, -50, 0}, {50, -50, 0}, {50, 50, 0}, {-50, 50, 0});
  scene.meshes.push_back(floor);
  scene.instances.push_back({2, SemanticClass::kFloor, "floor"});
  scene.sky = Sky::uniform(0.3);
  scene.sun.intensity = 2;
  scene.sun.direction = normalize(Vec3{0.3, -0.4, 1});
  RenderSettings settings = streak_settings();
  settings.spp = 16;
  settings.max_bounces = 2;
  const Frame off = renderer_testing::render_frame(*renderer, scene, settings);
  scene.motion_blur = true;  // nothing moves: no mesh or camera has shutter positions
  const Frame on = renderer_testing::render_frame(*renderer, scene, settings);
  expect_same_labels(on, off, "still scene, motion blur on vs off");
  // The time slot is drawn but moves nothing, and no other slot moved: the same noise.
  EXPECT_EQ(on.rgb, off.rgb);
}

TEST(MotionBlurTest, ShutterPositionsThatDoNotFitAreRefused) {
  auto renderer = renderer_testing::make_renderer();
  Scene scene = streak_scene();
  scene.motion_blur = true;
  scene.meshes[0].shutter_positions[0] = scene.meshes[0].positions;
  scene.meshes[0].shutter_positions[1] = {1, 2, 3};
  auto frame = renderer->render(scene, streak_settings());
  ASSERT_FALSE(frame.has_value());
  EXPECT_NE(frame.error().find("mesh 0 (instance 1): shutter_positions hold 12 and 3 floats"),
            std::string::npos)
      << frame.error();
}

// A box moving towards the sun, lit from in front: every path's shadow ray leaves the
// box's surface where it was at the path's own moment. Were the shadow ray traced at
// another moment, the box would have moved over its start (the box comes towards the sun)
// and shadowed its own lit face. The face's radiance is the analytic albedo * sun * cos.
TEST(MotionBlurTest, ShadowRaysTraceAtTheirPathsMoment) {
  auto renderer = renderer_testing::make_renderer();
  Scene scene;
  scene.kind = "analytic";
  scene.camera = look_at_camera(32, 24, 40, {0, 0, 1}, {0, 1, 1});
  scene.sky = Sky::uniform(0.0);
  scene.sun.intensity = 2;
  scene.sun.direction = normalize(Vec3{0.2, -1, 0.3});  // behind the camera, to its right
  Mesh box;
  box.instance_id = 1;
  box.semantic = SemanticClass::kProp;
  box.albedo = {0.5f, 0.5f, 0.5f};
  add_box(box, {0, 4, 1}, Mat3{}, {1, 0.5, 1});
  // Towards the camera and the sun by 0.6 m in the shutter, much more than the box's
  // shadow-ray offset.
  Mesh open = box, close = box;
  for (size_t i = 1; i < box.positions.size(); i += 3) {
    open.positions[i] += 0.3f;
    close.positions[i] -= 0.3f;
  }
  box.shutter_positions = {open.positions, close.positions};
  scene.meshes = {box};
  scene.instances = {{1, SemanticClass::kProp, "box"}};
  scene.motion_blur = true;
  RenderSettings settings = streak_settings();
  settings.spp = 64;
  const Frame frame = renderer_testing::render_frame(*renderer, scene, settings);
  // The centre 8 x 8 pixels see the front face (normal -y) at every moment.
  const double expected = 0.5 * 2 * dot(Vec3{0, -1, 0}, scene.sun.direction);
  double lowest = 1e9, highest = 0;
  for (int y = 8; y < 16; ++y) {
    for (int x = 12; x < 20; ++x) {
      const double r = frame.rgb[3 * (static_cast<size_t>(y) * 32 + x)];
      lowest = std::min(lowest, r);
      highest = std::max(highest, r);
    }
  }
  std::printf("moving box's lit face: radiance %.6f .. %.6f, analytic %.6f\n", lowest, highest,
              expected);
  EXPECT_NEAR(lowest, expected, 1e-5);
  EXPECT_NEAR(highest, expected, 1e-5);
}

// A lit scene in which a mesh casting a shadow moves, the camera pans through a thin lens,
// and paths bounce: every thread count and tiling gives the same bytes.
TEST(MotionBlurTest, IdenticalBytesForAnyThreadCountAndTiling) {
  auto renderer = renderer_testing::make_renderer();
  Scene scene = streak_scene();
  scene.camera = look_at_camera(40, 30, 50, {0, -1, 1.2}, {0, kDistance, 0.6});
  scene.camera.aperture_radius_m = 0.02;
  scene.camera.focus_distance_m = kDistance;
  const Vec3 x_axis = scene.camera.rotation.row(0);
  scene.camera.shutter_positions = {
      {scene.camera.position - x_axis * 0.05, scene.camera.position + x_axis * 0.05}};
  Mesh box;
  box.instance_id = 2;
  box.semantic = SemanticClass::kProp;
  box.albedo = {0.7f, 0.4f, 0.2f};
  add_box(box, {0, kDistance - 1, 0.4}, Mat3{}, {0.3, 0.3, 0.4});
  Mesh box_open = box, box_close = box;
  for (size_t i = 0; i < box.positions.size(); i += 3) {
    box_open.positions[i] -= 0.4f;
    box_close.positions[i] += 0.4f;
    box_close.positions[i + 2] += 0.1f;
  }
  box.shutter_positions = {box_open.positions, box_close.positions};
  Mesh floor;
  floor.instance_id = 3;
  floor.semantic = SemanticClass::kFloor;
  floor.albedo = {0.5f, 0.5f, 0.5f};
  add_quad(floor, {-50, -50, 0}, {50, -50, 0}, {50, 50, 0}, {-50, 50, 0});
  scene.meshes.push_back(box);
  scene.meshes.push_back(floor);
  scene.instances.push_back({2, SemanticClass::kProp, "box"});
  scene.instances.push_back({3, SemanticClass::kFloor, "floor"});
  scene.sky = Sky::uniform(0.2);
  scene.sun.intensity = 3;
  scene.sun.direction = normalize(Vec3{0.4, -0.3, 1});
  Light lamp;
  lamp.kind = Light::Kind::kPoint;
  lamp.intensity = 5;
  lamp.position = {1, kDistance - 2, 2};
  scene.lights = {lamp};
  scene.motion_blur = true;

  RenderSettings settings{8, 3, 77, 1};
  const Frame one = renderer_testing::render_frame(*renderer, scene, settings);
  settings.threads = 2;
  const Frame two = renderer_testing::render_frame(*renderer, scene, settings);
  settings.tile_size = 7;
  const Frame odd_tiles = renderer_testing::render_frame(*renderer, scene, settings);
  settings.tile_size = 1;
  const Frame pixel_tiles = renderer_testing::render_frame(*renderer, scene, settings);
  for (const Frame* other : {&two, &odd_tiles, &pixel_tiles}) {
    EXPECT_EQ(one.rgb, other->rgb);
    expect_same_labels(one, *other, "thread count and tiling");
  }
  EXPECT_EQ(one.invalid_samples, 0u);
  // The blur shows: the same scene without it renders other colours, the same labels.
  scene.motion_blur = false;
  const Frame still = renderer_testing::render_frame(*renderer, scene, settings);
  EXPECT_NE(one.rgb, still.rgb);
  expect_same_labels(one, still, "blurred vs still");
}

}  // namespace
}  // namespace synthfarm::render
