#include "jobs/fitted_bodies.h"

#include <fmt/format.h>

#include <cmath>
#include <nlohmann/json.hpp>

namespace synthfarm::jobs {
namespace {

using nlohmann::json;

std::string file_name(const std::string& uri) {
  const size_t slash = uri.find_last_of('/');
  return slash == std::string::npos ? uri : uri.substr(slash + 1);
}

// A finite number, or why not.
tl::expected<double, std::string> finite(const json& value) {
  if (!value.is_number()) return tl::unexpected("expected a number, got " + value.dump());
  const double v = value.get<double>();
  if (!std::isfinite(v)) return tl::unexpected(std::string("expected a finite number"));
  return v;
}

// Calls `line_fn(object, where)` for each non-empty line; `where` prefixes its errors.
template <typename LineFn>
tl::expected<void, std::string> each_line(std::string_view text, const std::string& name, LineFn&& line_fn) {
  size_t start = 0;
  int number = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(start, end - start);
    start = end + 1;
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    const std::string where = fmt::format("{}:{}", file_name(name), number);
    json object = json::parse(line, nullptr, false);
    if (object.is_discarded() || !object.is_object()) {
      return tl::unexpected(where + ": not a JSON object (one fit per line)");
    }
    if (auto done = line_fn(object, where); !done) return done;
  }
  return {};
}

// Lines of fits that did not converge are left out; a line without the flag counts.
bool converged(const json& object) {
  auto it = object.find("converged");
  return it == object.end() || !it->is_boolean() || it->get<bool>();
}

}  // namespace

tl::expected<std::vector<FittedPose>, std::string> parse_fitted_poses(std::string_view text, const std::string& name) {
  std::vector<FittedPose> out;
  auto read = each_line(text, name, [&](const json& object, const std::string& where) -> tl::expected<void, std::string> {
    auto pose = object.find("pose");
    if (pose == object.end() || !pose->is_object()) return tl::unexpected(where + ": pose: expected {joint: [x, y, z]}");
    if (!converged(object)) return {};
    FittedPose fitted;
    fitted.source = where;
    for (int j = 1; j < humans::kJointCount; ++j) {  // the root's orientation is the scene's
      const std::string joint(humans::kJointNames[j]);
      auto angles = pose->find(joint);
      if (angles == pose->end() || !angles->is_array() || angles->size() != 3) {
        return tl::unexpected(fmt::format("{}: pose.{}: expected [x, y, z] in degrees", where, joint));
      }
      double v[3];
      for (int a = 0; a < 3; ++a) {
        auto x = finite((*angles)[a]);
        if (!x) return tl::unexpected(fmt::format("{}: pose.{}[{}]: {}", where, joint, a, x.error()));
        v[a] = *x;
      }
      // Fits keep to the joint limits; a file edited by hand is held to them here.
      fitted.euler_deg[j] = humans::joint_limits()[j].clamp(Vec3{v[0], v[1], v[2]});
    }
    out.push_back(std::move(fitted));
    return {};
  });
  if (!read) return tl::unexpected(read.error());
  if (out.empty()) return tl::unexpected(file_name(name) + ": no converged fit to draw poses from");
  return out;
}

tl::expected<std::vector<FittedShape>, std::string> parse_fitted_shapes(std::string_view text,
                                                                        const std::string& name) {
  std::vector<FittedShape> out;
  auto read = each_line(text, name, [&](const json& object, const std::string& where) -> tl::expected<void, std::string> {
    auto shape = object.find("shape");
    if (shape == object.end() || !shape->is_object()) return tl::unexpected(where + ": shape: expected an object");
    if (!converged(object)) return {};
    FittedShape fitted;
    fitted.source = where;
    humans::Shape& s = fitted.shape;
    const std::pair<const char*, double*> fields[] = {
        {"height_m", &s.height_m},     {"bmi", &s.bmi},         {"sex", &s.sex},
        {"age", &s.age},               {"shoulder_width", &s.shoulder_width},
        {"hip_width", &s.hip_width},   {"leg_length", &s.leg_length},
        {"arm_length", &s.arm_length}, {"head_size", &s.head_size}};
    for (const auto& [field, target] : fields) {
      auto value = shape->find(field);
      if (value == shape->end()) return tl::unexpected(fmt::format("{}: shape.{}: missing", where, field));
      auto x = finite(*value);
      if (!x) return tl::unexpected(fmt::format("{}: shape.{}: {}", where, field, x.error()));
      *target = *x;
    }
    s = s.clamped();
    out.push_back(std::move(fitted));
    return {};
  });
  if (!read) return tl::unexpected(read.error());
  if (out.empty()) return tl::unexpected(file_name(name) + ": no converged fit to draw shapes from");
  return out;
}

}  // namespace synthfarm::jobs
