// Ultralytics YOLO labels: one text file per image, one line per person, every coordinate
// normalised by the image's width or height and written with six decimals. Internal to
// cli/; pure text, no files.
//
//   pose:    0 cx cy w h  x1 y1 v1 ... x17 y17 v17   (the box's centre and size; each
//            COCO-17 keypoint's x, y and its COCO visibility 0/1/2; 0 0 0 when not labelled)
//   segment: 0 x1 y1 x2 y2 ...                        (the person's outline, mask_outline.h)
//
// Class 0 is person, the only class. The data YAML names the two splits' image folders
// (the trainer finds each image's labels by replacing images/ with labels/ in its path).
#pragma once

#include <cstdint>
#include <string>

#include "cli/person_labels.h"

namespace synthfarm::cli {

// The pose line of one person in a width x height image (no line break).
std::string yolo_pose_line(const PersonLabel& person, int width, int height);
// The segmentation line; empty when the person's mask has no pixel.
std::string yolo_seg_line(const PersonLabel& person, int width, int height);

// Which split a sample goes to: sample i is in val when floor((i + 1) * f) > floor(i * f),
// so samples 0 .. N-1 hold floor(N * f) val samples spread evenly (f = 0.1: samples 9, 19,
// 29, ...), a sample's split depends on its index alone (not on N or on the other samples),
// and a clip's frames all go where their sample goes.
bool in_val_split(uint64_t sample_index, double val_fraction);

// The data YAML: path (the export's absolute directory), train: images/train, val:
// images/val, names {0: person}; for pose also kpt_shape [17, 3] and the flip_idx of
// COCO-17 (each keypoint's left/right mirror).
std::string yolo_data_yaml(const std::string& path, bool pose);

}  // namespace synthfarm::cli
