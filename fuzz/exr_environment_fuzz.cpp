// The environment map loader (render/image_io.h decode_environment_exr): OpenEXR files a
// spec names (lighting.environment), read by workers from storage, through OpenEXR.
// Properties: no crash (OpenEXR's exceptions become errors); a decoded map has width x
// height RGB texels, all finite and non-negative (the renderer's importance sampling
// assumes so).
#include <cmath>

#include "fuzz/fuzz_check.h"
#include "render/image_io.h"

using synthfarm::fuzz::as_text;
using synthfarm::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto map = synthfarm::render::decode_environment_exr(as_text(data, size), "fuzz.exr");
  if (!map) return 0;
  check(map->width > 0 && map->height > 0, "a decoded map has pixels");
  check(map->texels.size() == 3 * static_cast<size_t>(map->width) * static_cast<size_t>(map->height),
        "three floats per texel");
  for (float t : map->texels) check(std::isfinite(t) && t >= 0, "texels are finite and non-negative");
  return 0;
}
