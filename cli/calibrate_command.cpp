// `synthfarm calibrate-sensor`: a camera's noise profile from its own raw frames by photon
// transfer (sensor/calibration.h), written as the YAML that sensor.noise.profile_uri reads.
#include <fmt/format.h>

#include <filesystem>
#include <fstream>

#include "cli/commands.h"
#include "cli/common.h"
#include "sensor/calibration.h"

namespace synthfarm::cli {

// Reads every frame (its ISO and kind from its file name), fits, writes `out` and prints a
// table: one row per ISO, then the fitted profile. Every problem names the file; all are
// bad input (exit 2) except failing to write `out` (exit 1).
int cmd_calibrate_sensor(const std::vector<std::string>& paths, const std::string& out) {
  std::vector<sensor::CalibrationFrame> frames;
  frames.reserve(paths.size());
  for (const std::string& path : paths) {
    auto what = sensor::parse_frame_name(std::filesystem::path(path).filename().string());
    if (!what) {
      fmt::print(stderr, "error: {}: {}\n", path, what.error());
      return kExitBadInput;
    }
    bool ok = false;
    const std::string bytes = read_file(path, ok);
    if (!ok) {
      fmt::print(stderr, "error: {}: cannot read the file\n", path);
      return kExitBadInput;
    }
    auto image = sensor::decode_raw_frame(bytes, path);
    if (!image) {
      fmt::print(stderr, "error: {}\n", image.error());
      return kExitBadInput;
    }
    frames.push_back({path, std::move(*what), std::move(*image)});
  }
  auto fit = sensor::calibrate_noise(frames);
  if (!fit) {
    fmt::print(stderr, "error: calibrate-sensor: {}\n", fit.error());
    return kExitBadInput;
  }
  {
    std::ofstream file(out, std::ios::binary | std::ios::trunc);
    file << sensor::calibration_to_yaml(*fit);
    file.close();
    if (!file) {
      fmt::print(stderr, "error: {}: cannot write the profile\n", out);
      return kExitFailure;
    }
  }
  fmt::print("{:>8}  {:>12}  {:>12}  {:>11}  {:>6}\n", "iso", "a (shot)", "b (read)", "black level",
             "levels");
  for (const auto& iso : fit->per_iso)
    fmt::print("{:>8}  {:>12.5g}  {:>12.5g}  {:>11.5f}  {:>6}\n", iso.iso, iso.a, iso.b,
               iso.black_level, iso.levels.size());
  const auto& p = fit->profile;
  fmt::print("noise_profile: s_gain={:.6g} s_offset={:.6g} o_gain={:.6g} o_offset={:.6g}\n",
             p.s_gain, p.s_offset, p.o_gain, p.o_offset);
  fmt::print("wrote {} ({} frames)\n", out, frames.size());
  return 0;
}

}  // namespace synthfarm::cli
