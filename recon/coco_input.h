// Reading a user's COCO person-keypoints file for reconstruction: the images and person
// annotations it holds, and their grouping into the work units a fitting job is sharded
// by (single images, multi-view instants, tracked sequences). It never reads files itself
// (callers pass the bytes and the file's name, used only in errors) and never fits.
//
// Accepted: any COCO person-keypoints file (info, licenses, categories, bbox, area,
// segmentation, iscrowd, num_keypoints and any other field are ignored), the file synthfarm
// writes (annotations/coco_person_keypoints.json), PoseTrack's `track_id`, and these
// synthfarm extensions (docs/recon.md, "Inputs"):
//   images[i].K                [[fx,0,cx],[0,fy,cy],[0,0,1]], pixels (as the sample JSON)
//   images[i].world_to_camera  4x4 row-major, X_c = R X_w + t (OpenCV camera, metres)
//   images[i].instant          integer or string: images with the same instant are views
//                              of one moment (multi-view fitting; 7 and "7" are the same)
//   images[i].frame_index      integer >= 0: the image's frame in a video
//   annotations[j].track_id    integer >= 0: one person across frames (PoseTrack's name)
// Strict: every problem is an error naming the file and the JSON element,
//   "people.json: annotations[3].keypoints: 50 numbers, expected 51".
// Thread-safe: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "recon/people_fit.h"

namespace synthfarm::recon {

struct CocoImage {
  uint64_t id = 0;
  std::string file_name;      // "" when the file gives none
  Intrinsics K;               // width and height always; fx == 0 when the file gives no K
  std::optional<View> view;   // when the file gives both K and world_to_camera
  std::optional<std::string> instant;
  std::optional<uint64_t> frame_index;
  size_t element = 0;         // index in the file's images array
};

struct CocoPerson {
  uint64_t id = 0;
  size_t image = 0;  // index into CocoFile::images
  std::optional<uint64_t> track_id;
  Keypoints keypoints;  // v = 0 keypoints are written as 0, 0, 0
  size_t element = 0;   // index in the file's annotations array
};

struct CocoFile {
  std::string name;
  std::vector<CocoImage> images;   // file order
  std::vector<CocoPerson> people;  // person annotations, file order
  size_t other_annotations = 0;    // annotations of other categories (ignored)
  // COCO keypoints the file's person category names otherwise (PoseTrack's head_bottom
  // and head_top where COCO has the eyes): set to v = 0 in every person, COCO order.
  std::vector<int> dropped_keypoints;
};

// Parses and checks a whole COCO person-keypoints file. Errors: not JSON (with line and
// column), a number that overflows a double (1e999), missing or mistyped images /
// annotations, ids that are not non-negative integers or repeat, an image_id of no image,
// keypoints that are not 51 finite numbers with v in {0, 1, 2}, width or height not a
// positive integer, a K or world_to_camera of the wrong shape, `categories` without a
// person category.
tl::expected<CocoFile, std::string> parse_coco_keypoints(std::string_view bytes,
                                                         std::string_view file_name);

// How a job cuts a file into units.
enum class CocoUnitKind {
  kImages,    // one unit per image with at least one fittable person; each fitted alone
  kInstants,  // one unit per person per instant: that person in every view of the instant
  kTracks,    // one unit per track_id: that person along the video
};

// The unit kind of a fit_people spec's `fit.mode`: multiview -> instants, sequence ->
// tracks, anything else (image) -> images. The coordinator counts units and the worker
// cuts them with this one rule.
CocoUnitKind coco_unit_kind(std::string_view fit_mode);

// One image: its fittable people (indices into CocoFile::people), each fitted alone.
struct ImageUnit {
  size_t image = 0;
  std::vector<size_t> people;
};

// One person at one instant: one annotation per view that shows them (each view's image
// has K and world_to_camera). track_id is absent when the instant's views each hold
// exactly one untracked person.
struct InstantUnit {
  std::string instant;
  std::optional<uint64_t> track_id;
  std::vector<size_t> people;  // one per view, in images order
};

// One tracked person along a video. frames[f] is the annotation of frame first_frame + f,
// or none where the track is absent (the fitter sees all-zero keypoints there). Without
// frame_index the frames are the track's images in id order, with no gaps.
struct TrackUnit {
  uint64_t track_id = 0;
  uint64_t first_frame = 0;
  Intrinsics K;  // shared by every image of the track (fx == 0: to be guessed)
  std::vector<std::optional<size_t>> frames;
};

// A file cut into units of one kind. A person (an image's person, an instant's person
// across its views, a track across its frames) with fewer than kMinLabelledKeypoints
// labelled keypoints in every one of its observations is no unit: it is counted in
// `skipped`. Annotations that take part in no unit of the kind (an untracked annotation
// in track mode, an image without `instant` in instant mode) are counted in `unused`.
struct CocoUnits {
  CocoUnitKind kind = CocoUnitKind::kImages;
  std::vector<ImageUnit> images;
  std::vector<InstantUnit> instants;
  std::vector<TrackUnit> tracks;
  size_t skipped = 0;
  size_t unused = 0;
  size_t count() const { return images.size() + instants.size() + tracks.size(); }
};

// At most this many frames in one track (from the first frame_index to the last): a file
// of a few bytes must not make a unit of a billion empty frames.
inline constexpr uint64_t kMaxTrackFrames = 100'000;

// The kind a file asks for when the job does not say: instants when any image has an
// `instant`, else tracks when any annotation has a `track_id`, else images.
CocoUnitKind default_unit_kind(const CocoFile& file);

// Cuts `file` into units, in a deterministic order (images in file order; instants in the
// order they first appear, people by track_id; tracks by track_id). Errors: an instant
// with a view lacking K or world_to_camera, an instant mixing tracked and untracked people
// or with a view of several untracked people, a track seen twice in one image or one
// frame, a track mixing images with and without frame_index or of different intrinsics or
// sizes, a track longer than kMaxTrackFrames.
tl::expected<CocoUnits, std::string> group_units(const CocoFile& file, CocoUnitKind kind);

// What the coordinator calls at submission to shard a job: the number of units of the
// file (it parses the whole file and groups it; the same errors as the two above).
tl::expected<size_t, std::string> count_coco_units(std::string_view bytes,
                                                   std::string_view file_name,
                                                   std::optional<CocoUnitKind> kind = std::nullopt);

// The fitter's inputs for one unit.
std::vector<ImagePerson> image_unit_inputs(const CocoFile& file, const ImageUnit& unit);
struct MultiviewInputs {
  std::vector<Keypoints> keypoints;
  std::vector<View> views;
};
MultiviewInputs instant_unit_inputs(const CocoFile& file, const InstantUnit& unit);
std::vector<Keypoints> track_unit_inputs(const CocoFile& file, const TrackUnit& unit);

}  // namespace synthfarm::recon
