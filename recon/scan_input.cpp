// PLY and OBJ scan readers (recon/scan_input.h). Written here rather than taken from a
// library: Debian packages no small PLY reader (neither tinyply, happly nor rply), and its
// tinyobjloader reads "v 1 nan 3" and "v 1 abc 3" as y = 0 and only warns about face
// indices out of range, so neither error could be reported; assimp and Open3D read PLY
// and OBJ but bring dozens of other formats' parsers to bear on untrusted bytes.
#include "recon/scan_input.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cctype>
#include <cstring>
#include <optional>

namespace synthfarm::recon {
namespace {

bool scan_is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }

std::vector<std::string_view> scan_split(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && scan_is_space(line[i])) ++i;
    const size_t start = i;
    while (i < line.size() && !scan_is_space(line[i])) ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

// A number as text: nullopt when malformed; NaN and infinities (and overflow, as an
// infinity) come back so that the caller can name them.
std::optional<double> scan_number(std::string_view s) {
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  double v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || end != s.data() + s.size()) return std::nullopt;
  if (ec == std::errc::result_out_of_range) return s[0] == '-' ? -HUGE_VAL : HUGE_VAL;
  if (ec != std::errc()) return std::nullopt;
  return v;
}

const char* non_finite_name(double v) { return std::isnan(v) ? "NaN" : "infinite"; }

// Fan triangulation of one polygon, appended.
void add_fan(const std::vector<uint32_t>& polygon, std::vector<std::array<uint32_t, 3>>& out) {
  for (size_t k = 1; k + 1 < polygon.size(); ++k) out.push_back({polygon[0], polygon[k], polygon[k + 1]});
}

// ---- PLY -------------------------------------------------------------------------------

enum class PlyType { kInt8, kUint8, kInt16, kUint16, kInt32, kUint32, kFloat32, kFloat64 };

std::optional<PlyType> ply_type(std::string_view s) {
  static constexpr std::pair<std::string_view, PlyType> kNames[] = {
      {"char", PlyType::kInt8},     {"int8", PlyType::kInt8},      {"uchar", PlyType::kUint8},
      {"uint8", PlyType::kUint8},   {"short", PlyType::kInt16},    {"int16", PlyType::kInt16},
      {"ushort", PlyType::kUint16}, {"uint16", PlyType::kUint16},  {"int", PlyType::kInt32},
      {"int32", PlyType::kInt32},   {"uint", PlyType::kUint32},    {"uint32", PlyType::kUint32},
      {"float", PlyType::kFloat32}, {"float32", PlyType::kFloat32}, {"double", PlyType::kFloat64},
      {"float64", PlyType::kFloat64}};
  for (auto [name, type] : kNames) {
    if (name == s) return type;
  }
  return std::nullopt;
}

size_t ply_size(PlyType t) {
  switch (t) {
    case PlyType::kInt8:
    case PlyType::kUint8:
      return 1;
    case PlyType::kInt16:
    case PlyType::kUint16:
      return 2;
    case PlyType::kInt32:
    case PlyType::kUint32:
    case PlyType::kFloat32:
      return 4;
    case PlyType::kFloat64:
      return 8;
  }
  return 1;
}

bool ply_is_integer(PlyType t) { return t != PlyType::kFloat32 && t != PlyType::kFloat64; }

struct PlyProperty {
  std::string name;
  bool list = false;
  PlyType count_type = PlyType::kUint8;
  PlyType type = PlyType::kFloat32;
};

struct PlyElement {
  std::string name;
  uint64_t count = 0;
  std::vector<PlyProperty> properties;
};

enum class PlyFormat { kAscii, kLittleEndian, kBigEndian };

struct PlyHeader {
  PlyFormat format = PlyFormat::kAscii;
  std::vector<PlyElement> elements;
  size_t data_offset = 0;
};

tl::expected<PlyHeader, std::string> read_ply_header(std::string_view bytes, const std::string& name) {
  PlyHeader header;
  size_t pos = 0;
  int line_no = 0;
  bool have_format = false;
  auto fail = [&](const std::string& message) {
    return tl::unexpected(fmt::format("{}:{}: {}", name, line_no, message));
  };
  for (;;) {
    if (pos >= bytes.size()) {
      return tl::unexpected(fmt::format("{}: the header has no end_header line", name));
    }
    const size_t end = bytes.find('\n', pos);
    const std::string_view line = bytes.substr(pos, end == std::string_view::npos ? bytes.size() - pos : end - pos);
    pos = end == std::string_view::npos ? bytes.size() : end + 1;
    ++line_no;
    const auto words = scan_split(line);
    if (line_no == 1) {
      if (words.size() != 1 || words[0] != "ply") {
        return tl::unexpected(fmt::format("{}: not a PLY file (it does not start with 'ply')", name));
      }
      continue;
    }
    if (words.empty() || words[0] == "comment" || words[0] == "obj_info") continue;
    if (words[0] == "end_header") break;
    if (words[0] == "format") {
      if (words.size() != 3 || words[2] != "1.0") return fail("expected 'format <type> 1.0'");
      if (words[1] == "ascii") {
        header.format = PlyFormat::kAscii;
      } else if (words[1] == "binary_little_endian") {
        header.format = PlyFormat::kLittleEndian;
      } else if (words[1] == "binary_big_endian") {
        header.format = PlyFormat::kBigEndian;
      } else {
        return fail(fmt::format("unknown format '{}' (expected ascii, binary_little_endian or "
                                "binary_big_endian)", words[1]));
      }
      have_format = true;
    } else if (words[0] == "element") {
      uint64_t count = 0;
      if (words.size() != 3 || std::from_chars(words[2].data(), words[2].data() + words[2].size(), count).ptr !=
                                   words[2].data() + words[2].size()) {
        return fail("expected 'element <name> <count>'");
      }
      header.elements.push_back({std::string(words[1]), count, {}});
    } else if (words[0] == "property") {
      if (header.elements.empty()) return fail("a property before any element");
      PlyProperty property;
      if (words.size() == 5 && words[1] == "list") {
        auto count_type = ply_type(words[2]);
        auto type = ply_type(words[3]);
        if (!count_type || !type || !ply_is_integer(*count_type)) {
          return fail(fmt::format("bad list property types '{} {}'", words[2], words[3]));
        }
        property = {std::string(words[4]), true, *count_type, *type};
      } else if (words.size() == 3) {
        auto type = ply_type(words[1]);
        if (!type) return fail(fmt::format("unknown property type '{}'", words[1]));
        property = {std::string(words[2]), false, PlyType::kUint8, *type};
      } else {
        return fail("expected 'property <type> <name>' or 'property list <type> <type> <name>'");
      }
      header.elements.back().properties.push_back(std::move(property));
    } else {
      return fail(fmt::format("unknown header keyword '{}'", words[0]));
    }
  }
  if (!have_format) return tl::unexpected(fmt::format("{}: the header has no format line", name));
  header.data_offset = pos;
  return header;
}

// The values after the header, one at a time, in the file's encoding.
class PlyData {
 public:
  PlyData(std::string_view data, PlyFormat format) : data_(data), format_(format) {}

  enum class Status { kOk, kEnd, kMalformed };

  Status next(PlyType type, double& out) {
    if (format_ == PlyFormat::kAscii) return next_text(type, out);
    const size_t size = ply_size(type);
    if (data_.size() - pos_ < size) return Status::kEnd;
    unsigned char raw[8];
    std::memcpy(raw, data_.data() + pos_, size);
    pos_ += size;
    const bool big = format_ == PlyFormat::kBigEndian;
    if (big != (std::endian::native == std::endian::big)) std::reverse(raw, raw + size);
    switch (type) {
      case PlyType::kInt8: out = static_cast<int8_t>(raw[0]); break;
      case PlyType::kUint8: out = raw[0]; break;
      case PlyType::kInt16: out = load<int16_t>(raw); break;
      case PlyType::kUint16: out = load<uint16_t>(raw); break;
      case PlyType::kInt32: out = load<int32_t>(raw); break;
      case PlyType::kUint32: out = load<uint32_t>(raw); break;
      case PlyType::kFloat32: out = load<float>(raw); break;
      case PlyType::kFloat64: out = load<double>(raw); break;
    }
    return Status::kOk;
  }
  size_t remaining() const { return data_.size() - pos_; }
  std::string_view last_token() const { return token_; }

 private:
  template <typename T>
  static T load(const unsigned char* raw) {
    T v;
    std::memcpy(&v, raw, sizeof(T));
    return v;
  }

  Status next_text(PlyType type, double& out) {
    while (pos_ < data_.size() && scan_is_space(data_[pos_])) ++pos_;
    if (pos_ >= data_.size()) return Status::kEnd;
    const size_t start = pos_;
    while (pos_ < data_.size() && !scan_is_space(data_[pos_])) ++pos_;
    token_ = data_.substr(start, pos_ - start);
    auto v = scan_number(token_);
    if (!v) return Status::kMalformed;
    if (ply_is_integer(type) && (!std::isfinite(*v) || *v != std::floor(*v))) return Status::kMalformed;
    out = *v;
    return Status::kOk;
  }

  std::string_view data_;
  PlyFormat format_;
  size_t pos_ = 0;
  std::string_view token_;
};

// Reads every element of the body; the vertex and face elements into `scan`.
tl::expected<void, std::string> read_ply_body(const PlyHeader& header, PlyData& data, const std::string& name,
                                              Scan& scan) {
  uint64_t vertex_count = 0;
  for (const PlyElement& element : header.elements) {
    if (element.name == "vertex") vertex_count = element.count;
  }
  for (const PlyElement& element : header.elements) {
    const bool is_vertex = element.name == "vertex", is_face = element.name == "face";
    int axis[3] = {-1, -1, -1};
    int indices = -1;
    for (size_t p = 0; p < element.properties.size(); ++p) {
      const PlyProperty& property = element.properties[p];
      for (int a = 0; a < 3 && is_vertex; ++a) {
        if (property.name == std::string(1, static_cast<char>('x' + a)) && !property.list) axis[a] = static_cast<int>(p);
      }
      if (is_face && property.list && (property.name == "vertex_indices" || property.name == "vertex_index")) {
        indices = static_cast<int>(p);
      }
    }
    if (is_vertex && (axis[0] < 0 || axis[1] < 0 || axis[2] < 0)) {
      return tl::unexpected(fmt::format("{}: the vertex element has no x, y and z properties", name));
    }
    // Reserve for what the data can hold (at least one byte per value), not for what the
    // header claims.
    const uint64_t room = data.remaining() / std::max<size_t>(1, element.properties.size());
    if (is_vertex) scan.points.reserve(std::min<uint64_t>(element.count, room));
    std::vector<uint32_t> polygon;
    for (uint64_t e = 0; e < element.count; ++e) {
      Vec3 point;
      for (size_t p = 0; p < element.properties.size(); ++p) {
        const PlyProperty& property = element.properties[p];
        auto fail = [&](PlyData::Status status) {
          if (status == PlyData::Status::kEnd) {
            return tl::unexpected(fmt::format("{}: {} {}: the data ends inside this element (truncated file?)",
                                              name, element.name, e));
          }
          return tl::unexpected(fmt::format("{}: {} {}: {}: '{}' is not a {}", name, element.name, e,
                                            property.name, data.last_token(),
                                            ply_is_integer(property.list ? property.count_type : property.type)
                                                ? "whole number"
                                                : "number"));
        };
        double value = 0;
        if (!property.list) {
          if (auto s = data.next(property.type, value); s != PlyData::Status::kOk) return fail(s);
          for (int a = 0; a < 3; ++a) {
            if (axis[a] != static_cast<int>(p)) continue;
            if (!std::isfinite(value)) {
              return tl::unexpected(fmt::format("{}: vertex {}: {} is {}", name, e, static_cast<char>('x' + a),
                                                non_finite_name(value)));
            }
            (a == 0 ? point.x : a == 1 ? point.y : point.z) = value;
          }
          continue;
        }
        double count = 0;
        if (auto s = data.next(property.count_type, count); s != PlyData::Status::kOk) return fail(s);
        // An ASCII count may be any number: only a whole count a list could hold is read on.
        if (!std::isfinite(count) || count < 0 || count != std::floor(count) || count > 4294967295.0) {
          return tl::unexpected(fmt::format("{}: {} {}: {}: {} is not a list count", name, element.name, e,
                                            property.name, count));
        }
        const bool wanted = static_cast<int>(p) == indices;
        if (wanted) polygon.clear();
        for (uint64_t k = 0; k < static_cast<uint64_t>(count); ++k) {
          if (auto s = data.next(property.type, value); s != PlyData::Status::kOk) return fail(s);
          if (!wanted) continue;
          if (!std::isfinite(value) || value < 0 || value >= 4294967295.0 || value != std::floor(value)) {
            return tl::unexpected(fmt::format("{}: face {}: vertex index {} is not a vertex index", name, e, value));
          }
          polygon.push_back(static_cast<uint32_t>(value));
        }
        if (wanted) {
          if (polygon.size() < 3) {
            return tl::unexpected(fmt::format("{}: face {}: {} vertices, a face needs at least 3", name, e, polygon.size()));
          }
          for (uint32_t v : polygon) {
            // The vertex element's declared count is the number of points once the whole
            // body is read, whichever element comes first.
            if (v >= vertex_count) {
              return tl::unexpected(fmt::format("{}: face {}: vertex index {} is out of range ({} vertices)",
                                                name, e, v, vertex_count));
            }
          }
          add_fan(polygon, scan.triangles);
        }
      }
      if (is_vertex) scan.points.push_back(point);
    }
  }
  return {};
}

// ---- OBJ -------------------------------------------------------------------------------

// One index of an f statement ("7", "7/2", "7//3", "-1/2/3") to a 0-based vertex.
tl::expected<uint32_t, std::string> obj_index(std::string_view item, size_t vertices) {
  const std::string_view text = item.substr(0, item.find('/'));
  int64_t index = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), index);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    return tl::unexpected(fmt::format("'{}' is not a vertex reference (v, v/vt, v//vn or v/vt/vn)", item));
  }
  const int64_t n = static_cast<int64_t>(vertices);
  const int64_t zero_based = index > 0 ? index - 1 : n + index;
  if (index == 0 || zero_based < 0 || zero_based >= n) {
    return tl::unexpected(fmt::format("vertex index {} is out of range ({} vertices so far)", index, vertices));
  }
  return static_cast<uint32_t>(zero_based);
}

}  // namespace

tl::expected<Scan, std::string> read_ply(std::string_view bytes, std::string_view file_name) {
  const std::string name(file_name);
  auto header = read_ply_header(bytes, name);
  if (!header) return tl::unexpected(header.error());
  if (std::none_of(header->elements.begin(), header->elements.end(),
                   [](const PlyElement& e) { return e.name == "vertex"; })) {
    return tl::unexpected(fmt::format("{}: no vertex element", name));
  }
  PlyData data(bytes.substr(header->data_offset), header->format);
  Scan scan;
  if (auto ok = read_ply_body(*header, data, name, scan); !ok) return tl::unexpected(ok.error());
  if (scan.points.empty()) return tl::unexpected(fmt::format("{}: no points (the vertex element is empty)", name));
  return scan;
}

tl::expected<Scan, std::string> read_obj(std::string_view bytes, std::string_view file_name) {
  const std::string name(file_name);
  Scan scan;
  std::vector<uint32_t> polygon;
  size_t pos = 0;
  for (int line_no = 1; pos < bytes.size(); ++line_no) {
    const size_t end = bytes.find('\n', pos);
    const std::string_view line = bytes.substr(pos, end == std::string_view::npos ? bytes.size() - pos : end - pos);
    pos = end == std::string_view::npos ? bytes.size() : end + 1;
    const auto words = scan_split(line.substr(0, line.find('#')));
    if (words.empty()) continue;
    if (words[0] == "v") {
      const size_t vertex = scan.points.size() + 1;
      if (words.size() < 4) {
        return tl::unexpected(fmt::format("{}:{}: vertex {}: v needs x, y and z", name, line_no, vertex));
      }
      double xyz[3];
      for (int a = 0; a < 3; ++a) {
        auto v = scan_number(words[1 + a]);
        if (!v) {
          return tl::unexpected(fmt::format("{}:{}: vertex {}: {} '{}' is not a number", name, line_no, vertex,
                                            static_cast<char>('x' + a), words[1 + a]));
        }
        if (!std::isfinite(*v)) {
          return tl::unexpected(fmt::format("{}:{}: vertex {}: {} is {}", name, line_no, vertex,
                                            static_cast<char>('x' + a), non_finite_name(*v)));
        }
        xyz[a] = *v;
      }
      if (scan.points.size() >= 0xffffffffu) return tl::unexpected(fmt::format("{}: more than 2^32 - 1 vertices", name));
      scan.points.push_back({xyz[0], xyz[1], xyz[2]});
    } else if (words[0] == "f") {
      if (words.size() < 4) {
        return tl::unexpected(fmt::format("{}:{}: f: {} vertices, a face needs at least 3", name, line_no,
                                          words.size() - 1));
      }
      polygon.clear();
      for (size_t k = 1; k < words.size(); ++k) {
        auto index = obj_index(words[k], scan.points.size());
        if (!index) return tl::unexpected(fmt::format("{}:{}: f: {}", name, line_no, index.error()));
        polygon.push_back(*index);
      }
      add_fan(polygon, scan.triangles);
    }
  }
  if (scan.points.empty()) return tl::unexpected(fmt::format("{}: no points (no v lines)", name));
  return scan;
}

tl::expected<Scan, std::string> read_scan(std::string_view bytes, std::string_view file_name) {
  const size_t dot = file_name.rfind('.');
  std::string extension(dot == std::string_view::npos ? std::string_view() : file_name.substr(dot + 1));
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (extension == "ply") return read_ply(bytes, file_name);
  if (extension == "obj") return read_obj(bytes, file_name);
  return tl::unexpected(fmt::format("{}: unknown scan format (expected a .ply or .obj file)", file_name));
}

}  // namespace synthfarm::recon
