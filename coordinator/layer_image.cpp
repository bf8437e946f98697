#include "coordinator/layer_image.h"

#include <OpenEXR/openexr.h>
#include <fmt/format.h>
#include <png.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cmath>
#include <cstring>
#include <map>
#include <stdexcept>

namespace synthfarm::coordinator {

namespace {

struct LayerSpec {
  ViewLayer layer;
  std::string_view name;
  std::vector<std::string> channels;  // all needed, in this order
};

const std::vector<LayerSpec>& layer_specs() {
  static const std::vector<LayerSpec> kSpecs = {
      {ViewLayer::kDepth, "depth", {"depth.Z"}},
      {ViewLayer::kNormal, "normal", {"normal.X", "normal.Y", "normal.Z"}},
      {ViewLayer::kAlbedo, "albedo", {"albedo.R", "albedo.G", "albedo.B"}},
      {ViewLayer::kInstance, "instance", {"instance.id"}},
      {ViewLayer::kSemantic, "semantic", {"semantic.id"}},
      {ViewLayer::kPart, "part", {"part.id"}},
      {ViewLayer::kUv, "uv", {"uv.U", "uv.V"}},
  };
  return kSpecs;
}

const LayerSpec& spec_of(ViewLayer layer) {
  return layer_specs()[static_cast<size_t>(layer)];
}

// ---- reading: OpenEXRCore over bytes in memory --------------------------------------

// What the read callbacks see: the file, and the library's last error message.
struct MemoryFile {
  std::string_view bytes;
  std::string error;
};

int64_t read_memory(exr_const_context_t, void* user, void* buffer, uint64_t size, uint64_t offset,
                    exr_stream_error_func_ptr_t) {
  const auto* file = static_cast<const MemoryFile*>(user);
  if (offset >= file->bytes.size()) return 0;
  const uint64_t n = std::min<uint64_t>(size, file->bytes.size() - offset);
  std::memcpy(buffer, file->bytes.data() + offset, n);
  return static_cast<int64_t>(n);
}

int64_t size_of_memory(exr_const_context_t, void* user) {
  return static_cast<int64_t>(static_cast<const MemoryFile*>(user)->bytes.size());
}

void keep_error(exr_const_context_t context, exr_result_t code, const char* message) {
  void* user = nullptr;
  if (context && exr_get_user_data(context, &user) == EXR_ERR_SUCCESS && user) {
    static_cast<MemoryFile*>(user)->error = message ? message : exr_get_default_error_message(code);
  }
}

// Channels read as 4-byte values: FLOAT (HALF widened) or UINT, as `is_uint` says.
struct Plane {
  bool is_uint = false;
  std::vector<uint32_t> bits;
  float f(size_t i) const { return is_uint ? static_cast<float>(bits[i]) : std::bit_cast<float>(bits[i]); }
  // An id stored as a float: clamped into uint32 first (NaN and negatives are 0), as a
  // float outside the range has no defined conversion.
  uint32_t u(size_t i) const {
    if (is_uint) return bits[i];
    const float v = f(i);
    if (!(v > 0.0f)) return 0;
    return v >= 4294967040.0f ? UINT32_MAX : static_cast<uint32_t>(v);
  }
};

struct Channels {
  int width = 0, height = 0;
  std::vector<std::string> names;  // every channel of the file
  std::map<std::string, Plane> planes;
};

// An open read context, finished when it goes.
class ExrReader {
 public:
  ~ExrReader() {
    if (context_) exr_finish(&context_);
  }
  exr_context_t& context() { return context_; }

 private:
  exr_context_t context_ = nullptr;
};

// A failure of OpenEXRCore, with its message.
LayerError unreadable(std::string_view name, const MemoryFile& file, exr_result_t code) {
  return {LayerError::Code::kUnreadable,
          fmt::format("{}: not a readable OpenEXR file: {}", name,
                      file.error.empty() ? exr_get_default_error_message(code) : file.error),
          {}};
}

// Decodes `wanted` channels (those of them the file has) of part 0, chunk by chunk.
tl::expected<void, LayerError> decode_planes(exr_context_t context, const exr_attr_box2i_t& window,
                                             Channels& out, std::string_view name, const MemoryFile& file) {
  int32_t lines_per_chunk = 0;
  if (exr_result_t rv = exr_get_scanlines_per_chunk(context, 0, &lines_per_chunk); rv != EXR_ERR_SUCCESS) {
    return tl::unexpected(unreadable(name, file, rv));
  }
  if (lines_per_chunk < 1) {
    return tl::unexpected(LayerError{
        LayerError::Code::kUnreadable, fmt::format("{}: {} scan lines a chunk", name, lines_per_chunk), {}});
  }
  const size_t width = static_cast<size_t>(out.width);
  exr_decode_pipeline_t decoder = EXR_DECODE_PIPELINE_INITIALIZER;
  struct Destroy {
    exr_context_t context;
    exr_decode_pipeline_t* decoder;
    ~Destroy() { exr_decoding_destroy(context, decoder); }
  } destroy{context, &decoder};
  bool initialized = false;
  for (int64_t y = window.min.y; y <= window.max.y; y += lines_per_chunk) {
    exr_chunk_info_t chunk;
    exr_result_t rv = exr_read_scanline_chunk_info(context, 0, static_cast<int>(y), &chunk);
    if (rv == EXR_ERR_SUCCESS) {
      rv = initialized ? exr_decoding_update(context, 0, &chunk, &decoder)
                       : exr_decoding_initialize(context, 0, &chunk, &decoder);
    }
    if (rv != EXR_ERR_SUCCESS) return tl::unexpected(unreadable(name, file, rv));
    if (chunk.start_y < window.min.y || chunk.height < 0 ||
        int64_t{chunk.start_y} + chunk.height > int64_t{window.max.y} + 1) {
      return tl::unexpected(LayerError{LayerError::Code::kUnreadable,
                                       fmt::format("{}: a chunk at line {} lies outside the image", name, y), {}});
    }
    const size_t row = static_cast<size_t>(chunk.start_y - window.min.y);
    for (int c = 0; c < decoder.channel_count; ++c) {
      exr_coding_channel_info_t& channel = decoder.channels[c];
      auto plane = out.planes.find(channel.channel_name);
      if (plane == out.planes.end() || channel.width != out.width) {
        channel.decode_to_ptr = nullptr;
        continue;
      }
      channel.user_bytes_per_element = 4;
      channel.user_data_type = plane->second.is_uint ? EXR_PIXEL_UINT : EXR_PIXEL_FLOAT;
      channel.user_pixel_stride = 4;
      channel.user_line_stride = static_cast<int32_t>(4 * width);
      channel.decode_to_ptr = reinterpret_cast<uint8_t*>(plane->second.bits.data() + row * width);
    }
    if (!initialized) {
      rv = exr_decoding_choose_default_routines(context, 0, &decoder);
      if (rv != EXR_ERR_SUCCESS) return tl::unexpected(unreadable(name, file, rv));
      initialized = true;
    }
    rv = exr_decoding_run(context, 0, &decoder);
    if (rv != EXR_ERR_SUCCESS) return tl::unexpected(unreadable(name, file, rv));
  }
  return {};
}

// The file's channel names, and the `wanted` ones it has, decoded.
tl::expected<Channels, LayerError> read_channels(std::string_view bytes, const std::vector<std::string>& wanted,
                                                 std::string_view name) {
  MemoryFile file{bytes, ""};
  exr_context_initializer_t init = EXR_DEFAULT_CONTEXT_INITIALIZER;
  init.user_data = &file;
  init.read_fn = &read_memory;
  init.size_fn = &size_of_memory;
  init.error_handler_fn = &keep_error;
  init.max_image_width = kMaxLayerSide;
  init.max_image_height = kMaxLayerSide;
  init.max_tile_width = kMaxLayerSide;
  init.max_tile_height = kMaxLayerSide;
  // A truncated file is an error, not a search through its bytes for surviving chunks.
  init.flags = EXR_CONTEXT_FLAG_DISABLE_CHUNK_RECONSTRUCTION;
  ExrReader reader;
  const std::string label(name);
  if (exr_result_t rv = exr_start_read(&reader.context(), label.c_str(), &init); rv != EXR_ERR_SUCCESS) {
    return tl::unexpected(unreadable(name, file, rv));
  }
  exr_context_t context = reader.context();
  exr_storage_t storage = EXR_STORAGE_LAST_TYPE;
  exr_attr_box2i_t window{};
  const exr_attr_chlist_t* list = nullptr;
  for (exr_result_t rv : {exr_get_storage(context, 0, &storage), exr_get_data_window(context, 0, &window),
                          exr_get_channels(context, 0, &list)}) {
    if (rv != EXR_ERR_SUCCESS) return tl::unexpected(unreadable(name, file, rv));
  }
  if (storage != EXR_STORAGE_SCANLINE) {
    return tl::unexpected(
        LayerError{LayerError::Code::kUnreadable, fmt::format("{}: not a flat scanline image", name), {}});
  }
  const int64_t width = int64_t{window.max.x} - window.min.x + 1, height = int64_t{window.max.y} - window.min.y + 1;
  if (width < 1 || height < 1 || width > kMaxLayerSide || height > kMaxLayerSide) {
    return tl::unexpected(LayerError{
        LayerError::Code::kUnreadable,
        fmt::format("{}: image size {} x {} is outside 1..{}", name, width, height, kMaxLayerSide), {}});
  }
  Channels out;
  out.width = static_cast<int>(width);
  out.height = static_cast<int>(height);
  for (int i = 0; list && i < list->num_channels; ++i) {
    const exr_attr_chlist_entry_t& entry = list->entries[i];
    std::string channel(entry.name.str, static_cast<size_t>(entry.name.length));
    if (std::find(wanted.begin(), wanted.end(), channel) != wanted.end() && entry.x_sampling == 1 &&
        entry.y_sampling == 1) {
      Plane& plane = out.planes[channel];
      plane.is_uint = entry.pixel_type == EXR_PIXEL_UINT;
      plane.bits.assign(static_cast<size_t>(width * height), 0);
    }
    out.names.push_back(std::move(channel));
  }
  if (out.planes.size() == wanted.size()) {
    if (auto decoded = decode_planes(context, window, out, name, file); !decoded) {
      return tl::unexpected(decoded.error());
    }
  }
  return out;
}

// ---- colours ------------------------------------------------------------------------

uint8_t unit_to_byte(double v) {
  return static_cast<uint8_t>(std::lround(std::clamp(v, 0.0, 1.0) * 255.0));
}

// h in [0, 1), s and v in [0, 1].
std::array<uint8_t, 3> hsv_colour(double h, double s, double v) {
  const double sector = h * 6.0;
  const int i = static_cast<int>(sector) % 6;
  const double f = sector - std::floor(sector);
  const double p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
  const double rgb[6][3] = {{v, t, p}, {q, v, p}, {p, v, t}, {p, q, v}, {t, p, v}, {v, p, q}};
  return {unit_to_byte(rgb[i][0]), unit_to_byte(rgb[i][1]), unit_to_byte(rgb[i][2])};
}

uint8_t linear_to_srgb8(double c) {
  c = std::clamp(c, 0.0, 1.0);
  return unit_to_byte(c <= 0.0031308 ? 12.92 * c : 1.055 * std::pow(c, 1.0 / 2.4) - 0.055);
}

void set_pixel(Rgba8Image& image, size_t i, const std::array<uint8_t, 3>& rgb, uint8_t alpha = 255) {
  std::copy(rgb.begin(), rgb.end(), image.rgba.begin() + static_cast<std::ptrdiff_t>(4 * i));
  image.rgba[4 * i + 3] = alpha;
}

void draw_depth(const Plane& depth, Rgba8Image& image) {
  const size_t pixels = image.rgba.size() / 4;
  auto valid = [&](size_t i) { return std::isfinite(depth.f(i)) && depth.f(i) > 0; };
  double near = INFINITY, far = -INFINITY;
  for (size_t i = 0; i < pixels; ++i) {
    if (!valid(i)) continue;
    near = std::min<double>(near, depth.f(i));
    far = std::max<double>(far, depth.f(i));
  }
  for (size_t i = 0; i < pixels; ++i) {
    if (!valid(i)) continue;  // stays transparent
    const double t = far > near ? (far - depth.f(i)) / (far - near) : 0.5;
    set_pixel(image, i, turbo_colour(t));
  }
}

void draw_ids(const Plane& ids, Rgba8Image& image, std::array<uint8_t, 3> (*colour)(uint32_t)) {
  const size_t pixels = image.rgba.size() / 4;
  for (size_t i = 0; i < pixels; ++i) {
    if (const uint32_t id = ids.u(i); id != 0) set_pixel(image, i, colour(id));
  }
}

void draw_vectors(const std::vector<const Plane*>& planes, ViewLayer layer, Rgba8Image& image) {
  const size_t pixels = image.rgba.size() / 4;
  for (size_t i = 0; i < pixels; ++i) {
    std::array<double, 3> v{0, 0, 0};
    for (size_t c = 0; c < planes.size(); ++c) v[c] = planes[c]->f(i);
    if (layer == ViewLayer::kAlbedo) {
      set_pixel(image, i, {linear_to_srgb8(v[0]), linear_to_srgb8(v[1]), linear_to_srgb8(v[2])});
    } else if (layer == ViewLayer::kNormal) {
      if (v[0] * v[0] + v[1] * v[1] + v[2] * v[2] < 0.25) continue;  // no surface: transparent
      set_pixel(image, i, {unit_to_byte(v[0] * 0.5 + 0.5), unit_to_byte(v[1] * 0.5 + 0.5), unit_to_byte(v[2] * 0.5 + 0.5)});
    } else if (v[0] != 0 || v[1] != 0) {  // uv
      set_pixel(image, i, {unit_to_byte(v[0]), unit_to_byte(v[1]), 0});
    }
  }
}

}  // namespace

std::string_view view_layer_name(ViewLayer layer) { return spec_of(layer).name; }

std::optional<ViewLayer> view_layer_named(std::string_view name) {
  for (const LayerSpec& spec : layer_specs()) {
    if (spec.name == name) return spec.layer;
  }
  return std::nullopt;
}

std::string view_layer_list() {
  std::string names;
  for (const LayerSpec& spec : layer_specs()) names += (names.empty() ? "" : ", ") + std::string(spec.name);
  return names;
}

tl::expected<Rgba8Image, LayerError> draw_layer(std::string_view exr, ViewLayer layer, std::string_view name) {
  const LayerSpec& spec = spec_of(layer);
  auto channels = read_channels(exr, spec.channels, name);
  if (!channels) return tl::unexpected(channels.error());
  if (channels->planes.size() != spec.channels.size()) {
    LayerError error{LayerError::Code::kNoSuchLayer, "", {}};
    std::string have;
    for (const LayerSpec& other : layer_specs()) {
      const bool present = std::all_of(other.channels.begin(), other.channels.end(), [&](const std::string& c) {
        return std::find(channels->names.begin(), channels->names.end(), c) != channels->names.end();
      });
      if (!present) continue;
      error.available.push_back(other.layer);
      have += (have.empty() ? "" : ", ") + std::string(other.name);
    }
    error.message = fmt::format("{} has no {} layer (channels {}); its layers: {}", name, spec.name,
                                fmt::join(spec.channels, ", "), have.empty() ? "none" : have);
    return tl::unexpected(error);
  }
  Rgba8Image image;
  image.width = channels->width;
  image.height = channels->height;
  image.rgba.assign(4 * static_cast<size_t>(image.width) * static_cast<size_t>(image.height), 0);
  const Plane& first = channels->planes.at(spec.channels[0]);
  switch (layer) {
    case ViewLayer::kDepth:
      draw_depth(first, image);
      break;
    case ViewLayer::kInstance:
      draw_ids(first, image, &instance_colour);
      break;
    case ViewLayer::kSemantic:
      draw_ids(first, image, &semantic_colour);
      break;
    case ViewLayer::kPart:
      draw_ids(first, image, &part_colour);
      break;
    case ViewLayer::kNormal:
    case ViewLayer::kAlbedo:
    case ViewLayer::kUv: {
      std::vector<const Plane*> planes;
      for (const std::string& channel : spec.channels) planes.push_back(&channels->planes.at(channel));
      draw_vectors(planes, layer, image);
      break;
    }
  }
  return image;
}

std::string encode_png_rgba8(const Rgba8Image& image) {
  if (image.rgba.size() != 4 * static_cast<size_t>(image.width) * static_cast<size_t>(image.height)) {
    throw std::runtime_error(fmt::format("png: the image has {} bytes, not 4 * {} * {}", image.rgba.size(),
                                         image.width, image.height));
  }
  png_image png;
  std::memset(&png, 0, sizeof png);
  png.version = PNG_IMAGE_VERSION;
  png.width = static_cast<png_uint_32>(image.width);
  png.height = static_cast<png_uint_32>(image.height);
  png.format = PNG_FORMAT_RGBA;
  png.flags = PNG_IMAGE_FLAG_FAST;  // drawn on request: speed over size
  png_alloc_size_t size = 0;
  std::string out;
  // The first call sizes the output, the second writes it.
  for (int pass = 0; pass < 2; ++pass) {
    if (!png_image_write_to_memory(&png, pass == 0 ? nullptr : out.data(), &size, 0, image.rgba.data(), 0,
                                   nullptr)) {
      std::string message = png.message;
      png_image_free(&png);
      throw std::runtime_error("png: " + message);
    }
    if (pass == 0) out.resize(size);
  }
  out.resize(size);
  return out;
}

std::array<uint8_t, 3> instance_colour(uint32_t id) {
  constexpr double kGoldenRatio = 0.6180339887498949;
  const double hue = std::fmod(0.13 + kGoldenRatio * id, 1.0);
  return hsv_colour(hue, id % 2 ? 0.75 : 0.55, id % 3 == 0 ? 0.8 : 0.97);
}

std::array<uint8_t, 3> semantic_colour(uint32_t semantic_id) {
  // person, floor, wall, prop (render/scene.h's SemanticClass).
  static constexpr std::array<std::array<uint8_t, 3>, 4> kClasses = {
      {{230, 60, 75}, {60, 180, 75}, {70, 120, 230}, {245, 165, 35}}};
  if (semantic_id >= 1 && semantic_id <= kClasses.size()) return kClasses[semantic_id - 1];
  return instance_colour(semantic_id);
}

std::array<uint8_t, 3> part_colour(uint32_t part) {
  if (part < 1 || part > 24) return instance_colour(part);
  // 7 is prime to 24: consecutive parts land 7/24 of the wheel apart.
  const double hue = static_cast<double>(((part - 1) * 7) % 24) / 24.0;
  return hsv_colour(hue, 0.8, part % 2 ? 0.95 : 0.72);
}

std::array<uint8_t, 3> turbo_colour(double t) {
  // The polynomial fit of Turbo (Google, 2019; Apache-2.0), degree 5 per channel.
  static constexpr double kR[6] = {0.13572138, 4.61539260, -42.66032258, 132.13108234, -152.94239396, 59.28637943};
  static constexpr double kG[6] = {0.09140261, 2.19418839, 4.84296658, -14.18503333, 4.27729857, 2.82956604};
  static constexpr double kB[6] = {0.10667330, 12.64194608, -60.58204836, 110.36276771, -89.90310912, 27.34824973};
  const double x = std::clamp(t, 0.0, 1.0);
  auto poly = [x](const double (&k)[6]) {
    double sum = 0, power = 1;
    for (double c : k) {
      sum += c * power;
      power *= x;
    }
    return sum;
  };
  return {unit_to_byte(poly(kR)), unit_to_byte(poly(kG)), unit_to_byte(poly(kB))};
}

}  // namespace synthfarm::coordinator
