// The dataset card on hand-written sample JSONs: every count and every bin worked out by
// hand, malformed samples skipped and counted, categories bounded, and the HTML page
// escaping what the spec and the samples say.
#include "jobs/dataset_card.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace synthfarm::jobs {
namespace {

using nlohmann::json;

// COCO-17 keypoints with the visibility of each joint given; x, y are arbitrary.
json keypoints(const std::vector<int>& visibility) {
  json out = json::array();
  for (size_t k = 0; k < visibility.size(); ++k) {
    out.push_back(10.5 + static_cast<double>(k));
    out.push_back(20.25);
    out.push_back(visibility[k]);
  }
  return out;
}

std::vector<int> repeat(int v, int n) { return std::vector<int>(static_cast<size_t>(n), v); }

std::vector<int> concat(std::vector<int> a, const std::vector<int>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

json parametric(json shape, int skin_tone, const std::string& motion, json bbox, json kps) {
  return {{"id", 1},         {"class", "person"},      {"semantic_id", 1}, {"body", "parametric"},
          {"shape", shape},  {"skin_tone", skin_tone}, {"motion", motion}, {"bbox", bbox},
          {"keypoints", kps}};
}

json thing(const std::string& cls) { return {{"id", 9}, {"class", cls}, {"bbox", {0, 0, 4, 4}}}; }

// A still with two people (one parametric, one character that is not in view) and three
// scene instances.
json sample_a() {
  json p1 = parametric({{"height_m", 1.72}, {"bmi", 22.5}, {"age", 34}, {"sex", 0.25}}, 3, "walk",
                       {10, 20, 30, 120},
                       keypoints(concat(concat(repeat(2, 10), repeat(1, 4)), repeat(0, 3))));
  json p2 = {{"id", 2},
             {"class", "person"},
             {"body", "character"},
             {"motion", "animation"},
             {"bbox", {0, 0, 0, 0}},
             {"keypoints", keypoints(repeat(0, 17))}};
  return {{"index", 0},
          {"camera", {{"distance_m", 4.2}, {"fov_deg", 60}}},
          {"scene", {{"kind", "room"}, {"sun", {{"elevation_deg", 30}}}}},
          {"instances", {p1, p2, thing("prop"), thing("floor"), thing("wall")}}};
}

// Frame 0 of a clip: one person at the ends of the ranges, the camera beyond 20 m.
json sample_b() {
  json p = parametric({{"height_m", 2.6}, {"bmi", 40}, {"age", 5}, {"sex", 1.0}}, 10, "walk",
                      {1, 1, 5, 40}, keypoints(repeat(2, 17)));
  return {{"index", 1},
          {"clip", {{"frame", 0}, {"frames", 2}}},
          {"camera", {{"distance_m", 25}, {"fov_deg", 45}}},
          {"scene", {{"kind", "outdoor"}, {"sun", {{"elevation_deg", 90}}}}},
          {"instances", {p}}};
}

// Frame 1 of the same clip: another image, not another sample; nobody in it and no camera.
json sample_c() {
  return {{"index", 1},
          {"clip", {{"frame", 1}, {"frames", 2}}},
          {"scene", {{"kind", "outdoor"}}},
          {"instances", json::array()}};
}

DatasetCard hand_card() {
  DatasetCard card({"j-1", "people", "synthfarm test", 3});
  EXPECT_TRUE(card.add(sample_a().dump(), "samples/00000000.json"));
  EXPECT_TRUE(card.add_parsed(sample_b(), "samples/00000001.f000.json"));
  EXPECT_TRUE(card.add(sample_c().dump(), "samples/00000001.f001.json"));
  return card;
}

std::vector<uint64_t> bins(const json& h) { return h["counts"].get<std::vector<uint64_t>>(); }

// Bins that hold something, as {index: count}.
std::map<size_t, uint64_t> filled(const json& h) {
  std::map<size_t, uint64_t> out;
  auto counts = bins(h);
  for (size_t i = 0; i < counts.size(); ++i) {
    if (counts[i] > 0) out[i] = counts[i];
  }
  return out;
}

TEST(DatasetCard, CountsMatchTheHandWrittenSamples) {
  DatasetCard card = hand_card();
  EXPECT_EQ(card.images(), 3u);
  EXPECT_EQ(card.people(), 3u);
  const json c = json::parse(card.json());
  EXPECT_EQ(c["format"], "synthfarm.dataset_card/1");
  EXPECT_EQ(c["job"], "j-1");
  EXPECT_EQ(c["samples_requested"], 3);
  const json& n = c["counts"];
  EXPECT_EQ(n["images"], 3);
  EXPECT_EQ(n["samples"], 2) << "frame 1 of a clip is an image, not a sample";
  EXPECT_EQ(n["people"], 3);
  EXPECT_EQ(n["people_parametric"], 2);
  EXPECT_EQ(n["people_character"], 1);
  EXPECT_EQ(n["people_visible"], 2);
  EXPECT_EQ(n["instances"], 6);
  // 10 + 17 visible, 4 occluded, 3 + 17 unlabelled: 3 people x 17.
  EXPECT_EQ(n["keypoints"], (json{{"visible", 27}, {"occluded", 4}, {"unlabelled", 20}}));
  EXPECT_EQ(n["skipped_samples"], 0);

  const json& joints = c["keypoints_per_joint"];
  ASSERT_EQ(joints.size(), 17u);
  EXPECT_EQ(joints[0],
            (json{{"joint", "nose"}, {"visible", 2}, {"occluded", 0}, {"unlabelled", 1}}));
  EXPECT_EQ(joints[10],
            (json{{"joint", "right_wrist"}, {"visible", 1}, {"occluded", 1}, {"unlabelled", 1}}));
  EXPECT_EQ(joints[16],
            (json{{"joint", "right_ankle"}, {"visible", 1}, {"occluded", 0}, {"unlabelled", 2}}));
}

TEST(DatasetCard, HistogramBinsMatchHandComputedValues) {
  const json h = json::parse(hand_card().json())["histograms"];
  using Bins = std::map<size_t, uint64_t>;
  // People per image: 2, 1 and 0.
  EXPECT_EQ(filled(h["people_per_image"]), (Bins{{0, 1}, {1, 1}, {2, 1}}));
  // Height, 0.05 m bins from 0.5 m: 1.72 in [1.70, 1.75), bin 24; 2.6 m is overflow; the
  // character has no shape and counts nowhere.
  EXPECT_EQ(filled(h["height_m"]), (Bins{{24, 1}}));
  EXPECT_EQ(h["height_m"]["overflow"], 1);
  EXPECT_EQ(h["height_m"]["missing"], 0);
  EXPECT_EQ(h["height_m"]["edges"][24], 1.7);
  // BMI, bins of 2 from 12: 22.5 in [22, 24); 40 on an edge goes to the bin above it.
  EXPECT_EQ(filled(h["bmi"]), (Bins{{5, 1}, {14, 1}}));
  // Age, bins of 5 years: 34 in [30, 35), 5 in [5, 10).
  EXPECT_EQ(filled(h["age"]), (Bins{{1, 1}, {6, 1}}));
  // Sex blend, bins of 0.1: 0.25 in [0.2, 0.3); 1 in the last bin, closed at the top.
  EXPECT_EQ(filled(h["sex"]), (Bins{{2, 1}, {9, 1}}));
  EXPECT_EQ(h["sex"]["edges"][3], 0.3) << "edges print as written";
  // Skin tone 3 and 10: bins 2 and 9 of the 10 tones.
  EXPECT_EQ(filled(h["skin_tone"]), (Bins{{2, 1}, {9, 1}}));
  EXPECT_EQ(bins(h["skin_tone"]).size(), 10u);
  // Camera distance, 0.5 m bins to 20 m: 4.2 in [4, 4.5); 25 m overflow; frame 1 has none.
  EXPECT_EQ(filled(h["camera_distance_m"]), (Bins{{8, 1}}));
  EXPECT_EQ(h["camera_distance_m"]["overflow"], 1);
  EXPECT_EQ(h["camera_distance_m"]["missing"], 1);
  // Field of view, 5 degree bins from 10: 60 in [60, 65), 45 in [45, 50).
  EXPECT_EQ(filled(h["camera_fov_deg"]), (Bins{{7, 1}, {10, 1}}));
  // Sun elevation, 5 degree bins: 30 in [30, 35); 90 in the last bin [85, 90].
  EXPECT_EQ(filled(h["sun_elevation_deg"]), (Bins{{6, 1}, {17, 1}}));
  EXPECT_EQ(h["sun_elevation_deg"]["missing"], 1);
  // Box height of visible people: 120 px in [96, 128), 40 px in [32, 48).
  EXPECT_EQ(filled(h["person_box_height_px"]), (Bins{{4, 1}, {7, 1}}));
  EXPECT_EQ(h["person_box_height_px"]["edges"][7], 96);
  // Occlusion: 4 occluded of 14 in the image (0.286) in [0.2, 0.3); all visible is 0; the
  // character with no keypoint in the image has none.
  EXPECT_EQ(filled(h["occlusion_fraction"]), (Bins{{0, 1}, {2, 1}}));
  EXPECT_EQ(h["occlusion_fraction"]["missing"], 1);
  EXPECT_EQ(h["motion"]["counts"], (json{{"animation", 1}, {"walk", 2}}));
  EXPECT_EQ(h["scene_kind"]["counts"], (json{{"outdoor", 2}, {"room", 1}}));
  EXPECT_EQ(h["instance_class"]["counts"],
            (json{{"floor", 1}, {"person", 3}, {"prop", 1}, {"wall", 1}}));
  // Every numeric histogram accounts for every value it was given.
  for (const char* name : {"height_m", "bmi", "age", "sex", "skin_tone"}) {
    const json& x = h[name];
    uint64_t total = x["underflow"].get<uint64_t>() + x["overflow"].get<uint64_t>() +
                     x["missing"].get<uint64_t>();
    for (uint64_t b : bins(x)) total += b;
    EXPECT_EQ(total, 2u) << name << ": the two parametric people";
  }
}

TEST(DatasetCard, MalformedSamplesAreSkippedCountedAndNamed) {
  DatasetCard card = hand_card();
  EXPECT_FALSE(card.add("{\"instances\": [", "samples/00000007.json"));
  json bad = sample_a();
  bad["instances"][0]["shape"]["height_m"] = "tall";
  EXPECT_FALSE(card.add_parsed(bad, "samples/00000008.json"));
  bad = sample_a();
  bad["instances"][1]["keypoints"][5] = 3;
  EXPECT_FALSE(card.add(bad.dump(), "samples/00000009.json"));
  EXPECT_FALSE(card.add("[1, 2]", "samples/00000010.json"));
  bad = sample_a();
  bad["camera"]["distance_m"] = "far";
  EXPECT_FALSE(card.add_parsed(bad, "samples/00000011.json"));
  bad = sample_a();
  bad["scene"] = 3;
  EXPECT_FALSE(card.add_parsed(bad, "samples/00000012.json"));
  EXPECT_EQ(card.skipped(), 6u);

  const json c = json::parse(card.json());
  EXPECT_EQ(c["counts"]["skipped_samples"], 6);
  EXPECT_EQ(c["counts"]["images"], 3) << "nothing of a skipped sample is counted";
  EXPECT_EQ(c["counts"]["people"], 3);
  EXPECT_EQ(c["histograms"]["height_m"]["overflow"], 1);
  const json& listed = c["skipped"]["listed"];
  ASSERT_EQ(listed.size(), 6u);
  EXPECT_EQ(listed[0], (json{{"key", "samples/00000007.json"}, {"error", "not valid JSON"}}));
  EXPECT_EQ(listed[1]["error"], "instances[0].shape.height_m: expected a number");
  EXPECT_EQ(listed[2]["error"], "instances[1].keypoints[5]: visibility must be 0, 1 or 2");
  EXPECT_EQ(listed[3]["error"], "not a JSON object");
  EXPECT_EQ(listed[4]["error"], "camera.distance_m: expected a number");
  EXPECT_EQ(listed[5]["error"], "scene: expected an object");
  EXPECT_NE(card.html().find("Skipped samples"), std::string::npos);

  // Only the first few are named, however many there are.
  for (int i = 0; i < 40; ++i) card.add("nope", "samples/x.json");
  const json more = json::parse(card.json());
  EXPECT_EQ(more["skipped"]["count"], 46);
  EXPECT_EQ(more["skipped"]["listed"].size(), more["skipped"]["listed_at_most"].get<size_t>());
}

TEST(DatasetCard, CategoriesAreBoundedWithAnOtherBucket) {
  DatasetCard card({"j", "n", "s", 100});
  for (int i = 0; i < 70; ++i) {
    json s = sample_c();
    s["scene"]["kind"] = "kind-" + std::to_string(100 + i);
    card.add_parsed(s, "k");
  }
  json s = sample_c();
  s["scene"]["kind"] = std::string(200, 'x');
  card.add_parsed(s, "k");
  s["scene"]["kind"] = "kind-100";
  card.add_parsed(s, "k");  // kept among the first 64: counted again
  const json h = json::parse(card.json())["histograms"]["scene_kind"];
  EXPECT_EQ(h["counts"].size(), 64u);
  EXPECT_EQ(h["max_values"], 64);
  EXPECT_EQ(h["other"], 7) << "6 kinds past the 64th and the long one";
  EXPECT_EQ(h["counts"]["kind-100"], 2);
  EXPECT_EQ(h["counts"]["kind-163"], 1);

  // A long value is cut to 64 bytes, never inside a UTF-8 sequence.
  DatasetCard cut({"j", "n", "s", 1});
  s["scene"]["kind"] = std::string(63, 'a') + "é" + "tail";
  cut.add_parsed(s, "k");
  const json kinds = json::parse(cut.json())["histograms"]["scene_kind"]["counts"];
  ASSERT_EQ(kinds.size(), 1u);
  EXPECT_EQ(kinds.begin().key(), std::string(63, 'a'));
}

TEST(DatasetCard, TheSameSamplesGiveTheSameBytes) {
  EXPECT_EQ(hand_card().json(), hand_card().json());
  EXPECT_EQ(hand_card().html(), hand_card().html());
  const json c = json::parse(hand_card().json());
  EXPECT_NE(
      c["definitions"]["occlusion_fraction"].get<std::string>().find("v = 1 over v in {1, 2}"),
      std::string::npos);
}

TEST(DatasetCard, HtmlEscapesTheSpecsAndTheSamplesStringsAndFetchesNothing) {
  DatasetCard card({"evil-1", "<script>alert(\"name\")</script> & 'co'", "synthfarm test", 2});
  json s = sample_a();
  s["instances"][0]["motion"] = "<img src=x onerror=alert(1)>";
  s["scene"]["kind"] = "</svg><script>alert(2)</script>";
  card.add_parsed(s, "samples/00000000.json");
  card.add("{", "samples/<b>bold</b>.json");
  const std::string html = card.html();
  EXPECT_EQ(html.find("<script"), std::string::npos) << "no script, the job name's included";
  EXPECT_EQ(html.find("<img"), std::string::npos);
  EXPECT_EQ(html.find("<b>"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(&quot;name&quot;)&lt;/script&gt; &amp; &#39;co&#39;"),
            std::string::npos);
  EXPECT_NE(html.find("&lt;img src=x onerror=alert(1)&gt;"), std::string::npos);
  EXPECT_NE(html.find("samples/&lt;b&gt;bold&lt;/b&gt;.json"), std::string::npos);
  // Self-contained: no attribute or style that would load anything.
  for (const char* fetch : {"src=\"", "href=", "url(", "@import", "<link", "<iframe"}) {
    EXPECT_EQ(html.find(fetch), std::string::npos) << fetch;
  }
  EXPECT_NE(html.find("default-src 'none'"), std::string::npos);
  // One chart per histogram and the per-joint chart; every svg closed.
  size_t open = 0, closed = 0;
  for (size_t at = 0; (at = html.find("<svg", at)) != std::string::npos; ++at) ++open;
  for (size_t at = 0; (at = html.find("</svg>", at)) != std::string::npos; ++at) ++closed;
  EXPECT_EQ(open, 15u);
  EXPECT_EQ(closed, 15u) << "the scene kind's </svg> is escaped";
}

}  // namespace
}  // namespace synthfarm::jobs
