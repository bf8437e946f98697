// Unit tests of the capture readers (depth_inputs.h): 16-bit millimetre PNGs round-trip,
// a poses file with colour is read, the farm's EXR + JSON sample is read (with +inf sky),
// and bad inputs are named by file and element.
#include "recon/depth_inputs.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "render/image_io.h"

namespace synthfarm::recon {
namespace {

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "depth_inputs.XXXXXX").string();
    EXPECT_NE(mkdtemp(pattern.data()), nullptr);
    path = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  void write(const std::string& name, const std::string& bytes) const {
    std::filesystem::create_directories((path / name).parent_path());
    std::ofstream(path / name, std::ios::binary) << bytes;
  }
  std::filesystem::path path;
};

nlohmann::json frame_json(int width, int height) {
  return {{"depth", "d/000.png"},
          {"K", {{50.0, 0.0, width / 2.0}, {0.0, 50.0, height / 2.0}, {0.0, 0.0, 1.0}}},
          {"width", width},
          {"height", height},
          {"world_to_camera", {{1, 0, 0, 0.5}, {0, 1, 0, 0}, {0, 0, 1, 2}, {0, 0, 0, 1}}}};
}

std::vector<float> ramp(int width, int height) {
  std::vector<float> depth(static_cast<size_t>(width) * height);
  for (size_t i = 0; i < depth.size(); ++i) depth[i] = 0.5f + 0.001f * static_cast<float>(i);
  depth[3] = 0;  // no measurement
  return depth;
}

TEST(DepthInputs, MillimetrePngRoundTrips) {
  const std::vector<float> depth = ramp(7, 5);
  auto back = decode_depth_png_mm(encode_depth_png_mm(depth, 7, 5), "x.png");
  ASSERT_TRUE(back) << back.error();
  ASSERT_EQ(back->width, 7);
  ASSERT_EQ(back->height, 5);
  for (size_t i = 0; i < depth.size(); ++i) EXPECT_NEAR(back->depth_m[i], depth[i], 0.0005) << i;
  EXPECT_EQ(back->depth_m[3], 0.0f);
  auto eight_bit =
      decode_depth_png_mm(render::encode_png_rgb8(std::vector<uint8_t>(3 * 4, 9), 2, 2), "c.png");
  ASSERT_FALSE(eight_bit);
  EXPECT_NE(eight_bit.error().find("c.png: 8-bit with 3 channel(s)"), std::string::npos)
      << eight_bit.error();
  EXPECT_NE(decode_depth_png_mm("not a png", "n.png").error().find("n.png: not a PNG"),
            std::string::npos);
}

TEST(DepthInputs, PosesFileWithColour) {
  TempDir dir;
  dir.write("d/000.png", encode_depth_png_mm(ramp(8, 6), 8, 6));
  dir.write("c/000.png", render::encode_png_rgb8(std::vector<uint8_t>(3 * 48, 255), 8, 6));
  nlohmann::json frame = frame_json(8, 6);
  frame["rgb"] = "c/000.png";
  dir.write("poses.json", nlohmann::json{{"frames", {frame}}}.dump());
  auto views = load_depth_captures(dir.path / "poses.json");
  ASSERT_TRUE(views) << views.error();
  ASSERT_EQ(views->size(), 1u);
  const DepthView& view = (*views)[0];
  EXPECT_EQ(view.name, "d/000.png");
  EXPECT_EQ(view.K.width, 8);
  EXPECT_EQ(view.K.cx, 4.0);
  EXPECT_EQ(view.translation.x, 0.5);
  EXPECT_EQ(view.translation.z, 2.0);
  ASSERT_EQ(view.depth.size(), 48u);
  EXPECT_NEAR(view.depth[10], 0.51, 0.0005);
  ASSERT_EQ(view.rgb.size(), 3 * 48u);
  EXPECT_FLOAT_EQ(view.rgb[0], 1.0f);  // sRGB 255 is linear 1
}

TEST(DepthInputs, SizeDisagreeingWithIntrinsicsNamesFileAndElement) {
  TempDir dir;
  dir.write("d/000.png", encode_depth_png_mm(ramp(8, 6), 8, 6));
  dir.write("poses.json", nlohmann::json{{"frames", {frame_json(640, 480)}}}.dump());
  auto views = load_depth_captures(dir.path / "poses.json");
  ASSERT_FALSE(views);
  EXPECT_EQ(views.error(),
            "poses.json: frames[0].width x height: 640 x 480, but d/000.png is 8 x 6");
}

TEST(DepthInputs, MissingFilesAndBadElementsAreNamed) {
  TempDir dir;
  EXPECT_NE(load_depth_captures(dir.path / "poses.json").error().find("poses.json: cannot read"),
            std::string::npos);
  dir.write("poses.json", nlohmann::json{{"frames", {frame_json(8, 6)}}}.dump());
  auto missing = load_depth_captures(dir.path / "poses.json");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().find("poses.json: frames[0].depth: cannot read"), std::string::npos)
      << missing.error();
  EXPECT_NE(missing.error().find("000.png"), std::string::npos);

  dir.write("d/000.png", encode_depth_png_mm(ramp(8, 6), 8, 6));
  nlohmann::json frame = frame_json(8, 6);
  frame["world_to_camera"][1][1] = 3;
  dir.write("poses.json", nlohmann::json{{"frames", {frame}}}.dump());
  EXPECT_EQ(load_depth_captures(dir.path / "poses.json").error(),
            "poses.json: frames[0].world_to_camera: the 3x3 block is not a rotation");
  frame = frame_json(8, 6);
  frame["K"][0] = {50.0, 0.0};
  dir.write("poses.json", nlohmann::json{{"frames", {frame}}}.dump());
  EXPECT_EQ(load_depth_captures(dir.path / "poses.json").error(),
            "poses.json: frames[0].K[0]: expected 3 numbers");
  frame = frame_json(8, 6);
  frame["depht"] = "x";
  dir.write("poses.json", nlohmann::json{{"frames", {frame}}}.dump());
  EXPECT_EQ(load_depth_captures(dir.path / "poses.json").error(),
            "poses.json: frames[0].depht: unknown key");
}

// A farm sample: the EXR's depth.Z (with +inf for the sky) and the sample JSON's camera.
TEST(DepthInputs, FarmSample) {
  render::Frame frame;
  frame.width = 4;
  frame.height = 3;
  frame.depth.assign(12, 2.5f);
  frame.depth[5] = std::numeric_limits<float>::infinity();
  frame.rgb.assign(36, 0.25f);
  const std::string exr = render::encode_exr(frame, {render::Layer::kRgb, render::Layer::kDepth});
  nlohmann::json sample = frame_json(4, 3);
  sample.erase("depth");
  auto view = decode_farm_sample(exr, "00000007.exr", sample.dump(), "00000007.json", true);
  ASSERT_TRUE(view) << view.error();
  EXPECT_EQ(view->depth[0], 2.5f);
  EXPECT_TRUE(std::isinf(view->depth[5]));
  ASSERT_EQ(view->rgb.size(), 36u);
  EXPECT_EQ(view->rgb[7], 0.25f);

  sample["width"] = 8;
  auto wrong = decode_farm_sample(exr, "00000007.exr", sample.dump(), "00000007.json", false);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error(),
            "00000007.json: width x height: 8 x 3, but 00000007.exr depth.Z is 4 x 3");
  sample["width"] = 4;
  sample["distortion"] = {{"model", "brown"}};
  EXPECT_NE(decode_farm_sample(exr, "e.exr", sample.dump(), "s.json", false)
                .error()
                .find("s.json: distortion"),
            std::string::npos);
}

}  // namespace
}  // namespace synthfarm::recon
