// The COCO-17 person keypoints, in COCO order: the names every label file, the spec's joint
// maps and the renderer's keypoint labels agree on.
#pragma once

#include <array>
#include <string_view>

namespace synthfarm {

// COCO-17 keypoints, in COCO order.
constexpr int kKeypointCount = 17;
constexpr std::array<std::string_view, kKeypointCount> kKeypointNames = {
    "nose",           "left_eye",   "right_eye",   "left_ear",   "right_ear",   "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip",
    "right_hip",      "left_knee",  "right_knee",  "left_ankle", "right_ankle"};

}  // namespace synthfarm
