// Imported people: skinned glTF 2.0 characters named by the spec
// (humans.characters) turned into persons of a scene, next to the parametric bodies of
// people.h.
//
// Keypoints of a character come from its joints through the spec's joint map (COCO keypoint
// -> joint name; the Mixamo preset knows Mixamo's names). Joints lie inside the body, so
// each keypoint carries a depth under the skin for the visibility test (render.h): 1.5
// times the first quartile of the distances from the joint to the vertices it drives most,
// plus a centimetre, measured once in the bind pose. A joint that drives no vertex takes
// 1.5 times the distance to the nearest vertex instead. Face keypoints are only as good as
// the rig: Mixamo has no face joints, so nose, eyes and ears all sit at the Head joint.
//
// Placement: glTF characters face +Z (their front), which synthfarm's frame turns into -y;
// a person at yaw 0 faces +y, so the character is turned half a turn, then by its yaw.
// Its first root joint is put over the origin and its lowest point on the floor (z = 0),
// both measured at the clip's anchor time so that a character with root motion travels
// across the frames of a clip.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <tl/expected.hpp>

#include "jobs/people.h"
#include "jobs/scene.h"

namespace synthfarm::jobs {

// Parses a character file and resolves its joint map. `preset` is "auto" (Mixamo names
// when the file has them, else none), "mixamo" or "none"; `overrides` map COCO keypoint
// names to the file's joint names and win over the preset. Errors name the file and what
// is wrong: a malformed file, no skinned mesh, a preset or override naming a joint the
// file lacks, or a map that labels no keypoint at all.
tl::expected<CharacterAsset, std::string> load_character(std::string_view bytes, std::string_view uri,
                                                         std::string_view preset,
                                                         const std::map<std::string, std::string>& overrides);

// The character posed at `time_s` of `animation` (-1: the bind pose), placed as described
// above with `anchor_time_s` the instant it is anchored at, facing `yaw_deg`. Sets the
// person's body, character fields, keypoints, keypoint radii and footprint; the caller
// sets the identity fields (motion, phase, yaw).
Person character_person(const CharacterAsset& asset, int animation, double time_s, double anchor_time_s,
                        double yaw_deg);

}  // namespace synthfarm::jobs
