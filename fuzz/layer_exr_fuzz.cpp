// The sample viewer's layer images (coordinator/layer_image.h draw_layer): a sample's EXR
// read from the job's storage by the coordinator through OpenEXRCore, every layer drawn and
// encoded as PNG. Properties: no crash (OpenEXRCore's errors become errors); a drawn image
// has 4 bytes for each of its width x height pixels, within the size limit, and encodes.
#include "coordinator/layer_image.h"
#include "fuzz/fuzz_check.h"

using synthfarm::fuzz::as_text;
using synthfarm::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace synthfarm::coordinator;
  for (ViewLayer layer : kViewLayers) {
    auto image = draw_layer(as_text(data, size), layer, "fuzz.exr");
    if (!image) {
      check(!image.error().message.empty(), "an error says what is wrong");
      if (image.error().code == LayerError::Code::kUnreadable) return 0;  // the same for every layer
      continue;
    }
    check(image->width >= 1 && image->height >= 1 && image->width <= kMaxLayerSide && image->height <= kMaxLayerSide,
          "a drawn layer is 1..kMaxLayerSide a side");
    check(image->rgba.size() == 4 * static_cast<size_t>(image->width) * static_cast<size_t>(image->height),
          "four bytes a pixel");
    check(!encode_png_rgba8(*image).empty(), "a drawn layer encodes");
  }
  return 0;
}
