// What the fuzz targets share: the input as text, and a check that ends the run with a
// message when a property of a parser fails (a wrong result is as much a finding as a
// crash, and libFuzzer saves the input of either). Test code only.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace synthfarm::fuzz {

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Aborts (which libFuzzer reports as a crash and the replay main as a failed test) when
// `ok` is false; `what` says which property failed.
inline void check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz check failed: %s\n", what);
  std::abort();
}

}  // namespace synthfarm::fuzz
