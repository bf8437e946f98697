// Human labels on rendered samples: keypoint visibility against the instance mask, an
// occluding wall, and the part / uv layers against the body model.
#include <gtest/gtest.h>

#include <cstdio>

#include "humans/body.h"
#include "humans/skeleton.h"
#include "render/renderer.h"
#include "jobs/scene.h"

namespace synthfarm::jobs {

using render::Camera;
using render::Frame;
using render::Mesh;
using render::RenderSettings;
using render::Renderer;
using render::SemanticClass;
using render::add_quad;
namespace {

JobSpec label_spec() {
  JobSpec spec;
  spec.name = "labels";
  spec.samples = 1000;
  spec.seed = 2024;
  spec.camera.width = 320;
  spec.camera.height = 240;
  spec.humans.count = Distribution::uniform_int(1, 4);
  spec.humans.motion = {{"static", "walk", "run", "idle", "wave", "sit"}, {}};
  return spec;
}

// No light transport: the labels come from the label rays alone.
RenderSettings labels_only() {
  RenderSettings settings;
  settings.labels_only = true;
  return settings;
}
const RenderSettings kLabelsOnly = labels_only();

// Over 200 samples, keypoints marked visible (v = 2) land on their own person's pixels.
TEST(HumanLabels, VisibleKeypointsFallInsideTheirPersonsMask) {
  auto renderer = Renderer::create();
  ASSERT_TRUE(renderer.has_value()) << renderer.error();
  const JobSpec spec = label_spec();
  int visible = 0, inside = 0, occluded = 0, outside = 0;
  std::array<int, kKeypointCount> misses{};
  for (uint64_t index = 0; index < 200; ++index) {
    SampleScene scene = build_scene(spec, index);
    auto frame = (*renderer)->render(scene, kLabelsOnly);
    ASSERT_TRUE(frame.has_value()) << frame.error();
    ASSERT_EQ(frame->keypoints.size(), scene.humans.size());
    for (size_t h = 0; h < scene.humans.size(); ++h) {
      for (int n = 0; n < kKeypointCount; ++n) {
        const Frame::Keypoint& k = frame->keypoints[h][n];
        if (k.v == 0) {
          ++outside;
          continue;
        }
        if (k.v == 1) {
          ++occluded;
          continue;
        }
        ++visible;
        const auto x = static_cast<int>(k.x), y = static_cast<int>(k.y);
        bool in = frame->instance[static_cast<size_t>(y) * frame->width + x] == scene.humans[h].instance_id;
        inside += in;
        misses[n] += !in;
      }
    }
  }
  std::printf("keypoints: %d visible (%d inside their mask, %.2f%%), %d occluded, %d outside\n", visible,
              inside, 100.0 * inside / visible, occluded, outside);
  for (int n = 0; n < kKeypointCount; ++n) std::printf("%s %d  ", kKeypointNames[n].data(), misses[n]);
  std::printf("\n");
  ASSERT_GT(visible, 2000);
  EXPECT_GT(occluded, 200) << "self-occlusion and people behind people must show up";
  EXPECT_GE(inside, 0.98 * visible);
}

// A small wall placed between the camera and a visible knee turns that keypoint to 1 and
// leaves the others as they were.
TEST(HumanLabels, AKeypointBehindAWallInFrontOfTheLegIsOccluded) {
  auto renderer = Renderer::create();
  ASSERT_TRUE(renderer.has_value());
  JobSpec spec = label_spec();
  spec.humans.count = Distribution::constant(1);
  spec.humans.motion = {{"static"}, {}};
  spec.scene.props = Distribution::constant(0);
  constexpr int kLeftKnee = 13;  // COCO order
  for (uint64_t index = 0; index < 20; ++index) {
    SampleScene scene = build_scene(spec, index);
    auto before = (*renderer)->render(scene, kLabelsOnly);
    ASSERT_TRUE(before.has_value());
    if (before->keypoints[0][kLeftKnee].v != 2) continue;

    const Camera& cam = scene.camera;
    const Vec3 knee = scene.humans[0].keypoints[kLeftKnee];
    const Vec3 towards = knee - cam.position;
    const Vec3 centre = cam.position + towards * 0.8;
    const Vec3 n = normalize(towards);
    const Vec3 side = normalize(cross(n, Vec3{0, 0, 1}));
    const Vec3 up = cross(side, n);
    const double half = 0.06;  // a 12 cm square: hides the knee, not the whole body
    Mesh wall;
    wall.albedo = {0.5f, 0.5f, 0.5f};
    wall.instance_id = static_cast<uint32_t>(scene.instances.size() + 1);
    wall.semantic = SemanticClass::kWall;
    add_quad(wall, centre - side * half - up * half, centre + side * half - up * half,
             centre + side * half + up * half, centre - side * half + up * half);
    scene.meshes.push_back(wall);
    scene.instances.push_back({wall.instance_id, SemanticClass::kWall, "wall"});

    auto after = (*renderer)->render(scene, kLabelsOnly);
    ASSERT_TRUE(after.has_value());
    EXPECT_EQ(after->keypoints[0][kLeftKnee].v, 1) << "sample " << index;
    EXPECT_EQ(after->keypoints[0][kLeftKnee].x, before->keypoints[0][kLeftKnee].x);
    int changed = 0;
    for (int k = 0; k < kKeypointCount; ++k) changed += after->keypoints[0][k].v != before->keypoints[0][k].v;
    EXPECT_LE(changed, 3) << "only keypoints near the knee may be hidden by a 12 cm wall";
    return;
  }
  FAIL() << "no sample with a visible left knee among the first 20";
}

// The part and uv layers carry the body model's labels: on a person's pixels the part is
// one of the 24, off people it is 0, and uv stays in [0, 1].
TEST(HumanLabels, PartAndUvLayersLabelPeopleOnly) {
  auto renderer = Renderer::create();
  ASSERT_TRUE(renderer.has_value());
  JobSpec spec = label_spec();
  spec.humans.count = Distribution::constant(2);
  std::array<int, humans::kPartCount + 1> seen{};
  for (uint64_t index = 0; index < 10; ++index) {
    SampleScene scene = build_scene(spec, index);
    auto frame = (*renderer)->render(scene, kLabelsOnly);
    ASSERT_TRUE(frame.has_value());
    for (size_t p = 0; p < frame->part.size(); ++p) {
      const uint32_t id = frame->instance[p];
      const bool person = id >= 1 && id <= scene.humans.size();
      const uint32_t part = frame->part[p];
      if (!person) {
        ASSERT_EQ(part, 0u) << "pixel " << p;
        continue;
      }
      // Hair and skirt shells have no DensePose labels.
      ASSERT_LE(part, static_cast<uint32_t>(humans::kPartCount));
      ++seen[part];
      ASSERT_GE(frame->uv[2 * p], 0.0f);
      ASSERT_LE(frame->uv[2 * p], 1.0f);
      ASSERT_GE(frame->uv[2 * p + 1], 0.0f);
      ASSERT_LE(frame->uv[2 * p + 1], 1.0f);
    }
  }
  int parts_seen = 0;
  for (int part = 1; part <= humans::kPartCount; ++part) parts_seen += seen[part] > 0;
  EXPECT_GE(parts_seen, 20) << "most of the 24 parts appear over 20 people";
}

}  // namespace
}  // namespace synthfarm::jobs
