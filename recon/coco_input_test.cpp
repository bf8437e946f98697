// The COCO person-keypoints reader (recon/coco_input.h): real COCO layout and synthfarm's
// extensions parse; every malformed element is refused with the file and the element's
// path; files group into image, instant and track units with the skipped people counted.
#include "recon/coco_input.h"

#include <gtest/gtest.h>

#include <string>

namespace synthfarm::recon {
namespace {

// 51 numbers: `labelled` keypoints at (10 k, 20 k) with v = 2, the rest 0, 0, 0.
std::string keypoints_json(int labelled) {
  std::string out = "[";
  for (int k = 0; k < 17; ++k) {
    if (k > 0) out += ",";
    out += k < labelled ? std::to_string(10 * k) + "," + std::to_string(20 * k) + ",2" : "0,0,0";
  }
  return out + "]";
}

std::string annotation(int id, int image_id, int labelled, const std::string& extra = "") {
  return "{\"id\":" + std::to_string(id) + ",\"image_id\":" + std::to_string(image_id) +
         ",\"category_id\":1,\"iscrowd\":0,\"bbox\":[1,2,3,4],\"area\":12,\"num_keypoints\":" +
         std::to_string(labelled) + ",\"segmentation\":[[1,2,3,4,5,6]],\"keypoints\":" +
         keypoints_json(labelled) + extra + "}";
}

const std::string kCategories =
    "\"categories\":[{\"id\":1,\"name\":\"person\",\"supercategory\":\"person\",\"keypoints\":"
    "[\"nose\",\"left_eye\",\"right_eye\",\"left_ear\",\"right_ear\",\"left_shoulder\",\"right_shoulder\","
    "\"left_elbow\",\"right_elbow\",\"left_wrist\",\"right_wrist\",\"left_hip\",\"right_hip\",\"left_knee\","
    "\"right_knee\",\"left_ankle\",\"right_ankle\"],\"skeleton\":[[16,14]]}]";

// A COCO file as val2017 has it: info, licenses, two images, three people (one with 3
// labelled keypoints), a crowd annotation with none.
std::string real_coco() {
  return "{\"info\":{\"year\":2017},\"licenses\":[{\"id\":1,\"name\":\"x\"}],"
         "\"images\":[{\"id\":397133,\"file_name\":\"000000397133.jpg\",\"width\":640,\"height\":427,"
         "\"license\":4,\"coco_url\":\"http://x\",\"date_captured\":\"2013\"},"
         "{\"id\":37777,\"file_name\":\"b.jpg\",\"width\":352,\"height\":230}],"
         "\"annotations\":[" +
         annotation(1, 397133, 17) + "," + annotation(2, 397133, 3) + "," + annotation(3, 37777, 9) + "," +
         annotation(4, 37777, 0, ",\"iscrowd\":1") + "]," + kCategories + "}";
}

std::string error_of(const std::string& text) {
  auto file = parse_coco_keypoints(text, "people.json");
  if (file) return "(parsed)";
  return file.error();
}

TEST(CocoInput, ARealCocoFileParsesAndGroupsIntoImages) {
  auto file = parse_coco_keypoints(real_coco(), "people.json");
  ASSERT_TRUE(file.has_value()) << file.error();
  ASSERT_EQ(file->images.size(), 2u);
  EXPECT_EQ(file->images[0].id, 397133u);
  EXPECT_EQ(file->images[0].K.width, 640);
  EXPECT_EQ(file->images[0].K.fx, 0);  // no K: the fitter guesses the camera
  EXPECT_FALSE(file->images[0].view.has_value());
  ASSERT_EQ(file->people.size(), 4u);
  EXPECT_EQ(file->people[0].keypoints.labelled(), 17);
  EXPECT_EQ(file->people[0].keypoints.xyv[3 * 5], 50);
  EXPECT_EQ(file->people[2].image, 1u);
  EXPECT_EQ(default_unit_kind(*file), CocoUnitKind::kImages);

  auto units = group_units(*file, CocoUnitKind::kImages);
  ASSERT_TRUE(units.has_value()) << units.error();
  ASSERT_EQ(units->images.size(), 2u);
  EXPECT_EQ(units->images[0].people, std::vector<size_t>({0}));
  EXPECT_EQ(units->images[1].people, std::vector<size_t>({2}));
  EXPECT_EQ(units->skipped, 2u);  // 3 labelled keypoints, and the crowd's 0
  auto inputs = image_unit_inputs(*file, units->images[0]);
  ASSERT_EQ(inputs.size(), 1u);
  EXPECT_EQ(inputs[0].K.height, 427);
  EXPECT_EQ(count_coco_units(real_coco(), "people.json").value(), 2u);
}

TEST(CocoInput, ExtensionsGiveCamerasAndOtherCategoriesAreIgnored) {
  const std::string text =
      "{\"images\":[{\"id\":1,\"width\":640,\"height\":480,\"K\":[[500,0,320],[0,510,240],[0,0,1]],"
      "\"world_to_camera\":[[1,0,0,0.5],[0,0,-1,1.5],[0,1,0,4],[0,0,0,1]],\"instant\":3,\"frame_index\":7}],"
      "\"annotations\":[" + annotation(1, 1, 8) + ",{\"id\":2,\"image_id\":1,\"category_id\":2}],"
      "\"categories\":[{\"id\":1,\"name\":\"person\"},{\"id\":2,\"name\":\"floor\"}]}";
  auto file = parse_coco_keypoints(text, "people.json");
  ASSERT_TRUE(file.has_value()) << file.error();
  const CocoImage& image = file->images[0];
  EXPECT_EQ(image.K.fx, 500);
  EXPECT_EQ(image.K.fy, 510);
  EXPECT_EQ(image.K.cx, 320);
  EXPECT_EQ(image.K.cy, 240);
  ASSERT_TRUE(image.view.has_value());
  EXPECT_EQ(image.view->rotation.m[1][2], -1);
  EXPECT_EQ(image.view->translation.y, 1.5);
  EXPECT_EQ(image.view->K.fx, 500);
  EXPECT_EQ(image.instant, "3");
  EXPECT_EQ(image.frame_index, 7u);
  EXPECT_EQ(file->people.size(), 1u);
  EXPECT_EQ(file->other_annotations, 1u);
}

TEST(CocoInput, PoseTrackKeypointNamesDropTheKeypointsCocoDoesNotHave) {
  std::string categories = kCategories;
  categories.replace(categories.find("\"left_eye\""), 10, "\"head_bottom\"");
  const std::string text = "{\"images\":[{\"id\":1,\"width\":64,\"height\":64}],\"annotations\":[" +
                           annotation(1, 1, 17) + "]," + categories + "}";
  auto file = parse_coco_keypoints(text, "posetrack.json");
  ASSERT_TRUE(file.has_value()) << file.error();
  EXPECT_EQ(file->dropped_keypoints, std::vector<int>({1}));
  EXPECT_EQ(file->people[0].keypoints.labelled(), 16);
  EXPECT_EQ(file->people[0].keypoints.xyv[3], 0);
}

TEST(CocoInput, MalformedFilesNameTheFileAndTheElement) {
  const std::string images = "\"images\":[{\"id\":1,\"width\":64,\"height\":64},{\"id\":2,\"width\":64,\"height\":64}]";
  auto with = [&](const std::string& annotations) { return "{" + images + ",\"annotations\":[" + annotations + "]}"; };
  std::string short_keypoints = annotation(4, 1, 17);
  short_keypoints.replace(short_keypoints.find("[0,0,2,"), 7, "[0,2,");
  EXPECT_EQ(error_of(with(annotation(1, 1, 6) + "," + annotation(2, 1, 6) + "," + annotation(3, 1, 6) + "," +
                          short_keypoints)),
            "people.json: annotations[3].keypoints: 50 numbers, expected 51");
  EXPECT_EQ(error_of(with(annotation(1, 12, 6))), "people.json: annotations[0].image_id: 12 is not an image of this file");
  EXPECT_EQ(error_of("{\"images\":[{\"id\":1,\"width\":64,\"height\":64},{\"id\":2,\"width\":64,\"height\":64},"
                     "{\"id\":3,\"width\":\"x\",\"height\":64}],\"annotations\":[]}"),
            "people.json: images[2].width: expected a positive integer (at most 16777216), got \"x\"");
  EXPECT_EQ(error_of("{\"images\":[{\"id\":1,\"width\":64,\"height\":64},{\"id\":1,\"width\":64,\"height\":64}],"
                     "\"annotations\":[]}"),
            "people.json: images[1].id: 1 is also the id of images[0]");
  EXPECT_EQ(error_of(with(annotation(5, 1, 6) + "," + annotation(5, 2, 6))),
            "people.json: annotations[1].id: 5 is also the id of annotations[0]");
  std::string overflow = annotation(1, 1, 6);
  overflow.replace(overflow.find("[0,0,2"), 2, "[1e999");
  EXPECT_EQ(error_of(with(overflow)),
            "people.json: annotations[0].keypoints[0]: 1e999 is not a finite number (it overflows a double)");
  std::string bad_v = annotation(1, 1, 6);
  bad_v.replace(bad_v.find("0,0,2"), 5, "0,0,3");
  EXPECT_EQ(error_of(with(bad_v)), "people.json: annotations[0].keypoints[2]: visibility of nose is 3, expected 0, 1 or 2");
  std::string string_x = annotation(1, 1, 6);
  string_x.replace(string_x.find("[0,0,2"), 6, "[\"a\",0,2");
  EXPECT_EQ(error_of(with(string_x)), "people.json: annotations[0].keypoints[0]: expected a finite number, got \"a\"");
  EXPECT_EQ(error_of("{" + images + ",\"annotations\":[]," + "\"categories\":[{\"id\":2,\"name\":\"dog\"}]}"),
            "people.json: categories: no person category (a person-keypoints file has {\"id\": 1, \"name\": "
            "\"person\", ...})");
  EXPECT_EQ(error_of("{\"annotations\":[]}"), "people.json: images: missing (a COCO file lists its images)");
  EXPECT_EQ(error_of("[1,2]"), "people.json: (top level): expected a JSON object, got an array of 2");
  EXPECT_EQ(error_of("{\"images\":[{\"id\":-1,\"width\":1,\"height\":1}],\"annotations\":[]}"),
            "people.json: images[0].id: expected a non-negative integer, got -1");
  EXPECT_EQ(error_of("{\"images\":[{\"id\":1,\"width\":1,\"height\":1,\"K\":[[1,0,0],[0,1,0]]}],\"annotations\":[]}"),
            "people.json: images[0].K: expected [[fx,0,cx],[0,fy,cy],[0,0,1]], got an array of 2");
  EXPECT_EQ(error_of("{\"images\":[{\"id\":1,\"width\":1,\"height\":1,\"K\":[[1,0,0],[0,1,0],[0,0,1]],"
                     "\"world_to_camera\":[[2,0,0,0],[0,1,0,0],[0,0,1,0],[0,0,0,1]]}],\"annotations\":[]}"),
            "people.json: images[0].world_to_camera: its upper-left 3x3 is not a rotation (orthonormal, determinant +1)");
  EXPECT_NE(error_of("{\"images\": [1,").find("people.json: not JSON: parse error at line 1, column 15"),
            std::string::npos)
      << error_of("{\"images\": [1,");
  EXPECT_EQ(error_of(with(annotation(1, 1, 6, ",\"track_id\":\"a\""))),
            "people.json: annotations[0].track_id: expected a non-negative integer, got \"a\"");
}

// Two instants of two calibrated views; instant "a" has tracked people, instant 2 one
// untracked person per view; an image without an instant is unused.
TEST(CocoInput, InstantsGroupViewsOfOnePerson) {
  const std::string cam = ",\"width\":64,\"height\":64,\"K\":[[50,0,32],[0,50,32],[0,0,1]],"
                          "\"world_to_camera\":[[1,0,0,0],[0,1,0,0],[0,0,1,3],[0,0,0,1]]";
  const std::string text =
      "{\"images\":[{\"id\":1,\"instant\":\"a\"" + cam + "},{\"id\":2,\"instant\":\"a\"" + cam +
      "},{\"id\":3,\"instant\":2" + cam + "},{\"id\":4,\"instant\":2" + cam + "},{\"id\":5" + cam +
      "}],\"annotations\":[" + annotation(1, 1, 10, ",\"track_id\":7") + "," + annotation(2, 1, 10, ",\"track_id\":3") +
      "," + annotation(3, 2, 10, ",\"track_id\":7") + "," + annotation(4, 2, 2, ",\"track_id\":9") + "," +
      annotation(5, 3, 12) + "," + annotation(6, 4, 4) + "," + annotation(7, 5, 12) + "]}";
  auto file = parse_coco_keypoints(text, "views.json");
  ASSERT_TRUE(file.has_value()) << file.error();
  EXPECT_EQ(default_unit_kind(*file), CocoUnitKind::kInstants);
  auto units = group_units(*file, CocoUnitKind::kInstants);
  ASSERT_TRUE(units.has_value()) << units.error();
  ASSERT_EQ(units->instants.size(), 3u);
  EXPECT_EQ(units->instants[0].instant, "a");
  EXPECT_EQ(units->instants[0].track_id, 3u);
  EXPECT_EQ(units->instants[0].people, std::vector<size_t>({1}));
  EXPECT_EQ(units->instants[1].track_id, 7u);
  EXPECT_EQ(units->instants[1].people, std::vector<size_t>({0, 2}));
  EXPECT_EQ(units->instants[2].instant, "2");
  EXPECT_FALSE(units->instants[2].track_id.has_value());
  EXPECT_EQ(units->instants[2].people, std::vector<size_t>({4, 5}));  // 4 labelled in one view: kept
  EXPECT_EQ(units->skipped, 1u);  // track 9: 2 labelled keypoints in its only view
  EXPECT_EQ(units->unused, 1u);   // image 5 has no instant
  auto inputs = instant_unit_inputs(*file, units->instants[1]);
  ASSERT_EQ(inputs.views.size(), 2u);
  EXPECT_EQ(inputs.views[1].translation.z, 3);
  EXPECT_EQ(inputs.keypoints[1].labelled(), 10);

  // Two untracked people in one view; a view without a camera.
  std::string crowded = text;
  crowded.replace(crowded.find(annotation(6, 4, 4)), annotation(6, 4, 4).size(), annotation(6, 3, 4));
  auto two = group_units(parse_coco_keypoints(crowded, "views.json").value(), CocoUnitKind::kInstants);
  ASSERT_FALSE(two.has_value());
  EXPECT_EQ(two.error(), "views.json: instant \"2\": images[2] shows 2 people without track_id (multi-view needs a "
                         "track_id to tell them apart, or one person per view)");
  const std::string uncalibrated = "{\"images\":[{\"id\":1,\"instant\":1,\"width\":9,\"height\":9}],\"annotations\":[" +
                                   annotation(1, 1, 10) + "]}";
  EXPECT_EQ(count_coco_units(uncalibrated, "views.json").error(),
            "views.json: instant \"1\": images[0] has no K and world_to_camera (every view of a multi-view instant "
            "needs both)");
}

TEST(CocoInput, TracksFollowFrameIndexWithGapsAsEmptyFrames) {
  auto image = [](int id, int frame) {
    return "{\"id\":" + std::to_string(id) + ",\"width\":64,\"height\":48,\"frame_index\":" + std::to_string(frame) + "}";
  };
  const std::string text = "{\"images\":[" + image(10, 2) + "," + image(11, 0) + "," + image(12, 3) + "," + image(13, 1) +
                           "],\"annotations\":[" + annotation(1, 10, 8, ",\"track_id\":5") + "," +
                           annotation(2, 11, 8, ",\"track_id\":5") + "," + annotation(3, 12, 8, ",\"track_id\":5") + "," +
                           annotation(4, 13, 3, ",\"track_id\":2") + "," + annotation(5, 13, 8) + "]}";
  auto file = parse_coco_keypoints(text, "video.json");
  ASSERT_TRUE(file.has_value()) << file.error();
  EXPECT_EQ(default_unit_kind(*file), CocoUnitKind::kTracks);
  auto units = group_units(*file, CocoUnitKind::kTracks);
  ASSERT_TRUE(units.has_value()) << units.error();
  ASSERT_EQ(units->tracks.size(), 1u);
  const TrackUnit& track = units->tracks[0];
  EXPECT_EQ(track.track_id, 5u);
  EXPECT_EQ(track.first_frame, 0u);
  ASSERT_EQ(track.frames.size(), 4u);  // frames 0 .. 3; the track is not in frame 1
  EXPECT_EQ(track.frames[0], 1u);
  EXPECT_FALSE(track.frames[1].has_value());
  EXPECT_EQ(track.frames[2], 0u);
  EXPECT_EQ(track.frames[3], 2u);
  EXPECT_EQ(track.K.width, 64);
  EXPECT_EQ(units->skipped, 1u);  // track 2: 3 labelled keypoints
  EXPECT_EQ(units->unused, 1u);   // the untracked annotation
  auto frames = track_unit_inputs(*file, track);
  ASSERT_EQ(frames.size(), 4u);
  EXPECT_EQ(frames[1].labelled(), 0);
  EXPECT_EQ(frames[3].labelled(), 8);

  // The same track twice at one frame; a huge frame span.
  std::string twice = text;
  twice.replace(twice.find(image(13, 1)), image(13, 1).size(), image(13, 2));
  twice.replace(twice.find("\"track_id\":2"), 12, "\"track_id\":5");
  EXPECT_EQ(count_coco_units(twice, "video.json").error(),
            "video.json: track 5: annotations[0] and annotations[3] are both at frame_index 2");
  std::string far = text;
  far.replace(far.find(image(12, 3)), image(12, 3).size(), image(12, 5000000));
  EXPECT_EQ(count_coco_units(far, "video.json").error(),
            "video.json: track 5: frame_index runs from 0 to 5000000, more than 100000 frames");
}

}  // namespace
}  // namespace synthfarm::recon
