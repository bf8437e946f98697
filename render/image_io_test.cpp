// The image codecs: the sRGB PNG preview's codes, and equirectangular OpenEXR environment
// maps decoded texel by texel, with bad files named by what is wrong.
#include "render/image_io.h"

#include <OpenEXR/ImfChannelList.h>
#include <OpenEXR/ImfFrameBuffer.h>
#include <OpenEXR/ImfHeader.h>
#include <OpenEXR/ImfTiledOutputFile.h>
#include <gtest/gtest.h>
#include <png.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

namespace synthfarm::render {
namespace {

TEST(ImageIoTest, PngEncodesSrgbCodes) {
  Frame frame;
  frame.width = 4;
  frame.height = 1;
  // 0, the linear value of sRGB code 128 before tone mapping, white, and NaN.
  frame.rgb = {0, 0, 0, 0.05f, 0.05f, 0.05f, 100, 100, 100, NAN, NAN, NAN};
  std::string png = encode_png(frame);
  EXPECT_EQ(png, encode_png(frame));
  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  ASSERT_TRUE(png_image_begin_read_from_memory(&image, png.data(), png.size()));
  image.format = PNG_FORMAT_RGB;
  std::vector<uint8_t> pixels(PNG_IMAGE_SIZE(image));
  ASSERT_TRUE(png_image_finish_read(&image, nullptr, pixels.data(), 0, nullptr));
  EXPECT_EQ(pixels[0], 0);
  // tone_map(0.05) = 0.05 * (1 + 0.05 / 16) / 1.05 = 0.047768...; sRGB -> 0.2435 -> 62.
  EXPECT_EQ(pixels[3], 62);
  EXPECT_EQ(pixels[6], 255);
  EXPECT_EQ(pixels[9], 0);
}

// An OpenEXR file of R, G, B floats (written by the sample encoder, so by OpenEXR itself).
std::string exr_of(int width, int height, const std::vector<float>& rgb) {
  Frame frame;
  frame.width = width;
  frame.height = height;
  frame.rgb = rgb;
  return encode_exr(frame, {Layer::kRgb});
}

std::vector<float> gradient_texels(int width, int height) {
  std::vector<float> rgb;
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) rgb.insert(rgb.end(), {0.1f * x, 0.2f * y, 0.5f});
  }
  return rgb;
}

TEST(EnvironmentExrTest, DecodesTheTexelsRowByRow) {
  const std::vector<float> texels = gradient_texels(8, 4);
  auto env = decode_environment_exr(exr_of(8, 4, texels), "park.exr");
  ASSERT_TRUE(env) << env.error();
  EXPECT_EQ(env->width, 8);
  EXPECT_EQ(env->height, 4);
  EXPECT_EQ(env->texels, texels);
  EXPECT_EQ(env->name, "park.exr");
  EXPECT_DOUBLE_EQ(env->intensity, 1);
}

// Maps are read a strip of 64 rows at a time: a map of several strips, the last one short,
// comes out whole and in order.
TEST(EnvironmentExrTest, DecodesAMapOfSeveralStrips) {
  const std::vector<float> texels = gradient_texels(3, 150);
  auto env = decode_environment_exr(exr_of(3, 150, texels), "tall.exr");
  ASSERT_TRUE(env) << env.error();
  EXPECT_EQ(env->height, 150);
  EXPECT_EQ(env->texels, texels);
}

TEST(EnvironmentExrTest, BadFilesAreNamedWithWhatIsWrong) {
  const std::string good = exr_of(8, 4, gradient_texels(8, 4));
  auto error_of = [](const std::string& bytes) {
    auto env = decode_environment_exr(bytes, "park.exr");
    EXPECT_FALSE(env);
    return env ? std::string() : env.error();
  };
  EXPECT_EQ(error_of("P3\n1 1\n255\n0 0 0\n"), "park.exr: not an OpenEXR file");
  // An attribute declaring more bytes than the file has: refused before OpenEXR would
  // allocate them (found by fuzzing).
  std::string huge = good;
  const size_t channels = huge.find(std::string("channels\0chlist\0", 16));
  ASSERT_NE(channels, std::string::npos);
  huge.replace(channels + 16, 4, std::string("\xff\xff\xff\x7f", 4));
  EXPECT_EQ(error_of(huge).rfind("park.exr: header attribute 'channels' declares 2147483647 bytes, but only ", 0), 0u)
      << error_of(huge);
  // A line offset near 2^64: OpenEXR seeks there, and the read's end once wrapped around
  // (found by fuzzing). The 4x2 map is one chunk, its offset the table's own end.
  std::string far = good;
  size_t table = 0;
  for (size_t p = 8; p + 8 <= far.size() && table == 0; ++p) {
    uint64_t v = 0;
    std::memcpy(&v, far.data() + p, 8);
    if (v == p + 8) table = p;
  }
  ASSERT_NE(table, 0u);
  far.replace(table, 8, std::string(8, '\xff'));
  EXPECT_EQ(error_of(far).rfind("park.exr: ", 0), 0u) << error_of(far);
  for (size_t cut : {size_t{8}, good.size() / 3, good.size() - 5}) {
    const std::string e = error_of(good.substr(0, cut));
    EXPECT_EQ(e.rfind("park.exr: ", 0), 0u) << cut << ": " << e;
  }
  std::vector<float> texels = gradient_texels(8, 4);
  texels[3 * (2 * 8 + 5) + 1] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_NE(error_of(exr_of(8, 4, texels)).find("park.exr: texel (5, 2) channel G is nan"), std::string::npos);
  texels = gradient_texels(8, 4);
  texels[0] = -1;
  EXPECT_NE(error_of(exr_of(8, 4, texels)).find("texel (0, 0) channel R is -1"), std::string::npos);
  // A depth-only file has no colour.
  Frame depth;
  depth.width = 4;
  depth.height = 2;
  depth.depth.assign(8, 1.0f);
  EXPECT_EQ(error_of(encode_exr(depth, {Layer::kDepth})), "park.exr: no colour channels (expected R, G, B or Y)");
}

// A tiled file (PIZ, 2x2 tiles) whose data window starts at (1, 5): the loader reads what
// the sample encoder never writes. Through OpenEXR's own writer, via a temporary file.
std::string tiled_exr(int width, int height, const std::vector<float>& rgb) {
  const Imath::Box2i window({1, 5}, {width, 4 + height});
  Imf::Header header(window, window);
  header.compression() = Imf::PIZ_COMPRESSION;
  header.setTileDescription(Imf::TileDescription(2, 2));
  Imf::FrameBuffer buffer;
  const auto x_stride = 3 * static_cast<ptrdiff_t>(sizeof(float)), y_stride = x_stride * width;
  const uintptr_t base = reinterpret_cast<uintptr_t>(rgb.data()) - 1 * x_stride - 5 * y_stride;
  for (int c = 0; c < 3; ++c) {
    const std::string name(1, "RGB"[c]);
    header.channels().insert(name, Imf::Channel(Imf::FLOAT));
    buffer.insert(name, Imf::Slice(Imf::FLOAT, reinterpret_cast<char*>(base + c * sizeof(float)),
                                   static_cast<size_t>(x_stride), static_cast<size_t>(y_stride)));
  }
  const std::filesystem::path path = std::filesystem::path(testing::TempDir()) / "tiled.exr";
  {
    Imf::TiledOutputFile file(path.c_str(), header);
    file.setFrameBuffer(buffer);
    file.writeTiles(0, file.numXTiles() - 1, 0, file.numYTiles() - 1);
  }
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

TEST(EnvironmentExrTest, DecodesATiledMapWithAnOffsetDataWindow) {
  const std::vector<float> texels = gradient_texels(5, 3);
  auto env = decode_environment_exr(tiled_exr(5, 3, texels), "tiled.exr");
  ASSERT_TRUE(env) << env.error();
  EXPECT_EQ(env->width, 5);
  EXPECT_EQ(env->height, 3);
  EXPECT_EQ(env->texels, texels);
}

// OpenEXR sizes buffers from header values before reading what they describe, and its
// readers of known attribute types ignore the declared size; each header below made it
// allocate hundreds of megabytes to gigabytes from a file of a few hundred bytes (found by
// fuzzing, fuzz/corpus/exr_environment). The loader walks the header first and refuses.
TEST(EnvironmentExrTest, HeadersThatWouldMakeOpenExrAllocateGigabytesAreRefused) {
  const std::string good = exr_of(8, 4, gradient_texels(8, 4));
  auto error_of = [](const std::string& bytes) {
    auto env = decode_environment_exr(bytes, "park.exr");
    EXPECT_FALSE(env);
    return env ? std::string() : env.error();
  };
  auto size_field = [](const std::string& bytes, std::string_view name_and_type) {
    const size_t at = bytes.find(name_and_type);
    EXPECT_NE(at, std::string::npos) << name_and_type;
    return at + name_and_type.size();
  };
  // A channel list declared one byte short: OpenEXR reads the list to its empty name and
  // would then take the list's last byte as the next attribute's name.
  std::string short_list = good;
  const size_t channels = size_field(short_list, std::string_view("channels\0chlist\0", 16));
  int32_t size = 0;
  std::memcpy(&size, short_list.data() + channels, 4);
  --size;
  std::memcpy(short_list.data() + channels, &size, 4);
  EXPECT_EQ(error_of(short_list),
            "park.exr: header attribute 'channels': the channel list does not end at its declared " +
                std::to_string(size) + " bytes");
  // A float attribute declared 5 bytes long: OpenEXR reads 4.
  std::string long_float = good;
  const size_t aspect = size_field(long_float, std::string_view("pixelAspectRatio\0float\0", 23));
  long_float[aspect] = 5;
  EXPECT_EQ(error_of(long_float), "park.exr: header attribute 'pixelAspectRatio' of type float declares 5 bytes, not 4");
  // Tiles of 2 x 1761607682 texels: OpenEXR's tile compressor asked for 800 MB.
  std::string tall_tiles = tiled_exr(5, 3, gradient_texels(5, 3));
  const size_t tiles = size_field(tall_tiles, std::string_view("tiles\0tiledesc\0\x09\0\0\0", 19));
  const int32_t tall = 1761607682;
  std::memcpy(tall_tiles.data() + tiles + 4, &tall, 4);
  EXPECT_EQ(error_of(tall_tiles), "park.exr: tiles of 2x1761607682 texels are too large for an environment map");
  // A multi-part file (version flag 0x1000) is not one map.
  std::string multipart = good;
  multipart[5] = static_cast<char>(multipart[5] | 0x10);
  EXPECT_EQ(error_of(multipart), "park.exr: a multi-part or deep OpenEXR file is not an environment map");
}

}  // namespace
}  // namespace synthfarm::render
