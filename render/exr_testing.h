// A test helper beside image_io.h: reads an EXR from memory into plain maps, with OpenEXR
// itself (not through synthfarm's encoder), so tests can check what the encoder wrote:
// which channels, of which pixel type, with which values and header attributes.
// Test code only (it uses gtest); any module's tests may include it.
#pragma once

#include <OpenEXR/ImfChannelList.h>
#include <OpenEXR/ImfFrameBuffer.h>
#include <OpenEXR/ImfHeader.h>
#include <OpenEXR/ImfIO.h>
#include <OpenEXR/ImfInputFile.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace synthfarm::render::exr_testing {

// Reads an EXR from memory through Imf::IStream.
class StringIStream final : public Imf::IStream {
 public:
  explicit StringIStream(const std::string& data) : Imf::IStream("memory"), data_(data) {}
  bool read(char c[], int n) override {
    if (pos_ + static_cast<size_t>(n) > data_.size()) throw std::runtime_error("EXR read past end");
    std::memcpy(c, data_.data() + pos_, static_cast<size_t>(n));
    pos_ += static_cast<size_t>(n);
    return pos_ < data_.size();
  }
  uint64_t tellg() override { return pos_; }
  void seekg(uint64_t pos) override { pos_ = static_cast<size_t>(pos); }

 private:
  const std::string& data_;
  size_t pos_ = 0;
};

struct ExrImage {
  int width = 0, height = 0;
  std::map<std::string, Imf::PixelType> channels;
  std::set<std::string> attributes;
  std::map<std::string, std::vector<float>> floats;    // FLOAT and HALF channels
  std::map<std::string, std::vector<uint32_t>> uints;  // UINT channels
};

inline ExrImage read_exr(const std::string& bytes) {
  StringIStream stream(bytes);
  Imf::InputFile file(stream);
  const Imf::Header& header = file.header();
  EXPECT_EQ(header.compression(), Imf::ZIP_COMPRESSION);
  auto window = header.dataWindow();
  ExrImage image;
  image.width = window.max.x - window.min.x + 1;
  image.height = window.max.y - window.min.y + 1;
  const size_t pixels = static_cast<size_t>(image.width) * image.height;
  for (auto it = header.begin(); it != header.end(); ++it) image.attributes.insert(it.name());
  Imf::FrameBuffer buffer;
  for (auto it = header.channels().begin(); it != header.channels().end(); ++it) {
    image.channels[it.name()] = it.channel().type;
    if (it.channel().type == Imf::UINT) {
      auto& v = image.uints[it.name()];
      v.resize(pixels);
      buffer.insert(it.name(), Imf::Slice(Imf::UINT, reinterpret_cast<char*>(v.data()),
                                          sizeof(uint32_t), sizeof(uint32_t) * image.width));
    } else {
      auto& v = image.floats[it.name()];
      v.resize(pixels);
      buffer.insert(it.name(), Imf::Slice(Imf::FLOAT, reinterpret_cast<char*>(v.data()),
                                          sizeof(float), sizeof(float) * image.width));
    }
  }
  file.setFrameBuffer(buffer);
  file.readPixels(window.min.y, window.max.y);
  return image;
}

inline std::set<std::string> channel_names(const ExrImage& image) {
  std::set<std::string> names;
  for (const auto& [name, type] : image.channels) names.insert(name);
  return names;
}

}  // namespace synthfarm::render::exr_testing
