// Per-sample draws from the spec's distributions (jobs/spec.h).
//
// Determinism is the contract: the same generator state always gives the same value, on any
// machine, so only Pcg32 and plain arithmetic are used here (no <random> distributions).
// How many draws each kind consumes is part of the contract too (docs/spec.md):
//   constant     no draw
//   uniform      one next_double()
//   uniform_int  one next_below() (one or more next_u32(), Lemire's rejection)
//   normal       two next_double() (Box-Muller), even when std is 0
//   choice       one next_double(), even with a single value
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "jobs/spec.h"

namespace synthfarm::jobs {
namespace {

// Index of a weighted pick for u in [0, 1). Empty weights mean equal weights; entries with
// a weight that is not positive are never picked. Cumulative sums are taken in order, so
// the result depends only on (weights, n, u).
size_t pick_index(const std::vector<double>& weights, size_t n, double u) {
  double total = 0;
  if (!weights.empty()) {
    for (size_t i = 0; i < n && i < weights.size(); ++i) {
      if (weights[i] > 0) total += weights[i];
    }
  }
  if (weights.empty() || !(total > 0) || !std::isfinite(total)) {
    return std::min(static_cast<size_t>(u * static_cast<double>(n)), n - 1);
  }
  double target = u * total;
  double cumulative = 0;
  size_t last = 0;
  for (size_t i = 0; i < n && i < weights.size(); ++i) {
    if (!(weights[i] > 0)) continue;
    cumulative += weights[i];
    last = i;
    if (target < cumulative) return i;
  }
  return last;  // u * total rounded up to total: the last value that can be picked
}

}  // namespace

double Distribution::sample(Pcg32& rng) const {
  switch (kind) {
    case Kind::kConstant:
      return a;
    case Kind::kUniform:
      return a + (b - a) * rng.next_double();
    case Kind::kUniformInt: {
      double span = b - a + 1;  // a and b are whole numbers; both ends included
      if (!(span >= 1)) return a;
      if (span <= 4294967295.0) return a + rng.next_below(static_cast<uint32_t>(span));
      // Wider than next_below can serve (no spec field allows this): still deterministic.
      return std::min(b, a + std::floor(rng.next_double() * span));
    }
    case Kind::kNormal: {
      double u1 = rng.next_double();
      double u2 = rng.next_double();
      // 1 - u1 is in (0, 1], so the logarithm is finite.
      double radius = std::sqrt(-2.0 * std::log(1.0 - u1));
      double z = radius * std::cos(6.283185307179586 * u2);
      return std::max(clip_lo, std::min(clip_hi, a + b * z));
    }
    case Kind::kChoice:
      if (values.empty()) throw std::logic_error("Distribution::sample: choice without values");
      return values[pick_index(weights, values.size(), rng.next_double())];
  }
  throw std::logic_error("Distribution::sample: unknown kind");
}

double Distribution::min_value() const {
  switch (kind) {
    case Kind::kConstant:
    case Kind::kUniform:
    case Kind::kUniformInt:
      return a;
    case Kind::kNormal:
      return b == 0 ? std::max(clip_lo, std::min(clip_hi, a)) : clip_lo;
    case Kind::kChoice:
      // Every listed value counts, even one whose weight is 0.
      return values.empty() ? 0 : *std::min_element(values.begin(), values.end());
  }
  return a;
}

double Distribution::max_value() const {
  switch (kind) {
    case Kind::kConstant:
      return a;
    case Kind::kUniform:
    case Kind::kUniformInt:
      return b;
    case Kind::kNormal:
      return b == 0 ? std::max(clip_lo, std::min(clip_hi, a)) : clip_hi;
    case Kind::kChoice:
      return values.empty() ? 0 : *std::max_element(values.begin(), values.end());
  }
  return a;
}

const std::string& Choice::sample(Pcg32& rng) const {
  if (values.empty()) throw std::logic_error("Choice::sample: no values");
  return values[pick_index(weights, values.size(), rng.next_double())];
}

double draw_field(const Distribution& d, uint64_t sample_seed, std::string_view field, uint64_t sub) {
  Pcg32 rng = Pcg32::for_purpose(sample_seed, field, sub);
  return d.sample(rng);
}

const std::string& draw_field(const Choice& c, uint64_t sample_seed, std::string_view field, uint64_t sub) {
  Pcg32 rng = Pcg32::for_purpose(sample_seed, field, sub);
  return c.sample(rng);
}

}  // namespace synthfarm::jobs
