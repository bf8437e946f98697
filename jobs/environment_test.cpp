// Environment maps: decoding equirectangular OpenEXR files, loading them from a spec, and
// what the camera sees of them.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "jobs/image_io.h"
#include "jobs/render.h"
#include "jobs/sample.h"
#include "jobs/scene.h"

namespace synthfarm::jobs {
namespace {

// An OpenEXR file of R, G, B floats (written by the sample encoder, so by OpenEXR itself).
std::string exr_of(int width, int height, const std::vector<float>& rgb) {
  Frame frame;
  frame.width = width;
  frame.height = height;
  frame.rgb = rgb;
  return encode_exr(frame, {Layer::kRgb});
}

std::vector<float> gradient_texels(int width, int height) {
  std::vector<float> rgb;
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) rgb.insert(rgb.end(), {0.1f * x, 0.2f * y, 0.5f});
  }
  return rgb;
}

TEST(EnvironmentExrTest, DecodesTheTexelsRowByRow) {
  const std::vector<float> texels = gradient_texels(8, 4);
  auto env = decode_environment_exr(exr_of(8, 4, texels), "park.exr");
  ASSERT_TRUE(env) << env.error();
  EXPECT_EQ(env->width, 8);
  EXPECT_EQ(env->height, 4);
  EXPECT_EQ(env->texels, texels);
  EXPECT_EQ(env->name, "park.exr");
  EXPECT_DOUBLE_EQ(env->intensity, 1);
}

TEST(EnvironmentExrTest, BadFilesAreNamedWithWhatIsWrong) {
  const std::string good = exr_of(8, 4, gradient_texels(8, 4));
  auto error_of = [](const std::string& bytes) {
    auto env = decode_environment_exr(bytes, "park.exr");
    EXPECT_FALSE(env);
    return env ? std::string() : env.error();
  };
  EXPECT_EQ(error_of("P3\n1 1\n255\n0 0 0\n"), "park.exr: not an OpenEXR file");
  for (size_t cut : {size_t{8}, good.size() / 3, good.size() - 5}) {
    const std::string e = error_of(good.substr(0, cut));
    EXPECT_EQ(e.rfind("park.exr: ", 0), 0u) << cut << ": " << e;
  }
  std::vector<float> texels = gradient_texels(8, 4);
  texels[3 * (2 * 8 + 5) + 1] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_NE(error_of(exr_of(8, 4, texels)).find("park.exr: texel (5, 2) channel G is nan"), std::string::npos);
  texels = gradient_texels(8, 4);
  texels[0] = -1;
  EXPECT_NE(error_of(exr_of(8, 4, texels)).find("texel (0, 0) channel R is -1"), std::string::npos);
  // A depth-only file has no colour.
  Frame depth;
  depth.width = 4;
  depth.height = 2;
  depth.depth.assign(8, 1.0f);
  EXPECT_EQ(error_of(encode_exr(depth, {Layer::kDepth})), "park.exr: no colour channels (expected R, G, B or Y)");
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
