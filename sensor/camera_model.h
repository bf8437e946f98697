// The physical camera: how a scene-referred render becomes the image a real camera would
// have written. Stages, in the order light meets them:
//   expose   optics and exposure: linear gain, vignetting, lateral chromatic aberration
//   mosaic   the sensor's colour response (inverse CCM), inverse white balance, the Bayer
//            CFA, saturation at the white level and the black-level pedestal: a clean raw
//   add_noise  shot, read and row noise, quantisation (noise.h)
//   develop  the ISP: black level, white balance, demosaicing, CCM, sRGB transfer and tone
//            curve, sharpening, 8 bits, JPEG
// The colour and noise model is Brooks et al. 2019 ("Unprocessing Images for Learned Raw
// Denoising") run forwards: their camera matrices and gains, their heteroscedastic
// Gaussian noise, their tone curve. Each stage is a pure function of its inputs, so a
// learned model can be slotted in between two of them; everything random comes from the
// seed (noise.h), so the same input and seed give the same bytes on any machine and with
// any thread count. This module must not know about the spec, storage or the renderer's
// frame: it sees plain float images (RGB interleaved, row-major, linear).
// Thread-safe: no shared state.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <tl/expected.hpp>
#include <vector>

#include "sensor/cfa.h"
#include "sensor/colour_matrices.h"
#include "sensor/demosaic.h"
#include "sensor/exposure.h"
#include "sensor/noise.h"
#include "sensor/raw_image.h"
#include "sensor/tone.h"

namespace synthfarm::sensor {

struct CameraParams {
  double exposure = 1;  // linear gain on the scene-referred render, applied first; > 0
  // Camera RGB -> linear sRGB, row-major, each row summing to 1 (within 1e-4):
  // preset_ccm(), random_ccm(), or the identity (a camera that sees sRGB).
  std::array<double, 9> ccm = kIdentity3;
  // White balance and brightening (Brooks et al.'s gains): develop() multiplies red by
  // rgb_gain * red_gain, green by rgb_gain and blue by rgb_gain * blue_gain; mosaic()
  // divides. Each > 0.
  double rgb_gain = 1, red_gain = 2, blue_gain = 1.7;
  Cfa cfa = Cfa::kRggb;
  NoiseParams noise;
  Demosaic demosaic = Demosaic::kMalvar;
  ToneCurve tone = ToneCurve::kSmoothstep;
  int jpeg_quality = 0;             // 0 = no JPEG; 1..100
  double vignetting = 0;            // relative fall-off at the image corner, 0..1
  double chromatic_aberration = 0;  // px of red/blue radial shift at the corner, 0..10
  double sharpen = 0;               // unsharp-mask amount, 0..4
  // The sensor's black-level pedestal in raw units, 0..0.5: a 10-bit sensor's 64 of 1024
  // by default, so noise around black is recorded instead of clipped at 0.
  double black_level = 0.0625;
};

struct CameraImage {
  int width = 0, height = 0;
  // RGB interleaved, 0..1, display-referred: after the tone curve and sharpening, before 8 bits.
  std::vector<float> display;
  // RGB interleaved 8-bit: the camera's image (the decoded JPEG when jpeg_quality > 0).
  std::vector<uint8_t> srgb8;
  std::string jpeg;  // the JPEG file when jpeg_quality > 0
};

// Every field in its range; the message names the field, its range and the value.
tl::expected<void, std::string> check_camera_params(const CameraParams& p);

// The stages. expose() and mosaic() take width * height * 3 floats and expect parameters
// that pass check_camera_params(); a size that does not match, or a singular ccm in
// mosaic(), is a caller's bug (std::invalid_argument).
//
// Exposure gain, vignetting (the cos^4 law's shape, 1 / (1 + k r^2)^2 with k set so the
// corner keeps 1 - vignetting) and lateral chromatic aberration (red magnified, blue shrunk
// about the centre so each moves chromatic_aberration px at the corner; bilinear).
std::vector<float> expose(std::span<const float> linear_rgb, int width, int height,
                          const CameraParams& p);
// Linear sRGB -> camera RGB (the inverse of ccm), divided by the white-balance gains,
// clipped to [0, 1] (saturation), one colour per photosite by p.cfa, scaled into
// [black_level, 1]: the clean raw.
RawImage mosaic(std::span<const float> exposed_rgb, int width, int height, const CameraParams& p);
// The ISP. The CFA and the black level come from `raw`, everything else from `p` (its cfa
// and black_level are mosaic()'s). Errors name a bad parameter or a raw whose size does not
// match.
tl::expected<CameraImage, std::string> develop(const RawImage& raw, const CameraParams& p);
// expose, mosaic, add_noise(p.noise, seed), develop.
tl::expected<CameraImage, std::string> apply_camera(std::span<const float> linear_rgb, int width,
                                                    int height, const CameraParams& p,
                                                    uint64_t seed);

}  // namespace synthfarm::sensor
