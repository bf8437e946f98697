// Writes the example models of test_models.h as files, for tests that must not link
// LibTorch themselves (sensor_plugin_test loads them through the dlopen'ed plugin).
//
//   write_test_models DIR      -> DIR/noise.pt (rgb, sigma 0.01), DIR/conv.pt (rgb, 4,723
//   parameters)
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
