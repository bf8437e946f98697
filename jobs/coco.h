// COCO labels: per-instance masks in COCO's run-length encoding, and the dataset-level
// annotation files training code reads directly (`annotations/coco_person_keypoints.json`,
// `annotations/instances.json`).
//
// Masks are encoded where they are rendered (the worker, from the instance layer) and
// stored in each sample's JSON, so the files here are built from sample JSONs alone: the
// coordinator never reads an image. This module knows nothing of storage; the caller reads
// the sample JSONs and stores the result.
//
// RLE as pycocotools writes it: pixels in column-major order (down the first column, then
// the next), `counts` alternating runs of 0s and 1s starting with 0s (so the first run may
// be 0), and the compressed string form of maskApi.c's rleToString: each count from the
// fourth on is stored as the difference from the count two before, in 5-bit groups (low
// bits first) with a continuation bit 0x20 and the sign in bit 0x10 of the last group,
// each group plus 48 as one ASCII character.
#pragma once

#include <array>
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <span>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

namespace synthfarm::jobs::coco {

// A binary mask of height x width pixels as COCO run lengths (uncompressed form).
struct RleMask {
  int height = 0, width = 0;
  std::vector<uint32_t> counts;
  friend bool operator==(const RleMask&, const RleMask&) = default;
};

// The mask of every id 1 .. max_id in `ids` (row-major, width * height, 0 = no instance),
// in one pass over the image: masks[k - 1] is id k's. An id that covers no pixel gets the
// all-zero mask (counts {width * height}); ids above max_id are ignored.
std::vector<RleMask> encode_id_masks(std::span<const uint32_t> ids, int width, int height,
                                     uint32_t max_id);

// pycocotools' compressed string form of `counts` (maskApi.c rleToString), and back
// (rleFrString). The parser rejects characters outside the alphabet, a truncated last
// count, and counts that do not fit 32 bits.
std::string rle_to_string(std::span<const uint32_t> counts);
tl::expected<std::vector<uint32_t>, std::string> rle_from_string(std::string_view text);

// COCO-17 person skeleton, 1-based keypoint indices (the pairs of the COCO person category).
inline constexpr std::array<std::array<int, 2>, 19> kPersonSkeleton = {{{16, 14},
                                                                        {14, 12},
                                                                        {17, 15},
                                                                        {15, 13},
                                                                        {12, 13},
                                                                        {6, 12},
                                                                        {7, 13},
                                                                        {6, 7},
                                                                        {6, 8},
                                                                        {7, 9},
                                                                        {8, 10},
                                                                        {9, 11},
                                                                        {2, 3},
                                                                        {1, 2},
                                                                        {1, 3},
                                                                        {2, 4},
                                                                        {3, 5},
                                                                        {4, 6},
                                                                        {5, 7}}};

// Builds both annotation files from sample JSONs fed one at a time (one image each: a
// still sample, or one frame of a clip). It holds only the files' text, never a sample's
// parsed JSON once add_image returns and never image bytes; the keys of each file are
// written in sorted order, annotations first, so they can be streamed as they grow.
//
// Ids are contiguous from 1 in the order images are added: image ids over images, and
// annotation ids separately in each file. An instance becomes an annotation when it has at
// least one visible pixel (a box and mask of nothing would break evaluation); an image
// without people is still listed. category_id is the semantic class id (scene.h):
// 1 person, 2 floor, 3 wall, 4 prop; the person file has category 1 only.
// Beyond COCO (synthfarm's extension, which recon/coco_input.h reads back): each image of a
// sample without a lens has the sample's `K` and `world_to_camera`; a clip's frames have `frame_index`, and their
// person annotations `track_id` = sample * kTrackIdsPerSample + instance id, so a fit_people
// job can fit the dataset's own people, stills or clips.
//
// Not thread-safe.
inline constexpr uint64_t kTrackIdsPerSample = 65536;
class DatasetBuilder {
 public:
  // `info_json`: the files' "info" object (a JSON object, written as given).
  explicit DatasetBuilder(std::string info_json);

  // Adds one image. `sample_json` is the per-sample JSON (jobs/sample.cpp); `file_name`
  // is the image's key relative to the dataset root (the PNG preview, or the EXR when
  // there is none); `source` names the JSON in errors. On error nothing is added.
  tl::expected<void, std::string> add_image(std::string_view sample_json,
                                            const std::string& file_name, std::string_view source);
  // The same for a sample JSON the caller has parsed (the finalizer parses each once for
  // these files and the dataset card). Named apart: text would convert to either type.
  tl::expected<void, std::string> add_parsed_image(const nlohmann::json& sample,
                                                   const std::string& file_name,
                                                   std::string_view source);

  struct Files {
    std::string person_keypoints;  // coco_person_keypoints.json
    std::string instances;         // instances.json
  };
  // Closes both files; the builder is empty afterwards.
  Files finish();

  uint64_t images() const { return images_; }
  uint64_t person_annotations() const { return person_annotations_; }
  uint64_t instance_annotations() const { return instance_annotations_; }

 private:
  std::string info_json_;
  std::string person_, instances_;  // "{\"annotations\":[..." so far
  std::string images_json_;         // the images array's items, shared by both files
  uint64_t images_ = 0, person_annotations_ = 0, instance_annotations_ = 0;
};

}  // namespace synthfarm::jobs::coco
