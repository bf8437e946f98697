// Sensor noise calibration by photon transfer (Janesick; EMVA 1288): from pairs of dark
// frames and pairs of flat-field frames at several exposure levels and ISO settings, the
// per-ISO noise model var(x) = a * x + b (x: signal above black, raw units, white level = 1)
// and then the DNG NoiseProfile form across ISOs (noise.h's NoiseProfile). Differences of
// two frames of the same scene cancel fixed-pattern noise and illumination fall-off, so
// var(F1 - F2) / 2 is the temporal noise. Pure functions on frames in memory, and the
// YAML file `synthfarm calibrate-sensor` writes (the spec's sensor.noise.profile_uri
// reads it back). It must not read files: the command does.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

#include "sensor/noise.h"
#include "sensor/raw_frames.h"

namespace synthfarm::sensor {

enum class FrameKind { kDark, kFlat };

// What a frame's file name says: `iso<N>` and `dark` or `flat-<tag>` (tag: letters and
// digits), case-insensitive, e.g. "iso800-flat-a-1.pgm", "ISO100_dark_2.exr". Flats of one
// ISO with the same tag are one exposure level.
struct FrameName {
  int iso = 0;
  FrameKind kind = FrameKind::kDark;
  std::string level;  // flats: the tag, lower case; darks: empty
};
// `file_name` may carry directories; only the last component is read.
tl::expected<FrameName, std::string> parse_frame_name(std::string_view file_name);

struct CalibrationFrame {
  std::string name;  // the file, for messages
  FrameName what;
  MonoImage image;  // raw units, white level = 1
};

struct FlatLevel {
  std::string tag;
  int frames = 0;
  double signal = 0;    // mean of the level's frames minus the ISO's black level
  double variance = 0;  // mean over disjoint pairs (sorted by name) of var(F1 - F2) / 2
};

struct IsoCalibration {
  int iso = 0;
  double a = 0;            // least squares of (variance - b) on signal, through the origin
  double b = 0;            // mean over dark pairs of var(D1 - D2) / 2
  double black_level = 0;  // mean of the dark frames
  int dark_frames = 0;
  std::vector<FlatLevel> levels;  // by tag
};

struct SensorCalibration {
  // S(iso) fitted to the per-ISO a, O(iso) to b, by least squares of the relative
  // residuals ((a - S) / a, (b - O) / b): the values span decades, and each ISO counts alike.
  NoiseProfile profile;
  std::vector<IsoCalibration> per_iso;  // by ISO
};

// Errors name the file: frames of different sizes, an ISO without a pair of dark frames, a
// level (or the darks) with a single frame, a saturated flat (mean above 0.9), flats with no
// signal above black; and fewer than two ISO settings (the profile needs them).
tl::expected<SensorCalibration, std::string> calibrate_noise(
    std::span<const CalibrationFrame> frames);

// noise_profile: {s_gain, s_offset, o_gain, o_offset}, then per_iso: a list of {iso, a, b,
// levels, black_level}; doubles to 10 significant digits.
std::string calibration_to_yaml(const SensorCalibration& calibration);
// The noise_profile map of such a file; `source` leads every message. Its four keys are
// required and nothing else may be in the map.
tl::expected<NoiseProfile, std::string> noise_profile_from_yaml(std::string_view text,
                                                                std::string_view source);

}  // namespace synthfarm::sensor
