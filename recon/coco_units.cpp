// Cutting a parsed COCO file into the work units a fitting job is sharded by
// (recon/coco_input.h): images, multi-view instants, tracks.
#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "recon/coco_input.h"

namespace synthfarm::recon {
namespace {

bool enough_labelled(const Keypoints& k) { return k.labelled() >= kMinLabelledKeypoints; }

bool any_enough_labelled(const CocoFile& file, const std::vector<size_t>& people) {
  return std::any_of(people.begin(), people.end(),
                     [&](size_t p) { return enough_labelled(file.people[p].keypoints); });
}

// Each image's person annotations (indices into file.people), in file order.
std::vector<std::vector<size_t>> people_by_image(const CocoFile& file) {
  std::vector<std::vector<size_t>> out(file.images.size());
  for (size_t p = 0; p < file.people.size(); ++p) out[file.people[p].image].push_back(p);
  return out;
}

void group_image_units(const CocoFile& file, CocoUnits& units) {
  const auto by_image = people_by_image(file);
  for (size_t i = 0; i < file.images.size(); ++i) {
    ImageUnit unit{i, {}};
    for (size_t p : by_image[i]) {
      if (enough_labelled(file.people[p].keypoints)) {
        unit.people.push_back(p);
      } else {
        ++units.skipped;
      }
    }
    if (!unit.people.empty()) units.images.push_back(std::move(unit));
  }
}

// The people of one instant (its views in file order) as units.
tl::expected<void, std::string> group_one_instant(const CocoFile& file, const std::string& instant,
                                                  const std::vector<size_t>& views,
                                                  const std::vector<std::vector<size_t>>& by_image,
                                                  CocoUnits& units) {
  const std::string where = fmt::format("{}: instant \"{}\"", file.name, instant);
  std::optional<size_t> tracked, untracked;  // an annotation of each kind, for the message
  for (size_t i : views) {
    const CocoImage& image = file.images[i];
    if (!image.view) {
      return tl::unexpected(fmt::format("{}: images[{}] has no K and world_to_camera (every view of a "
                                        "multi-view instant needs both)",
                                        where, image.element));
    }
    for (size_t p : by_image[i]) (file.people[p].track_id ? tracked : untracked) = p;
  }
  if (tracked && untracked) {
    return tl::unexpected(fmt::format("{}: annotations[{}] has a track_id and annotations[{}] has none "
                                      "(tell the people apart with track_id on all, or show one person)",
                                      where, file.people[*tracked].element,
                                      file.people[*untracked].element));
  }
  auto add = [&](std::optional<uint64_t> track_id, std::vector<size_t> people) {
    if (people.empty()) return;
    if (!any_enough_labelled(file, people)) {
      ++units.skipped;
      return;
    }
    units.instants.push_back({instant, track_id, std::move(people)});
  };
  if (untracked) {
    std::vector<size_t> people;
    for (size_t i : views) {
      if (by_image[i].size() > 1) {
        return tl::unexpected(fmt::format(
            "{}: images[{}] shows {} people without track_id (multi-view needs a track_id to tell them "
            "apart, or one person per view)",
            where, file.images[i].element, by_image[i].size()));
      }
      if (!by_image[i].empty()) people.push_back(by_image[i][0]);
    }
    add(std::nullopt, std::move(people));
    return {};
  }
  std::map<uint64_t, std::vector<size_t>> by_track;
  for (size_t i : views) {
    for (size_t p : by_image[i]) {
      std::vector<size_t>& track = by_track[*file.people[p].track_id];
      if (!track.empty() && file.people[track.back()].image == i) {
        return tl::unexpected(fmt::format("{}: annotations[{}].track_id: track {} is also annotations[{}] "
                                          "of the same image",
                                          file.name, file.people[p].element, *file.people[p].track_id,
                                          file.people[track.back()].element));
      }
      track.push_back(p);
    }
  }
  for (auto& [track_id, people] : by_track) add(track_id, std::move(people));
  return {};
}

tl::expected<void, std::string> group_instant_units(const CocoFile& file, CocoUnits& units) {
  const auto by_image = people_by_image(file);
  std::vector<std::string> order;
  std::map<std::string, std::vector<size_t>> views;
  for (size_t i = 0; i < file.images.size(); ++i) {
    const CocoImage& image = file.images[i];
    if (!image.instant) {
      units.unused += by_image[i].size();
      continue;
    }
    auto [at, fresh] = views.try_emplace(*image.instant);
    if (fresh) order.push_back(*image.instant);
    at->second.push_back(i);
  }
  for (const std::string& instant : order) {
    auto ok = group_one_instant(file, instant, views[instant], by_image, units);
    if (!ok) return ok;
  }
  return {};
}

bool same_camera(const Intrinsics& a, const Intrinsics& b) {
  return a.width == b.width && a.height == b.height && a.fx == b.fx && a.fy == b.fy && a.cx == b.cx &&
         a.cy == b.cy;
}

// One track's annotations (file order) as a unit.
tl::expected<void, std::string> group_one_track(const CocoFile& file, uint64_t track_id,
                                                std::vector<size_t> people, CocoUnits& units) {
  const std::string where = fmt::format("{}: track {}", file.name, track_id);
  auto image_of = [&](size_t p) -> const CocoImage& { return file.images[file.people[p].image]; };
  const CocoImage& first = image_of(people[0]);
  for (size_t p : people) {
    const CocoImage& image = image_of(p);
    if (image.frame_index.has_value() != first.frame_index.has_value()) {
      const CocoImage& with = image.frame_index ? image : first;
      const CocoImage& without = image.frame_index ? first : image;
      return tl::unexpected(fmt::format("{}: images[{}] has a frame_index and images[{}] has none",
                                        where, with.element, without.element));
    }
    if (!same_camera(image.K, first.K)) {
      return tl::unexpected(fmt::format("{}: images[{}] and images[{}] differ in size or K (a track is "
                                        "seen by one camera)",
                                        where, first.element, image.element));
    }
  }
  const bool indexed = first.frame_index.has_value();
  auto key = [&](size_t p) {
    const CocoImage& image = image_of(p);
    return std::pair(indexed ? *image.frame_index : 0, image.id);
  };
  std::stable_sort(people.begin(), people.end(), [&](size_t a, size_t b) { return key(a) < key(b); });
  for (size_t n = 1; n < people.size(); ++n) {
    const size_t a = people[n - 1], b = people[n];
    if (file.people[a].image == file.people[b].image) {
      return tl::unexpected(fmt::format("{}: annotations[{}] and annotations[{}] are both in images[{}]",
                                        where, file.people[a].element, file.people[b].element,
                                        image_of(a).element));
    }
    if (indexed && key(a).first == key(b).first) {
      return tl::unexpected(fmt::format("{}: annotations[{}] and annotations[{}] are both at frame_index {}",
                                        where, file.people[a].element, file.people[b].element,
                                        key(a).first));
    }
  }
  TrackUnit unit;
  unit.track_id = track_id;
  unit.K = first.K;
  if (indexed) {
    unit.first_frame = key(people.front()).first;
    const uint64_t span = key(people.back()).first - unit.first_frame + 1;
    if (span > kMaxTrackFrames) {
      return tl::unexpected(fmt::format("{}: frame_index runs from {} to {}, more than {} frames",
                                        where, unit.first_frame, key(people.back()).first,
                                        kMaxTrackFrames));
    }
    unit.frames.resize(span);
    for (size_t p : people) unit.frames[key(p).first - unit.first_frame] = p;
  } else {
    unit.frames.assign(people.begin(), people.end());
  }
  if (!any_enough_labelled(file, people)) {
    ++units.skipped;
    return {};
  }
  units.tracks.push_back(std::move(unit));
  return {};
}

tl::expected<void, std::string> group_track_units(const CocoFile& file, CocoUnits& units) {
  std::map<uint64_t, std::vector<size_t>> by_track;
  for (size_t p = 0; p < file.people.size(); ++p) {
    if (file.people[p].track_id) {
      by_track[*file.people[p].track_id].push_back(p);
    } else {
      ++units.unused;
    }
  }
  for (auto& [track_id, people] : by_track) {
    auto ok = group_one_track(file, track_id, std::move(people), units);
    if (!ok) return ok;
  }
  return {};
}

}  // namespace

CocoUnitKind default_unit_kind(const CocoFile& file) {
  for (const CocoImage& image : file.images) {
    if (image.instant) return CocoUnitKind::kInstants;
  }
  for (const CocoPerson& person : file.people) {
    if (person.track_id) return CocoUnitKind::kTracks;
  }
  return CocoUnitKind::kImages;
}

tl::expected<CocoUnits, std::string> group_units(const CocoFile& file, CocoUnitKind kind) {
  CocoUnits units;
  units.kind = kind;
  tl::expected<void, std::string> ok;
  switch (kind) {
    case CocoUnitKind::kImages:
      group_image_units(file, units);
      break;
    case CocoUnitKind::kInstants:
      ok = group_instant_units(file, units);
      break;
    case CocoUnitKind::kTracks:
      ok = group_track_units(file, units);
      break;
  }
  if (!ok) return tl::unexpected(ok.error());
  return units;
}

tl::expected<size_t, std::string> count_coco_units(std::string_view bytes, std::string_view file_name,
                                                   std::optional<CocoUnitKind> kind) {
  auto file = parse_coco_keypoints(bytes, file_name);
  if (!file) return tl::unexpected(file.error());
  auto units = group_units(*file, kind ? *kind : default_unit_kind(*file));
  if (!units) return tl::unexpected(units.error());
  return units->count();
}

std::vector<ImagePerson> image_unit_inputs(const CocoFile& file, const ImageUnit& unit) {
  std::vector<ImagePerson> out;
  for (size_t p : unit.people) out.push_back({file.people[p].keypoints, file.images[unit.image].K});
  return out;
}

MultiviewInputs instant_unit_inputs(const CocoFile& file, const InstantUnit& unit) {
  MultiviewInputs out;
  for (size_t p : unit.people) {
    out.keypoints.push_back(file.people[p].keypoints);
    out.views.push_back(*file.images[file.people[p].image].view);
  }
  return out;
}

std::vector<Keypoints> track_unit_inputs(const CocoFile& file, const TrackUnit& unit) {
  std::vector<Keypoints> out;
  out.reserve(unit.frames.size());
  for (const auto& p : unit.frames) out.push_back(p ? file.people[*p].keypoints : Keypoints{});
  return out;
}

CocoUnitKind coco_unit_kind(std::string_view fit_mode) {
  if (fit_mode == "multiview") return CocoUnitKind::kInstants;
  if (fit_mode == "sequence") return CocoUnitKind::kTracks;
  return CocoUnitKind::kImages;
}

}  // namespace synthfarm::recon
