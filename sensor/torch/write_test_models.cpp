// Writes the example models of test_models.h as files, for tests that must not link
// LibTorch themselves (sensor_plugin_test loads them through the dlopen'ed plugin).
//
//   write_test_models DIR      -> DIR/noise.pt (rgb, sigma 0.01), DIR/conv.pt (rgb, 4,723
//   parameters), DIR/raw_noise.pt (raw, sigma 0.01), and three broken ones for error paths:
//   DIR/nan.pt (returns NaN), DIR/one_input.pt (forward takes no params),
//   DIR/not_torchscript.pt (text)
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "sensor/torch/test_models.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: write_test_models DIR\n");
    return 2;
  }
  namespace models = synthfarm::sensor::test_models;
  const std::filesystem::path dir = argv[1];
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  const std::pair<const char*, std::string> files[] = {
      {"noise.pt", models::noise_model(0.01)},
      {"conv.pt", models::conv_model(20, 7)},
      {"raw_noise.pt", models::noise_model(0.01, models::kRawMetadata)},
      // Broken models for the pipeline's error paths: NaN out, one input, not TorchScript.
      {"nan.pt", models::script_model("def forward(self, image, params):\n    return image / 0.0 * 0.0\n",
                                      models::kRgbMetadata)},
      {"one_input.pt", models::script_model("def forward(self, image):\n    return image\n", models::kRgbMetadata)},
      {"not_torchscript.pt", std::string("this is not a TorchScript archive\n")},
  };
  for (const auto& [name, bytes] : files) {
    std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out.flush()) {
      std::fprintf(stderr, "write_test_models: cannot write %s\n", (dir / name).c_str());
      return 1;
    }
  }
  return 0;
}
