// Text helpers of the spec parser (jobs/spec.h): word lists in messages, case folding, and
// user text checked or made safe to echo (valid UTF-8, no control characters).
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace synthfarm::jobs::spec_internal {

// "a, b, c"
std::string join(std::span<const std::string_view> words, std::string_view separator = ", ");
bool contains(std::span<const std::string_view> words, std::string_view word);
// ASCII only.
char lower(char c);

// Valid UTF-8 without control characters.
bool is_clean_text(std::string_view s);
// `s` with invalid bytes and control characters written as \xNN.
std::string printable(std::string_view s);
// Whole numbers without a fraction, others in shortest round-trip form.
std::string format_number(double value);

}  // namespace synthfarm::jobs::spec_internal
