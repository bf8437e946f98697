// Reconstruction specs (task fit_people / fuse_depth): what they accept, their canonical
// form, and the errors that keep render and reconstruction fields apart.
#include <gtest/gtest.h>

#include <string>

#include "jobs/spec.h"

namespace synthfarm::jobs {
namespace {

std::string all_errors(const std::vector<SpecError>& errors) {
  std::string out;
  for (const SpecError& e : errors) out += e.to_string() + "\n";
  return out;
}

JobSpec parse_recon_ok(std::string_view text) {
  auto result = parse_spec(text, "recon.yaml");
  EXPECT_TRUE(result.has_value()) << (result ? "" : all_errors(result.error()));
  return result ? *result : JobSpec{};
}

// The one error of `text`: its path, line and a part of its message.
void expect_recon_error(std::string_view text, const std::string& path, int line, const std::string& part) {
  auto result = parse_spec(text, "recon.yaml");
  ASSERT_FALSE(result.has_value()) << "accepted:\n" << text;
  ASSERT_EQ(result.error().size(), 1u) << all_errors(result.error());
  const SpecError& e = result.error()[0];
  EXPECT_EQ(e.path, path) << e.to_string();
  EXPECT_EQ(e.line, line) << e.to_string();
  EXPECT_NE(e.message.find(part), std::string::npos) << e.to_string();
}

TEST(ReconSpec, FitPeopleNeedsNoSamplesAndGetsDefaults) {
  JobSpec spec = parse_recon_ok("name: fit\ntask: fit_people\ninputs: s3://b/people.json\n");
  EXPECT_EQ(spec.task, "fit_people");
  EXPECT_TRUE(spec.reconstruction());
  ASSERT_EQ(spec.inputs.size(), 1u);
  EXPECT_EQ(spec.inputs[0], "s3://b/people.json");
  EXPECT_EQ(spec.fit.mode, "image");
  EXPECT_EQ(spec.fit.fov_deg, 55);
  EXPECT_EQ(spec.samples, 0);
  auto locations = spec_locations(spec);
  ASSERT_EQ(locations.size(), 1u);
  EXPECT_EQ(locations[0].path, "inputs");
}

TEST(ReconSpec, CanonicalJsonRoundTripsWithTheCountedUnits) {
  JobSpec spec = parse_recon_ok(
      "name: scans\ntask: fit_people\nfit: {mode: scan}\ninputs: [file:///d/a.ply, file:///d/b.OBJ]\n"
      "output: {storage: file:///out}\n");
  spec.samples = 2;  // what the coordinator counts
  const std::string json = spec_to_json(spec);
  EXPECT_EQ(json.find("camera"), std::string::npos) << json;
  EXPECT_EQ(json.find("layers"), std::string::npos) << json;
  JobSpec again = parse_recon_ok(json);
  EXPECT_EQ(again, spec);
}

TEST(ReconSpec, FuseDepthRoundTrips) {
  JobSpec spec = parse_recon_ok(
      "name: room\ntask: fuse_depth\ninputs: [file:///c/one.json, file:///c/two.json]\n"
      "fusion: {voxel_m: 0.02, truncation_m: 0.08, colour: false}\n");
  EXPECT_EQ(spec.fusion.voxel_m, 0.02);
  EXPECT_FALSE(spec.fusion.colour);
  spec.samples = 2;
  EXPECT_EQ(parse_recon_ok(spec_to_json(spec)), spec);
}

TEST(ReconSpec, RenderSectionsAreRefusedInAReconstructionSpec) {
  expect_recon_error("name: fit\ntask: fit_people\ninputs: file:///p.json\ncamera: {fov_deg: 50}\n", "camera", 4,
                     "only for task render; this spec's task is fit_people");
  expect_recon_error("name: fit\ntask: fit_people\ninputs: file:///p.json\noutput:\n  layers: [rgb]\n",
                     "output.layers", 5, "a fit_people job's output has only storage");
  expect_recon_error("name: fit\ntask: fit_people\ninputs: file:///p.json\nfusion: {voxel_m: 0.01}\n", "fusion", 4,
                     "only for task fuse_depth");
}

TEST(ReconSpec, ReconstructionSectionsAreRefusedInARenderSpec) {
  expect_recon_error("name: r\nsamples: 3\nfit: {mode: image}\n", "fit", 3, "only for task fit_people or fuse_depth");
  expect_recon_error("name: r\nsamples: 3\ninputs: file:///p.json\n", "inputs", 3, "this spec's task is render");
}

TEST(ReconSpec, InputsMustSuitTheTask) {
  expect_recon_error("name: fit\ntask: fit_people\n", "inputs", 1, "required field is missing");
  expect_recon_error("name: fit\ntask: fit_people\ninputs: file:///scan.ply\n", "inputs", 3,
                     "must be a COCO person keypoints .json file for task fit_people (fit mode image)");
  expect_recon_error("name: fit\ntask: fit_people\nfit: {mode: scan}\ninputs:\n  - file:///a.ply\n  - file:///p.json\n",
                     "inputs[1]", 6, "must be a .ply or .obj scan");
  expect_recon_error("name: fit\ntask: fit_people\ninputs: [file:///a.json, file:///b.json]\n", "inputs", 3,
                     "reads one COCO person keypoints .json file, got 2");
  expect_recon_error("name: fit\ntask: fit_people\ninputs: http://x/p.json\n", "inputs", 3,
                     "must be a file:// or s3:// URI");
  expect_recon_error("name: d\ntask: fuse_depth\ninputs: [file:///c.ply]\n", "inputs[0]", 3,
                     "must be a capture .json file");
}

TEST(ReconSpec, BadValuesNameTheirField) {
  expect_recon_error("name: fit\ntask: fit_jobs\ninputs: file:///p.json\n", "task", 2, "unknown task 'fit_jobs'");
  expect_recon_error("name: fit\ntask: fit_people\ninputs: file:///p.json\nfit:\n  mode: video\n", "fit.mode", 5,
                     "unknown fit mode 'video'");
  expect_recon_error("name: fit\ntask: fit_people\ninputs: file:///p.json\nfit:\n  fov_deg: 200\n", "fit.fov_deg",
                     5, "between 10 and 150");
  expect_recon_error("name: d\ntask: fuse_depth\ninputs: file:///c.json\nfusion:\n  voxel_m: 0.01\n  truncation_m: 0.01\n",
                     "fusion", 5, "truncation_m must be 2 to 64 voxels");
}

TEST(ReconSpec, RenderSpecsMayDrawFittedPosesAndShapes) {
  JobSpec spec = parse_recon_ok(
      "name: r\nsamples: 3\nhumans:\n  poses: file:///fit/poses.jsonl\n  shapes: s3://b/fit/shapes.jsonl\n");
  EXPECT_EQ(spec.humans.poses, "file:///fit/poses.jsonl");
  EXPECT_EQ(parse_recon_ok(spec_to_json(spec)), spec);
  auto locations = spec_locations(spec);
  ASSERT_EQ(locations.size(), 2u);
  EXPECT_EQ(locations[1].path, "humans.shapes");
  expect_recon_error("name: r\nsamples: 3\nhumans:\n  poses: file:///fit/poses.json\n", "humans.poses", 4,
                     "must name a .jsonl file");
}

TEST(ReconSpec, ARenderSpecKeepsItsCanonicalForm) {
  const JobSpec spec = parse_recon_ok("name: r\nsamples: 3\n");
  const std::string json = spec_to_json(spec);
  EXPECT_EQ(json.find("task"), std::string::npos);
  EXPECT_EQ(json.find("poses"), std::string::npos);
}

}  // namespace
}  // namespace synthfarm::jobs
