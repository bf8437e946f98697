// Test helpers for COCO RLE masks (shared by the COCO unit tests and the end-to-end test):
// a decoder written from the format's definition, independently of jobs/coco.cpp, so the
// tests do not check the encoder against itself.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace synthfarm::jobs::coco_testing {

// pycocotools' compressed counts string to run lengths; nullopt when malformed. Each count
// is 5-bit groups (low first) with 0x20 = "more groups follow", 0x10 of the last group the
// sign, each group + 48 one character; from the fourth count on, the value is the
// difference from the count two before.
inline std::optional<std::vector<uint32_t>> decode_counts(std::string_view text) {
  std::vector<int64_t> values;
  int64_t value = 0;
  int bits = 0;
  for (char ch : text) {
    const int group = static_cast<unsigned char>(ch) - 48;
    if (group < 0 || group >= 64 || bits > 30) return std::nullopt;
    value += static_cast<int64_t>(group & 31) << bits;
    bits += 5;
    if (group & 32) continue;
    if (group & 16) value -= int64_t{1} << bits;  // two's complement over `bits` bits
    values.push_back(value);
    value = 0;
    bits = 0;
  }
  if (bits != 0) return std::nullopt;
  std::vector<uint32_t> counts;
  for (size_t i = 0; i < values.size(); ++i) {
    const int64_t count = i > 2 ? values[i] + counts[i - 2] : values[i];
    if (count < 0 || count > int64_t{0xffffffff}) return std::nullopt;
    counts.push_back(static_cast<uint32_t>(count));
  }
  return counts;
}

// Run lengths (0s first, column-major) to a row-major height x width mask of 0/1; nullopt
// when the runs do not cover the image exactly.
inline std::optional<std::vector<uint8_t>> decode_mask(const std::vector<uint32_t>& counts,
                                                       int height, int width) {
  const uint64_t total = static_cast<uint64_t>(height) * static_cast<uint64_t>(width);
  std::vector<uint8_t> mask(total, 0);
  uint64_t p = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    if (p + counts[i] > total) return std::nullopt;
    for (uint64_t end = p + counts[i]; p < end; ++p) {
      if (i % 2 == 1) {
        const uint64_t x = p / static_cast<uint64_t>(height), y = p % static_cast<uint64_t>(height);
        mask[y * static_cast<uint64_t>(width) + x] = 1;
      }
    }
  }
  if (p != total) return std::nullopt;
  return mask;
}

}  // namespace synthfarm::jobs::coco_testing
