// The scan readers (recon/scan_input.h): PLY in its three encodings and OBJ give the same
// points and fan-triangulated faces; broken files are refused naming the file and element.
#include "recon/scan_input.h"

#include <gtest/gtest.h>

#include <bit>
#include <cstring>
#include <string>

namespace synthfarm::recon {
namespace {

// A square (4 vertices with normals) as one quad, and a triangle on top.
const std::vector<Vec3> kPoints = {{0, 0, 0}, {1, 0, 0}, {1, 1, 0.5}, {0, 1, -0.25}, {0.5, 2, 1e-3}};
const std::vector<std::array<uint32_t, 3>> kTriangles = {{0, 1, 2}, {0, 2, 3}, {3, 2, 4}};

std::string ply_header(const std::string& format, const std::string& coordinate_type) {
  return "ply\nformat " + format + " 1.0\ncomment made by hand\nelement vertex 5\n"
         "property " + coordinate_type + " x\nproperty " + coordinate_type + " y\nproperty " + coordinate_type +
         " z\nproperty float nx\nproperty uchar red\nelement face 2\nproperty list uchar int vertex_indices\n"
         "property uchar flags\nelement edge 1\nproperty int vertex1\nproperty int vertex2\nend_header\n";
}

template <typename T>
void put(std::string& out, T value, bool big_endian) {
  char raw[sizeof(T)];
  std::memcpy(raw, &value, sizeof(T));
  if (big_endian != (std::endian::native == std::endian::big)) std::reverse(raw, raw + sizeof(T));
  out.append(raw, sizeof(T));
}

template <typename Coordinate>
std::string binary_ply(bool big_endian, const std::string& type) {
  std::string out = ply_header(big_endian ? "binary_big_endian" : "binary_little_endian", type);
  for (const Vec3& p : kPoints) {
    put<Coordinate>(out, static_cast<Coordinate>(p.x), big_endian);
    put<Coordinate>(out, static_cast<Coordinate>(p.y), big_endian);
    put<Coordinate>(out, static_cast<Coordinate>(p.z), big_endian);
    put<float>(out, 1.0f, big_endian);
    put<uint8_t>(out, 200, big_endian);
  }
  put<uint8_t>(out, 4, big_endian);
  for (int32_t i : {0, 1, 2, 3}) put<int32_t>(out, i, big_endian);
  put<uint8_t>(out, 0, big_endian);
  put<uint8_t>(out, 3, big_endian);
  for (int32_t i : {3, 2, 4}) put<int32_t>(out, i, big_endian);
  put<uint8_t>(out, 0, big_endian);
  put<int32_t>(out, 0, big_endian);
  put<int32_t>(out, 1, big_endian);
  return out;
}

const std::string kAsciiPly = ply_header("ascii", "float") +
                              "0 0 0 0 1\n1 0 0 0 1\n1 1 0.5 0 1\n0 1 -0.25 0 1\n0.5 2 1e-3 0 1\n"
                              "4 0 1 2 3 7\n3 3 2 4 0\n0 1\n";

void expect_square(const tl::expected<Scan, std::string>& scan, double tolerance) {
  ASSERT_TRUE(scan.has_value()) << scan.error();
  ASSERT_EQ(scan->points.size(), kPoints.size());
  for (size_t i = 0; i < kPoints.size(); ++i) {
    EXPECT_NEAR(scan->points[i].x, kPoints[i].x, tolerance) << i;
    EXPECT_NEAR(scan->points[i].y, kPoints[i].y, tolerance) << i;
    EXPECT_NEAR(scan->points[i].z, kPoints[i].z, tolerance) << i;
  }
  EXPECT_EQ(scan->triangles, kTriangles);
}

TEST(ScanInput, PlyInEveryEncodingGivesTheSameMesh) {
  expect_square(read_scan(kAsciiPly, "scan.ply"), 0);
  expect_square(read_scan(binary_ply<float>(false, "float"), "scan.PLY"), 1e-7);
  expect_square(read_scan(binary_ply<float>(true, "float32"), "scan.ply"), 1e-7);
  expect_square(read_scan(binary_ply<double>(false, "double"), "scan.ply"), 0);
  expect_square(read_scan(binary_ply<double>(true, "float64"), "scan.ply"), 0);
}

TEST(ScanInput, APointCloudHasNoTriangles) {
  auto scan = read_ply("ply\r\nformat ascii 1.0\r\nelement vertex 2\r\nproperty double x\r\nproperty double y\r\n"
                       "property double z\r\nend_header\r\n1 2 3\r\n4 5 6\r\n",
                       "cloud.ply");
  ASSERT_TRUE(scan.has_value()) << scan.error();
  ASSERT_EQ(scan->points.size(), 2u);
  EXPECT_EQ(scan->points[1].z, 6);
  EXPECT_TRUE(scan->triangles.empty());
}

TEST(ScanInput, ObjFacesInEveryFormWithNegativeIndices) {
  const std::string obj =
      "# a comment\nmtllib x.mtl\no square\nv 0 0 0\nv 1 0 0 1.0\nv 1 1 0.5 0.2 0.3 0.4\nv 0 1 -0.25\n"
      "vt 0 0\nvn 0 0 1\ns off\nusemtl skin\nf 1/1/1 2/1/1 3//1 -1\nv 0.5 2 1e-3\nf 4/1 3 -1  # top\n";
  expect_square(read_scan(obj, "scan.obj"), 0);
}

TEST(ScanInput, BrokenScansNameTheFileAndTheElement) {
  std::string nan_ply = kAsciiPly;
  nan_ply.replace(nan_ply.find("0 1 -0.25"), 9, "0 nan -0.25");
  EXPECT_EQ(read_scan(nan_ply, "scan.ply").error(), "scan.ply: vertex 3: y is NaN");
  std::string inf_ply = binary_ply<double>(false, "double");
  const double inf = HUGE_VAL;
  std::memcpy(inf_ply.data() + ply_header("binary_little_endian", "double").size() + 2 * 29 + 16, &inf, 8);
  EXPECT_EQ(read_scan(inf_ply, "scan.ply").error(), "scan.ply: vertex 2: z is infinite");
  std::string truncated = binary_ply<float>(false, "float");
  truncated.resize(truncated.size() - 12);
  EXPECT_EQ(read_scan(truncated, "scan.ply").error(),
            "scan.ply: face 1: the data ends inside this element (truncated file?)");
  std::string out_of_range = kAsciiPly;
  out_of_range.replace(out_of_range.find("3 3 2 4"), 7, "3 3 2 5");
  EXPECT_EQ(read_scan(out_of_range, "scan.ply").error(), "scan.ply: face 1: vertex index 5 is out of range (5 vertices)");
  std::string empty = kAsciiPly.substr(0, kAsciiPly.find("end_header"));
  empty.replace(empty.find("vertex 5"), 8, "vertex 0");
  empty.replace(empty.find("face 2"), 6, "face 0");
  empty.replace(empty.find("edge 1"), 6, "edge 0");
  EXPECT_EQ(read_scan(empty + "end_header\n", "scan.ply").error(), "scan.ply: no points (the vertex element is empty)");
  std::string bad_type = kAsciiPly;
  bad_type.replace(bad_type.find("property uchar red"), 18, "property quad red");
  EXPECT_EQ(read_scan(bad_type, "scan.ply").error(), "scan.ply:9: unknown property type 'quad'");
  std::string huge = binary_ply<float>(false, "float");
  huge.replace(huge.find("vertex 5"), 8, "vertex 4000000000");
  EXPECT_EQ(read_scan(huge, "scan.ply").error(), // 40 bytes of faces and edges after the 5 vertices (17 bytes each) read as 2 more.
            "scan.ply: vertex 7: the data ends inside this element (truncated file?)");
  EXPECT_EQ(read_scan("solid x\n", "scan.stl").error(), "scan.stl: unknown scan format (expected a .ply or .obj file)");
  EXPECT_EQ(read_scan("PK\x03\x04", "scan.ply").error(), "scan.ply: not a PLY file (it does not start with 'ply')");

  EXPECT_EQ(read_scan("v 0 0 0\nv 1 0 0\nf 1 2 3\n", "scan.obj").error(),
            "scan.obj:3: f: vertex index 3 is out of range (2 vertices so far)");
  EXPECT_EQ(read_scan("v 0 0 0\nv 1 0 0\nf 1 2 -3\n", "scan.obj").error(),
            "scan.obj:3: f: vertex index -3 is out of range (2 vertices so far)");
  EXPECT_EQ(read_scan("v 0 0 0\nv 1 0 0\nv 1 1 0\nf 0 1 2\n", "scan.obj").error(),
            "scan.obj:4: f: vertex index 0 is out of range (3 vertices so far)");
  EXPECT_EQ(read_scan("v 0 0 0\nv 1 NaN 0\n", "scan.obj").error(), "scan.obj:2: vertex 2: y is NaN");
  EXPECT_EQ(read_scan("v 0 0 1e999\n", "scan.obj").error(), "scan.obj:1: vertex 1: z is infinite");
  EXPECT_EQ(read_scan("v 0 abc 0\n", "scan.obj").error(), "scan.obj:1: vertex 1: y 'abc' is not a number");
  EXPECT_EQ(read_scan("v 0 0\n", "scan.obj").error(), "scan.obj:1: vertex 1: v needs x, y and z");
  EXPECT_EQ(read_scan("v 0 0 0\nf 1 1\n", "scan.obj").error(), "scan.obj:2: f: 2 vertices, a face needs at least 3");
  EXPECT_EQ(read_scan("# only a comment\nvn 0 0 1\n", "scan.obj").error(), "scan.obj: no points (no v lines)");
}

}  // namespace
}  // namespace synthfarm::recon
