// A Bayer raw frame as the sensor records it: one value per photosite, row-major, in raw
// units where the white level (saturation) is 1. Plain data shared by the mosaic, the noise
// model, the demosaicers and whatever model is slotted between the stages. It holds no
// colour metadata (matrices, gains): those belong to the camera's parameters.
#pragma once

#include <vector>

#include "sensor/cfa.h"

namespace synthfarm::sensor {

struct RawImage {
  int width = 0, height = 0;
  Cfa cfa = Cfa::kRggb;
  std::vector<float> data;  // width * height values in [0, 1]; 1 = white level
  // The pedestal a sensor adds so that noise around black is recorded instead of clipped
  // (DNG BlackLevel, in the same units): the signal of a photosite is data - black_level.
  double black_level = 0;
};

}  // namespace synthfarm::sensor
