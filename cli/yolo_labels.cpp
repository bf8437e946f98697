#include "cli/yolo_labels.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <cmath>

#include "cli/mask_outline.h"

namespace synthfarm::cli {
namespace {

// The index of keypoint `k`'s mirror image: left_* <-> right_*, the nose itself.
int mirror_keypoint(int k) {
  std::string name(kKeypointNames[static_cast<size_t>(k)]);
  if (name.starts_with("left_")) {
    name = "right_" + name.substr(5);
  } else if (name.starts_with("right_")) {
    name = "left_" + name.substr(6);
  }
  for (int m = 0; m < kKeypointCount; ++m) {
    if (kKeypointNames[static_cast<size_t>(m)] == name) return m;
  }
  return k;
}

}  // namespace

std::string yolo_pose_line(const PersonLabel& person, int width, int height) {
  const double w = width, h = height;
  const auto& b = person.bbox;
  std::string line = fmt::format("0 {:.6f} {:.6f} {:.6f} {:.6f}", (b[0] + b[2] / 2) / w,
                                 (b[1] + b[3] / 2) / h, b[2] / w, b[3] / h);
  for (size_t k = 0; k < static_cast<size_t>(kKeypointCount); ++k) {
    const double* kp = &person.keypoints[3 * k];
    fmt::format_to(std::back_inserter(line), " {:.6f} {:.6f} {:.6f}", kp[0] / w, kp[1] / h, kp[2]);
  }
  return line;
}

std::string yolo_seg_line(const PersonLabel& person, int width, int height) {
  const Polygon outline = join_outlines(outer_outlines(person.mask, width, height));
  if (outline.empty()) return {};
  std::string line = "0";
  for (const auto& [x, y] : outline) {
    fmt::format_to(std::back_inserter(line), " {:.6f} {:.6f}", static_cast<double>(x) / width,
                   static_cast<double>(y) / height);
  }
  return line;
}

bool in_val_split(uint64_t sample_index, double val_fraction) {
  const auto i = static_cast<double>(sample_index);
  return std::floor((i + 1) * val_fraction) > std::floor(i * val_fraction);
}

std::string yolo_data_yaml(const std::string& path, bool pose) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "path" << YAML::Value << path;
  out << YAML::Key << "train" << YAML::Value << "images/train";
  out << YAML::Key << "val" << YAML::Value << "images/val";
  if (pose) {
    out << YAML::Key << "kpt_shape" << YAML::Value << YAML::Flow << YAML::BeginSeq << kKeypointCount
        << 3 << YAML::EndSeq;
    out << YAML::Key << "flip_idx" << YAML::Value << YAML::Flow << YAML::BeginSeq;
    for (int k = 0; k < kKeypointCount; ++k) out << mirror_keypoint(k);
    out << YAML::EndSeq;
  }
  out << YAML::Key << "names" << YAML::Value << YAML::BeginMap << YAML::Key << 0 << YAML::Value
      << "person" << YAML::EndMap;
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace synthfarm::cli
