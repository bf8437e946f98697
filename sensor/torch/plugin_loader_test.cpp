// sensor::plugin_model_loader in a program that does not link LibTorch: the plugin is found
// through the RUNPATH (the build tree's lib/), LibTorch is loaded only then, and a model
// written by write_test_models runs through it.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include "sensor/learned_model.h"

namespace synthfarm::sensor {
namespace {

bool libtorch_loaded() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    if (line.find("libtorch_cpu") != std::string::npos) return true;
  }
  return false;
}

std::string read_model(const std::string& name) {
  std::ifstream in(std::string(SENSOR_TORCH_TESTDATA) + "/" + name, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

TEST(PluginModelLoader, OpensThePluginOnDemandAndRunsAModel) {
  EXPECT_FALSE(libtorch_loaded());
  auto loader = plugin_model_loader(2);
  ASSERT_TRUE(loader.has_value()) << loader.error();
  EXPECT_TRUE(libtorch_loaded());
  const std::string bytes = read_model("noise.pt");
  ASSERT_FALSE(bytes.empty()) << "run write_test_models first (ctest fixture sensor_torch_models)";
  auto model = (*loader)(bytes, "noise.pt");
  ASSERT_TRUE(model.has_value()) << model.error();
  EXPECT_EQ((*model)->domain(), ModelDomain::kRgb);

  const int w = 32, h = 16;
  const std::vector<double> params = {100, 1, 0.001, 0.0001, 2, 1.7, 0, 0};
  std::vector<float> image(w * h * 3, 0.5f), again = image;
  ASSERT_TRUE((*model)->apply(image, w, h, params, 3).has_value());
  ASSERT_TRUE((*model)->apply(again, w, h, params, 3).has_value());
  EXPECT_EQ(std::memcmp(image.data(), again.data(), image.size() * sizeof(float)), 0);
  double sum2 = 0;
  for (float v : image) sum2 += (v - 0.5) * (v - 0.5);
  EXPECT_NEAR(std::sqrt(sum2 / image.size()), 0.01, 0.001);

  // A second call reuses the open library; errors come back as strings.
  auto second = plugin_model_loader(1);
  ASSERT_TRUE(second.has_value()) << second.error();
  auto bad = (*second)("not a model", "bad.pt");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().rfind("bad.pt: not a TorchScript archive", 0), 0u) << bad.error();
}

}  // namespace
}  // namespace synthfarm::sensor
