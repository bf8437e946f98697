// Deterministic random numbers for synthfarm.
//
// Every random draw in a dataset comes from a Pcg32 stream derived from
// (job seed, sample index, purpose[, sub-index]) with the functions below, so a sample
// renders to the same bytes on any worker, with any thread count and any shard size.
// The generator is kept here on purpose: library RNGs may change sequence between
// versions. Never use std::random_device or std::*_distribution for anything a sample holds.
#pragma once

#include <cstdint>
#include <string_view>

namespace synthfarm {

// SplitMix64 finaliser: a strong 64-bit mixer (Steele, Lea, Flood 2014).
constexpr uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// FNV-1a of a purpose tag, so streams are named in code ("camera", "humans", ...).
constexpr uint64_t purpose_hash(std::string_view purpose) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (char c : purpose) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ull;
  }
  return h;
}

// Seed of sample `index` of a job: the root of every stream used for that sample.
constexpr uint64_t sample_seed(uint64_t job_seed, uint64_t index) {
  return mix64(mix64(job_seed) ^ mix64(index + 0x632be59bd9b4e019ull));
}

// PCG32 (O'Neill, pcg-random.org): XSH-RR output, 64-bit state, selectable stream.
class Pcg32 {
 public:
  Pcg32(uint64_t seed, uint64_t stream) : inc_((stream << 1u) | 1u) {
    next_u32();
    state_ += seed;
    next_u32();
  }

  // A named stream of a sample: Pcg32::for_purpose(sample_seed, "camera").
  static Pcg32 for_purpose(uint64_t seed, std::string_view purpose, uint64_t sub = 0) {
    return Pcg32(mix64(seed ^ mix64(sub)), purpose_hash(purpose));
  }

  uint32_t next_u32() {
    uint64_t old = state_;
    state_ = old * 6364136223846793005ull + inc_;
    auto xorshifted = static_cast<uint32_t>(((old >> 18u) ^ old) >> 27u);
    auto rot = static_cast<uint32_t>(old >> 59u);
    return (xorshifted >> rot) | (xorshifted << ((~rot + 1u) & 31u));
  }

  // Uniform in [0, 1) with 24 bits: exactly representable as float and as double.
  float next_float() { return static_cast<float>(next_u32() >> 8) * 0x1p-24f; }
  // Uniform in [0, 1) with 53 bits.
  double next_double() {
    uint64_t hi = next_u32() >> 5, lo = next_u32() >> 6;
    return static_cast<double>((hi << 26) | lo) * 0x1p-53;
  }
  // Uniform integer in [0, bound) without modulo bias (Lemire's rejection).
  uint32_t next_below(uint32_t bound) {
    if (bound <= 1) return 0;
    uint32_t threshold = (~bound + 1u) % bound;
    for (;;) {
      uint32_t r = next_u32();
      if (r >= threshold) return r % bound;
    }
  }

  // Jump ahead by `delta` steps in O(log delta) (Brown, "Random number generation
  // with arbitrary strides").
  void advance(uint64_t delta) {
    uint64_t cur_mult = 6364136223846793005ull, cur_plus = inc_;
    uint64_t acc_mult = 1, acc_plus = 0;
    while (delta > 0) {
      if (delta & 1) {
        acc_mult *= cur_mult;
        acc_plus = acc_plus * cur_mult + cur_plus;
      }
      cur_plus = (cur_mult + 1) * cur_plus;
      cur_mult *= cur_mult;
      delta /= 2;
    }
    state_ = acc_mult * state_ + acc_plus;
  }

 private:
  uint64_t state_ = 0;
  uint64_t inc_;
};

// lo + (hi - lo) * one uniform draw in [0, 1).
inline double uniform(Pcg32& rng, double lo, double hi) { return lo + (hi - lo) * rng.next_double(); }

}  // namespace synthfarm
