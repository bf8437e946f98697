// Render specs that draw fitted poses and shapes (humans.poses, humans.shapes): the
// people of a sample take a fitted line's pose and shape, failed fits are never drawn, and
// a broken file fails the sample naming the field, the file, the line and the element.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <map>
#include <string>

#include "jobs/fitted_bodies.h"
#include "jobs/sample.h"

namespace synthfarm::jobs {
namespace {

struct FittedFiles {
  std::map<std::string, std::string> by_uri;
  AssetReader reader() const {
    return [this](const std::string& uri) -> tl::expected<std::string, std::string> {
      auto it = by_uri.find(uri);
      if (it == by_uri.end()) return tl::unexpected(uri + ": no such file");
      return it->second;
    };
  }
};

// A line of poses.jsonl: every joint at rest but the left knee and the right elbow.
std::string pose_line(double knee_deg, bool converged, nlohmann::json knee = nullptr) {
  nlohmann::json pose = nlohmann::json::object();
  for (auto name : humans::kJointNames) pose[std::string(name)] = {0.0, 0.0, 0.0};
  pose["left_knee"] = knee.is_null() ? nlohmann::json{-knee_deg, 0.0, 0.0} : knee;
  pose["right_elbow"] = {60.0, 0.0, 0.0};
  return nlohmann::json{{"pose", pose}, {"converged", converged}}.dump() + "\n";
}

std::string shape_line(double height_m, bool converged) {
  nlohmann::json shape = {{"height_m", height_m}, {"bmi", 30.0},      {"sex", 1.0},
                          {"age", 40.0},          {"shoulder_width", 1.1}, {"hip_width", 0.9},
                          {"leg_length", 1.0},    {"arm_length", 1.0}, {"head_size", 1.0}};
  return nlohmann::json{{"shape", shape}, {"converged", converged}}.dump() + "\n";
}

JobSpec fitted_spec() {
  JobSpec spec;
  spec.name = "fitted";
  spec.samples = 4;
  spec.seed = 11;
  spec.camera.width = 64;
  spec.camera.height = 48;
  spec.render.spp = 1;
  spec.humans.count = Distribution::constant(2);
  spec.humans.poses = "file:///fit/poses.jsonl";
  spec.humans.shapes = "file:///fit/shapes.jsonl";
  return spec;
}

TEST(FittedBodies, PeopleTakeAFittedPoseAndShapeAndNeverAFailedOne) {
  FittedFiles files;
  // The unconverged lines would give a straight knee and a 1.50 m person.
  files.by_uri["file:///fit/poses.jsonl"] = pose_line(0, false) + pose_line(80, true) + "\n" + pose_line(0, false);
  files.by_uri["file:///fit/shapes.jsonl"] = shape_line(1.50, false) + shape_line(1.93, true);
  auto renderer = SampleRenderer::create(1, files.reader());
  ASSERT_TRUE(renderer.has_value()) << renderer.error();
  const JobSpec spec = fitted_spec();
  for (uint64_t index = 0; index < 2; ++index) {
    auto objects = (*renderer)->render(spec, index);
    ASSERT_TRUE(objects.has_value()) << objects.error();
    auto j = nlohmann::json::parse(objects->json);
    int people = 0;
    for (const auto& person : j["instances"]) {
      if (person["class"] != "person") continue;
      ++people;
      EXPECT_EQ(person["motion"], "fitted");
      EXPECT_EQ(person["motion_clip"], "poses.jsonl:2") << "the converged line, the second of the file";
      EXPECT_EQ(person["shape_source"], "shapes.jsonl:2");
      EXPECT_NEAR(person["shape"]["height_m"].get<double>(), 1.93, 1e-9);
      EXPECT_NEAR(person["pose"]["left_knee"][0].get<double>(), -80, 1e-6);
      EXPECT_NEAR(person["pose"]["right_elbow"][0].get<double>(), 60, 1e-6);
    }
    EXPECT_EQ(people, 2);
  }
}

TEST(FittedBodies, BrokenFilesFailTheSampleNamingFieldFileLineAndElement) {
  FittedFiles files;
  files.by_uri["file:///fit/shapes.jsonl"] = shape_line(1.8, true);
  files.by_uri["file:///fit/poses.jsonl"] = pose_line(30, true) + pose_line(0, true, {-30.0, 0.0});
  auto renderer = SampleRenderer::create(1, files.reader());
  ASSERT_TRUE(renderer.has_value());
  auto objects = (*renderer)->render(fitted_spec(), 0);
  ASSERT_FALSE(objects.has_value());
  EXPECT_NE(objects.error().find("humans.poses: poses.jsonl:2: pose.left_knee: expected [x, y, z] in degrees"),
            std::string::npos)
      << objects.error();

  EXPECT_EQ(parse_fitted_shapes(shape_line(1.7, false), "s3://b/shapes.jsonl").error(),
            "shapes.jsonl: no converged fit to draw shapes from");
  EXPECT_EQ(parse_fitted_shapes("{\"shape\": {\"height_m\": 1e999}}", "shapes.jsonl").error(),
            "shapes.jsonl:1: not a JSON object (one fit per line)");
  EXPECT_EQ(parse_fitted_poses("[1, 2]\n", "poses.jsonl").error(), "poses.jsonl:1: not a JSON object (one fit per line)");
  auto missing = parse_fitted_shapes("{\"shape\": {\"height_m\": 1.7}}\n", "shapes.jsonl");
  EXPECT_EQ(missing.error(), "shapes.jsonl:1: shape.bmi: missing");
  files.by_uri["file:///fit/poses.jsonl"] = pose_line(30, true);
  files.by_uri.erase("file:///fit/shapes.jsonl");
  auto absent = (*renderer)->render(fitted_spec(), 1);
  ASSERT_FALSE(absent.has_value());
  EXPECT_NE(absent.error().find("humans.shapes: file:///fit/shapes.jsonl: no such file"), std::string::npos)
      << absent.error();
}

TEST(FittedBodies, JointsBeyondTheirLimitsAreHeldToThem) {
  auto poses = parse_fitted_poses(pose_line(300, true), "poses.jsonl");
  ASSERT_TRUE(poses.has_value()) << poses.error();
  EXPECT_EQ((*poses)[0].euler_deg[humans::index(humans::Joint::kLeftKnee)].x, -145);
}

}  // namespace
}  // namespace synthfarm::jobs
