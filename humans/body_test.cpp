#include "humans/body.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "base/rng.h"

namespace synthfarm::humans {
namespace {

// Shapes over the full valid ranges (including odd combinations such as a tall child).
std::vector<Shape> random_shapes(int n) {
  Pcg32 rng = Pcg32::for_purpose(1234, "body_test");
  std::vector<Shape> shapes;
  for (int i = 0; i < n; ++i) {
    Shape s;
    s.height_m = uniform(rng, 0.9, 2.1);
    s.bmi = uniform(rng, 12, 60);
    s.sex = rng.next_double();
    s.age = uniform(rng, 2, 90);
    s.shoulder_width = uniform(rng, 0.85, 1.15);
    s.hip_width = uniform(rng, 0.85, 1.15);
    s.leg_length = uniform(rng, 0.85, 1.15);
    s.arm_length = uniform(rng, 0.85, 1.15);
    s.head_size = uniform(rng, 0.85, 1.15);
    shapes.push_back(s);
  }
  return shapes;
}

double signed_volume(const std::vector<Vec3>& v, const std::vector<std::array<uint32_t, 3>>& tris) {
  double vol = 0;
  for (const auto& t : tris) vol += dot(v[t[0]], cross(v[t[1]], v[t[2]])) / 6.0;
  return vol;
}

TEST(BodyTopology, SizesAreInRange) {
  const Topology& t = topology();
  EXPECT_GE(t.vertex_count, 6000u);
  EXPECT_LE(t.vertex_count, 16000u);
  EXPECT_EQ(t.weights.size(), t.vertex_count);
  EXPECT_EQ(t.vertex_part.size(), t.vertex_count);
  EXPECT_EQ(t.vertex_uv.size(), t.vertex_count);
  EXPECT_EQ(t.regions.size(), t.vertex_count);
  EXPECT_EQ(t.triangle_part.size(), t.triangles.size());
  EXPECT_EQ(t.corner_uv.size(), t.triangles.size());
  for (const auto& tri : t.triangles)
    for (uint32_t v : tri) ASSERT_LT(v, t.vertex_count);
}

TEST(BodyTopology, IsAClosedOrientedManifoldOfGenusZero) {
  const Topology& t = topology();
  std::map<std::pair<uint32_t, uint32_t>, int> directed;
  for (const auto& tri : t.triangles) {
    ASSERT_NE(tri[0], tri[1]);
    ASSERT_NE(tri[1], tri[2]);
    ASSERT_NE(tri[2], tri[0]);
    for (int c = 0; c < 3; ++c) ++directed[{tri[c], tri[(c + 1) % 3]}];
  }
  for (const auto& [e, count] : directed) {
    ASSERT_EQ(count, 1) << "directed edge " << e.first << "->" << e.second << " used twice";
    ASSERT_TRUE(directed.count({e.second, e.first})) << "open edge " << e.first << "-" << e.second;
  }
  // Every vertex used; one closed surface: V - E + F = 2.
  std::set<uint32_t> used;
  for (const auto& tri : t.triangles) used.insert(tri.begin(), tri.end());
  EXPECT_EQ(used.size(), t.vertex_count);
  const long edges = long(directed.size()) / 2;
  EXPECT_EQ(long(t.vertex_count) - edges + long(t.triangles.size()), 2);
}

TEST(BodyTopology, TopologyIsBuiltOnceAndShared) {
  const Topology& a = topology();
  const Topology& b = topology();
  EXPECT_EQ(&a, &b);
  EXPECT_GT(a.memory_bytes(), a.triangles.size() * sizeof(a.triangles[0]));
}

TEST(BodyShape, SameTopologyAndCleanSurfaceForRandomShapes) {
  const Topology& t = topology();
  for (const Shape& s : random_shapes(100)) {
    RestBody body = build_rest_body(s);
    ASSERT_EQ(body.vertices.size(), t.vertex_count);
    double min_area = 1e300;
    for (const Vec3& v : body.vertices)
      ASSERT_TRUE(std::isfinite(v.x) && std::isfinite(v.y) && std::isfinite(v.z));
    for (const auto& tri : t.triangles) {
      const Vec3 a = body.vertices[tri[0]], b = body.vertices[tri[1]], c = body.vertices[tri[2]];
      min_area = std::min(min_area, 0.5 * length(cross(b - a, c - a)));
    }
    EXPECT_GT(min_area, 1e-9) << "height " << s.height_m << " bmi " << s.bmi << " age " << s.age;
    EXPECT_GT(signed_volume(body.vertices, t.triangles), 0) << "winding must be outward";
    for (int j = 0; j < kJointCount; ++j) EXPECT_GT(body.radius[j], 0);
  }
}

TEST(BodyShape, HeightIsMetAndSolesAreOnTheFloor) {
  for (const Shape& s : random_shapes(100)) {
    RestBody body = build_rest_body(s);
    double zmin = 1e300, zmax = -1e300;
    for (const Vec3& v : body.vertices) {
      zmin = std::min(zmin, v.z);
      zmax = std::max(zmax, v.z);
    }
    EXPECT_NEAR(zmax - zmin, s.height_m, 0.01);
    EXPECT_NEAR(zmax - zmin, s.height_m, 1e-9) << "the final scale should make it exact";
    EXPECT_NEAR(zmin, 0.0, 1e-12);
    EXPECT_NEAR(body.joints[index(Joint::kPelvis)].x, 0.0, 1e-12);
    EXPECT_NEAR(body.joints[index(Joint::kPelvis)].y, 0.0, 1e-12);
  }
}

TEST(BodyShape, ShapesAreClampedToTheirValidRanges) {
  Shape wild;
  wild.height_m = 3;
  wild.bmi = 100;
  wild.sex = 2;
  wild.head_size = 0.2;
  RestBody body = build_rest_body(wild);
  EXPECT_EQ(body.shape.height_m, 2.1);
  EXPECT_EQ(body.shape.bmi, 60);
  EXPECT_EQ(body.shape.sex, 1);
  EXPECT_EQ(body.shape.head_size, 0.85);
}

TEST(BodyShape, IsDeterministic) {
  Shape s;
  s.bmi = 31.5;
  s.age = 9;
  RestBody a = build_rest_body(s), b = build_rest_body(s);
  EXPECT_EQ(a.vertices, b.vertices);
  EXPECT_EQ(a.joints, b.joints);
}

TEST(BodyShape, VolumeGrowsWithBmiAndMatchesTheMass) {
  const Topology& t = topology();
  double last = 0;
  for (double bmi : {15.0, 18.0, 22.0, 27.0, 33.0, 40.0}) {
    Shape s;
    s.bmi = bmi;
    double vol = signed_volume(build_rest_body(s).vertices, t.triangles);
    EXPECT_GT(vol, last) << "bmi " << bmi;
    last = vol;
    // Body density is about 1 kg/l: mass = bmi * height^2 within 20%.
    EXPECT_NEAR(vol * 1000 / (bmi * s.height_m * s.height_m), 1.0, 0.2) << "bmi " << bmi;
  }
}

TEST(BodyShape, ChildrenHaveBiggerHeadsAndShorterLegs) {
  Shape adult, child;
  child.age = 5;
  child.height_m = adult.height_m;
  RestBody a = build_rest_body(adult), c = build_rest_body(child);
  auto head_fraction = [](const RestBody& b) {
    return (b.shape.height_m - b.joints[index(Joint::kNeck)].z) / b.shape.height_m;
  };
  auto leg_fraction = [](const RestBody& b) {
    return b.joints[index(Joint::kLeftHip)].z / b.shape.height_m;
  };
  EXPECT_GT(head_fraction(c), head_fraction(a) * 1.25);
  EXPECT_LT(leg_fraction(c), leg_fraction(a) * 0.92);
}

TEST(BodyShape, SexChangesShoulderToHipRatio) {
  Shape female, male;
  female.sex = 0;
  male.sex = 1;
  auto ratio = [](const RestBody& b) {
    double shoulders = 0, hips = 0;
    for (size_t v = 0; v < b.vertices.size(); ++v) {
      const auto& reg = topology().regions[v];
      const Vec3 p = b.vertices[v];
      if (reg.region == Region::kTorso && reg.chain > 0.8f)
        shoulders = std::max(shoulders, std::abs(p.x));
      if ((reg.region == Region::kTorso || reg.region == Region::kThigh) &&
          std::abs(p.z - b.joints[index(Joint::kLeftHip)].z) < 0.02)
        hips = std::max(hips, std::abs(p.x));
    }
    return shoulders / hips;
  };
  EXPECT_GT(ratio(build_rest_body(male)), ratio(build_rest_body(female)) * 1.1);
}

TEST(BodySkinning, RestPoseReturnsTheRestMesh) {
  for (const Shape& s : random_shapes(5)) {
    RestBody body = build_rest_body(s);
    std::vector<Vec3> posed;
    skin(body, forward_kinematics(body.joints, Pose::rest()), posed);
    ASSERT_EQ(posed.size(), body.vertices.size());
    double err = 0;
    for (size_t v = 0; v < posed.size(); ++v)
      err = std::max(err, length(posed[v] - body.vertices[v]));
    EXPECT_LT(err, 1e-9);
  }
}

TEST(BodySkinning, WeightsSumToOneAndNameValidJoints) {
  for (const SkinWeights& w : topology().weights) {
    double sum = 0;
    for (int k = 0; k < 4; ++k) {
      ASSERT_LT(w.joint[k], kJointCount);
      ASSERT_GE(w.weight[k], 0);
      sum += w.weight[k];
    }
    ASSERT_NEAR(sum, 1.0, 1e-12);
  }
}

TEST(BodySkinning, BentElbowMovesTheForearmAndNotTheTorso) {
  RestBody body = build_rest_body(Shape{});
  std::array<Vec3, kJointCount> euler{};
  euler[index(Joint::kLeftElbow)] = {90, 0, 0};
  std::vector<Vec3> posed;
  skin(body, forward_kinematics(body.joints, Pose::from_euler(euler, {})), posed);
  const Topology& t = topology();
  int forearm = 0, forearm_moved = 0;
  for (uint32_t v = 0; v < t.vertex_count; ++v) {
    const double moved = length(posed[v] - body.vertices[v]);
    const VertexRegion& r = t.regions[v];
    if (r.region == Region::kTorso || r.region == Region::kHead || r.region == Region::kThigh ||
        r.side < 0) {
      EXPECT_LT(moved, 1e-12) << "vertex " << v;
    }
    if (r.region == Region::kForearm && r.side > 0 && r.chain > 1.5f) {
      ++forearm;
      forearm_moved += moved > 0.05;
    }
  }
  EXPECT_GT(forearm, 50);
  EXPECT_EQ(forearm_moved, forearm);
}

TEST(BodyLabels, PartsCoverAllTwentyFourAndUvIsInRange) {
  const Topology& t = topology();
  std::set<int> parts;
  for (uint8_t p : t.triangle_part) {
    ASSERT_GE(p, 1);
    ASSERT_LE(p, kPartCount);
    parts.insert(p);
  }
  EXPECT_EQ(parts.size(), size_t(kPartCount));
  for (uint8_t p : t.vertex_part) {
    ASSERT_GE(p, 1);
    ASSERT_LE(p, kPartCount);
  }
  for (const auto& uv : t.corner_uv)
    for (float x : uv) {
      ASSERT_GE(x, 0.0f);
      ASSERT_LE(x, 1.0f);
    }
  for (const auto& uv : t.vertex_uv)
    for (float x : uv) {
      ASSERT_GE(x, 0.0f);
      ASSERT_LE(x, 1.0f);
    }
}

TEST(BodyLabels, PartsAreOnTheRightSide) {
  RestBody body = build_rest_body(Shape{});
  const Topology& t = topology();
  const std::set<int> left = {4, 5, 8, 10, 12, 14, 15, 17, 19, 21, 24};
  const std::set<int> right = {3, 6, 7, 9, 11, 13, 16, 18, 20, 22, 23};
  const std::set<int> front = {2, 9, 10, 13, 14, 15, 16, 19, 20};
  const std::set<int> back = {1, 7, 8, 11, 12, 17, 18, 21, 22};
  double front_y = 0, back_y = 0;
  for (uint32_t v = 0; v < t.vertex_count; ++v) {
    const int p = t.vertex_part[v];
    const Vec3 x = body.vertices[v];
    if (left.count(p)) {
      EXPECT_GT(x.x, -0.005) << "part " << p;
    }
    if (right.count(p)) {
      EXPECT_LT(x.x, 0.005) << "part " << p;
    }
    if (front.count(p)) front_y += x.y;
    if (back.count(p)) back_y += x.y;
  }
  EXPECT_GT(front_y, 0);
  EXPECT_LT(back_y, 0);
}

TEST(BodyLabels, VAlongTheLimbsGrowsDistally) {
  RestBody body = build_rest_body(Shape{});
  const Topology& t = topology();
  // Upper leg front, left (10): v grows from the hip (0) down to the knee (1).
  const double hip_z = body.joints[index(Joint::kLeftHip)].z,
               knee_z = body.joints[index(Joint::kLeftKnee)].z;
  for (uint32_t v = 0; v < t.vertex_count; ++v) {
    if (t.vertex_part[v] != 10) continue;
    const double expected = std::clamp((hip_z - body.vertices[v].z) / (hip_z - knee_z), 0.0, 1.0);
    EXPECT_NEAR(t.vertex_uv[v][1], expected, 0.1);
  }
}

TEST(BodyLabels, FaceKeypointsAreOnTheFrontOfTheHead) {
  RestBody body = build_rest_body(Shape{});
  const Topology& t = topology();
  const Vec3 head = body.joints[index(Joint::kHead)];
  for (uint32_t v : t.face_keypoints) {
    ASSERT_LT(v, t.vertex_count);
    EXPECT_GT(body.vertices[v].y, head.y);
    EXPECT_GT(body.vertices[v].z, head.z);
    EXPECT_EQ(t.regions[v].region, Region::kHead);
  }
  const auto& k = t.face_keypoints;
  const Vec3 nose = body.vertices[k[int(FaceKeypoint::kNose)]];
  EXPECT_NEAR(nose.x, 0, 0.01);
  for (int i = 1; i < 5; ++i) EXPECT_GT(nose.y, body.vertices[k[i]].y);
  EXPECT_GT(body.vertices[k[int(FaceKeypoint::kLeftEye)]].x, 0.01);
  EXPECT_LT(body.vertices[k[int(FaceKeypoint::kRightEye)]].x, -0.01);
  EXPECT_GT(body.vertices[k[int(FaceKeypoint::kLeftEar)]].x,
            body.vertices[k[int(FaceKeypoint::kLeftEye)]].x);
  EXPECT_LT(body.vertices[k[int(FaceKeypoint::kRightEar)]].x,
            body.vertices[k[int(FaceKeypoint::kRightEye)]].x);
}

TEST(BodyLabels, RegionsMatchTheSkeleton) {
  RestBody body = build_rest_body(Shape{});
  const Topology& t = topology();
  for (uint32_t v = 0; v < t.vertex_count; ++v) {
    const VertexRegion& r = t.regions[v];
    const Vec3 x = body.vertices[v];
    if (r.region == Region::kHand) {
      EXPECT_GE(r.chain, 1.8f);
    }
    if (r.region == Region::kFoot) {
      EXPECT_LT(x.z, body.joints[index(Joint::kLeftAnkle)].z + 0.04);
    }
    if (r.region == Region::kHead) {
      EXPECT_GT(x.z, body.joints[index(Joint::kNeck)].z);
    }
    if (r.region == Region::kUpperArm || r.region == Region::kForearm ||
        r.region == Region::kHand) {
      EXPECT_EQ(r.side, x.x > 0 ? 1 : -1);
    }
  }
}

}  // namespace
}  // namespace synthfarm::humans
