#include "humans/appearance.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>

namespace synthfarm::humans {
namespace {

Appearance draw(uint64_t seed) {
  Pcg32 rng = Pcg32::for_purpose(seed, "appearance_test");
  return draw_appearance(rng, int(seed % 10) + 1);
}

// An appearance with the given garments (colours from seed 1).
Appearance with(LowerGarment lower, Sleeves sleeves, HairStyle hair) {
  Appearance a = draw(1);
  a.lower = lower;
  a.sleeves = sleeves;
  a.hair = hair;
  a.shirt.base = {0.8f, 0.1f, 0.1f};
  a.shirt.pattern = Pattern::kSolid;
  a.bottom.base = {0.1f, 0.1f, 0.8f};
  a.bottom.pattern = Pattern::kSolid;
  if (lower == LowerGarment::kDress) a.shirt = a.bottom;
  a.skin = {0.5f, 0.4f, 0.3f};
  a.shoes = {0.02f, 0.9f, 0.02f};
  return a;
}

TEST(AppearanceDraw, SameStreamSameResult) {
  for (uint64_t seed = 0; seed < 20; ++seed) {
    EXPECT_EQ(draw(seed), draw(seed));
    RestBody body = build_rest_body(Shape{});
    DressedBody a = dress(body, draw(seed)), b = dress(body, draw(seed));
    EXPECT_EQ(a.body_colors, b.body_colors);
    ASSERT_EQ(a.extras.size(), b.extras.size());
    for (size_t i = 0; i < a.extras.size(); ++i)
      EXPECT_EQ(a.extras[i].vertices, b.extras[i].vertices);
  }
}

TEST(AppearanceDraw, DifferentSeedsDifferAndEveryOptionOccurs) {
  Appearance a = draw(1), b = draw(2);
  EXPECT_FALSE(a.shirt.base == b.shirt.base);
  std::set<int> lowers, sleeves, hair, patterns;
  int differing = 0;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    Appearance x = draw(seed), y = draw(seed + 1000);
    lowers.insert(int(x.lower));
    sleeves.insert(int(x.sleeves));
    hair.insert(int(x.hair));
    patterns.insert(int(x.shirt.pattern));
    differing += !(x.shirt.base == y.shirt.base) && (x.lower != y.lower || x.sleeves != y.sleeves);
    for (const Rgb& c : {x.skin, x.shirt.base, x.bottom.base, x.shoes, x.hair_color}) {
      for (float v : {c.r, c.g, c.b}) {
        ASSERT_GE(v, 0.0f);
        ASSERT_LT(v, 1.0f);
      }
    }
  }
  EXPECT_EQ(lowers.size(), 4u);
  EXPECT_EQ(sleeves.size(), 3u);
  EXPECT_EQ(hair.size(), 3u);
  EXPECT_EQ(patterns.size(), 3u);
  EXPECT_GT(differing, 80);
}

TEST(AppearanceDraw, DescribeNamesTheGarments) {
  Appearance a = with(LowerGarment::kTrousers, Sleeves::kLong, HairStyle::kShort);
  a.shirt.pattern = Pattern::kStripes;
  EXPECT_EQ(describe(a), "long-sleeve shirt (stripes), trousers, shoes, short hair");
  a = with(LowerGarment::kDress, Sleeves::kNone, HairStyle::kLong);
  EXPECT_EQ(describe(a), "sleeveless dress, shoes, long hair");
}

TEST(AppearanceDraw, MonkSkinTonesAreTheDecodedSwatchesTimesPointEight) {
  const char* kSwatches[] = {"f6ede4", "f3e7db", "f7ead0", "eadaba", "d7bd96",
                             "a07e56", "825c43", "604134", "3a312a", "292420"};
  double last_luma = 1e9;
  for (int tone = 1; tone <= 10; ++tone) {
    unsigned rgb = std::stoul(kSwatches[tone - 1], nullptr, 16);
    auto decode = [](unsigned byte) {
      double c = byte / 255.0;
      return c <= 0.04045 ? c / 12.92 : std::pow((c + 0.055) / 1.055, 2.4);
    };
    Rgb m = monk_skin_tone(tone);
    EXPECT_NEAR(m.r, 0.8 * decode((rgb >> 16) & 255), 1e-3) << tone;
    EXPECT_NEAR(m.g, 0.8 * decode((rgb >> 8) & 255), 1e-3) << tone;
    EXPECT_NEAR(m.b, 0.8 * decode(rgb & 255), 1e-3) << tone;
    // Darker from tone 3 on (tones 1..3 are equally light, differing in hue).
    double luma = 0.2126 * m.r + 0.7152 * m.g + 0.0722 * m.b;
    if (tone > 3) {
      EXPECT_LT(luma, last_luma);
    }
    last_luma = luma;
  }
  EXPECT_EQ(monk_skin_tone(0), monk_skin_tone(1));
  EXPECT_EQ(monk_skin_tone(11), monk_skin_tone(10));
}

TEST(AppearanceDress, SkirtMeshOnlyForSkirtsAndDresses) {
  RestBody body = build_rest_body(Shape{});
  for (LowerGarment lower : {LowerGarment::kTrousers, LowerGarment::kShorts, LowerGarment::kSkirt,
                             LowerGarment::kDress}) {
    DressedBody d = dress(body, with(lower, Sleeves::kShort, HairStyle::kNone));
    bool has_skirt = false;
    for (const ExtraMesh& e : d.extras) has_skirt |= e.name == "skirt";
    EXPECT_EQ(has_skirt, lower == LowerGarment::kSkirt || lower == LowerGarment::kDress);
    EXPECT_EQ(d.body_colors.size(), topology().vertex_count);
  }
  for (HairStyle hair : {HairStyle::kNone, HairStyle::kShort, HairStyle::kLong}) {
    DressedBody d = dress(body, with(LowerGarment::kTrousers, Sleeves::kShort, hair));
    bool has_hair = false;
    for (const ExtraMesh& e : d.extras) has_hair |= e.name == "hair";
    EXPECT_EQ(has_hair, hair != HairStyle::kNone);
  }
}

TEST(AppearanceDress, GarmentsColourTheRightRegions) {
  RestBody body = build_rest_body(Shape{});
  const Topology& t = topology();
  auto count = [&](const DressedBody& d, Region region, float lo, float hi, Rgb colour) {
    int n = 0, total = 0;
    for (uint32_t v = 0; v < t.vertex_count; ++v) {
      if (t.regions[v].region != region || t.regions[v].chain < lo || t.regions[v].chain > hi)
        continue;
      ++total;
      n += d.body_colors[v] == colour;
    }
    return double(n) / std::max(total, 1);
  };
  Appearance trousers = with(LowerGarment::kTrousers, Sleeves::kLong, HairStyle::kShort);
  DressedBody d = dress(body, trousers);
  EXPECT_GT(count(d, Region::kShin, 1.2f, 1.7f, trousers.bottom.base), 0.99);
  EXPECT_GT(count(d, Region::kForearm, 1.2f, 1.7f, trousers.shirt.base), 0.99);
  EXPECT_GT(count(d, Region::kTorso, 0.5f, 0.8f, trousers.shirt.base), 0.99);
  EXPECT_GT(count(d, Region::kFoot, 2.2f, 3.0f, trousers.shoes), 0.99);
  EXPECT_GT(count(d, Region::kHand, 2.2f, 3.0f, trousers.skin), 0.99);
  Appearance shorts = with(LowerGarment::kShorts, Sleeves::kNone, HairStyle::kNone);
  d = dress(body, shorts);
  EXPECT_GT(count(d, Region::kShin, 1.2f, 1.7f, shorts.skin), 0.99);
  EXPECT_GT(count(d, Region::kForearm, 1.2f, 1.7f, shorts.skin), 0.99);
  EXPECT_GT(count(d, Region::kThigh, 0.0f, 0.3f, shorts.bottom.base), 0.99);
  EXPECT_GT(count(d, Region::kHead, 0.0f, 1.0f, shorts.skin), 0.99);  // bald
  // Patterns come from the part coordinates: a striped shirt has both colours.
  Appearance striped = trousers;
  striped.shirt.pattern = Pattern::kStripes;
  striped.shirt.accent = {0.9f, 0.9f, 0.9f};
  striped.shirt.period_m = 0.06;
  d = dress(body, striped);
  const double base = count(d, Region::kTorso, 0.4f, 0.9f, striped.shirt.base);
  EXPECT_GT(base, 0.25);
  EXPECT_LT(base, 0.75);
}

// Every extra mesh is closed, oriented outwards and poses with the skeleton.
TEST(AppearanceDress, ExtraMeshesAreClosedAndFollowTheSkeleton) {
  Shape shape;
  shape.bmi = 30;
  RestBody body = build_rest_body(shape);
  for (LowerGarment lower : {LowerGarment::kSkirt, LowerGarment::kDress}) {
    for (HairStyle hair : {HairStyle::kShort, HairStyle::kLong}) {
      DressedBody d = dress(body, with(lower, Sleeves::kShort, hair));
      ASSERT_EQ(d.extras.size(), 2u);
      for (const ExtraMesh& e : d.extras) {
        SCOPED_TRACE(e.name);
        ASSERT_EQ(e.weights.size(), e.vertices.size());
        ASSERT_EQ(e.colors.size(), e.vertices.size());
        std::map<std::pair<uint32_t, uint32_t>, int> directed;
        double volume = 0, min_area = 1e300;
        for (const auto& tri : e.triangles) {
          for (int c = 0; c < 3; ++c) ++directed[{tri[c], tri[(c + 1) % 3]}];
          const Vec3 a = e.vertices[tri[0]], b = e.vertices[tri[1]], c = e.vertices[tri[2]];
          volume += dot(a, cross(b, c)) / 6.0;
          min_area = std::min(min_area, 0.5 * length(cross(b - a, c - a)));
        }
        for (const auto& [edge, n] : directed) {
          ASSERT_EQ(n, 1);
          ASSERT_TRUE(directed.count({edge.second, edge.first}));
        }
        EXPECT_GT(volume, 0);
        EXPECT_GT(min_area, 1e-10);
        for (const SkinWeights& w : e.weights)
          EXPECT_NEAR(w.weight[0] + w.weight[1] + w.weight[2] + w.weight[3], 1.0, 1e-12);
        std::vector<Vec3> posed;
        pose_extra(e, body, forward_kinematics(body.joints, Pose::rest()), posed);
        for (size_t v = 0; v < posed.size(); ++v) ASSERT_LT(length(posed[v] - e.vertices[v]), 1e-9);
      }
      // The hair turns with the head.
      std::array<Vec3, kJointCount> euler{};
      euler[index(Joint::kHead)] = {0, 0, 30};
      const ExtraMesh& hair_mesh = d.extras[0].name == "hair" ? d.extras[0] : d.extras[1];
      std::vector<Vec3> posed;
      pose_extra(hair_mesh, body, forward_kinematics(body.joints, Pose::from_euler(euler, {})),
                 posed);
      double moved = 0;
      for (size_t v = 0; v < posed.size(); ++v)
        moved = std::max(moved, length(posed[v] - hair_mesh.vertices[v]));
      EXPECT_GT(moved, 0.03);
    }
  }
}

TEST(AppearanceDress, SkirtHangsFromTheHipsAndClearsTheLegs) {
  RestBody body = build_rest_body(Shape{});
  Appearance a = with(LowerGarment::kSkirt, Sleeves::kShort, HairStyle::kNone);
  a.skirt_length = 0.5;
  DressedBody d = dress(body, a);
  const ExtraMesh& s = d.extras.at(0);
  double zmin = 1e9, zmax = -1e9;
  for (const Vec3& v : s.vertices) zmin = std::min(zmin, v.z), zmax = std::max(zmax, v.z);
  EXPECT_GT(zmax, body.joints[index(Joint::kPelvis)].z);
  EXPECT_LT(zmin, body.joints[index(Joint::kLeftHip)].z - 0.2);
  EXPECT_GT(zmin, body.joints[index(Joint::kLeftAnkle)].z);
}

}  // namespace
}  // namespace synthfarm::humans
