#include "sensor/calibration.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "sensor/calibration_testing.h"

namespace synthfarm::sensor {
namespace {

namespace fs = std::filesystem;
using calibration_testing::kProfile;

// A fresh directory under gtest's temporary directory, removed with the object.
class TempDir {
 public:
  TempDir() {
    std::string pattern = ::testing::TempDir() + "calibration-XXXXXX";
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Frames as calibrate-sensor reads them: from files, named by their ISO and kind.
std::vector<CalibrationFrame> load(const fs::path& dir) {
  std::vector<CalibrationFrame> frames;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    auto what = parse_frame_name(name);
    EXPECT_TRUE(what) << what.error();
    auto image = decode_raw_frame(read_file(entry.path()), name);
    EXPECT_TRUE(image) << image.error();
    if (what && image) frames.push_back({name, *what, std::move(*image)});
  }
  return frames;
}

std::vector<CalibrationFrame> in_memory(const std::vector<calibration_testing::NamedFrame>& named) {
  std::vector<CalibrationFrame> frames;
  for (const auto& f : named)
    frames.push_back({f.name, *parse_frame_name(f.name), {f.raw.width, f.raw.height, f.raw.data}});
  return frames;
}

TEST(Calibration, FitsTheProfileFromPgmFilesAtThreeIsos) {
  const int isos[] = {100, 800, 3200};
  const double levels[] = {0.05, 0.15, 0.3, 0.5};
  TempDir dir;
  for (const auto& frame : calibration_testing::photon_transfer_frames(kProfile, isos, levels, 192,
                                                                       160, 14, 0.0625, 77)) {
    std::ofstream(dir.path() / frame.name, std::ios::binary)
        << encode_pgm(frame.raw.data, frame.raw.width, frame.raw.height);
  }
  const auto frames = load(dir.path());
  ASSERT_EQ(frames.size(), 3u * (2 + 4 * 2));
  auto fit = calibrate_noise(frames);
  ASSERT_TRUE(fit) << fit.error();
  ASSERT_EQ(fit->per_iso.size(), 3u);
  for (const auto& iso : fit->per_iso) {
    const NoiseParams truth = profile_noise(kProfile, iso.iso);
    std::cout << fmt::format(
        "calibration iso={} a={:.5g} ({:+.2f}%) b={:.5g} ({:+.2f}%) black={:.5f} levels={}\n",
        iso.iso, iso.a, 100 * (iso.a / truth.shot - 1), iso.b, 100 * (iso.b / truth.read - 1),
        iso.black_level, iso.levels.size());
    EXPECT_NEAR(iso.a / truth.shot, 1, 0.05) << iso.iso;
    EXPECT_NEAR(iso.b / truth.read, 1, 0.10) << iso.iso;
    EXPECT_NEAR(iso.black_level, 0.0625, 1e-4);
    EXPECT_EQ(iso.levels.size(), 4u);
    EXPECT_EQ(iso.dark_frames, 2);
  }
  const NoiseProfile& p = fit->profile;
  std::cout << fmt::format(
      "calibration profile s_gain={:.5g} s_offset={:.5g} o_gain={:.5g} o_offset={:.5g}\n", p.s_gain,
      p.s_offset, p.o_gain, p.o_offset);
  EXPECT_NEAR(p.s_gain / kProfile.s_gain, 1, 0.05);
  EXPECT_NEAR(p.o_gain / kProfile.o_gain, 1, 0.10);
  for (int iso : {100, 400, 800, 1600, 3200}) {
    // Between and at the calibrated ISOs the fitted curves follow the true ones.
    const NoiseParams fitted = profile_noise(p, iso), truth = profile_noise(kProfile, iso);
    EXPECT_NEAR(fitted.shot / truth.shot, 1, 0.05) << iso;
    EXPECT_NEAR(fitted.read / truth.read, 1, 0.10) << iso;
  }
  // The file the command writes reads back to the same profile.
  const std::string yaml = calibration_to_yaml(*fit);
  auto back = noise_profile_from_yaml(yaml, "camera.yaml");
  ASSERT_TRUE(back) << back.error();
  EXPECT_NEAR(back->s_gain, p.s_gain, 1e-9 * std::abs(p.s_gain));
  EXPECT_NEAR(back->o_offset, p.o_offset, 1e-9 * std::abs(p.o_offset));
  EXPECT_NE(yaml.find("per_iso:"), std::string::npos) << yaml;
}

TEST(Calibration, FrameNames) {
  auto a = parse_frame_name("some/dir/iso800-flat-a-1.pgm");
  ASSERT_TRUE(a) << a.error();
  EXPECT_EQ(a->iso, 800);
  EXPECT_EQ(a->kind, FrameKind::kFlat);
  EXPECT_EQ(a->level, "a");
  auto b = parse_frame_name("ISO100_Dark_2.exr");
  ASSERT_TRUE(b) << b.error();
  EXPECT_EQ(b->iso, 100);
  EXPECT_EQ(b->kind, FrameKind::kDark);
  auto c = parse_frame_name("cam-iso3200-flat_L10-b.pgm");
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->level, "l10");
  EXPECT_NE(parse_frame_name("flat-a-1.pgm").error().find("iso<N>"), std::string::npos);
  EXPECT_NE(parse_frame_name("iso100-1.pgm").error().find("'dark'"), std::string::npos);
  EXPECT_NE(parse_frame_name("iso100-dark-flat-a.pgm").error().find("exactly one"),
            std::string::npos);
  EXPECT_NE(parse_frame_name("iso100-flat.pgm").error().find("flat-<tag>"), std::string::npos);
  EXPECT_EQ(parse_frame_name("iso100-flat.pgm").error().rfind("iso100-flat.pgm: ", 0), 0u);
}

TEST(Calibration, ErrorsNameTheFile) {
  const int isos[] = {100, 800};
  const double levels[] = {0.1, 0.3};
  const auto named =
      calibration_testing::photon_transfer_frames(kProfile, isos, levels, 16, 16, 0, 0.0625, 1);
  auto error_of = [](const std::vector<CalibrationFrame>& frames) {
    auto fit = calibrate_noise(frames);
    return fit ? std::string("fitted") : fit.error();
  };
  ASSERT_EQ(error_of(in_memory(named)), "fitted");

  auto frames = in_memory(named);
  std::erase_if(frames, [](const CalibrationFrame& f) { return f.name == "iso800-flat-b-2.pgm"; });
  EXPECT_EQ(error_of(frames).rfind("iso800-flat-b-1.pgm: the only frame of level flat-b", 0), 0u)
      << error_of(frames);

  frames = in_memory(named);
  std::erase_if(frames,
                [](const CalibrationFrame& f) { return f.name.starts_with("iso800-dark"); });
  EXPECT_NE(error_of(frames).find("no dark frames at iso 800"), std::string::npos)
      << error_of(frames);
  EXPECT_EQ(error_of(frames).rfind("iso800-flat-", 0), 0u) << error_of(frames);

  frames = in_memory(named);
  frames[3].image.width = 8;
  frames[3].image.data.resize(8 * 16);
  EXPECT_EQ(error_of(frames).rfind(frames[3].name + ": a 8 x 16 frame", 0), 0u) << error_of(frames);

  frames = in_memory(named);
  for (float& v : frames[4].image.data) v = 0.95f;
  EXPECT_EQ(error_of(frames).rfind(frames[4].name + ": flat frame is saturated", 0), 0u)
      << error_of(frames);

  frames = in_memory(named);
  std::erase_if(frames, [](const CalibrationFrame& f) { return f.what.iso == 800; });
  EXPECT_NE(error_of(frames).find("two or more ISO"), std::string::npos) << error_of(frames);
}

TEST(Calibration, ProfileYamlErrors) {
  EXPECT_NE(noise_profile_from_yaml("per_iso: []", "c.yaml").error().find("noise_profile"),
            std::string::npos);
  EXPECT_NE(noise_profile_from_yaml("noise_profile: {s_gain: 1, s_offset: 0, o_gain: 0}", "c.yaml")
                .error()
                .find("o_offset: missing"),
            std::string::npos);
  EXPECT_NE(noise_profile_from_yaml(
                "noise_profile: {s_gain: x, s_offset: 0, o_gain: 0, o_offset: 0}", "c.yaml")
                .error()
                .find("s_gain: not a number"),
            std::string::npos);
  EXPECT_NE(noise_profile_from_yaml(
                "noise_profile: {s_gain: 1, s_offset: 0, o_gain: 0, o_offset: 0, k: 1}", "c.yaml")
                .error()
                .find("noise_profile.k: unknown field"),
            std::string::npos);
  auto ok = noise_profile_from_yaml(
      "noise_profile: {s_gain: 1e-6, s_offset: 2e-6, o_gain: 3e-12, o_offset: 4e-7}", "c.yaml");
  ASSERT_TRUE(ok) << ok.error();
  EXPECT_EQ(*ok, (NoiseProfile{1e-6, 2e-6, 3e-12, 4e-7}));
}

}  // namespace
}  // namespace synthfarm::sensor
