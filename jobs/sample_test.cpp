// Tests of SampleRenderer, the per-sample pipeline: determinism across thread counts,
// EXR/PNG/JSON contents, and analytic checks (floor depth, hand-projected joints).
#include "jobs/sample.h"
#include "jobs/sample_testing.h"

#include <gtest/gtest.h>
#include <png.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "jobs/scene.h"
#include "render/exr_testing.h"
#include "render/renderer.h"

namespace synthfarm::jobs {

using render::Layer;
namespace {

using sample_testing::make_renderer;
using sample_testing::render_ok;

using nlohmann::json;
using render::Layer;
using render::exr_testing::channel_names;
using render::exr_testing::ExrImage;
using render::exr_testing::read_exr;

const std::vector<Layer> kAllLayers = {Layer::kRgb,    Layer::kDepth,    Layer::kNormal,
                                       Layer::kAlbedo, Layer::kInstance, Layer::kSemantic};

JobSpec small_spec(std::string kind = "room") {
  JobSpec spec;
  spec.name = "render-test";
  spec.samples = 100;
  spec.seed = 1234;
  spec.camera.width = 64;
  spec.camera.height = 48;
  spec.render.spp = 4;
  spec.render.max_bounces = 2;
  spec.output.layers = kAllLayers;
  spec.scene.kind = {{std::move(kind)}, {}};
  spec.humans.motion = {{"static", "walk", "wave"}, {}};
  return spec;
}


TEST(SampleRendererTest, CreateRejectsNegativeThreads) {
  EXPECT_FALSE(SampleRenderer::create(-1).has_value());
}

TEST(SampleRendererTest, IdenticalBytesForOneAndTwoThreads) {
  auto one = make_renderer(1);
  auto two = make_renderer(2);
  for (const char* kind : {"room", "outdoor", "studio"}) {
    JobSpec spec = small_spec(kind);
    SampleObjects a = render_ok(*one, spec, 7);
    SampleObjects b = render_ok(*two, spec, 7);
    SampleObjects c = render_ok(*two, spec, 7);
    EXPECT_FALSE(a.exr.empty());
    EXPECT_FALSE(a.png.empty());
    EXPECT_EQ(a.exr, b.exr) << kind;
    EXPECT_EQ(a.png, b.png) << kind;
    EXPECT_EQ(a.json, b.json) << kind;
    EXPECT_EQ(b.exr, c.exr) << kind;
  }
}

TEST(SampleRendererTest, DifferentIndicesDiffer) {
  auto renderer = make_renderer(2);
  JobSpec spec = small_spec();
  SampleObjects a = render_ok(*renderer, spec, 0);
  SampleObjects b = render_ok(*renderer, spec, 1);
  EXPECT_NE(a.exr, b.exr);
  EXPECT_NE(a.png, b.png);
  EXPECT_NE(a.json, b.json);
}

TEST(SampleRendererTest, ExrHasExactlyTheRequestedChannels) {
  auto renderer = make_renderer(2);
  JobSpec spec = small_spec();
  ExrImage all = read_exr(render_ok(*renderer, spec, 2).exr);
  EXPECT_EQ(all.width, 64);
  EXPECT_EQ(all.height, 48);
  EXPECT_EQ(
      channel_names(all),
      (std::set<std::string>{"R", "G", "B", "depth.Z", "normal.X", "normal.Y", "normal.Z",
                             "albedo.R", "albedo.G", "albedo.B", "instance.id", "semantic.id"}));
  EXPECT_EQ(all.channels["R"], Imf::FLOAT);
  EXPECT_EQ(all.channels["depth.Z"], Imf::FLOAT);
  EXPECT_EQ(all.channels["normal.X"], Imf::HALF);
  EXPECT_EQ(all.channels["albedo.G"], Imf::HALF);
  EXPECT_EQ(all.channels["instance.id"], Imf::UINT);
  EXPECT_EQ(all.channels["semantic.id"], Imf::UINT);
  // Only the required attributes: nothing time- or host-dependent in the header.
  EXPECT_EQ(all.attributes, (std::set<std::string>{"channels", "compression", "dataWindow",
                                                   "displayWindow", "lineOrder", "pixelAspectRatio",
                                                   "screenWindowCenter", "screenWindowWidth"}));

  spec.output.layers = {Layer::kRgb, Layer::kInstance};
  ExrImage subset = read_exr(render_ok(*renderer, spec, 2).exr);
  EXPECT_EQ(channel_names(subset), (std::set<std::string>{"R", "G", "B", "instance.id"}));
  // The layers that are kept do not depend on which others were asked for.
  EXPECT_EQ(subset.floats["R"], all.floats["R"]);
  EXPECT_EQ(subset.uints["instance.id"], all.uints["instance.id"]);

  // Without rgb the sample is labels only: the same labels, no preview, no light transport.
  spec.output.layers = {Layer::kDepth, Layer::kSemantic};
  const SampleObjects labels = render_ok(*renderer, spec, 2);
  ExrImage only = read_exr(labels.exr);
  EXPECT_EQ(channel_names(only), (std::set<std::string>{"depth.Z", "semantic.id"}));
  EXPECT_EQ(only.floats["depth.Z"], all.floats["depth.Z"]);
  EXPECT_EQ(only.uints["semantic.id"], all.uints["semantic.id"]);
  EXPECT_TRUE(labels.png.empty());
  EXPECT_EQ(nlohmann::json::parse(labels.json)["instances"],
            nlohmann::json::parse(render_ok(*renderer, small_spec(), 2).json)["instances"])
      << "boxes and keypoints do not depend on the layers";
}

TEST(SampleRendererTest, JsonBoxesMatchInstanceLayer) {
  auto renderer = make_renderer(2);
  for (uint64_t index : {0u, 5u, 11u}) {
    JobSpec spec = small_spec(index == 5 ? "studio" : "room");
    SampleObjects objects = render_ok(*renderer, spec, index);
    ExrImage exr = read_exr(objects.exr);
    json j = json::parse(objects.json);
    const auto& ids = exr.uints["instance.id"];
    const auto& semantic = exr.uints["semantic.id"];
    std::map<uint32_t, std::array<int, 5>> boxes;  // x0, y0, x1, y1, count
    for (int y = 0; y < exr.height; ++y) {
      for (int x = 0; x < exr.width; ++x) {
        uint32_t id = ids[y * exr.width + x];
        if (id == 0) {
          EXPECT_EQ(semantic[y * exr.width + x], 0u);
          continue;
        }
        auto [it, fresh] = boxes.try_emplace(id, std::array<int, 5>{x, y, x, y, 0});
        auto& b = it->second;
        b = {std::min(b[0], x), std::min(b[1], y), std::max(b[2], x), std::max(b[3], y), b[4] + 1};
      }
    }
    ASSERT_TRUE(j["instances"].is_array());
    std::map<uint32_t, uint32_t> semantic_of;
    int persons = 0;
    for (const json& item : j["instances"]) {
      uint32_t id = item["id"];
      semantic_of[id] = item["semantic_id"];
      auto it = boxes.find(id);
      if (item["class"] == "person") {
        ++persons;
        EXPECT_EQ(item["semantic_id"], 1);
        EXPECT_EQ(id, static_cast<uint32_t>(persons)) << "humans come first";
        EXPECT_EQ(item["joints_3d_camera"].size(), static_cast<size_t>(humans::kJointCount));
        EXPECT_EQ(item["keypoints"].size(), 51u);
      }
      if (it == boxes.end()) {
        EXPECT_EQ(item["visible_pixels"], 0);
        continue;
      }
      const auto& b = it->second;
      EXPECT_EQ(item["bbox"], json::array({b[0], b[1], b[2] - b[0] + 1, b[3] - b[1] + 1})) << id;
      EXPECT_EQ(item["visible_pixels"], b[4]) << id;
      boxes.erase(it);
    }
    EXPECT_TRUE(boxes.empty()) << "ids in the EXR that the JSON does not list";
    EXPECT_GE(persons, 1);
    for (size_t p = 0; p < ids.size(); ++p) {
      if (ids[p] != 0) {
        EXPECT_EQ(semantic[p], semantic_of[ids[p]]);
      }
    }
  }
}

// world_to_camera and K from the JSON, applied by hand.
struct JsonCamera {
  double k[3][3], m[4][4];
  explicit JsonCamera(const json& j) {
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 3; ++c) k[r][c] = j["K"][r][c];
    for (int r = 0; r < 4; ++r)
      for (int c = 0; c < 4; ++c) m[r][c] = j["world_to_camera"][r][c];
  }
  std::array<double, 3> to_camera(std::array<double, 3> w) const {
    std::array<double, 3> c{};
    for (int r = 0; r < 3; ++r) c[r] = m[r][0] * w[0] + m[r][1] * w[1] + m[r][2] * w[2] + m[r][3];
    return c;
  }
};

TEST(SampleRendererTest, FloorDepthMatchesAnalyticPlane) {
  auto renderer = make_renderer(2);
  for (const char* kind : {"room", "outdoor", "studio"}) {
    JobSpec spec = small_spec(kind);
    SampleObjects objects = render_ok(*renderer, spec, 3);
    ExrImage exr = read_exr(objects.exr);
    JsonCamera cam(json::parse(objects.json));
    // Camera centre C = -R^T t; the ray through pixel (u, v) has camera direction
    // d = ((u - cx) / fx, (v - cy) / fy, 1); it meets z = 0 at camera depth s = -C.z / (R^T d).z.
    double centre_z = 0;
    for (int r = 0; r < 3; ++r) centre_z -= cam.m[r][2] * cam.m[r][3];
    int floor_pixels = 0, sky_pixels = 0;
    for (int y = 0; y < exr.height; ++y) {
      for (int x = 0; x < exr.width; ++x) {
        size_t p = static_cast<size_t>(y) * exr.width + x;
        float depth = exr.floats["depth.Z"][p];
        uint32_t semantic = exr.uints["semantic.id"][p];
        if (semantic == 0) {
          EXPECT_TRUE(std::isinf(depth) && depth > 0);
          ++sky_pixels;
          continue;
        }
        EXPECT_GT(depth, 0.0f);
        if (semantic != 2) continue;
        double dx = (x + 0.5 - cam.k[0][2]) / cam.k[0][0],
               dy = (y + 0.5 - cam.k[1][2]) / cam.k[1][1];
        double world_dz = cam.m[0][2] * dx + cam.m[1][2] * dy + cam.m[2][2];
        double expected = -centre_z / world_dz;
        EXPECT_NEAR(depth, expected, 1e-4 * expected + 1e-5) << kind << " pixel " << x << "," << y;
        // The floor faces up, towards a camera above it: camera-space normal = R * (0, 0, 1).
        EXPECT_NEAR(exr.floats["normal.X"][p], cam.m[0][2], 2e-3);
        EXPECT_NEAR(exr.floats["normal.Y"][p], cam.m[1][2], 2e-3);
        EXPECT_NEAR(exr.floats["normal.Z"][p], cam.m[2][2], 2e-3);
        ++floor_pixels;
      }
    }
    EXPECT_GT(floor_pixels, 0) << kind;
    (void)sky_pixels;
  }
}

TEST(SampleRendererTest, JointsProjectByHandAndLieInTheirBoxes) {
  auto renderer = make_renderer(2);
  JobSpec spec = small_spec();
  spec.camera.width = 96;
  spec.camera.height = 72;
  spec.humans.count = Distribution::constant(2);
  int checked = 0;
  // Several samples, so that some person is large enough in frame for the box check.
  for (uint64_t index = 0; index < 6; ++index) {
    SampleObjects objects = render_ok(*renderer, spec, index);
    json j = json::parse(objects.json);
    JsonCamera cam(j);
    for (const json& item : j["instances"]) {
      if (item["class"] != "person") continue;
      for (const auto& [name, world] : item["joints_3d_world"].items()) {
        auto c = cam.to_camera({world[0], world[1], world[2]});
        const json& cj = item["joints_3d_camera"][name];
        EXPECT_NEAR(c[2], cj[2].get<double>(), 1e-9);
        double u = cam.k[0][0] * c[0] / c[2] + cam.k[0][2];
        double v = cam.k[1][1] * c[1] / c[2] + cam.k[1][2];
        EXPECT_NEAR(u, item["joints_2d"][name][0].get<double>(), 1e-6);
        EXPECT_NEAR(v, item["joints_2d"][name][1].get<double>(), 1e-6);
      }
      // The head centre is inside the head, so inside the person's box when not occluded.
      const json& head = item["joints_2d"]["head"];
      const json& box = item["bbox"];
      if (item["visible_pixels"].get<int>() > 200) {
        EXPECT_GE(head[0].get<double>(), box[0].get<double>() - 1);
        EXPECT_LE(head[0].get<double>(), box[0].get<double>() + box[2].get<double>() + 1);
        EXPECT_GE(head[1].get<double>(), box[1].get<double>() - 1);
        EXPECT_LE(head[1].get<double>(), box[1].get<double>() + box[3].get<double>() + 1);
        ++checked;
      }
    }
  }
  EXPECT_GE(checked, 1);
}

TEST(SampleRendererTest, PngHasTheImageSize) {
  auto renderer = make_renderer(1);
  JobSpec spec = small_spec("outdoor");
  SampleObjects objects = render_ok(*renderer, spec, 4);
  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  ASSERT_TRUE(png_image_begin_read_from_memory(&image, objects.png.data(), objects.png.size()))
      << image.message;
  EXPECT_EQ(image.width, 64u);
  EXPECT_EQ(image.height, 48u);
  image.format = PNG_FORMAT_RGB;
  std::vector<uint8_t> pixels(PNG_IMAGE_SIZE(image));
  ASSERT_TRUE(png_image_finish_read(&image, nullptr, pixels.data(), 0, nullptr)) << image.message;
  int bright = 0;
  for (uint8_t p : pixels) bright += p > 16 ? 1 : 0;
  EXPECT_GT(bright, static_cast<int>(pixels.size() / 4));

  spec.output.preview_png = false;
  EXPECT_TRUE(render_ok(*renderer, spec, 4).png.empty());
}

TEST(SampleRendererTest, BadSpecIsAnErrorNotACrash) {
  auto renderer = make_renderer(1);
  JobSpec spec = small_spec("moon");
  auto result = renderer->render(spec, 0);
  ASSERT_FALSE(result.has_value());
  EXPECT_NE(result.error().find("moon"), std::string::npos) << result.error();
}

}  // namespace
}  // namespace synthfarm::jobs
