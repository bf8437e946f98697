// Environment maps in a spec: loading them, and what the camera sees of them (decoding is
// render/image_io_test.cpp's).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "render/image_io.h"
#include "render/renderer.h"
#include "jobs/sample.h"
#include "jobs/scene.h"

namespace synthfarm::jobs {

using render::RenderSettings;
using render::Renderer;
namespace {

// An OpenEXR file of R, G, B floats (written by the sample encoder, so by OpenEXR itself).
std::string exr_of(int width, int height, const std::vector<float>& rgb) {
  render::Frame frame;
  frame.width = width;
  frame.height = height;
  frame.rgb = rgb;
  return render::encode_exr(frame, {render::Layer::kRgb});
}

JobSpec environment_spec() {
  JobSpec spec;
  spec.name = "environment";
  spec.samples = 10;
  spec.seed = 3;
  spec.camera.width = 48;
  spec.camera.height = 36;
  spec.lighting.environment = {{"file:///maps/park.exr"}, {}};
  spec.lighting.environment_intensity = Distribution::constant(2);
  return spec;
}

TEST(EnvironmentExrTest, ASpecsMapIsLoadedAndSeenBehindThePeople) {
  JobSpec spec = environment_spec();
  // A uniform map: the background the camera sees is its radiance times the intensity.
  std::vector<float> texels;
  for (int i = 0; i < 16 * 8; ++i) texels.insert(texels.end(), {0.2f, 0.4f, 0.8f});
  const std::string bytes = exr_of(16, 8, texels);
  const AssetReader reader = [&](const std::string& uri) -> tl::expected<std::string, std::string> {
    if (uri == "file:///maps/park.exr") return bytes;
    return tl::unexpected(uri + ": no such file");
  };
  auto assets = load_scene_assets(spec, reader);
  ASSERT_TRUE(assets) << assets.error();
  ASSERT_EQ(assets->environments.size(), 1u);
  spec.scene.kind = {{"outdoor"}, {}};
  const SampleScene scene = build_scene(spec, 1, &*assets);
  ASSERT_TRUE(scene.environment);
  EXPECT_DOUBLE_EQ(scene.environment->intensity, 2);
  auto renderer = Renderer::create();
  ASSERT_TRUE(renderer);
  RenderSettings settings;
  settings.spp = 1;
  settings.max_bounces = 0;
  auto frame = (*renderer)->render(scene, settings);
  ASSERT_TRUE(frame) << frame.error();
  // Pixels whose neighbours are background too (a jittered ray at an edge may hit a person).
  auto open_sky = [&](int x, int y) {
    for (int dy = -1; dy <= 1; ++dy) {
      for (int dx = -1; dx <= 1; ++dx) {
        const int nx = std::clamp(x + dx, 0, frame->width - 1), ny = std::clamp(y + dy, 0, frame->height - 1);
        if (frame->instance[static_cast<size_t>(ny) * static_cast<size_t>(frame->width) + static_cast<size_t>(nx)] != 0)
          return false;
      }
    }
    return true;
  };
  int background = 0;
  for (size_t p = 0; p < frame->instance.size(); ++p) {
    const int x = static_cast<int>(p % static_cast<size_t>(frame->width));
    const int y = static_cast<int>(p / static_cast<size_t>(frame->width));
    if (!open_sky(x, y)) continue;
    ++background;
    EXPECT_NEAR(frame->rgb[3 * p], 0.4, 1e-4);
    EXPECT_NEAR(frame->rgb[3 * p + 1], 0.8, 1e-4);
    EXPECT_NEAR(frame->rgb[3 * p + 2], 1.6, 1e-4);
  }
  EXPECT_GT(background, 50) << "the sky shows above the horizon";

  // A broken map fails with the field and the file named.
  const AssetReader broken = [&](const std::string&) -> tl::expected<std::string, std::string> {
    return bytes.substr(0, bytes.size() / 2);
  };
  auto failed = load_scene_assets(spec, broken);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().rfind("lighting.environment: park.exr: ", 0), 0u) << failed.error();
}

}  // namespace
}  // namespace synthfarm::jobs
