#include "sensor/cfa.h"

#include <array>
#include <utility>

namespace synthfarm::sensor {
namespace {
constexpr std::array<std::pair<Cfa, std::string_view>, 4> kNames = {
    {{Cfa::kRggb, "rggb"}, {Cfa::kBggr, "bggr"}, {Cfa::kGrbg, "grbg"}, {Cfa::kGbrg, "gbrg"}}};
}  // namespace

std::string_view cfa_name(Cfa cfa) {
  for (auto [value, name] : kNames)
    if (value == cfa) return name;
  return "rggb";
}

std::optional<Cfa> cfa_from_name(std::string_view name) {
  for (auto [value, text] : kNames)
    if (text == name) return value;
  return std::nullopt;
}

}  // namespace synthfarm::sensor
