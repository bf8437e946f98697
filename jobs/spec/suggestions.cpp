// Did-you-mean suggestions of the spec parser, by case-insensitive edit distance.
#include "jobs/spec/internal/suggestions.h"

#include "jobs/spec/internal/text.h"

#include <algorithm>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace synthfarm::jobs::spec_internal {
namespace {

// Optimal string alignment distance (Levenshtein plus adjacent transpositions), ignoring
// case: "resoluton" -> "resolution" is 1, "smaples" -> "samples" is 1.
size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) &&
          lower(a[i - 2]) == lower(b[j - 1])) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

}  // namespace

// The candidate the user most likely meant, or nothing when none is close. A word that is
// a candidate without its unit suffix ("fov" for "fov_deg") also counts as close.
std::optional<std::string_view> suggest(std::string_view word,
                                        std::span<const std::string_view> candidates) {
  std::optional<std::string_view> best;
  size_t best_distance = std::max<size_t>(1, word.size() / 3) + 1;
  for (std::string_view candidate : candidates) {
    size_t distance = edit_distance(word, candidate);
    if (distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  if (!best && word.size() >= 2) {
    for (std::string_view candidate : candidates) {
      if (candidate.size() > word.size() && candidate.starts_with(word) &&
          candidate[word.size()] == '_') {
        return candidate;
      }
    }
  }
  return best;
}

std::string did_you_mean(std::string_view word, std::span<const std::string_view> candidates) {
  if (auto best = suggest(word, candidates)) return "did you mean '" + std::string(*best) + "'?";
  return "expected one of: " + join(candidates);
}

}  // namespace synthfarm::jobs::spec_internal
