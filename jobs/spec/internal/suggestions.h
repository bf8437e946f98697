// Did-you-mean for the spec parser: the known word closest to a misspelt field name or value.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace synthfarm::jobs::spec_internal {

// The candidate the user most likely meant, or nothing when none is close.
std::optional<std::string_view> suggest(std::string_view word,
                                        std::span<const std::string_view> candidates);
// "did you mean 'x'?", or the list of candidates when none is close.
std::string did_you_mean(std::string_view word, std::span<const std::string_view> candidates);

}  // namespace synthfarm::jobs::spec_internal
