// The camera stage in the sample pipeline (sensor_stage.h): what a sensor section changes in
// a sample's objects and what it leaves alone, determinism with every part of the camera on
// (physical pipeline, lens, motion blur, JPEG, learned models), noise profiles read from
// files, and the errors a broken learned model gives.
#include "jobs/sensor_stage.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "jobs/sample.h"
#include "jobs/sample_testing.h"
#include "render/exr_testing.h"

namespace synthfarm::jobs {
namespace {

using nlohmann::json;
using render::Layer;
using render::exr_testing::read_exr;

JobSpec camera_spec() {
  JobSpec spec;
  spec.name = "sensor-test";
  spec.samples = 100;
  spec.seed = 99;
  spec.camera.width = 64;
  spec.camera.height = 48;
  spec.render.spp = 4;
  spec.output.layers = {Layer::kRgb, Layer::kDepth, Layer::kInstance};
  spec.scene.kind = {{"studio"}, {}};
  spec.humans.count = Distribution::constant(2);
  spec.humans.motion = {{"walk"}, {}};
  spec.sensor.enabled = true;
  return spec;
}

std::string file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

// Reads the test models write_test_models wrote (ctest fixture sensor_torch_models).
AssetReader model_reader() {
  return [](const std::string& uri) -> tl::expected<std::string, std::string> {
    const std::string prefix = "file:///models/";
    if (!uri.starts_with(prefix)) return tl::unexpected(uri + ": no such file");
    std::string bytes = file(std::string(SENSOR_TORCH_TESTDATA) + "/" + uri.substr(prefix.size()));
    if (bytes.empty()) return tl::unexpected(uri + ": no such file");
    return bytes;
  };
}

using sample_testing::render_ok;

// A renderer that runs learned models through the LibTorch plugin, as render --local does.
std::unique_ptr<SampleRenderer> make_renderer(int threads, AssetReader reader = {}) {
  auto loader = sensor::plugin_model_loader(threads);
  EXPECT_TRUE(loader.has_value()) << loader.error();
  return sample_testing::make_renderer(threads, std::move(reader), loader ? *loader : sensor::LearnedModelLoader{});
}

TEST(SensorStage, TheCameraMakesThePreviewAndTheRenderStaysTheGroundTruth) {
  auto renderer = make_renderer(2);
  JobSpec clean = camera_spec();
  clean.sensor = SensorSpec{};
  JobSpec camera = camera_spec();
  camera.sensor.layers = {"camera", "raw"};
  const SampleObjects a = render_ok(*renderer, clean, 4);
  const SampleObjects b = render_ok(*renderer, camera, 4);

  // The EXR keeps the clean linear render (and every label) and gains the camera's layers.
  const auto exr_a = read_exr(a.exr), exr_b = read_exr(b.exr);
  for (const char* channel : {"R", "G", "B", "depth.Z"}) EXPECT_EQ(exr_a.floats.at(channel), exr_b.floats.at(channel));
  EXPECT_EQ(exr_a.uints.at("instance.id"), exr_b.uints.at("instance.id"));
  ASSERT_TRUE(exr_b.floats.contains("camera.R") && exr_b.floats.contains("raw.Y"));
  EXPECT_FALSE(exr_a.floats.contains("camera.R"));
  // The raw is a mosaic: between the black level and the white level, with noise.
  const std::vector<float>& raw = exr_b.floats.at("raw.Y");
  std::set<float> levels(raw.begin(), raw.end());
  EXPECT_GT(levels.size(), 100u);
  for (float v : raw) ASSERT_TRUE(v >= 0.0f && v <= 1.0f) << v;
  for (float v : exr_b.floats.at("camera.G")) ASSERT_TRUE(v >= 0.0f && v <= 1.0f) << v;

  // The preview is the camera's image, not the clean render's.
  ASSERT_FALSE(b.png.empty());
  EXPECT_TRUE(b.jpg.empty());
  EXPECT_NE(a.png, b.png);

  // The sample JSON records every drawn parameter; everything else is the clean sample's.
  json ja = json::parse(a.json), jb = json::parse(b.json);
  ASSERT_TRUE(jb.contains("sensor")) << b.json.substr(0, 300);
  const json& s = jb["sensor"];
  EXPECT_TRUE(std::set<double>({100, 200, 400, 800, 1600}).contains(s["iso"].get<double>())) << s.dump();
  EXPECT_GT(s["noise"]["a"].get<double>(), 0);
  EXPECT_GT(s["noise"]["b"].get<double>(), 0);
  EXPECT_GT(s["exposure"].get<double>(), 0);
  for (int row = 0; row < 3; ++row) {
    double sum = 0;
    for (int col = 0; col < 3; ++col) sum += s["ccm"][row * 3 + col].get<double>();
    EXPECT_NEAR(sum, 1.0, 1e-6) << s["ccm"].dump();
  }
  EXPECT_EQ(s["cfa"], "rggb");
  EXPECT_EQ(s["demosaic"], "malvar");
  jb.erase("sensor");
  EXPECT_EQ(ja, jb);
}

TEST(SensorStage, ADrawnJpegQualityStoresTheJpegItself) {
  auto renderer = make_renderer(1);
  JobSpec spec = camera_spec();
  spec.sensor.jpeg_quality = Distribution::constant(30);
  const SampleObjects objects = render_ok(*renderer, spec, 2);
  ASSERT_GT(objects.jpg.size(), 2u);
  EXPECT_EQ(static_cast<unsigned char>(objects.jpg[0]), 0xFF);
  EXPECT_EQ(static_cast<unsigned char>(objects.jpg[1]), 0xD8);
  EXPECT_TRUE(objects.png.empty());
  std::set<std::string> keys;
  for (const auto& [key, bytes] : objects.keyed(2)) keys.insert(key);
  EXPECT_EQ(keys, (std::set<std::string>{"samples/00000002.exr", "samples/00000002.jpg", "samples/00000002.json"}));
  EXPECT_EQ(json::parse(objects.json)["sensor"]["jpeg_quality"], 30);
}

// Every part of the camera at once, and each kind of learned model: the same bytes with one
// render thread or two.
TEST(SensorStage, EveryPartOfTheCameraGivesTheSameBytesAtOneAndTwoThreads) {
  JobSpec spec = camera_spec();
  spec.sensor.iso = Distribution::uniform(100, 6400);
  spec.sensor.jpeg_quality = Distribution::uniform_int(40, 95);
  spec.sensor.vignetting = Distribution::uniform(0, 0.5);
  spec.sensor.chromatic_aberration = Distribution::uniform(0, 2);
  spec.sensor.sharpen = Distribution::uniform(0, 1);
  spec.sensor.cfa = {{"rggb", "bggr", "grbg", "gbrg"}, {}};
  spec.sensor.distortion.model = {{"brown_conrady", "fisheye"}, {}};
  spec.sensor.distortion.k1 = Distribution::uniform(-0.1, -0.02);
  spec.sensor.motion_blur = true;
  spec.sensor.shutter_s = Distribution::constant(1.0 / 30);
  spec.sensor.camera_speed_m_s = Distribution::uniform(0, 1);
  spec.sensor.layers = {"camera", "raw"};
  auto one = make_renderer(1, model_reader()), two = make_renderer(2, model_reader());
  for (const char* model : {"", "file:///models/conv.pt", "file:///models/noise.pt", "file:///models/raw_noise.pt"}) {
    spec.sensor.model = model;
    for (uint64_t index : {0, 7}) {
      const SampleObjects a = render_ok(*one, spec, index), b = render_ok(*two, spec, index);
      EXPECT_FALSE(a.jpg.empty());
      EXPECT_EQ(a.exr, b.exr) << model << " sample " << index;
      EXPECT_EQ(a.jpg, b.jpg) << model << " sample " << index;
      EXPECT_EQ(a.json, b.json) << model << " sample " << index;
    }
  }
  // A model changes the camera's image and says so in the JSON.
  spec.sensor.model = "";
  const SampleObjects physical = render_ok(*two, spec, 0);
  spec.sensor.model = "file:///models/noise.pt";
  const SampleObjects learned = render_ok(*two, spec, 0);
  EXPECT_NE(physical.jpg, learned.jpg);
  EXPECT_EQ(json::parse(learned.json)["sensor"]["model"], "file:///models/noise.pt");
}

TEST(SensorStage, ABrokenModelFailsTheSampleWithItsFileAndProblem) {
  auto renderer = make_renderer(1, model_reader());
  JobSpec spec = camera_spec();
  const std::map<std::string, std::string> expected = {
      {"nan.pt", "NaN"},
      {"one_input.pt", "forward"},
      {"not_torchscript.pt", "not a TorchScript archive"},
      {"missing.pt", "no such file"},
  };
  for (const auto& [name, problem] : expected) {
    spec.sensor.model = "file:///models/" + name;
    auto objects = renderer->render(spec, 1);
    ASSERT_FALSE(objects.has_value()) << name;
    EXPECT_NE(objects.error().find("sensor.model"), std::string::npos) << objects.error();
    EXPECT_NE(objects.error().find(name), std::string::npos) << objects.error();
    EXPECT_NE(objects.error().find(problem), std::string::npos) << objects.error();
  }
  // Without LibTorch in the process, a spec that names a model says so.
  auto plain = SampleRenderer::create(1, model_reader());
  ASSERT_TRUE(plain.has_value());
  spec.sensor.model = "file:///models/noise.pt";
  auto objects = (*plain)->render(spec, 1);
  ASSERT_FALSE(objects.has_value());
  EXPECT_NE(objects.error().find("cannot run learned models"), std::string::npos) << objects.error();
}

TEST(SensorStage, ANoiseProfileFileSetsTheNoiseFromTheIso) {
  const std::string yaml =
      "noise_profile: {s_gain: 2.0e-6, s_offset: 1.0e-5, o_gain: 4.0e-12, o_offset: 3.0e-7}\n";
  AssetReader reader = [&](const std::string& uri) -> tl::expected<std::string, std::string> {
    if (uri == "file:///cal/camera.yaml") return yaml;
    return tl::unexpected(uri + ": no such file");
  };
  auto renderer = SampleRenderer::create(1, reader);
  ASSERT_TRUE(renderer.has_value());
  JobSpec spec = camera_spec();
  spec.sensor.iso = Distribution::constant(800);
  spec.sensor.noise.profile_uri = "file:///cal/camera.yaml";
  auto objects = (*renderer)->render(spec, 3);
  ASSERT_TRUE(objects.has_value()) << objects.error();
  const json noise = json::parse(objects->json)["sensor"]["noise"];
  EXPECT_DOUBLE_EQ(noise["a"].get<double>(), 2.0e-6 * 800 + 1.0e-5);
  EXPECT_DOUBLE_EQ(noise["b"].get<double>(), 4.0e-12 * 800 * 800 + 3.0e-7);

  spec.sensor.noise.profile_uri = "file:///cal/other.yaml";
  auto missing = (*renderer)->render(spec, 3);
  ASSERT_FALSE(missing.has_value());
  EXPECT_NE(missing.error().find("sensor.noise.profile"), std::string::npos) << missing.error();
}

}  // namespace
}  // namespace synthfarm::jobs
