// The farm's own dataset as reconstruction input: the COCO person-keypoints file the
// finalizer writes (jobs/coco.h) from rendered samples parses with recon's reader, with
// every person's keypoints as the sample JSON has them.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "jobs/coco.h"
#include "jobs/sample_testing.h"
#include "recon/coco_input.h"

namespace synthfarm {
namespace {

TEST(ReconInputs, TheFarmsCocoFileParses) {
  jobs::JobSpec spec;
  spec.name = "people";
  spec.samples = 3;
  spec.seed = 11;
  spec.camera.width = 96;
  spec.camera.height = 72;
  spec.render.spp = 1;
  spec.humans.count = jobs::Distribution::constant(2);
  auto renderer = jobs::sample_testing::make_renderer(1);
  ASSERT_NE(renderer, nullptr);
  jobs::coco::DatasetBuilder builder(R"({"description":"people"})");
  std::vector<nlohmann::json> samples;
  for (uint64_t i = 0; i < 3; ++i) {
    const jobs::SampleObjects objects = jobs::sample_testing::render_ok(*renderer, spec, i);
    ASSERT_TRUE(builder.add_image(objects.json, "samples/" + std::to_string(i) + ".png", "sample").has_value());
    samples.push_back(nlohmann::json::parse(objects.json));
  }
  const uint64_t annotations = builder.person_annotations();
  const std::string text = builder.finish().person_keypoints;

  auto file = recon::parse_coco_keypoints(text, "coco_person_keypoints.json");
  ASSERT_TRUE(file.has_value()) << file.error();
  ASSERT_EQ(file->images.size(), 3u);
  EXPECT_EQ(file->people.size(), annotations);
  EXPECT_GT(annotations, 0u);
  EXPECT_TRUE(file->dropped_keypoints.empty());
  EXPECT_EQ(file->images[0].K.width, 96);
  // The farm's COCO file carries each sample's camera: the fitter needs no guess.
  EXPECT_EQ(file->images[0].K.fx, samples[0]["K"][0][0].get<double>());
  ASSERT_TRUE(file->images[0].view.has_value());
  EXPECT_EQ(file->images[0].view->translation.z, samples[0]["world_to_camera"][2][3].get<double>());
  // Each annotation's keypoints are those of a person instance of its sample, v > 0 ones
  // exactly.
  for (const recon::CocoPerson& person : file->people) {
    const auto& instances = samples[person.image]["instances"];
    bool found = false;
    for (const auto& instance : instances) {
      if (!instance.contains("keypoints")) continue;
      bool same = true;
      for (int k = 0; k < kKeypointCount && same; ++k) {
        const double v = instance["keypoints"][3 * k + 2].get<double>();
        same = v == person.keypoints.xyv[3 * k + 2] &&
               (v == 0 || (instance["keypoints"][3 * k].get<double>() == person.keypoints.xyv[3 * k] &&
                           instance["keypoints"][3 * k + 1].get<double>() == person.keypoints.xyv[3 * k + 1]));
      }
      found |= same;
    }
    EXPECT_TRUE(found) << "annotations[" << person.element << "]";
  }
  auto units = recon::group_units(*file, recon::default_unit_kind(*file));
  ASSERT_TRUE(units.has_value()) << units.error();
  EXPECT_EQ(units->kind, recon::CocoUnitKind::kImages);
  size_t fitted = 0;
  for (const auto& unit : units->images) fitted += unit.people.size();
  EXPECT_EQ(fitted + units->skipped, annotations);
  std::printf("farm COCO file: %zu images, %llu people, %zu image units, %zu skipped\n", file->images.size(),
              static_cast<unsigned long long>(annotations), units->images.size(), units->skipped);
}

}  // namespace
}  // namespace synthfarm
