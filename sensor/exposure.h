// How much light the sensor collects: a linear gain on the scene-referred render, chosen
// automatically from the image (metering) or from ISO, shutter time and f-number (a manual
// exposure). Pure, deterministic functions; they must not apply the gain or draw anything.
#pragma once

#include <span>

namespace synthfarm::sensor {

// Metering: the gain that brings the scene's log-average luminance (Reinhard et al. 2002:
// exp(mean(log(1e-4 + Y))), Y the Rec. 709 luminance of linear RGB, over every second
// pixel of every second row) to middle grey 0.18. Clamped to [1e-4, 1e4]; 1 for an empty
// image. Non-finite pixels are skipped. Deterministic: one pass in a fixed order.
double auto_exposure(std::span<const float> linear_rgb, int width, int height);

// The calibration constant of manual_exposure(): the render's radiance units are not
// photometric, so the constant ties them to the sunny-16 rule. Under the scene generator's
// default daylight (sun intensity 3 and a sky of 1) a white Lambertian surface has a
// radiance of about 4; sunny 16 (ISO 100, 1/100 s, f/16: iso * t / N^2 = 1/256) should
// expose it just to the white level (gain 1/4), hence 256 / 4 = 64. An 18% grey card is
// then recorded at 0.18, as auto_exposure() aims.
inline constexpr double kManualExposureCalibration = 64.0;

// kManualExposureCalibration * iso * shutter_s / f_number^2.
double manual_exposure(double iso, double shutter_s, double f_number);

}  // namespace synthfarm::sensor
