// Tests for the dataset spec parser, its serialiser and the distributions (jobs/spec.h).
#include "jobs/spec.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <ostream>
#include <string>
#include <vector>

namespace synthfarm::jobs {

using render::Layer;
namespace {

std::string describe(const std::vector<SpecError>& errors) {
  std::string out;
  for (const SpecError& e : errors) out += "  " + e.to_string() + "\n";
  return out;
}

JobSpec parse_ok(std::string_view text) {
  auto result = parse_spec(text, "test.yaml");
  EXPECT_TRUE(result.has_value()) << describe(result ? std::vector<SpecError>{} : result.error());
  return result ? *result : JobSpec{};
}

// ---------------------------------------------------------------------------------------
// Malformed specs: each has exactly one problem, and the error must name where it is
// (path and line, and column where given) and say what is wrong.

struct BadSpec {
  const char* name;
  std::string yaml;
  const char* path;
  int line;
  int column;           // 0: not checked
  const char* message;  // a part of the message
};

const BadSpec kBadSpecs[] = {
    {"MalformedYamlUnclosedList",
     "name: x\nsamples: 10\ncamera:\n  resolution: [640, 480\n"
     "  fov_deg: 60\n",
     "", 5, 10, "end of sequence flow not found"},
    {"MalformedYamlBadIndent", "name: x\n  samples: 10\n", "", 2, 10, "illegal map value"},
    {"EmptyDocument", "", "", 1, 1, "the spec is empty"},
    {"CommentsOnly", "# nothing here\n", "", 1, 1, "the spec is empty"},
    {"TopLevelList", "- name: x\n- samples: 10\n", "", 1, 1, "must be a mapping"},
    {"TopLevelScalar", "hello\n", "", 1, 1, "must be a mapping"},
    {"TwoDocuments", "name: x\nsamples: 10\n---\nname: y\n", "", 3, 1, "only one YAML document"},
    // yaml-cpp 0.7 loops forever (allocating) on these through YAML::LoadAll.
    {"StrayCommaAtStart", ", a\nname: x\nsamples: 10\n", "", 1, 1, "unexpected ','"},
    {"StrayCommaAlone", ",", "", 1, 1, "unexpected ','"},
    {"StrayCommaAfterDocumentStart", "--- ,\n", "", 1, 5, "unexpected ','"},
    {"NestedTooDeeply",
     "name: x\nsamples: 10\nrender: {spp: " + std::string(3000, '[') + std::string(3000, ']') +
         "}\n",
     "", 3, 0, "nested too deeply"},
    {"UnknownTopLevelField", "name: x\nsamples: 10\ncolour: red\n", "colour", 3, 1,
     "unknown field; expected one of: name, samples"},
    {"MisspelledTopLevelField", "name: x\nsmaples: 10\nsamples: 10\n", "smaples", 2, 1,
     "unknown field; did you mean 'samples'?"},
    {"UnknownNestedFieldDidYouMean", "name: x\nsamples: 10\ncamera:\n  resoluton: [640, 480]\n",
     "camera.resoluton", 4, 3, "unknown field; did you mean 'resolution'?"},
    {"FieldWithoutUnitDidYouMean", "name: x\nsamples: 10\ncamera:\n  fov: 60\n", "camera.fov", 4, 3,
     "did you mean 'fov_deg'?"},
    {"UnknownBayerPattern", "name: x\nsamples: 10\nsensor:\n  cfa: rgbg\n", "sensor.cfa", 4, 8,
     "unknown Bayer pattern 'rgbg'; did you mean 'rggb'?"},
    {"IsoOutOfRange", "name: x\nsamples: 10\nsensor:\n  iso: {uniform: [100, 900000]}\n", "sensor.iso.uniform[1]",
     4, 24, "at most 409600"},
    {"JpegQualityNotWhole", "name: x\nsamples: 10\nsensor:\n  jpeg_quality: 50.5\n", "sensor.jpeg_quality", 4, 17,
     "between 0 and 100"},
    {"BitDepthTooSmall", "name: x\nsamples: 10\nsensor:\n  noise: {bit_depth: 4}\n", "sensor.noise.bit_depth", 4,
     22, "0 (no quantisation) or between 8 and 16"},
    {"UnknownNoiseModel", "name: x\nsamples: 10\nsensor:\n  noise: {model: gaussian}\n", "sensor.noise.model", 4,
     18, "unknown noise model 'gaussian'"},
    {"FisheyeWithTangential", "name: x\nsamples: 10\nsensor:\n  distortion: {model: fisheye, p1: 0.01}\n",
     "sensor.distortion.p1", 4, 36, "has only k1..k4"},
    {"CameraSpeedWithoutBlur", "name: x\nsamples: 10\nsensor:\n  camera_speed_m_s: 2\n", "sensor.camera_speed_m_s",
     4, 21, "motion_blur: true"},
    {"ModelNotAUri", "name: x\nsamples: 10\nsensor:\n  model: camera.pt\n", "sensor.model", 4, 10,
     "file:// or s3:// URI"},
    {"LensThatFolds", "name: x\nsamples: 10\nsensor:\n  distortion: {model: brown_conrady, k1: -0.9}\n",
     "sensor.distortion", 4, 15, "folds"},
    {"FisheyeWiderThanAPinhole",
     "name: x\nsamples: 10\ncamera: {fov_deg: 150}\nsensor:\n  distortion: {model: fisheye, k1: {uniform: [-0.1, 0]}}\n",
     "sensor.distortion", 5, 15, "camera.fov_deg = 150"},
    {"UnknownSensorLayer", "name: x\nsamples: 10\nsensor:\n  layers: [camera, bayer]\n", "sensor.layers[1]", 4, 20,
     "unknown sensor layer 'bayer'"},
    {"EnvironmentNotAnExr", "name: x\nsamples: 10\nlighting:\n  environment: {choice: [sky, file:///h/park.hdr]}\n",
     "lighting.environment.choice[1]", 4, 31, "unknown environment (sky or a file:// or s3:// URI of an .exr file)"},
    {"UnknownSky", "name: x\nsamples: 10\nlighting:\n  sky: hosek\n", "lighting.sky", 4, 8,
     "unknown sky 'hosek'; expected one of: preetham, gradient"},
    {"TurbidityTooLow", "name: x\nsamples: 10\nlighting:\n  turbidity: 1\n", "lighting.turbidity", 4, 14,
     "between 2 and 10"},
    {"TooManyLamps", "name: x\nsamples: 10\nlighting:\n  lamps: 9\n", "lighting.lamps", 4, 10,
     "between 0 and 8"},
    {"PatternsProbabilityAboveOne", "name: x\nsamples: 10\nscene:\n  patterns: 1.5\n", "scene.patterns", 4,
     13, "between 0 and 1"},
    {"DuplicateKey", "name: x\nsamples: 10\nsamples: 20\n", "samples", 3, 1,
     "duplicate field (first given on line 2)"},
    {"SamplesIsString", "name: x\nsamples: many\n", "samples", 2, 10,
     "must be an integer between 1 and 100000000, got \"many\""},
    {"SamplesIsQuotedNumber", "name: x\nsamples: \"10\"\n", "samples", 2, 10,
     "must be an integer between 1 and 100000000, got \"10\""},
    {"NameIsList", "name: [a, b]\nsamples: 10\n", "name", 1, 7,
     "must be a string, got a list of 2 items"},
    {"SppIsBool", "name: x\nsamples: 10\nrender:\n  spp: true\n", "render.spp", 4, 8,
     "must be an integer between 1 and 65536, got the boolean true"},
    {"SamplesZero", "name: x\nsamples: 0\n", "samples", 2, 10,
     "must be an integer between 1 and 100000000, got 0"},
    {"SamplesNegative", "name: x\nsamples: -5\n", "samples", 2, 10,
     "must be an integer between 1 and 100000000, got -5"},
    {"SamplesTooMany", "name: x\nsamples: 100000001\n", "samples", 2, 10, "got 100000001"},
    {"SamplesNotWhole", "name: x\nsamples: 1.5\n", "samples", 2, 10,
     "must be an integer between 1 and 100000000, got 1.5"},
    {"ShardSizeZero", "name: x\nsamples: 10\nshard_size: 0\n", "shard_size", 3, 13,
     "must be an integer between 1 and 100000, got 0"},
    {"ShardSizeAuto", "name: x\nsamples: 10\nshard_size: auto\n", "shard_size", 3, 13,
     "'auto' is not supported in this version"},
    {"SeedNegative", "name: x\nsamples: 10\nseed: -1\n", "seed", 3, 7,
     "must be an integer between 0 and 18446744073709551615, got -1"},
    {"OnDeadShardsUnknown", "name: x\nsamples: 10\non_dead_shards: ignore\n", "on_dead_shards", 3, 17,
     "must be 'fail' or 'partial', got \"ignore\""},
    {"PriorityTooHigh", "name: x\nsamples: 10\npriority: 1001\n", "priority", 3, 11,
     "between -1000 and 1000, got 1001"},
    {"ResolutionZero", "name: x\nsamples: 10\ncamera:\n  resolution: [0, 480]\n",
     "camera.resolution[0]", 4, 16, "must be an integer between 1 and 16384, got 0"},
    {"ResolutionTooLarge", "name: x\nsamples: 10\ncamera:\n  resolution: [640, 16385]\n",
     "camera.resolution[1]", 4, 21, "must be an integer between 1 and 16384, got 16385"},
    {"ResolutionOneNumber", "name: x\nsamples: 10\ncamera:\n  resolution: [640]\n",
     "camera.resolution", 4, 15,
     "must be [width, height], two integers between 1 and 16384, "
     "got a list of 1 item"},
    {"ResolutionThreeNumbers", "name: x\nsamples: 10\ncamera:\n  resolution: [640, 480, 3]\n",
     "camera.resolution", 4, 15, "got a list of 3 items"},
    {"ResolutionScalar", "name: x\nsamples: 10\ncamera:\n  resolution: 640\n", "camera.resolution",
     4, 15, "must be [width, height]"},
    {"UnknownLayer", "name: x\nsamples: 10\noutput:\n  layers: [rgb, depth, colour]\n",
     "output.layers[2]", 4, 24, "unknown layer 'colour'; expected one of: rgb, depth, normal"},
    {"MisspelledLayer", "name: x\nsamples: 10\noutput:\n  layers: [rgb, depht]\n",
     "output.layers[1]", 4, 17, "did you mean 'depth'?"},
    {"UnknownLayerMask", "name: x\nsamples: 10\noutput:\n  layers: [rgb, mask]\n", "output.layers[1]", 4,
     17, "unknown layer 'mask'"},
    {"DuplicateLayer", "name: x\nsamples: 10\noutput:\n  layers: [rgb, depth, depth]\n",
     "output.layers[2]", 4, 24, "duplicate layer 'depth' (already at output.layers[1])"},
    {"EmptyLayers", "name: x\nsamples: 10\noutput:\n  layers: []\n", "output.layers", 4, 11,
     "must list at least one layer"},
    {"CocoWithoutSampleJson", "name: x\nsamples: 10\noutput:\n  labels: [coco]\n",
     "output.labels", 4, 11, "coco is built from the per-sample JSON: list sample_json too"},
    {"UnknownLabel", "name: x\nsamples: 10\noutput:\n  labels: [sample_json, voc]\n",
     "output.labels[1]", 4, 25, "unknown label 'voc'"},
    {"BadStorageScheme", "name: x\nsamples: 10\noutput:\n  storage: http://example.com/x\n",
     "output.storage", 4, 12, "must be a file:// or s3:// URI, got \"http://example.com/x\""},
    {"StorageWithoutLocation", "name: x\nsamples: 10\noutput:\n  storage: s3://\n",
     "output.storage", 4, 12, "must name a location after the scheme"},
    {"StorageWithControlCharacter", "name: x\nsamples: 10\noutput:\n  storage: \"s3://b/\\t\"\n",
     "output.storage", 4, 12,
     "must be valid UTF-8 without control characters, got \"s3://b/\\x09\""},
    {"StorageWithInvalidUtf8", "name: x\nsamples: 10\noutput:\n  storage: s3://b/\xff\n",
     "output.storage", 4, 12, "got \"s3://b/\\xFF\""},
    {"PreviewNotBool", "name: x\nsamples: 10\noutput:\n  preview: yes\n", "output.preview", 4, 12,
     "must be true or false, got \"yes\""},
    {"UnknownFormat", "name: x\nsamples: 10\noutput:\n  format: tar\n", "output.format", 4, 11,
     "must be files or webdataset, got \"tar\""},
    {"NullSection", "name: x\nsamples: 10\noutput:\ncamera: {}\n", "output", 3, 1,
     "must be a mapping of fields (storage, layers, labels, preview, format), got null"},
    {"UniformReversed", "name: x\nsamples: 10\ncamera:\n  fov_deg: {uniform: [70, 40]}\n",
     "camera.fov_deg.uniform", 4, 22, "the low end must not be above the high end, got [70, 40]"},
    {"UniformOutOfRange", "name: x\nsamples: 10\nhumans:\n  height_m: {uniform: [1.5, 3]}\n",
     "humans.height_m.uniform[1]", 4, 29, "must be at most 2.5, got 3"},
    {"UniformBelowRange", "name: x\nsamples: 10\ncamera:\n  fov_deg: {uniform: [5, 40]}\n",
     "camera.fov_deg.uniform[0]", 4, 23, "must be at least 10, got 5"},
    {"UniformOneBound", "name: x\nsamples: 10\ncamera:\n  fov_deg: {uniform: [40]}\n",
     "camera.fov_deg.uniform", 4, 22, "must be a list of two numbers [low, high]"},
    {"NormalNegativeStd",
     "name: x\nsamples: 10\nhumans:\n  height_m:\n    normal: {mean: 1.7, std: -0.1, clip: [1.4, "
     "2]}\n",
     "humans.height_m.normal.std", 5, 30, "must be at least 0, got -0.1"},
    {"NormalWithoutClip", "name: x\nsamples: 10\nhumans:\n  bmi: {normal: {mean: 22, std: 3}}\n",
     "humans.bmi.normal", 4, 17, "needs clip: [lo, hi] within 12..60"},
    {"NormalMissingMean",
     "name: x\nsamples: 10\nhumans:\n  bmi: {normal: {std: 3, clip: [15, "
     "30]}}\n",
     "humans.bmi.normal.mean", 4, 17, "required field is missing"},
    {"NormalOnIntegerField",
     "name: x\nsamples: 10\nhumans:\n  count:\n    normal: {mean: 2, std: "
     "1, clip: [0, 4]}\n",
     "humans.count.normal", 5, 13, "this field takes whole numbers"},
    {"UniformOnIntegerField", "name: x\nsamples: 10\nscene:\n  props: {uniform: [1, 4]}\n",
     "scene.props.uniform", 4, 20, "use uniform_int or choice"},
    {"UniformIntNotWhole", "name: x\nsamples: 10\nscene:\n  props: {uniform_int: [1.5, 4]}\n",
     "scene.props.uniform_int[0]", 4, 25, "must be an integer between 0 and 64, got 1.5"},
    {"UnknownDistributionKind", "name: x\nsamples: 10\ncamera:\n  fov_deg: {unifrom: [40, 70]}\n",
     "camera.fov_deg.unifrom", 4, 13, "did you mean 'uniform'?"},
    {"TwoDistributionKinds",
     "name: x\nsamples: 10\ncamera:\n  fov_deg: {uniform: [40, 70], normal: {mean: 50, std: 0}}\n",
     "camera.fov_deg.normal", 4, 40, "exactly one of uniform, uniform_int, normal, choice"},
    {"WeightsWithoutChoice",
     "name: x\nsamples: 10\ncamera:\n  fov_deg: {uniform: [40, 70], weights: [1, 2]}\n",
     "camera.fov_deg.weights", 4, 41, "weights are only allowed with choice"},
    {"ChoiceWeightsLengthMismatch",
     "name: x\nsamples: 10\nscene:\n  props: {choice: [1, 2, 3], weights: [1, 2]}\n",
     "scene.props.weights", 4, 39, "must have one weight per choice (3), got 2"},
    {"ChoiceWeightsAllZero",
     "name: x\nsamples: 10\nscene:\n  kind: {choice: [room, studio], weights: [0, 0]}\n",
     "scene.kind.weights", 4, 43, "must add up to a positive"},
    {"ChoiceNegativeWeight",
     "name: x\nsamples: 10\nscene:\n  kind: {choice: [room, studio], weights: [1, -1]}\n",
     "scene.kind.weights[1]", 4, 47, "must be a non-negative number, got -1"},
    {"ChoiceValueOutOfRange", "name: x\nsamples: 10\nhumans:\n  count: {choice: [1, 2, 17]}\n",
     "humans.count.choice[2]", 4, 26, "must be an integer between 0 and 16, got 17"},
    {"UnknownSceneKind", "name: x\nsamples: 10\nscene:\n  kind: forest\n", "scene.kind", 4, 9,
     "unknown scene kind 'forest'; expected one of: room, outdoor, studio"},
    {"UnknownSceneKindInChoice", "name: x\nsamples: 10\nscene:\n  kind: {choice: [room, rom]}\n",
     "scene.kind.choice[1]", 4, 25, "unknown scene kind 'rom'; did you mean 'room'?"},
    {"BvhMotionWithoutClips", "name: x\nsamples: 10\nhumans:\n  motion: bvh\n", "humans", 4, 3,
     "motion 'bvh' needs humans.bvh"},
    {"BvhNotABvhFile", "name: x\nsamples: 10\nhumans:\n  bvh: [file:///m/walk.fbx]\n", "humans.bvh[0]", 4, 9,
     "must name a .bvh file"},
    {"BvhNotAUri", "name: x\nsamples: 10\nhumans:\n  bvh: [walk.bvh]\n", "humans.bvh[0]", 4, 9,
     "must be a file:// or s3:// URI"},
    {"BvhJointMapUnknownJoint", "name: x\nsamples: 10\nhumans:\n  bvh_joint_map: {left_thigh: LThigh}\n",
     "humans.bvh_joint_map.left_thigh", 4, 19, "unknown synthfarm joint 'left_thigh'"},
    {"CharacterBodyWithoutCharacters", "name: x\nsamples: 10\nhumans:\n  body: character\n", "humans", 4, 3,
     "body 'character' needs humans.characters"},
    {"CharacterNotAGltfFile", "name: x\nsamples: 10\nhumans:\n  characters: [file:///c/alice.fbx]\n",
     "humans.characters[0]", 4, 16, "must name a .glb or .gltf file"},
    {"CharacterJointMapUnknownKeypoint",
     "name: x\nsamples: 10\nhumans:\n  character_joint_map: {left_thumb: Thumb}\n",
     "humans.character_joint_map.left_thumb", 4, 25, "unknown COCO keypoint 'left_thumb'"},
    {"UnknownBody", "name: x\nsamples: 10\nhumans:\n  body: robot\n", "humans.body", 4, 9,
     "unknown body 'robot'; expected one of: parametric, character"},
    {"ClipTooManyFrames", "name: x\nsamples: 10\nclip: {frames: 500}\n", "clip.frames", 3, 16,
     "must be an integer between 1 and 240, got 500"},
    {"ClipZeroFps", "name: x\nsamples: 10\nclip: {fps: 0}\n", "clip.fps", 3, 13,
     "must be an integer between 1 and 240, got 0"},
    {"UnknownMotion", "name: x\nsamples: 10\nhumans:\n  motion: dance\n", "humans.motion", 4, 11,
     "unknown motion 'dance'; expected one of: static, walk, run, idle, wave, sit"},
    {"UnknownKeepInFrame", "name: x\nsamples: 10\ncamera:\n  keep_in_frame: everyone\n",
     "camera.keep_in_frame", 4, 18, "unknown keep_in_frame mode 'everyone'"},
    {"SkinToneEleven", "name: x\nsamples: 10\nhumans:\n  skin_tone: 11\n", "humans.skin_tone", 4,
     14, "must be an integer between 1 and 10, got 11"},
    {"CountIsFloat", "name: x\nsamples: 10\nhumans:\n  count: 1.5\n", "humans.count", 4, 10,
     "must be an integer between 0 and 16, got 1.5"},
    {"CountIsString", "name: x\nsamples: 10\nhumans:\n  count: two\n", "humans.count", 4, 10,
     "or a distribution such as {uniform: [a, b]}, got \"two\""},
    {"IntensityIsNan", "name: x\nsamples: 10\nlighting:\n  sun_intensity: .nan\n",
     "lighting.sun_intensity", 4, 18, "got .nan"},
    {"ElevationIsInfinite", "name: x\nsamples: 10\nlighting:\n  sun_elevation_deg: .inf\n",
     "lighting.sun_elevation_deg", 4, 22, "got .inf"},
    {"NameBadCharacters", "name: People Indoor!\nsamples: 10\n", "name", 1, 7,
     "must be 1 to 64 characters of a-z, 0-9, '.', '_' or '-'"},
    {"NameStartsWithDash", "name: -x\nsamples: 10\n", "name", 1, 7, "starting with a letter"},
    {"NameTooLong",
     "name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\nsamples: 10\n",
     "name", 1, 7, "must be 1 to 64 characters"},
    {"NameIsBool", "name: true\nsamples: 10\n", "name", 1, 7, "got the boolean true"},
    {"MissingName", "samples: 10\nseed: 3\n", "name", 1, 1, "required field is missing"},
    {"MissingSamples", "name: x\nseed: 3\n", "samples", 1, 1, "required field is missing"},
    {"JsonBodyError", "{\"name\": \"x\",\n \"samples\": 10,\n \"render\": {\"spp\": 0}}\n",
     "render.spp", 3, 20, "got 0"},
};

void PrintTo(const BadSpec& bad, std::ostream* os) { *os << bad.name; }

class BadSpecTest : public testing::TestWithParam<BadSpec> {};

TEST_P(BadSpecTest, ReportsPathLineAndWhatIsWrong) {
  const BadSpec& bad = GetParam();
  auto result = parse_spec(bad.yaml, "bad.yaml");
  ASSERT_FALSE(result.has_value()) << "accepted:\n" << bad.yaml;
  const std::vector<SpecError>& errors = result.error();
  ASSERT_EQ(errors.size(), 1u) << describe(errors);
  const SpecError& e = errors[0];
  EXPECT_EQ(e.source, "bad.yaml");
  EXPECT_EQ(e.path, bad.path) << e.to_string();
  EXPECT_EQ(e.line, bad.line) << e.to_string();
  if (bad.column > 0) {
    EXPECT_EQ(e.column, bad.column) << e.to_string();
  }
  EXPECT_NE(e.message.find(bad.message), std::string::npos)
      << "message: " << e.message << "\nexpected to contain: " << bad.message;
}

INSTANTIATE_TEST_SUITE_P(Spec, BadSpecTest, testing::ValuesIn(kBadSpecs),
                         [](const testing::TestParamInfo<BadSpec>& info) {
                           return std::string(info.param.name);
                         });

TEST(SpecErrors, ManyErrorsAreAllReportedInDocumentOrder) {
  const char* yaml =
      "name: Bad Name\n"                        // 1
      "samples: 0\n"                            // 2
      "camera:\n"                               // 3
      "  resoluton: [640, 480]\n"               // 4
      "  fov_deg: {uniform: [70, 40]}\n"        // 5
      "output:\n"                               // 6
      "  layers: [rgb, mask, rgb]\n"            // 7
      "humans:\n"                               // 8
      "  skin_tone: 11\n"                       // 9
      "  count: 1.5\n"                          // 10
      "render: {spp: true, max_bounces: 65}\n"  // 11
      "colour: red\n";                          // 12
  auto result = parse_spec(yaml, "many.yaml");
  ASSERT_FALSE(result.has_value());
  const std::vector<SpecError>& errors = result.error();
  std::vector<std::pair<std::string, int>> got;
  for (const SpecError& e : errors) got.emplace_back(e.path, e.line);
  std::vector<std::pair<std::string, int>> want = {
      {"name", 1},
      {"samples", 2},
      {"camera.resoluton", 4},
      {"camera.fov_deg.uniform", 5},
      {"output.layers[1]", 7},
      {"output.layers[2]", 7},
      {"humans.skin_tone", 9},
      {"humans.count", 10},
      {"render.spp", 11},
      {"render.max_bounces", 11},
      {"colour", 12},
  };
  EXPECT_EQ(got, want) << describe(errors);
}

TEST(SpecErrors, MissingFieldsAreReportedAtTheStartOfTheirMapping) {
  auto result = parse_spec("seed: 1\nsamples: 0\n", "s");
  ASSERT_FALSE(result.has_value());
  ASSERT_EQ(result.error().size(), 2u) << describe(result.error());
  EXPECT_EQ(result.error()[0].path, "name");
  EXPECT_EQ(result.error()[0].line, 1);
  EXPECT_EQ(result.error()[1].path, "samples");
  EXPECT_EQ(result.error()[1].line, 2);
}

TEST(SpecErrors, HugeNumberOfErrorsIsCapped) {
  std::string yaml = "name: x\nsamples: 10\nscene:\n  props: {choice: [";
  for (int i = 0; i < 500; ++i) yaml += (i ? ", " : "") + std::string("-1");
  yaml += "]}\n";
  auto result = parse_spec(yaml);
  ASSERT_FALSE(result.has_value());
  EXPECT_LE(result.error().size(), 101u);
  EXPECT_NE(result.error().back().message.find("too many errors"), std::string::npos);
}

TEST(SpecErrors, UserTextInErrorsIsPrintableUtf8) {
  auto result = parse_spec("name: x\nsamples: 10\n\xfe\x01k\xc3\xa9: 1\n");
  ASSERT_FALSE(result.has_value());
  ASSERT_EQ(result.error().size(), 1u) << describe(result.error());
  EXPECT_EQ(result.error()[0].path, "\\xFE\\x01k\xc3\xa9");
}

TEST(SpecErrors, ToStringOmitsEmptyParts) {
  EXPECT_EQ((SpecError{"spec.yaml", "camera.resolution[0]", 12, 3, "must be between"}).to_string(),
            "spec.yaml:12:3: camera.resolution[0]: must be between");
  EXPECT_EQ((SpecError{"spec.yaml", "", 2, 5, "illegal map value"}).to_string(),
            "spec.yaml:2:5: illegal map value");
  EXPECT_EQ((SpecError{"request body", "samples", 0, 0, "is missing"}).to_string(),
            "request body: samples: is missing");
  EXPECT_EQ((SpecError{"", "samples", 4, 0, "bad"}).to_string(), "4: samples: bad");
  EXPECT_EQ((SpecError{"", "", 0, 0, "bad"}).to_string(), "bad");
}

TEST(SpecErrors, DefaultSourceIsSpec) {
  auto result = parse_spec("name: x\n");
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error()[0].to_string(), "spec:1:1: samples: required field is missing");
}

// ---------------------------------------------------------------------------------------
// Valid specs.

TEST(ParseSpec, MinimalSpecGetsEveryDefault) {
  JobSpec spec = parse_ok("name: people-v1\nsamples: 100\n");
  JobSpec want;
  want.name = "people-v1";
  want.samples = 100;
  EXPECT_EQ(spec, want);
  EXPECT_EQ(spec.shard_size, 50);
  EXPECT_EQ(spec.max_attempts, 3);
  EXPECT_EQ(spec.output.storage, "");
  EXPECT_EQ(spec.output.labels, (std::vector<std::string>{"sample_json", "coco"}));
  EXPECT_EQ(spec.camera.width, 640);
  EXPECT_EQ(spec.humans.motion.values, (std::vector<std::string>{"static", "walk", "idle", "wave"}));
}

constexpr const char* kFullSpec = R"(# A spec using every field.
name: people-indoor-v1
samples: 10000
shard_size: 50
seed: 1234
priority: 5
max_attempts: 4
on_dead_shards: partial
output:
  storage: s3://datasets/people-indoor-v1
  layers: [rgb, depth, normal, albedo, instance, semantic]
  labels: [sample_json]
  preview: false
camera:
  resolution: [1280, 720]
  fov_deg: {uniform: [40, 75]}
  height_m: {uniform: [1.2, 2.2]}
  distance_m: {normal: {mean: 4, std: 1, clip: [2, 8]}}
  keep_in_frame: none
render: {spp: 64, max_bounces: 4}
scene:
  kind: {choice: [room, outdoor, studio], weights: [0.6, 0.3, 0.1]}
  props: {uniform_int: [2, 12]}
lighting:
  sun_elevation_deg: {uniform: [5, 80]}
  sun_azimuth_deg: 120
  sun_intensity: {choice: [1, 3, 10]}
  sky_intensity: 0.5
  sky: gradient
  turbidity: {uniform: [2, 3]}
  area_lights: 2
  area_light_intensity: 5
  lamps: {uniform_int: [0, 3]}
  lamp_intensity: 40
  environment: {choice: [sky, s3://hdri/park.exr], weights: [1, 3]}
  environment_intensity: 2
  environment_rotation_deg: 90
humans:
  count: {uniform_int: [1, 4]}
  height_m: {normal: {mean: 1.70, std: 0.10, clip: [1.45, 2.05]}}
  bmi: {uniform: [18, 35]}
  skin_tone: {choice: [1, 5, 10], weights: [1, 2, 1]}
  motion: {choice: [static, walk, wave]}
  body: {choice: [parametric, character], weights: [3, 1]}
  characters: [file:///assets/alice.glb, s3://people/bob.gltf]
  character_joint_map: {preset: mixamo, nose: Nose_end}
clip: {frames: 8, fps: 24}
)";

TEST(ParseSpec, FullSpec) {
  JobSpec spec = parse_ok(kFullSpec);
  EXPECT_EQ(spec.name, "people-indoor-v1");
  EXPECT_EQ(spec.samples, 10000);
  EXPECT_EQ(spec.shard_size, 50);
  EXPECT_EQ(spec.seed, 1234u);
  EXPECT_EQ(spec.priority, 5);
  EXPECT_EQ(spec.max_attempts, 4);
  EXPECT_EQ(spec.on_dead_shards, "partial");
  EXPECT_EQ(spec.output.storage, "s3://datasets/people-indoor-v1");
  EXPECT_EQ(spec.output.layers,
            (std::vector<Layer>{Layer::kRgb, Layer::kDepth, Layer::kNormal, Layer::kAlbedo,
                                Layer::kInstance, Layer::kSemantic}));
  EXPECT_EQ(spec.output.labels, std::vector<std::string>{"sample_json"});
  EXPECT_FALSE(spec.output.preview_png);
  EXPECT_EQ(spec.camera.width, 1280);
  EXPECT_EQ(spec.camera.height, 720);
  EXPECT_EQ(spec.camera.fov_deg, Distribution::uniform(40, 75));
  EXPECT_EQ(spec.camera.height_m, Distribution::uniform(1.2, 2.2));
  EXPECT_EQ(spec.camera.distance_m, Distribution::normal(4, 1, 2, 8));
  EXPECT_EQ(spec.camera.keep_in_frame, "none");
  EXPECT_EQ(spec.render.spp, 64);
  EXPECT_EQ(spec.render.max_bounces, 4);
  EXPECT_EQ(spec.humans.body, (Choice{{"parametric", "character"}, {3, 1}}));
  EXPECT_EQ(spec.humans.characters,
            (std::vector<std::string>{"file:///assets/alice.glb", "s3://people/bob.gltf"}));
  EXPECT_EQ(spec.humans.character_preset, "mixamo");
  EXPECT_EQ(spec.humans.character_joint_map, (std::map<std::string, std::string>{{"nose", "Nose_end"}}));
  EXPECT_EQ(spec.clip.frames, 8);
  EXPECT_EQ(spec.clip.fps, 24);
  EXPECT_EQ(spec.scene.kind, (Choice{{"room", "outdoor", "studio"}, {0.6, 0.3, 0.1}}));
  EXPECT_EQ(spec.scene.props, Distribution::uniform_int(2, 12));
  EXPECT_EQ(spec.lighting.sun_elevation_deg, Distribution::uniform(5, 80));
  EXPECT_EQ(spec.lighting.sun_azimuth_deg, Distribution::constant(120));
  EXPECT_EQ(spec.lighting.sun_intensity.kind, Distribution::Kind::kChoice);
  EXPECT_EQ(spec.lighting.sun_intensity.values, (std::vector<double>{1, 3, 10}));
  EXPECT_TRUE(spec.lighting.sun_intensity.weights.empty());
  EXPECT_EQ(spec.lighting.sky_intensity, Distribution::constant(0.5));
  EXPECT_EQ(spec.lighting.sky, (Choice{{"gradient"}, {}}));
  EXPECT_EQ(spec.lighting.turbidity, Distribution::uniform(2, 3));
  EXPECT_EQ(spec.lighting.area_lights, Distribution::constant(2));
  EXPECT_EQ(spec.lighting.lamps, Distribution::uniform_int(0, 3));
  EXPECT_EQ(spec.lighting.lamp_intensity, Distribution::constant(40));
  EXPECT_EQ(spec.lighting.environment, (Choice{{"sky", "s3://hdri/park.exr"}, {1, 3}}));
  EXPECT_EQ(spec.lighting.environment_intensity, Distribution::constant(2));
  EXPECT_EQ(spec.lighting.environment_rotation_deg, Distribution::constant(90));
  EXPECT_EQ(spec.humans.count, Distribution::uniform_int(1, 4));
  EXPECT_EQ(spec.humans.height_m, Distribution::normal(1.70, 0.10, 1.45, 2.05));
  EXPECT_EQ(spec.humans.bmi, Distribution::uniform(18, 35));
  EXPECT_EQ(spec.humans.skin_tone.values, (std::vector<double>{1, 5, 10}));
  EXPECT_EQ(spec.humans.skin_tone.weights, (std::vector<double>{1, 2, 1}));
  EXPECT_EQ(spec.humans.motion, (Choice{{"static", "walk", "wave"}, {}}));
}

TEST(ParseSpec, JsonBodyIsAccepted) {
  JobSpec spec = parse_ok(R"({"name": "from-api", "samples": 20, "seed": 18446744073709551615,
    "camera": {"resolution": [320, 240], "fov_deg": {"uniform": [50, 60]}},
    "output": {"layers": ["rgb", "depth"], "preview": false},
    "humans": {"motion": "walk"}})");
  EXPECT_EQ(spec.name, "from-api");
  EXPECT_EQ(spec.samples, 20);
  EXPECT_EQ(spec.seed, 18446744073709551615ull);
  EXPECT_EQ(spec.camera.width, 320);
  EXPECT_EQ(spec.camera.fov_deg, Distribution::uniform(50, 60));
  EXPECT_EQ(spec.output.layers, (std::vector<Layer>{Layer::kRgb, Layer::kDepth}));
  EXPECT_FALSE(spec.output.preview_png);
  EXPECT_EQ(spec.humans.motion, (Choice{{"walk"}, {}}));
}

TEST(ParseSpec, WholeNumbersWrittenAsFloatsAreIntegers) {
  JobSpec spec = parse_ok("name: x\nsamples: 1e3\nshard_size: 25.0\nhumans: {count: 2.0}\n");
  EXPECT_EQ(spec.samples, 1000);
  EXPECT_EQ(spec.shard_size, 25);
  EXPECT_EQ(spec.humans.count, Distribution::constant(2));
}

TEST(ParseSpec, AcceptedSpellings) {
  JobSpec spec = parse_ok(
      "name: \"2024.run_1-a\"\nsamples: +7\nseed: 0\npriority: -1000\n"
      "output: {storage: 'file:///data/out', preview: True, labels: []}\n"
      "camera: {fov_deg: 90, height_m: {normal: {mean: 1.5, std: 0}}}\n"
      "scene: {kind: studio}\n");
  EXPECT_EQ(spec.name, "2024.run_1-a");
  EXPECT_EQ(spec.samples, 7);
  EXPECT_EQ(spec.priority, -1000);
  EXPECT_EQ(spec.output.storage, "file:///data/out");
  EXPECT_TRUE(spec.output.preview_png);
  EXPECT_TRUE(spec.output.labels.empty());
  EXPECT_EQ(spec.camera.fov_deg, Distribution::constant(90));
  EXPECT_EQ(spec.camera.height_m, Distribution::normal(1.5, 0, -1e300, 1e300));
  EXPECT_EQ(spec.scene.kind, (Choice{{"studio"}, {}}));
  EXPECT_EQ(parse_ok("name: x\nsamples: 1\noutput: {storage: }\n").output.storage, "");
}

TEST(ParseSpec, DesignExampleParses) {
  // The sketch in DESIGN.md, less its `iso` under noise (iso is the sensor's, not the
  // noise's: sensor.iso).
  auto result = parse_spec(R"(name: people-indoor-v1
samples: 10000
output:
  layers: [rgb, depth, part, uv, motion]
  labels: [coco, sample_json]
lighting:
  environment: {choice: [s3://assets/hdri/park.exr, sky]}
sensor:
  noise: {model: poisson_gaussian}
  iso: {uniform: [100, 3200]}
)");
  ASSERT_TRUE(result.has_value()) << result.error().front().to_string();
  EXPECT_TRUE(result->sensor.enabled);
  EXPECT_EQ(result->sensor.iso, Distribution::uniform(100, 3200));
}

TEST(SpecJson, RoundTripsASensorSection) {
  JobSpec spec = parse_ok(R"(name: x
samples: 3
sensor:
  exposure: manual
  iso: {choice: [100, 800, 3200]}
  shutter_s: {uniform: [0.001, 0.02]}
  cfa: {choice: [rggb, gbrg]}
  noise: {profile: {s_gain: 1.0e-6, s_offset: 2.0e-5, o_gain: 3.0e-12, o_offset: 1.0e-6}, row: 0.001, bit_depth: 10}
  demosaic: bilinear
  jpeg_quality: {uniform_int: [30, 95]}
  distortion: {model: {choice: [brown_conrady, fisheye]}, k1: {uniform: [-0.1, -0.05]}, k2: 0.01}
  motion_blur: true
  camera_speed_m_s: 1.5
  model: s3://models/camera.pt
  layers: [camera, raw]
)");
  EXPECT_TRUE(spec.sensor.noise.has_profile);
  EXPECT_EQ(spec.sensor.noise.o_gain, 3.0e-12);
  const std::string json = spec_to_json(spec);
  EXPECT_EQ(parse_ok(json), spec) << json;
  // A file profile and `enabled: false` round-trip too; the latter is the spec without it.
  JobSpec file_profile = parse_ok("name: x\nsamples: 3\nsensor: {noise: {profile: file:///cal/camera.yaml}}\n");
  EXPECT_EQ(parse_ok(spec_to_json(file_profile)), file_profile);
  JobSpec off = parse_ok("name: x\nsamples: 3\nsensor: {enabled: false, iso: 800}\n");
  EXPECT_EQ(off, parse_ok("name: x\nsamples: 3\n"));
  EXPECT_EQ(spec_to_json(off).find("sensor"), std::string::npos);
}

TEST(SpecJson, RoundTripsDefaults) {
  JobSpec spec = parse_ok("name: x\nsamples: 3\n");
  std::string json = spec_to_json(spec);
  EXPECT_EQ(parse_ok(json), spec) << json;
}

TEST(SpecJson, RoundTripsFullSpec) {
  JobSpec spec = parse_ok(kFullSpec);
  std::string json = spec_to_json(spec);
  EXPECT_EQ(parse_ok(json), spec) << json;
  // The canonical form is stable: serialising again gives the same text.
  EXPECT_EQ(spec_to_json(parse_ok(json)), json);
}

TEST(SpecJson, RoundTripsAwkwardNumbers) {
  JobSpec spec;
  spec.name = "n";
  spec.samples = 100000000;
  spec.seed = 0xffffffffffffffffull;
  spec.camera.height_m = Distribution::uniform(0.1, 0.30000000000000004);
  spec.camera.fov_deg = Distribution::constant(1.0 / 3.0 * 100);
  spec.humans.motion = Choice{{"walk"}, {2.5}};
  spec.humans.height_m = Distribution::normal(1.5, 0, -1e300, 1e300);
  spec.scene.props = Distribution{};
  spec.scene.props.kind = Distribution::Kind::kChoice;
  spec.scene.props.values = {0, 64};
  std::string json = spec_to_json(spec);
  EXPECT_EQ(parse_ok(json), spec) << json;
}

TEST(SpecJson, Utf8StorageRoundTrips) {
  JobSpec spec =
      parse_ok("name: x\nsamples: 3\noutput: {storage: \"file:///data/d\xc3\xa4ten\"}\n");
  EXPECT_EQ(spec.output.storage, "file:///data/d\xc3\xa4ten");
  EXPECT_EQ(parse_ok(spec_to_json(spec)), spec);
}

TEST(SpecJson, NeverThrowsOnInvalidUtf8BuiltInCode) {
  JobSpec spec = parse_ok("name: x\nsamples: 3\n");
  spec.output.storage = "s3://b/\xff";
  std::string json;
  EXPECT_NO_THROW(json = spec_to_json(spec));
  EXPECT_NE(json.find("\xef\xbf\xbd"), std::string::npos);  // U+FFFD
}

TEST(SpecJson, UsesTheYamlShapes) {
  JobSpec spec = parse_ok("name: x\nsamples: 3\n");
  std::string json = spec_to_json(spec);
  EXPECT_NE(json.find(R"("fov_deg":{"uniform":[45,70]})"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("props":{"uniform_int":[2,8]})"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("height_m":{"normal":{"mean":1.7,"std":0.1,"clip":[1.45,2.05]}})"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find(R"("sun_intensity":3)"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("motion":{"choice":["static","walk","idle","wave"],"weights":[0.4,0.3,0.15,0.15]})"),
            std::string::npos)
      << json;
  EXPECT_EQ(parse_ok("name: x\nsamples: 3\nhumans: {motion: sit}\n").humans.motion, (Choice{{"sit"}, {}}));
  EXPECT_NE(spec_to_json(parse_ok("name: x\nsamples: 3\nhumans: {motion: run}\n")).find(R"("motion":"run")"),
            std::string::npos);
  EXPECT_NE(json.find(R"("preview":true)"), std::string::npos) << json;
  EXPECT_EQ(json.rfind(R"({"name":"x","samples":3,"shard_size":50,"seed":0,)", 0), 0u) << json;
}

TEST(Layers, NamesRoundTrip) {
  for (Layer layer : {Layer::kRgb, Layer::kDepth, Layer::kNormal, Layer::kAlbedo, Layer::kInstance,
                      Layer::kSemantic, Layer::kPart, Layer::kUv, Layer::kMotion}) {
    EXPECT_EQ(layer_from_name(layer_name(layer)), layer);
  }
  EXPECT_EQ(layer_name(Layer::kRgb), "rgb");
  EXPECT_EQ(layer_from_name("flow"), std::nullopt);
  EXPECT_EQ(layer_from_name("RGB"), std::nullopt);
}

// ---------------------------------------------------------------------------------------
// Distributions.

TEST(Distribution, ConstantConsumesNoDraw) {
  Pcg32 a(7, 1), b(7, 1);
  EXPECT_EQ(Distribution::constant(2.5).sample(a), 2.5);
  EXPECT_EQ(a.next_u32(), b.next_u32());
}

TEST(Distribution, DrawCounts) {
  auto consumed = [](const Distribution& d) {
    Pcg32 rng(99, 3), reference(99, 3);
    d.sample(rng);
    uint32_t next = rng.next_u32();
    for (int n = 0; n < 16; ++n) {
      if (reference.next_u32() == next) return n;
    }
    return -1;
  };
  EXPECT_EQ(consumed(Distribution::uniform(0, 1)), 2);      // one next_double
  EXPECT_EQ(consumed(Distribution::uniform_int(1, 4)), 1);  // one next_below, no rejection here
  EXPECT_EQ(consumed(Distribution::normal(0, 1, -5, 5)), 4);
  EXPECT_EQ(consumed(Distribution::normal(0, 0, -5, 5)), 4);
  Distribution choice;
  choice.kind = Distribution::Kind::kChoice;
  choice.values = {3};
  EXPECT_EQ(consumed(choice), 2);
}

TEST(Distribution, SameStateSameValue) {
  std::vector<Distribution> all = {Distribution::uniform(1, 2), Distribution::uniform_int(-3, 9),
                                   Distribution::normal(1.7, 0.1, 1.45, 2.05),
                                   Distribution::constant(4)};
  for (const Distribution& d : all) {
    Pcg32 a(123, 4), b(123, 4);
    for (int i = 0; i < 100; ++i) EXPECT_EQ(d.sample(a), d.sample(b));
  }
}

TEST(Distribution, KnownValues) {
  // Pinned so that a change to sampling (which would change every dataset) is noticed.
  Pcg32 rng(42, 54);
  double u = Distribution::uniform(10, 20).sample(rng);
  Pcg32 check(42, 54);
  EXPECT_EQ(u, 10 + 10 * check.next_double());
  Pcg32 rng2(42, 54);
  Pcg32 check2(42, 54);
  EXPECT_EQ(Distribution::uniform_int(5, 9).sample(rng2), 5 + check2.next_below(5));
  Pcg32 rng3(42, 54), check3(42, 54);
  double u1 = check3.next_double(), u2 = check3.next_double();
  double z = std::sqrt(-2.0 * std::log(1.0 - u1)) * std::cos(6.283185307179586 * u2);
  EXPECT_EQ(Distribution::normal(0, 1, -1e300, 1e300).sample(rng3), z);
}

TEST(Distribution, StaysInsideItsSupport) {
  Distribution normal = Distribution::normal(1.70, 0.10, 1.45, 2.05);
  Distribution wide = Distribution::normal(0, 100, -1, 1);
  Distribution uni = Distribution::uniform(-2, 3);
  Distribution ints = Distribution::uniform_int(1, 10);
  Pcg32 rng(1, 2);
  std::map<double, int> int_counts;
  bool hit_lo = false, hit_hi = false;
  for (int i = 0; i < 20000; ++i) {
    double n = normal.sample(rng);
    EXPECT_GE(n, normal.min_value());
    EXPECT_LE(n, normal.max_value());
    double w = wide.sample(rng);
    hit_lo |= w == -1;
    hit_hi |= w == 1;
    double v = uni.sample(rng);
    EXPECT_GE(v, -2);
    EXPECT_LT(v, 3);
    double k = ints.sample(rng);
    EXPECT_EQ(k, std::floor(k));
    ++int_counts[k];
  }
  EXPECT_TRUE(hit_lo && hit_hi) << "clip clamps to the bounds";
  ASSERT_EQ(int_counts.size(), 10u);
  EXPECT_EQ(int_counts.begin()->first, 1);
  EXPECT_EQ(int_counts.rbegin()->first, 10);
}

TEST(Distribution, NormalHasTheAskedMoments) {
  Distribution d = Distribution::normal(5, 2, -1e300, 1e300);
  Pcg32 rng(2024, 0);
  double sum = 0, sum2 = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    double x = d.sample(rng);
    sum += x;
    sum2 += x * x;
  }
  double mean = sum / n, var = sum2 / n - mean * mean;
  EXPECT_NEAR(mean, 5, 0.02);
  EXPECT_NEAR(std::sqrt(var), 2, 0.02);
}

TEST(Distribution, MinMax) {
  EXPECT_EQ(Distribution::constant(3).min_value(), 3);
  EXPECT_EQ(Distribution::constant(3).max_value(), 3);
  EXPECT_EQ(Distribution::uniform(1, 2).min_value(), 1);
  EXPECT_EQ(Distribution::uniform(1, 2).max_value(), 2);
  EXPECT_EQ(Distribution::uniform_int(4, 8).max_value(), 8);
  EXPECT_EQ(Distribution::normal(1.7, 0.1, 1.45, 2.05).min_value(), 1.45);
  EXPECT_EQ(Distribution::normal(1.7, 0.1, 1.45, 2.05).max_value(), 2.05);
  EXPECT_EQ(Distribution::normal(1.7, 0, -1e300, 1e300).min_value(), 1.7);
  Distribution choice;
  choice.kind = Distribution::Kind::kChoice;
  choice.values = {4, -1, 9};
  choice.weights = {1, 1, 0};
  EXPECT_EQ(choice.min_value(), -1);
  EXPECT_EQ(choice.max_value(), 9);  // listed values count even with weight 0
}

TEST(Distribution, WeightedChoiceFrequencies) {
  Distribution d;
  d.kind = Distribution::Kind::kChoice;
  d.values = {10, 20, 30};
  d.weights = {1, 0, 3};
  Pcg32 rng(5, 5);
  std::map<double, int> counts;
  for (int i = 0; i < 40000; ++i) ++counts[d.sample(rng)];
  EXPECT_EQ(counts.count(20), 0u);
  EXPECT_NEAR(counts[10] / 40000.0, 0.25, 0.01);
  EXPECT_NEAR(counts[30] / 40000.0, 0.75, 0.01);
}

TEST(Choice, EqualWeightsAndDeterminism) {
  Choice c{{"room", "outdoor", "studio"}, {}};
  Pcg32 rng(8, 8);
  std::map<std::string, int> counts;
  for (int i = 0; i < 30000; ++i) ++counts[c.sample(rng)];
  for (const auto& [name, count] : counts) EXPECT_NEAR(count / 30000.0, 1.0 / 3, 0.015) << name;
  Pcg32 a(3, 3), b(3, 3);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(c.sample(a), c.sample(b));
  // The pick is the index floor(u * n) of one next_double u.
  Pcg32 r(11, 12), check(11, 12);
  EXPECT_EQ(c.sample(r), c.values[static_cast<size_t>(check.next_double() * 3)]);
}

TEST(Choice, WeightedFollowsTheWeights) {
  Choice c{{"a", "b"}, {0.9, 0.1}};
  Pcg32 rng(77, 0);
  int a = 0;
  for (int i = 0; i < 20000; ++i) a += c.sample(rng) == "a";
  EXPECT_NEAR(a / 20000.0, 0.9, 0.01);
}

}  // namespace
// Every field survives the canonical JSON, which is how Redis stores a job's spec and
// how every worker reads it back (the spec is stored once, in this form).
JobSpec every_field_spec() {
  JobSpec spec;
  spec.name = "people-indoor";
  spec.samples = 1234;
  spec.shard_size = 7;
  spec.seed = 0xfedcba9876543210ull;
  spec.priority = -3;
  spec.max_attempts = 5;
  spec.on_dead_shards = "partial";
  spec.humans.bvh = {"file:///assets/walk.bvh", "s3://mocap/run.bvh"};
  spec.humans.bvh_preset = "cmu";
  spec.humans.bvh_joint_map = {{"left_hip", "LThigh"}, {"head", "Head_1"}};
  spec.humans.body = Choice{{"parametric", "character"}, {2, 1}};
  spec.humans.characters = {"file:///assets/alice.glb"};
  spec.humans.character_preset = "none";
  spec.humans.character_joint_map = {{"nose", "Nose"}, {"left_eye", "LeftEye"}};
  spec.clip = {12, 25};
  spec.camera.f_number = Distribution::uniform(1.4, 8);
  spec.scene.patterns = Distribution::constant(0.3);
  spec.scene.metal = Distribution::uniform(0, 0.5);
  spec.lighting.sky = Choice{{"gradient", "preetham"}, {1, 2}};
  spec.lighting.turbidity = Distribution::constant(7);
  spec.lighting.area_lights = Distribution::uniform_int(1, 3);
  spec.lighting.lamp_intensity = Distribution::constant(50);
  spec.lighting.environment = Choice{{"sky", "file:///hdri/a.exr"}, {}};
  spec.lighting.environment_rotation_deg = Distribution::constant(45);
  spec.output.storage = "file:///data/out/people";
  spec.output.layers = {Layer::kRgb, Layer::kSemantic};
  spec.output.preview_png = false;
  spec.camera.width = 321;
  spec.camera.height = 123;
  spec.camera.fov_deg = Distribution::normal(60, 5, 40, 80);
  spec.camera.keep_in_frame = "none";
  spec.render.spp = 3;
  spec.render.max_bounces = 7;
  spec.scene.kind = {{"studio", "room"}, {2.0, 1.0}};
  Distribution props;
  props.kind = Distribution::Kind::kChoice;
  props.values = {1, 2, 5};
  props.weights = {0.5, 0.25, 0.25};
  spec.scene.props = props;
  spec.lighting.sky_intensity = Distribution::uniform(0.5, 2);
  spec.humans.count = Distribution::constant(2);
  spec.humans.motion = {{"walk", "wave"}, {}};
  return spec;
}

TEST(SpecJsonTest, RoundTripKeepsEveryField) {
  auto spec = every_field_spec();
  auto parsed = parse_spec(spec_to_json(spec), "redis");
  ASSERT_TRUE(parsed) << parsed.error().front().to_string();
  EXPECT_EQ(*parsed, spec);
}

TEST(SpecLocations, EveryInputAndTheOutputWithTheirFieldPaths) {
  auto spec = parse_spec(
      "name: x\nsamples: 10\noutput:\n  storage: file:///srv/out\nhumans:\n  motion: bvh\n"
      "  bvh: [file:///m/walk.bvh, s3://clips/run.bvh]\n  body: {choice: [parametric, character]}\n"
      "  characters: [file:///c/alice.glb]\nlighting:\n  environment: {choice: [sky, s3://hdri/park.exr]}\n");
  ASSERT_TRUE(spec) << spec.error().front().to_string();
  auto locations = spec_locations(*spec);
  std::vector<std::pair<std::string, std::string>> got;
  for (const auto& l : locations) got.emplace_back(l.path, l.uri);
  std::vector<std::pair<std::string, std::string>> want = {{"output.storage", "file:///srv/out"},
                                                           {"humans.bvh[0]", "file:///m/walk.bvh"},
                                                           {"humans.bvh[1]", "s3://clips/run.bvh"},
                                                           {"humans.characters[0]", "file:///c/alice.glb"},
                                                           {"lighting.environment", "s3://hdri/park.exr"}};
  EXPECT_EQ(got, want);
  EXPECT_TRUE(spec_locations(JobSpec{}).empty());
}

}  // namespace synthfarm::jobs
