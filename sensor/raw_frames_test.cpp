#include "sensor/raw_frames.h"

#include <OpenEXR/ImfChannelList.h>
#include <OpenEXR/ImfFrameBuffer.h>
#include <OpenEXR/ImfHeader.h>
#include <OpenEXR/ImfOutputFile.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace synthfarm::sensor {
namespace {

TEST(RawFrames, PgmRoundTripsAt16And8Bits) {
  const std::vector<float> values = {0, 0.25f, 0.5f, 1, 0.001f, 0.999f};
  for (int maxval : {65535, 4095, 255}) {
    const std::string file = encode_pgm(values, 3, 2, maxval);
    auto image = decode_pgm(file, "frame.pgm");
    ASSERT_TRUE(image) << image.error();
    EXPECT_EQ(image->width, 3);
    EXPECT_EQ(image->height, 2);
    for (size_t i = 0; i < values.size(); ++i)
      EXPECT_NEAR(image->data[i], values[i], 0.5 / maxval + 1e-7) << maxval;
  }
  EXPECT_EQ(encode_pgm(values, 3, 2).size(), std::string("P5\n3 2\n65535\n").size() + 12);
}

TEST(RawFrames, PgmHeaderWithCommentsAndMaxval) {
  const std::string file =
      std::string("P5 # a comment\n2 1\n# another\n1000\n") + std::string("\x01\xf4\x03\xe8", 4);
  auto image = decode_pgm(file, "c.pgm");
  ASSERT_TRUE(image) << image.error();
  EXPECT_FLOAT_EQ(image->data[0], 0.5f);
  EXPECT_FLOAT_EQ(image->data[1], 1.0f);
}

TEST(RawFrames, PgmErrorsNameTheFile) {
  auto error = [](std::string_view bytes) {
    auto image = decode_raw_frame(bytes, "x.pgm");
    return image ? std::string("decoded") : image.error();
  };
  EXPECT_EQ(error("P2\n1 1\n255\n1").rfind("x.pgm: ", 0), 0u);
  EXPECT_NE(error("P5\n2 2\n65535\n\x01\x02").find("truncated"), std::string::npos);
  EXPECT_NE(error("P5\n1 1\n70000\n\x01\x02").find("maxval"), std::string::npos);
  EXPECT_NE(error("P5\n1 1\n100\n\xff").find("above maxval"), std::string::npos);
  EXPECT_NE(error("P5\n0 1\n255\n").find("size"), std::string::npos);
  EXPECT_NE(error("P5\nx").find("header"), std::string::npos);
  // An EXR's header is checked before OpenEXR reads it (render/image_io.h).
  const std::string bad_exr = error(std::string("\x76\x2f\x31\x01garbage", 11));
  EXPECT_EQ(bad_exr.rfind("x.pgm: ", 0), 0u) << bad_exr;
  EXPECT_NE(bad_exr, "decoded");
}

// A single-channel EXR file with `channel`, written by OpenEXR itself, over a data window
// that starts at (origin, origin).
std::string write_exr(const char* channel, const std::vector<float>& values, int width, int height,
                      int origin) {
  const auto path = std::filesystem::path(::testing::TempDir()) / "raw_frames_test.exr";
  {
    Imf::Header header(Imath::Box2i({0, 0}, {width + origin - 1, height + origin - 1}),
                       Imath::Box2i({origin, origin}, {width + origin - 1, height + origin - 1}));
    header.channels().insert(channel, Imf::Channel(Imf::FLOAT));
    Imf::OutputFile file(path.c_str(), header);
    Imf::FrameBuffer buffer;
    const size_t row = sizeof(float) * width;
    auto* base = reinterpret_cast<char*>(const_cast<float*>(values.data())) -
                 origin * sizeof(float) - origin * row;
    buffer.insert(channel, Imf::Slice(Imf::FLOAT, base, sizeof(float), row));
    file.setFrameBuffer(buffer);
    file.writePixels(height);
  }
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  std::filesystem::remove(path);
  return bytes.str();
}

TEST(RawFrames, ExrRawYOrY) {
  const std::vector<float> values = {0.0625f, 0.5f, 0.25f, 1.0f, 0.125f, 0.75f};
  for (const char* channel : {"raw.Y", "Y"}) {
    auto image = decode_raw_frame(write_exr(channel, values, 3, 2, 5), "frame.exr");
    ASSERT_TRUE(image) << image.error();
    EXPECT_EQ(image->width, 3);
    EXPECT_EQ(image->height, 2);
    EXPECT_EQ(image->data, values) << channel;
  }
  auto wrong = decode_raw_frame(write_exr("R", values, 3, 2, 0), "colour.exr");
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error(), "colour.exr: EXR has no raw.Y or Y channel");
}

}  // namespace
}  // namespace synthfarm::sensor
