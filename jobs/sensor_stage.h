// The camera stage of the sample pipeline (DESIGN.md: frame = apply_sensor(frame, sensor)):
// the spec's sensor section drawn for one sample, then run on the rendered linear RGB by
// sensor/ — exposure, colour, Bayer mosaic, noise, ISP, JPEG — with a learned model slotted
// in where its metadata says (rgb: on the exposed linear image; raw: instead of the
// physical noise). The render itself stays untouched: the EXR keeps the clean linear image
// as ground truth, and the camera's image becomes the preview.
//
// Determinism: every draw comes from draw_field / Pcg32::for_purpose on the sample's seed;
// the noise of frame f of a clip from its own stream. A clip's frames share one camera
// (the parameters drawn and the exposure metered on frame 0).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <tl/expected.hpp>

#include "jobs/spec.h"
#include "render/image_io.h"
#include "render/renderer.h"
#include "sensor/camera_model.h"
#include "sensor/learned_model.h"

namespace synthfarm::jobs {

// What a sensor section needs besides the spec: the files it names, read and parsed.
struct SensorAssets {
  std::optional<sensor::NoiseProfile> profile;         // sensor.noise.profile as a file
  std::shared_ptr<const sensor::LearnedModel> model;  // sensor.model
};

// One sample's camera: every parameter drawn, and what it was drawn as.
struct SensorDraw {
  sensor::CameraParams params;
  std::string camera;  // the preset, or "random"
  double iso = 0, shutter_s = 0, f_number = 0, ev = 0;
  double metered_exposure = 1;  // auto: the metering's gain; manual: from iso, shutter, f-number
};

// Draws sample `seed`'s camera; `first_frame` (linear RGB) is what auto-exposure meters.
SensorDraw draw_sensor(const SensorSpec& spec, const SensorAssets& assets, uint64_t seed,
                       const render::Frame& first_frame);

// The camera's outputs for one frame.
struct SensorFrame {
  sensor::CameraImage image;  // display (0..1), srgb8, and the JPEG when drawn
  std::vector<float> raw;     // the noisy Bayer mosaic (white level 1), kept when asked for
};

// Runs the camera on `frame.rgb`. `noise_seed` names the frame's noise stream. Errors come
// from the learned model (named by its URI) or the JPEG encoder.
tl::expected<SensorFrame, std::string> run_sensor(const SensorSpec& spec, const SensorAssets& assets,
                                                  const SensorDraw& draw, const render::Frame& frame,
                                                  uint64_t noise_seed);

// The per-sample JSON's "sensor" object: every drawn parameter.
nlohmann::json sensor_json(const SensorSpec& spec, const SensorDraw& draw);

// The extra EXR channels the spec's sensor.layers ask for, pointing into `out`.
std::vector<render::ExtraChannel> sensor_channels(const SensorSpec& spec, const SensorFrame& out);

}  // namespace synthfarm::jobs
