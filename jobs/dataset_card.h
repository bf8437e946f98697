// The dataset card: what a team puts in its data sheet about a finished dataset. Counts
// (images, samples, people, instances, keypoints by visibility) and histograms of what was
// drawn (people per image, height, BMI, age, sex blend, skin tone, motion, camera distance
// and field of view, sun elevation, scene kind) and of what came out (person box height in
// pixels, keypoint visibility per joint, occlusion per person), as `dataset_card.json` and
// a self-contained `dataset_card.html` (inline CSS and SVG, no script, nothing fetched).
//
// Built from the per-sample JSONs alone (jobs/sample.cpp), fed one at a time in a single
// pass: the card holds fixed-size counters only, never a sample once add() returns, so its
// memory does not grow with the dataset (docs/dataset_card.md gives the bins and the
// figure). Every histogram counts per image: a clip's frames are images, so a person in a
// clip of 30 frames counts 30 times, as training code sees them.
//
// Occlusion: the sample JSON has no amodal mask, so a person's occlusion fraction is
// their occluded labelled keypoints over their labelled keypoints in the image (v = 1
// over v in {1, 2}); a person with no keypoint in the image has none.
//
// A malformed sample JSON (not JSON, or a field the card reads of the wrong type) is
// skipped and counted, with its key among the first few kept; it never stops the card.
// Knows nothing of storage: the caller reads the JSONs and stores the text.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

namespace synthfarm::jobs {

// Who the card is about: written at its head.
struct CardInfo {
  std::string job;       // job id
  std::string name;      // the spec's name
  std::string software;  // "synthfarm 1.2.3"
  int64_t samples_requested = 0;
};

// Not thread-safe.
class DatasetCard {
 public:
  explicit DatasetCard(CardInfo info);
  ~DatasetCard();
  DatasetCard(DatasetCard&&) noexcept;
  DatasetCard& operator=(DatasetCard&&) noexcept;

  // Adds one image: a still sample's JSON text or one clip frame's. `key` names it among
  // the skipped samples when it is malformed. Returns false when it was skipped.
  bool add(std::string_view sample_json, std::string_view key);
  // The same for a JSON the caller has parsed already (the finalizer parses each sample
  // once for COCO and the card); a parse that failed without throwing (is_discarded()) is
  // skipped as not valid JSON. Not an overload of add(): text would convert to both.
  bool add_parsed(const nlohmann::json& sample, std::string_view key);

  uint64_t images() const;
  uint64_t people() const;
  uint64_t skipped() const;

  // dataset_card.json: keys sorted, no time, so the same samples give the same bytes.
  std::string json() const;
  // dataset_card.html: dataset_card_html() of the same data as json().
  std::string html() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// The HTML page of a card's JSON (DatasetCard::json(), parsed): the page of a card read
// back from storage, too. Every string in it is escaped. Its fields must be the card's.
std::string dataset_card_html(const nlohmann::json& card);

}  // namespace synthfarm::jobs
