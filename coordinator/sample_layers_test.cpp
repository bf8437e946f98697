// The sample viewer's layer images: colours drawn from a real EXR (written here with
// OpenEXR's C++ library, as the worker's encoder does, and read back by the coordinator's
// OpenEXRCore reader), the PNG they are sent as, the route's request parsing, and the
// byte-bounded LRU cache over a real file store.
#include "coordinator/sample_layers.h"

#include <Imath/half.h>
#include <OpenEXR/ImfChannelList.h>
#include <OpenEXR/ImfFrameBuffer.h>
#include <OpenEXR/ImfHeader.h>
#include <OpenEXR/ImfOutputFile.h>
#include <gtest/gtest.h>
#include <png.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

namespace synthfarm::coordinator {
namespace {

using Rgba = std::array<uint8_t, 4>;
constexpr int kW = 4, kH = 3;

// A 4x3 sample: a person (instance 1, parts 1 and 2) on the left, a prop (instance 5) on
// the right, sky (nothing hit) in the top row.
//   depth.Z  FLOAT  row 0 +inf, then 2 m (person) .. 6 m (prop)
//   normal.* HALF   facing the camera (0, 0, -1) where something is hit
//   instance.id, part.id UINT
struct SampleExr {
  std::vector<float> depth = std::vector<float>(kW * kH, std::numeric_limits<float>::infinity());
  std::vector<half> nx = std::vector<half>(kW * kH, half(0.0f)), ny = nx, nz = nx;
  std::vector<uint32_t> instance = std::vector<uint32_t>(kW * kH, 0), part = instance;

  SampleExr() {
    for (int y = 1; y < kH; ++y) {
      for (int x = 0; x < kW; ++x) {
        const size_t i = static_cast<size_t>(y * kW + x);
        const bool person = x < 2;
        depth[i] = person ? 2.0f + 0.5f * (y - 1) : 4.0f + static_cast<float>(x - 2) + (y - 1);
        ny[i] = half(person ? 0.6f : 0.0f);
        nz[i] = half(person ? -0.8f : -1.0f);
        instance[i] = person ? 1 : 5;
        part[i] = person ? static_cast<uint32_t>(1 + x) : 0;
      }
    }
  }

  std::string write(const std::filesystem::path& file) const {
    Imf::Header header(kW, kH);
    header.compression() = Imf::ZIP_COMPRESSION;
    Imf::FrameBuffer buffer;
    auto add = [&](const char* name, Imf::PixelType type, const void* data, size_t size) {
      header.channels().insert(name, Imf::Channel(type));
      buffer.insert(name, Imf::Slice(type, reinterpret_cast<char*>(const_cast<void*>(data)), size, size * kW));
    };
    add("depth.Z", Imf::FLOAT, depth.data(), sizeof(float));
    add("normal.X", Imf::HALF, nx.data(), sizeof(half));
    add("normal.Y", Imf::HALF, ny.data(), sizeof(half));
    add("normal.Z", Imf::HALF, nz.data(), sizeof(half));
    add("instance.id", Imf::UINT, instance.data(), sizeof(uint32_t));
    add("part.id", Imf::UINT, part.data(), sizeof(uint32_t));
    {
      Imf::OutputFile out(file.c_str(), header);
      out.setFrameBuffer(buffer);
      out.writePixels(kH);
    }
    std::ifstream in(file, std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();
    return bytes.str();
  }
};

Rgba pixel(const Rgba8Image& image, int x, int y) {
  const size_t i = 4 * static_cast<size_t>(y * image.width + x);
  return {image.rgba[i], image.rgba[i + 1], image.rgba[i + 2], image.rgba[i + 3]};
}

Rgba opaque(const std::array<uint8_t, 3>& rgb) { return {rgb[0], rgb[1], rgb[2], 255}; }

// A PNG decoded to RGBA with libpng.
Rgba8Image decode_png(const std::string& bytes) {
  png_image png;
  std::memset(&png, 0, sizeof png);
  png.version = PNG_IMAGE_VERSION;
  EXPECT_TRUE(png_image_begin_read_from_memory(&png, bytes.data(), bytes.size())) << png.message;
  png.format = PNG_FORMAT_RGBA;
  Rgba8Image image;
  image.width = static_cast<int>(png.width);
  image.height = static_cast<int>(png.height);
  image.rgba.resize(PNG_IMAGE_SIZE(png));
  EXPECT_TRUE(png_image_finish_read(&png, nullptr, image.rgba.data(), 0, nullptr)) << png.message;
  return image;
}

class SampleLayersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("synthfarm-layers-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    exr_ = SampleExr().write(dir_ / "sample.exr");
    auto store = storage::open_store("file://" + (dir_ / "store").string());
    ASSERT_TRUE(store) << store.error().message;
    store_ = std::move(*store);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path dir_;
  std::string exr_;
  std::unique_ptr<storage::ObjectStore> store_;
};

TEST(LayerColours, AreDeterministicAndTellIdsApart) {
  std::set<std::array<uint8_t, 3>> instances, parts;
  for (uint32_t id = 1; id <= 64; ++id) instances.insert(instance_colour(id));
  EXPECT_EQ(instances.size(), 64u) << "64 instances, 64 colours";
  for (uint32_t part = 1; part <= 24; ++part) parts.insert(part_colour(part));
  EXPECT_EQ(parts.size(), 24u);
  EXPECT_EQ(instance_colour(7), instance_colour(7));
  // Neighbouring parts (an upper and a lower arm) differ clearly.
  for (uint32_t part = 1; part < 24; ++part) {
    const auto a = part_colour(part), b = part_colour(part + 1);
    EXPECT_GT(std::abs(a[0] - b[0]) + std::abs(a[1] - b[1]) + std::abs(a[2] - b[2]), 60) << part;
  }
  // Turbo runs from dark through blue, green and orange to dark red.
  const auto low = turbo_colour(0.0), blue = turbo_colour(0.1), mid = turbo_colour(0.5), high = turbo_colour(1.0);
  EXPECT_LT(low[0] + low[1] + low[2], 120);
  EXPECT_GT(blue[2], 200);
  EXPECT_GT(blue[2], blue[0]);
  EXPECT_GT(mid[1], 200);
  EXPECT_GT(high[0], 100);
  EXPECT_LT(high[2], 20);
  EXPECT_EQ(turbo_colour(-3.0), low) << "clamped";
}

TEST_F(SampleLayersTest, DrawsEachLayerFromTheExr) {
  auto depth = draw_layer(exr_, ViewLayer::kDepth, "s.exr");
  ASSERT_TRUE(depth) << depth.error().message;
  ASSERT_EQ(depth->width, kW);
  ASSERT_EQ(depth->height, kH);
  EXPECT_EQ(pixel(*depth, 0, 0)[3], 0) << "sky (+inf) is transparent";
  EXPECT_EQ(pixel(*depth, 0, 1), opaque(turbo_colour(1.0))) << "the nearest point (2 m) is the red end";
  EXPECT_EQ(pixel(*depth, 3, 2), opaque(turbo_colour(0.0))) << "the farthest (6 m) the blue end";
  EXPECT_EQ(pixel(*depth, 2, 1), opaque(turbo_colour(0.5))) << "4 m is halfway";

  auto normal = draw_layer(exr_, ViewLayer::kNormal, "s.exr");
  ASSERT_TRUE(normal) << normal.error().message;
  EXPECT_EQ(pixel(*normal, 1, 1)[3], 255);
  // (0, 0.6, -0.8) * 0.5 + 0.5 = (0.5, 0.8, 0.1); half rounds 0.6 and 0.8 a little.
  const Rgba n = pixel(*normal, 1, 1);
  EXPECT_NEAR(n[0], 128, 1);
  EXPECT_NEAR(n[1], 204, 1);
  EXPECT_NEAR(n[2], 26, 1);
  EXPECT_EQ(pixel(*normal, 3, 0)[3], 0) << "no surface, no normal";

  auto instance = draw_layer(exr_, ViewLayer::kInstance, "s.exr");
  ASSERT_TRUE(instance) << instance.error().message;
  EXPECT_EQ(pixel(*instance, 1, 2), opaque(instance_colour(1)));
  EXPECT_EQ(pixel(*instance, 2, 2), opaque(instance_colour(5)));
  EXPECT_EQ(pixel(*instance, 2, 0)[3], 0) << "background";

  auto part = draw_layer(exr_, ViewLayer::kPart, "s.exr");
  ASSERT_TRUE(part) << part.error().message;
  EXPECT_EQ(pixel(*part, 0, 1), opaque(part_colour(1)));
  EXPECT_EQ(pixel(*part, 1, 1), opaque(part_colour(2)));
  EXPECT_EQ(pixel(*part, 3, 1)[3], 0) << "the prop has no body part";
}

TEST_F(SampleLayersTest, NamesWhatIsMissingOrBroken) {
  auto semantic = draw_layer(exr_, ViewLayer::kSemantic, "samples/00000000.exr");
  ASSERT_FALSE(semantic);
  EXPECT_EQ(semantic.error().code, LayerError::Code::kNoSuchLayer);
  EXPECT_EQ(semantic.error().message,
            "samples/00000000.exr has no semantic layer (channels semantic.id); its layers: depth, normal, "
            "instance, part");
  EXPECT_EQ(semantic.error().available,
            (std::vector<ViewLayer>{ViewLayer::kDepth, ViewLayer::kNormal, ViewLayer::kInstance, ViewLayer::kPart}));

  auto garbage = draw_layer("not an exr at all", ViewLayer::kDepth, "x.exr");
  ASSERT_FALSE(garbage);
  EXPECT_EQ(garbage.error().code, LayerError::Code::kUnreadable);
  EXPECT_NE(garbage.error().message.find("x.exr: not a readable OpenEXR file"), std::string::npos)
      << garbage.error().message;

  auto truncated = draw_layer(std::string_view(exr_).substr(0, exr_.size() - 40), ViewLayer::kDepth, "t.exr");
  ASSERT_FALSE(truncated);
  EXPECT_EQ(truncated.error().code, LayerError::Code::kUnreadable) << truncated.error().message;
}

TEST_F(SampleLayersTest, PngKeepsThePixels) {
  auto instance = draw_layer(exr_, ViewLayer::kInstance, "s.exr");
  ASSERT_TRUE(instance);
  const Rgba8Image back = decode_png(encode_png_rgba8(*instance));
  EXPECT_EQ(back.width, kW);
  EXPECT_EQ(back.height, kH);
  EXPECT_EQ(back.rgba, instance->rgba);
}

TEST(LayerRequestTest, RefusesUnknownLayersAndBadFrames) {
  auto ok = parse_layer_request("12", "part", std::string("2"));
  ASSERT_TRUE(ok) << ok.error();
  EXPECT_EQ(ok->index, 12u);
  EXPECT_EQ(ok->frame, 2);
  EXPECT_EQ(ok->layer, ViewLayer::kPart);
  EXPECT_EQ(parse_layer_request("12", "depth", std::nullopt)->frame, 0);
  EXPECT_EQ(parse_layer_request("0", "rgb", std::nullopt).error(),
            "unknown layer 'rgb'; the layers are: depth, normal, albedo, instance, semantic, part, uv");
  EXPECT_EQ(parse_layer_request("0", "depth", std::string("-1")).error(), "frame '-1' is not a frame number 0..999");
  EXPECT_FALSE(parse_layer_request("0", "depth", std::string("1000")));
  EXPECT_FALSE(parse_layer_request("0", "depth", std::string("")));
  EXPECT_FALSE(parse_layer_request("99999999999999999999999", "depth", std::nullopt)) << "out of range";
}

TEST(LayerCacheTest, DropsTheLeastRecentlyUsedPastItsBound) {
  LayerCache cache(100);
  cache.put("a", std::string(40, 'a'));
  cache.put("b", std::string(40, 'b'));
  ASSERT_TRUE(cache.get("a"));  // a is now the most recent
  cache.put("c", std::string(40, 'c'));
  EXPECT_FALSE(cache.get("b")) << "b was the least recently used";
  EXPECT_TRUE(cache.get("a"));
  EXPECT_TRUE(cache.get("c"));
  EXPECT_EQ(cache.bytes(), 80u);
  cache.put("huge", std::string(101, 'h'));
  EXPECT_FALSE(cache.get("huge")) << "larger than the bound: not kept";
  EXPECT_EQ(cache.entries(), 2u);
  cache.put("a", std::string(10, 'A'));  // replaced, not counted twice
  EXPECT_EQ(cache.bytes(), 50u);
  EXPECT_EQ(*cache.get("a"), std::string(10, 'A'));
}

TEST_F(SampleLayersTest, ServesCachesAndWaitsForSamplesNotWrittenYet) {
  SampleLayers layers(1 << 20);
  ASSERT_TRUE(store_->put("samples/00000000.exr", exr_));
  const LayerRequest instance{0, 0, ViewLayer::kInstance};
  StoredObject first = layers.get("job-1", *store_, JobView{"running", 4}, instance);
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(first.content_type, "image/png");
  auto header = [](const StoredObject& o, const std::string& name) {
    for (const auto& [key, value] : o.headers) {
      if (key == name) return value;
    }
    return std::string();
  };
  EXPECT_EQ(header(first, "X-Layer-Cache"), "miss");
  const Rgba8Image image = decode_png(first.body);
  EXPECT_EQ(pixel(image, 0, 2), opaque(instance_colour(1))) << "the person's pixels";
  EXPECT_NE(pixel(image, 0, 2), pixel(image, 0, 0)) << "differ from the background's";
  StoredObject second = layers.get("job-1", *store_, JobView{"running", 4}, instance);
  EXPECT_EQ(header(second, "X-Layer-Cache"), "hit");
  EXPECT_EQ(second.body, first.body);
  EXPECT_EQ(layers.cache().entries(), 1u);

  // A sample of a running job not written yet: 404, not cached, served once written.
  const LayerRequest later{1, 0, ViewLayer::kDepth};
  StoredObject missing = layers.get("job-1", *store_, JobView{"running", 4}, later);
  EXPECT_EQ(missing.status, 404);
  EXPECT_NE(missing.body.find("sample 1 frame 0 is not stored (yet)"), std::string::npos) << missing.body;
  EXPECT_EQ(layers.cache().entries(), 1u);
  ASSERT_TRUE(store_->put("samples/00000001.exr", exr_));
  EXPECT_EQ(layers.get("job-1", *store_, JobView{"running", 4}, later).status, 200);

  // A clip's frames: frame 0 is f000, frame 2 is f002; a still has no frame 2.
  ASSERT_TRUE(store_->put("samples/00000002.f000.exr", exr_));
  ASSERT_TRUE(store_->put("samples/00000002.f002.exr", exr_));
  EXPECT_EQ(layers.get("job-1", *store_, JobView{"running", 4}, {2, 0, ViewLayer::kDepth}).status, 200);
  EXPECT_EQ(layers.get("job-1", *store_, JobView{"running", 4}, {2, 2, ViewLayer::kDepth}).status, 200);
  EXPECT_EQ(layers.get("job-1", *store_, JobView{"running", 4}, {0, 2, ViewLayer::kDepth}).status, 404);

  // A layer the EXR lacks: 404 naming the ones it has; a broken EXR: 502.
  StoredObject semantic = layers.get("job-1", *store_, JobView{"running", 4}, {0, 0, ViewLayer::kSemantic});
  EXPECT_EQ(semantic.status, 404);
  EXPECT_NE(semantic.body.find("its layers: depth, normal, instance, part"), std::string::npos) << semantic.body;
  ASSERT_TRUE(store_->put("samples/00000003.exr", "garbage"));
  EXPECT_EQ(layers.get("job-1", *store_, JobView{"running", 4}, {3, 0, ViewLayer::kDepth}).status, 502);
}

}  // namespace
}  // namespace synthfarm::coordinator
