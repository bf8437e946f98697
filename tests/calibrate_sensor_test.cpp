// `synthfarm calibrate-sensor` end to end: frames drawn by the sensor's own noise model from
// a known profile, written as 16-bit PGM files, fitted by the real program; the YAML it writes
// must give the profile back, and a broken set of frames must fail naming the file.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "sensor/calibration.h"
#include "sensor/calibration_testing.h"
#include "sensor/raw_frames.h"

namespace {

namespace fs = std::filesystem;
using namespace synthfarm::sensor;

struct ProgramRun {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

ProgramRun run(const std::string& command) {
  ProgramRun result;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return result;
  char buffer[4096];
  size_t n = 0;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) result.output.append(buffer, n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

class CalibrateSensor : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "calibrate-sensor-XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    const int isos[] = {100, 800, 3200};
    const double levels[] = {0.05, 0.2, 0.45};
    for (const auto& frame : calibration_testing::photon_transfer_frames(
             calibration_testing::kProfile, isos, levels, 192, 128, 14, 0.0625, 9)) {
      std::ofstream(dir_ / frame.name, std::ios::binary)
          << encode_pgm(frame.raw.data, frame.raw.width, frame.raw.height);
    }
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string command(const std::string& frames) const {
    return fmt::format("\"{}\" calibrate-sensor {} -o \"{}\"", SYNTHFARM_BIN, frames,
                       (dir_ / "camera.yaml").string());
  }

  fs::path dir_;
};

TEST_F(CalibrateSensor, RecoversTheProfileItsFramesWereDrawnFrom) {
  const ProgramRun result = run(command(fmt::format("\"{}\"/*.pgm", dir_.string())));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  std::cout << result.output;
  EXPECT_NE(result.output.find("noise_profile: s_gain="), std::string::npos);

  std::ifstream in(dir_ / "camera.yaml");
  std::stringstream text;
  text << in.rdbuf();
  auto profile = noise_profile_from_yaml(text.str(), "camera.yaml");
  ASSERT_TRUE(profile) << profile.error() << "\n" << text.str();
  for (int iso : {100, 800, 3200}) {
    const NoiseParams fitted = profile_noise(*profile, iso),
                      truth = profile_noise(calibration_testing::kProfile, iso);
    EXPECT_NEAR(fitted.shot / truth.shot, 1, 0.05) << iso;
    EXPECT_NEAR(fitted.read / truth.read, 1, 0.10) << iso;
  }
  const YAML::Node per_iso = YAML::Load(text.str())["per_iso"];
  ASSERT_TRUE(per_iso.IsSequence());
  ASSERT_EQ(per_iso.size(), 3u);
  for (const auto& entry : per_iso) {
    const int iso = entry["iso"].as<int>();
    const NoiseParams truth = profile_noise(calibration_testing::kProfile, iso);
    EXPECT_NEAR(entry["a"].as<double>() / truth.shot, 1, 0.05) << iso;
    EXPECT_NEAR(entry["b"].as<double>() / truth.read, 1, 0.10) << iso;
    EXPECT_EQ(entry["levels"].as<int>(), 3);
  }
}

TEST_F(CalibrateSensor, ALevelWithOneFrameFailsNamingTheFile) {
  fs::remove(dir_ / "iso800-flat-b-2.pgm");
  const ProgramRun result = run(command(fmt::format("\"{}\"/*.pgm", dir_.string())));
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("iso800-flat-b-1.pgm: the only frame of level flat-b"),
            std::string::npos)
      << result.output;
  EXPECT_FALSE(fs::exists(dir_ / "camera.yaml"));
}

TEST_F(CalibrateSensor, AFileThatIsNotAFrameFailsNamingIt) {
  std::ofstream(dir_ / "iso100-dark-3.pgm") << "P2 not binary";
  const ProgramRun result = run(command(fmt::format("\"{}\"/*.pgm", dir_.string())));
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("iso100-dark-3.pgm: neither a binary PGM"), std::string::npos)
      << result.output;
}

}  // namespace
