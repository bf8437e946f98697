#include "humans/mocap_bvh.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <initializer_list>
#include <utility>

namespace synthfarm::humans {
namespace {

// ---- Lexing ----------------------------------------------------------------------------

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

struct Token {
  std::string_view text;  // empty at the end of the file
  int line = 0;
};

// Whitespace-separated tokens with 1-based line numbers, and whole lines for MOTION rows.
class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}

  Token next() {
    while (pos_ < text_.size() && is_space(text_[pos_])) {
      if (text_[pos_] == '\n') ++line_;
      ++pos_;
    }
    // At the end of the file, report the line of the last token rather than a line
    // past the end.
    if (pos_ >= text_.size()) return {{}, last_token_line_};
    size_t start = pos_;
    while (pos_ < text_.size() && !is_space(text_[pos_])) ++pos_;
    last_token_line_ = line_;
    return {text_.substr(start, pos_ - start), line_};
  }
  void skip_line() {
    while (pos_ < text_.size() && text_[pos_] != '\n') ++pos_;
  }
  size_t remaining() const { return text_.size() - pos_; }
  // The rest of the current line (from the current position), then moves to the next.
  bool take_line(std::string_view& out, int& line) {
    if (pos_ >= text_.size()) return false;
    size_t start = pos_;
    line = line_;
    while (pos_ < text_.size() && text_[pos_] != '\n') ++pos_;
    out = text_.substr(start, pos_ - start);
    if (pos_ < text_.size()) {
      ++pos_;
      ++line_;
    }
    return true;
  }

 private:
  std::string_view text_;
  size_t pos_ = 0;
  int line_ = 1;
  int last_token_line_ = 1;
};

std::vector<std::string_view> split_fields(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && is_space(line[i])) ++i;
    size_t start = i;
    while (i < line.size() && !is_space(line[i])) ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

std::optional<double> parse_number(std::string_view s) {
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  double v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || !std::isfinite(v)) {
    return std::nullopt;
  }
  return v;
}

std::optional<long> parse_count(std::string_view s) {
  long v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<BvhChannel> channel_from_name(std::string_view s) {
  static constexpr std::pair<std::string_view, BvhChannel> kNames[] = {
      {"Xposition", BvhChannel::kXposition}, {"Yposition", BvhChannel::kYposition},
      {"Zposition", BvhChannel::kZposition}, {"Xrotation", BvhChannel::kXrotation},
      {"Yrotation", BvhChannel::kYrotation}, {"Zrotation", BvhChannel::kZrotation}};
  for (auto [name, ch] : kNames) {
    if (name == s) return ch;
  }
  return std::nullopt;
}

bool is_keyword(std::string_view s) {
  return s == "JOINT" || s == "End" || s == "OFFSET" || s == "CHANNELS" || s == "}" || s == "{" ||
         s == "ROOT" || s == "MOTION";
}

std::string describe(const Token& t) {
  return t.text.empty() ? "end of file" : "'" + std::string(t.text) + "'";
}

// ---- Parsing ---------------------------------------------------------------------------

class Parser {
 public:
  Parser(std::string_view text, std::string_view file) : lex_(text), file_(file) {
    out_.file_name = file_;
  }

  tl::expected<BvhMotion, BvhError> run() {
    if (!parse_all()) return tl::unexpected(*error_);
    return std::move(out_);
  }

 private:
  bool fail(int line, std::string message) {
    error_ = BvhError{file_, line, std::move(message)};
    return false;
  }

  bool read_vec3(std::string_view what, std::string_view joint, Vec3& v) {
    double* parts[] = {&v.x, &v.y, &v.z};
    for (double* p : parts) {
      Token t = lex_.next();
      std::optional<double> x = parse_number(t.text);
      if (!x) {
        return fail(t.line, std::string(what) + " of '" + std::string(joint) +
                                "': expected a number, got " + describe(t));
      }
      *p = *x;
    }
    return true;
  }

  bool parse_channels(BvhJoint& joint) {
    Token count_token = lex_.next();
    std::optional<long> count = parse_count(count_token.text);
    if (!count || *count < 0 || *count > 6) {
      return fail(count_token.line, "CHANNELS of '" + joint.name +
                                        "': expected a channel count from 0 to 6, got " +
                                        describe(count_token));
    }
    if (!joint.channels.empty()) {
      return fail(count_token.line, "'" + joint.name + "' has a second CHANNELS line");
    }
    for (long i = 0; i < *count; ++i) {
      Token t = lex_.next();
      std::optional<BvhChannel> ch = channel_from_name(t.text);
      if (!ch) {
        if (t.text.empty() || is_keyword(t.text)) {
          return fail(t.line, "CHANNELS of '" + joint.name + "' announces " +
                                  std::to_string(*count) + " channels but lists " +
                                  std::to_string(i));
        }
        return fail(t.line, "unknown channel " + describe(t) + " in '" + joint.name +
                                "' (expected Xposition, Yposition, Zposition, Xrotation, "
                                "Yrotation or Zrotation)");
      }
      joint.channels.push_back(*ch);
    }
    joint.first_channel = out_.channel_count;
    out_.channel_count += static_cast<int>(*count);
    return true;
  }

  bool parse_end_site(int joint, const Token& end_token) {
    Token site = lex_.next();
    if (site.text != "Site") {
      return fail(site.line, "expected 'Site' after 'End', got " + describe(site));
    }
    Token brace = lex_.next();
    if (brace.text != "{") {
      return fail(brace.line, "expected '{' after End Site, got " + describe(brace));
    }
    Token offset = lex_.next();
    if (offset.text != "OFFSET") {
      return fail(offset.line, "expected OFFSET in End Site of '" + out_.joints[joint].name +
                                   "', got " + describe(offset));
    }
    Vec3 v;
    if (!read_vec3("End Site OFFSET", out_.joints[joint].name, v)) return false;
    Token close = lex_.next();
    if (close.text != "}") {
      return fail(close.line, "expected '}' to close the End Site opened at line " +
                                  std::to_string(end_token.line) + ", got " + describe(close));
    }
    out_.joints[joint].end_site = v;
    return true;
  }

  bool parse_joint(std::string_view kind, int parent) {
    Token name = lex_.next();
    if (name.text.empty() || name.text == "{") {
      return fail(name.line, std::string(kind) + " has no name");
    }
    for (const BvhJoint& j : out_.joints) {
      if (j.name == name.text) {
        return fail(name.line, "duplicate joint name '" + j.name + "' (first declared at line " +
                                   std::to_string(j.line) + ")");
      }
    }
    int self = static_cast<int>(out_.joints.size());
    BvhJoint joint;
    joint.name = std::string(name.text);
    joint.parent = parent;
    joint.line = name.line;
    out_.joints.push_back(std::move(joint));
    std::string label = std::string(kind) + " '" + std::string(name.text) + "'";

    Token brace = lex_.next();
    if (brace.text != "{") {
      return fail(brace.line, "expected '{' after " + label + ", got " + describe(brace));
    }
    bool have_offset = false;
    for (;;) {
      Token t = lex_.next();
      if (t.text.empty()) {
        return fail(t.line, "unexpected end of file inside " + label + " (opened at line " +
                                std::to_string(name.line) + ")");
      }
      if (t.text == "OFFSET") {
        if (!read_vec3("OFFSET", out_.joints[self].name, out_.joints[self].offset)) return false;
        have_offset = true;
      } else if (t.text == "CHANNELS") {
        if (!parse_channels(out_.joints[self])) return false;
      } else if (t.text == "JOINT") {
        if (!parse_joint("JOINT", self)) return false;
      } else if (t.text == "End") {
        if (!parse_end_site(self, t)) return false;
      } else if (t.text == "}") {
        if (!have_offset) return fail(t.line, label + " has no OFFSET");
        return true;
      } else {
        std::string hint = (t.text == "MOTION" || t.text == "ROOT") ? " (missing '}'?)" : "";
        return fail(t.line, "unexpected " + describe(t) + " inside " + label + hint);
      }
    }
  }

  bool parse_all() {
    Token t = lex_.next();
    if (t.text.empty()) return fail(1, "empty file, expected HIERARCHY");
    if (t.text != "HIERARCHY") return fail(t.line, "expected HIERARCHY, got " + describe(t));
    t = lex_.next();
    if (t.text != "ROOT") return fail(t.line, "expected ROOT, got " + describe(t));
    if (!parse_joint("ROOT", -1)) return false;

    t = lex_.next();
    if (t.text == "ROOT") return fail(t.line, "more than one ROOT (one skeleton per file only)");
    if (t.text != "MOTION") {
      return fail(t.line, "expected MOTION after the hierarchy, got " + describe(t));
    }
    // "Frames: 10" (also "Frames:10").
    t = lex_.next();
    std::string_view count_text;
    int frames_line = t.line;
    if (t.text == "Frames:") {
      Token n = lex_.next();
      count_text = n.text;
      frames_line = n.line;
    } else if (t.text.substr(0, 7) == "Frames:" && t.text.size() > 7) {
      count_text = t.text.substr(7);
    } else {
      return fail(t.line, "expected 'Frames:', got " + describe(t));
    }
    std::optional<long> frames = parse_count(count_text);
    if (!frames || *frames < 1 || *frames > 10'000'000) {
      return fail(frames_line, "Frames: expected a positive whole number, got " +
                                   describe({count_text, frames_line}));
    }
    // "Frame Time: 0.0333".
    t = lex_.next();
    Token time_label = lex_.next();
    if (t.text != "Frame" || time_label.text != "Time:") {
      return fail(t.line, "expected 'Frame Time:', got " + describe(t));
    }
    Token time = lex_.next();
    std::optional<double> frame_time = parse_number(time.text);
    if (!frame_time || *frame_time <= 0) {
      return fail(time.line,
                  "Frame Time: expected a positive number of seconds, got " + describe(time));
    }
    out_.frame_count = static_cast<int>(*frames);
    out_.frame_time_s = *frame_time;
    lex_.skip_line();

    const int columns = out_.channel_count;
    // Room for what the rest of the text can hold (a value takes at least two bytes, a
    // digit and a separator), not for what Frames: claims: a few bytes claiming ten
    // million frames of many channels must not reserve gigabytes.
    out_.values.reserve(std::min(static_cast<size_t>(out_.frame_count) * columns, lex_.remaining() / 2));
    int frame = 0, last_line = time.line;
    std::string_view line;
    int line_no = 0;
    while (lex_.take_line(line, line_no)) {
      std::vector<std::string_view> fields = split_fields(line);
      if (fields.empty()) continue;
      last_line = line_no;
      if (frame == out_.frame_count) {
        return fail(line_no, "data after the last of " + std::to_string(out_.frame_count) +
                                 " frames (Frames: says " + std::to_string(out_.frame_count) + ")");
      }
      if (static_cast<int>(fields.size()) != columns) {
        return fail(line_no, "frame " + std::to_string(frame) + " has " +
                                 std::to_string(fields.size()) + " values, expected " +
                                 std::to_string(columns));
      }
      for (size_t i = 0; i < fields.size(); ++i) {
        std::optional<double> v = parse_number(fields[i]);
        if (!v) {
          return fail(line_no, "frame " + std::to_string(frame) + ", value " +
                                   std::to_string(i + 1) + ": expected a number, got '" +
                                   std::string(fields[i]) + "'");
        }
        out_.values.push_back(*v);
      }
      ++frame;
    }
    if (frame < out_.frame_count) {
      return fail(last_line, "file ends after " + std::to_string(frame) + " of " +
                                 std::to_string(out_.frame_count) + " frames");
    }
    return true;
  }

  Lexer lex_;
  std::string file_;
  BvhMotion out_;
  std::optional<BvhError> error_;
};

// ---- Joint maps ------------------------------------------------------------------------

using Candidates = std::array<std::vector<std::string_view>, kJointCount>;

// Both sides from a left-side table: "Left" -> "Right", "l" -> "r", "LHip" -> "RHip".
std::string to_right(std::string_view left_name) {
  std::string s(left_name);
  for (auto [from, to] :
       {std::pair<std::string_view, std::string_view>{"Left", "Right"}, {"left", "right"}}) {
    size_t at = s.find(from);
    if (at != std::string::npos) return s.replace(at, from.size(), to);
  }
  if (!s.empty() && (s[0] == 'l' || s[0] == 'L')) s[0] = s[0] == 'l' ? 'r' : 'R';
  return s;
}

struct Preset {
  std::string_view name;
  bool any_namespace;  // "mixamorig:Hips", "mixamorig1:Hips" and "Hips" all match "Hips"
  std::vector<std::pair<Joint, std::vector<std::string_view>>> left_and_centre;
};

const Preset& cmu_preset() {
  static const Preset kPreset{"cmu",
                              false,
                              {{Joint::kPelvis, {"Hips", "hip"}},
                               {Joint::kSpine1, {"LowerBack", "abdomen"}},
                               {Joint::kSpine2, {"Spine"}},
                               {Joint::kSpine3, {"Spine1", "chest"}},
                               {Joint::kNeck, {"Neck"}},
                               {Joint::kHead, {"Head"}},
                               {Joint::kLeftHip, {"LeftUpLeg", "lThigh"}},
                               {Joint::kLeftKnee, {"LeftLeg", "lShin"}},
                               {Joint::kLeftAnkle, {"LeftFoot", "lFoot"}},
                               {Joint::kLeftFoot, {"LeftToeBase", "lToe"}},
                               {Joint::kLeftCollar, {"LeftShoulder", "lCollar"}},
                               {Joint::kLeftShoulder, {"LeftArm", "lShldr"}},
                               {Joint::kLeftElbow, {"LeftForeArm", "lForeArm"}},
                               {Joint::kLeftWrist, {"LeftHand", "lHand"}},
                               {Joint::kLeftHand, {"LeftFingerBase", "LeftHandIndex1", "lMid1"}}}};
  return kPreset;
}

const Preset& mixamo_preset() {
  static const Preset kPreset{"mixamo",
                              true,
                              {{Joint::kPelvis, {"Hips"}},
                               {Joint::kSpine1, {"Spine"}},
                               {Joint::kSpine2, {"Spine1"}},
                               {Joint::kSpine3, {"Spine2"}},
                               {Joint::kNeck, {"Neck"}},
                               {Joint::kHead, {"Head"}},
                               {Joint::kLeftHip, {"LeftUpLeg"}},
                               {Joint::kLeftKnee, {"LeftLeg"}},
                               {Joint::kLeftAnkle, {"LeftFoot"}},
                               {Joint::kLeftFoot, {"LeftToeBase"}},
                               {Joint::kLeftCollar, {"LeftShoulder"}},
                               {Joint::kLeftShoulder, {"LeftArm"}},
                               {Joint::kLeftElbow, {"LeftForeArm"}},
                               {Joint::kLeftWrist, {"LeftHand"}},
                               {Joint::kLeftHand, {"LeftHandMiddle1", "LeftHandIndex1"}}}};
  return kPreset;
}

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::string_view strip_namespace(std::string_view name) {
  size_t colon = name.rfind(':');
  return colon == std::string_view::npos ? name : name.substr(colon + 1);
}

int find_preset_joint(const BvhMotion& motion, std::string_view wanted, bool any_namespace) {
  for (size_t i = 0; i < motion.joints.size(); ++i) {
    std::string_view n = motion.joints[i].name;
    if (any_namespace) n = strip_namespace(n);
    if (equal_ignoring_case(n, wanted)) return static_cast<int>(i);
  }
  return -1;
}

std::array<int, kJointCount> apply_preset(const BvhMotion& motion, const Preset& preset) {
  std::array<int, kJointCount> source;
  source.fill(-1);
  for (const auto& [joint, names] : preset.left_and_centre) {
    bool sided = kJointNames[index(joint)].substr(0, 5) == "left_";
    for (int side = 0; side < (sided ? 2 : 1); ++side) {
      for (std::string_view name : names) {
        std::string wanted = side == 0 ? std::string(name) : to_right(name);
        int found = find_preset_joint(motion, wanted, preset.any_namespace);
        if (found >= 0) {
          source[index(joint) + side] = found;
          break;
        }
      }
    }
  }
  return source;
}

int mapped_count(const std::array<int, kJointCount>& source) {
  return static_cast<int>(
      std::count_if(source.begin(), source.end(), [](int s) { return s >= 0; }));
}

// ---- Rotations -------------------------------------------------------------------------

// File axes (Y up, Z forward, X left) to body axes (Z up, Y forward, X left).
Vec3 to_body(Vec3 v) { return {v.x, v.z, v.y}; }
Mat3 to_body(const Mat3& r) {
  constexpr int kPerm[3] = {0, 2, 1};
  Mat3 out;
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) out.m[i][j] = r.m[kPerm[i]][kPerm[j]];
  }
  return out;
}

// The smallest rotation taking direction `from` to direction `to` (both non-zero).
Mat3 rotation_between(Vec3 from, Vec3 to) {
  Vec3 a = normalize(from), b = normalize(to);
  double c = dot(a, b);
  if (c < -1.0 + 1e-12) {  // opposite: half a turn about any perpendicular axis
    Vec3 axis = normalize(cross(a, std::abs(a.x) < 0.9 ? Vec3{1, 0, 0} : Vec3{0, 1, 0}));
    return Mat3::from_rows({2 * axis.x * axis.x - 1, 2 * axis.x * axis.y, 2 * axis.x * axis.z},
                           {2 * axis.y * axis.x, 2 * axis.y * axis.y - 1, 2 * axis.y * axis.z},
                           {2 * axis.z * axis.x, 2 * axis.z * axis.y, 2 * axis.z * axis.z - 1});
  }
  // Rodrigues with k = a x b (|k| = sin): R = I + [k] + [k]^2 / (1 + cos).
  Vec3 k = cross(a, b);
  Mat3 kx = Mat3::from_rows({0, -k.z, k.y}, {k.z, 0, -k.x}, {-k.y, k.x, 0});
  Mat3 kx2 = kx * kx;
  double f = 1.0 / (1.0 + c);
  Mat3 r;
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) r.m[i][j] += kx.m[i][j] + kx2.m[i][j] * f;
  }
  return r;
}

struct Quat {
  double w = 1, x = 0, y = 0, z = 0;
};

Quat to_quat(const Mat3& r) {  // Shepperd's method
  const auto& m = r.m;
  double trace = m[0][0] + m[1][1] + m[2][2];
  Quat q;
  if (trace > 0) {
    double s = 2.0 * std::sqrt(1.0 + trace);
    q = {0.25 * s, (m[2][1] - m[1][2]) / s, (m[0][2] - m[2][0]) / s, (m[1][0] - m[0][1]) / s};
  } else if (m[0][0] > m[1][1] && m[0][0] > m[2][2]) {
    double s = 2.0 * std::sqrt(1.0 + m[0][0] - m[1][1] - m[2][2]);
    q = {(m[2][1] - m[1][2]) / s, 0.25 * s, (m[0][1] + m[1][0]) / s, (m[0][2] + m[2][0]) / s};
  } else if (m[1][1] > m[2][2]) {
    double s = 2.0 * std::sqrt(1.0 + m[1][1] - m[0][0] - m[2][2]);
    q = {(m[0][2] - m[2][0]) / s, (m[0][1] + m[1][0]) / s, 0.25 * s, (m[1][2] + m[2][1]) / s};
  } else {
    double s = 2.0 * std::sqrt(1.0 + m[2][2] - m[0][0] - m[1][1]);
    q = {(m[1][0] - m[0][1]) / s, (m[0][2] + m[2][0]) / s, (m[1][2] + m[2][1]) / s, 0.25 * s};
  }
  return q;
}

Mat3 to_matrix(Quat q) {
  double n = std::sqrt(q.w * q.w + q.x * q.x + q.y * q.y + q.z * q.z);
  double w = q.w / n, x = q.x / n, y = q.y / n, z = q.z / n;
  return Mat3::from_rows({1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)},
                         {2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)},
                         {2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)});
}

Mat3 nlerp(const Mat3& a, const Mat3& b, double t) {
  Quat qa = to_quat(a), qb = to_quat(b);
  double d = qa.w * qb.w + qa.x * qb.x + qa.y * qb.y + qa.z * qb.z;
  double sign = d < 0 ? -1.0 : 1.0;
  return to_matrix({(1 - t) * qa.w + t * sign * qb.w, (1 - t) * qa.x + t * sign * qb.x,
                    (1 - t) * qa.y + t * sign * qb.y, (1 - t) * qa.z + t * sign * qb.z});
}

// The local rotation of a file joint in one frame row.
Mat3 channel_rotation(const BvhJoint& joint, const double* row) {
  Mat3 r;
  for (size_t i = 0; i < joint.channels.size(); ++i) {
    double rad = deg_to_rad(row[joint.first_channel + i]);
    switch (joint.channels[i]) {
      case BvhChannel::kXrotation:
        r = r * Mat3::rotation_x(rad);
        break;
      case BvhChannel::kYrotation:
        r = r * Mat3::rotation_y(rad);
        break;
      case BvhChannel::kZrotation:
        r = r * Mat3::rotation_z(rad);
        break;
      default:
        break;
    }
  }
  return r;
}

// The root's position in one frame: position channels replace the OFFSET's components.
Vec3 root_position(const BvhJoint& root, const double* row) {
  Vec3 p = root.offset;
  for (size_t i = 0; i < root.channels.size(); ++i) {
    double v = row[root.first_channel + i];
    switch (root.channels[i]) {
      case BvhChannel::kXposition:
        p.x = v;
        break;
      case BvhChannel::kYposition:
        p.y = v;
        break;
      case BvhChannel::kZposition:
        p.z = v;
        break;
      default:
        break;
    }
  }
  return p;
}

// The child whose direction defines each synthfarm joint's bone; -1 for joints whose
// orientation is taken from the source unchanged (pelvis, head, toes, hands).
constexpr std::array<Joint, kJointCount> kBoneChild = [] {
  std::array<Joint, kJointCount> c{};
  for (int j = 0; j < kJointCount; ++j) c[j] = static_cast<Joint>(-1);
  auto set = [&](Joint j, Joint child) { c[index(j)] = child; };
  set(Joint::kSpine1, Joint::kSpine2);
  set(Joint::kSpine2, Joint::kSpine3);
  set(Joint::kSpine3, Joint::kNeck);
  set(Joint::kNeck, Joint::kHead);
  for (int side = 0; side < 2; ++side) {
    auto s = [&](Joint left) { return static_cast<Joint>(index(left) + side); };
    set(s(Joint::kLeftHip), s(Joint::kLeftKnee));
    set(s(Joint::kLeftKnee), s(Joint::kLeftAnkle));
    set(s(Joint::kLeftAnkle), s(Joint::kLeftFoot));
    set(s(Joint::kLeftCollar), s(Joint::kLeftShoulder));
    set(s(Joint::kLeftShoulder), s(Joint::kLeftElbow));
    set(s(Joint::kLeftElbow), s(Joint::kLeftWrist));
    set(s(Joint::kLeftWrist), s(Joint::kLeftHand));
  }
  return c;
}();

// Everything about a (motion, map, target) triple that does not depend on the frame.
struct Retarget {
  std::vector<Vec3> source_rest;            // file joint positions in the OFFSET pose
  std::array<Mat3, kJointCount> alignment;  // target rest bone -> source rest bone
  double scale = 1;                         // target / source length
};

double leg_length(Vec3 hip, Vec3 knee, Vec3 ankle) {
  return length(knee - hip) + length(ankle - knee);
}

Retarget prepare(const BvhMotion& motion, const JointMap& map, const RestJoints& rest) {
  Retarget r;
  r.source_rest.resize(motion.joints.size());
  for (size_t k = 0; k < motion.joints.size(); ++k) {
    const BvhJoint& j = motion.joints[k];
    r.source_rest[k] = j.parent < 0 ? j.offset : r.source_rest[j.parent] + j.offset;
  }
  for (int j = 0; j < kJointCount; ++j) {
    int s = map.source[j];
    int child = index(kBoneChild[j]);
    if (s < 0 || child < 0) continue;
    Vec3 source_bone{0, 0, 0};
    if (map.source[child] >= 0 && map.source[child] != s) {
      source_bone = r.source_rest[map.source[child]] - r.source_rest[s];
    } else {  // the file's own continuation: its only child or its End Site
      int only_child = -1, children = 0;
      for (size_t k = 0; k < motion.joints.size(); ++k) {
        if (motion.joints[k].parent == s) {
          only_child = static_cast<int>(k);
          ++children;
        }
      }
      if (children == 1)
        source_bone = motion.joints[only_child].offset;
      else if (children == 0 && motion.joints[s].end_site)
        source_bone = *motion.joints[s].end_site;
    }
    Vec3 target_bone = rest[child] - rest[j];
    if (dot(source_bone, source_bone) < 1e-18 || dot(target_bone, target_bone) < 1e-18) continue;
    r.alignment[j] = rotation_between(target_bone, to_body(source_bone));
  }

  // Root motion scale: leg lengths, else root heights above the lowest rest point.
  auto src = [&](Joint j) { return r.source_rest[map.source[index(j)]]; };
  double target_leg = 0, source_leg = 0;
  for (int side = 0; side < 2 && source_leg <= 0; ++side) {
    Joint hip = static_cast<Joint>(index(Joint::kLeftHip) + side);
    Joint knee = static_cast<Joint>(index(Joint::kLeftKnee) + side);
    Joint ankle = static_cast<Joint>(index(Joint::kLeftAnkle) + side);
    if (map.source[index(hip)] < 0 || map.source[index(knee)] < 0 || map.source[index(ankle)] < 0) {
      continue;
    }
    source_leg = leg_length(src(hip), src(knee), src(ankle));
    target_leg = leg_length(rest[index(hip)], rest[index(knee)], rest[index(ankle)]);
  }
  if (source_leg <= 1e-12) {
    double lowest = r.source_rest[0].y;
    for (size_t k = 0; k < motion.joints.size(); ++k) {
      lowest = std::min(lowest, r.source_rest[k].y);
      if (motion.joints[k].end_site) {
        lowest = std::min(lowest, r.source_rest[k].y + motion.joints[k].end_site->y);
      }
    }
    source_leg = r.source_rest[0].y - lowest;
    target_leg = rest[index(Joint::kPelvis)].z;
  }
  r.scale = source_leg > 1e-12 ? target_leg / source_leg : 1.0;
  return r;
}

Pose pose_at_frame(const BvhMotion& motion, const JointMap& map, const Retarget& r, int frame) {
  const double* row = motion.frame(frame);
  std::vector<Mat3> source_global(motion.joints.size());
  for (size_t k = 0; k < motion.joints.size(); ++k) {
    const BvhJoint& j = motion.joints[k];
    Mat3 local = channel_rotation(j, row);
    source_global[k] = j.parent < 0 ? local : source_global[j.parent] * local;
  }
  std::array<Mat3, kJointCount> global;
  Pose pose;
  for (int j = 0; j < kJointCount; ++j) {
    int s = map.source[j];
    int parent = kParents[j];
    if (s >= 0) {
      global[j] = to_body(source_global[s]) * r.alignment[j];
    } else {
      global[j] = parent < 0 ? Mat3{} : global[parent];
    }
    pose.local[j] = parent < 0 ? global[j] : global[parent].transposed() * global[j];
  }
  const BvhJoint& root = motion.joints[0];
  pose.root_translation =
      to_body(root_position(root, row) - root_position(root, motion.frame(0))) * r.scale;
  return pose;
}

}  // namespace

std::string BvhError::to_string() const {
  std::string out = file;
  if (line > 0) out += ":" + std::to_string(line);
  return out + ": " + message;
}

std::optional<int> BvhMotion::find_joint(std::string_view name) const {
  for (size_t i = 0; i < joints.size(); ++i) {
    if (joints[i].name == name) return static_cast<int>(i);
  }
  return std::nullopt;
}

tl::expected<BvhMotion, BvhError> parse_bvh(std::string_view text, std::string_view file_name) {
  return Parser(text, file_name).run();
}

tl::expected<JointMap, BvhError> resolve_joint_map(
    const BvhMotion& motion, std::string_view preset,
    const std::map<std::string, std::string>& overrides) {
  auto error = [&](std::string message) {
    return tl::unexpected(BvhError{motion.file_name, 0, std::move(message)});
  };
  JointMap map;
  map.source.fill(-1);
  if (preset == "cmu") {
    map.source = apply_preset(motion, cmu_preset());
    map.preset = "cmu";
  } else if (preset == "mixamo") {
    map.source = apply_preset(motion, mixamo_preset());
    map.preset = "mixamo";
  } else if (preset == "auto") {
    bool namespaced = false, cmu_only = false, mixamo_only = false;
    for (const BvhJoint& j : motion.joints) {
      std::string_view bare = strip_namespace(j.name);
      namespaced |= bare.size() != j.name.size();
      for (std::string_view n : {"LowerBack", "LHipJoint", "Neck1", "LeftFingerBase", "abdomen"}) {
        cmu_only |= equal_ignoring_case(bare, n);
      }
      for (std::string_view n : {"Spine2", "LeftHandMiddle1", "HeadTop_End"}) {
        mixamo_only |= equal_ignoring_case(bare, n);
      }
    }
    auto cmu = apply_preset(motion, cmu_preset());
    auto mixamo = apply_preset(motion, mixamo_preset());
    bool use_mixamo = namespaced || (mixamo_only && !cmu_only) ||
                      (!cmu_only && mapped_count(mixamo) > mapped_count(cmu));
    map.source = use_mixamo ? mixamo : cmu;
    map.preset = use_mixamo ? "mixamo" : "cmu";
  } else if (preset == "none" || preset.empty()) {
    map.preset = "none";
  } else {
    return error("unknown joint map preset '" + std::string(preset) +
                 "' (expected cmu, mixamo, auto or none)");
  }
  for (const auto& [ours, theirs] : overrides) {
    std::optional<Joint> joint = joint_from_name(ours);
    if (!joint) {
      return error("joint map names '" + theirs + "' for '" + ours +
                   "', which is not a synthfarm joint");
    }
    if (theirs.empty()) {
      map.source[index(*joint)] = -1;
      continue;
    }
    std::optional<int> found = motion.find_joint(theirs);
    if (!found) {
      return error("joint map names '" + theirs + "' for " + ours +
                   ", but the file has no joint '" + theirs + "'");
    }
    map.source[index(*joint)] = *found;
  }
  if (map.source[index(Joint::kPelvis)] < 0) {
    return error("joint map has no file joint for pelvis (root joint is '" + motion.joints[0].name +
                 "'; map it with pelvis: " + motion.joints[0].name + ")");
  }
  return map;
}

Pose retarget_frame(const BvhMotion& motion, const JointMap& map, const RestJoints& target_rest,
                    double frame, const RetargetOptions& options) {
  Retarget r = prepare(motion, map, target_rest);
  double last = motion.frame_count - 1;
  frame = std::clamp(frame, 0.0, last);
  int f0 = static_cast<int>(std::floor(frame));
  double t = frame - f0;
  Pose pose = pose_at_frame(motion, map, r, f0);
  if (t > 0 && f0 + 1 <= last) {
    Pose next = pose_at_frame(motion, map, r, f0 + 1);
    for (int j = 0; j < kJointCount; ++j) pose.local[j] = nlerp(pose.local[j], next.local[j], t);
    pose.root_translation = pose.root_translation * (1 - t) + next.root_translation * t;
  }
  if (options.clamp_to_limits) {
    for (int j = 0; j < kJointCount; ++j) {
      pose.local[j] = euler_to_matrix(joint_limits()[j].clamp(matrix_to_euler(pose.local[j])));
    }
  }
  return pose;
}

}  // namespace synthfarm::humans
