// The dataset card's HTML page, drawn from its JSON (dataset_card.cpp makes that): inline
// CSS, one inline SVG chart per histogram drawn here, tables of the numbers in <details>,
// no script and nothing fetched, so the file reads the same offline. Every string that
// came from the spec or the samples is escaped.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "jobs/dataset_card.h"

// A namespace of its own rather than an anonymous one: unity builds join this file with
// the others of jobs/'s records group.
namespace synthfarm::jobs::card_page {

using Json = nlohmann::json;

// Cut to at most `max` bytes without splitting a UTF-8 sequence.
std::string_view cut_utf8(std::string_view s, size_t max) {
  if (s.size() <= max) return s;
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

// For text and attribute values alike.
std::string escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string text_of(const Json& j) { return j.is_string() ? j.get<std::string>() : j.dump(); }

// 1234567 -> "1,234,567"
std::string grouped(uint64_t n) {
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

// A label short enough for a chart's margin; the bar's tooltip has the whole name.
std::string short_label(std::string_view s) {
  constexpr size_t kMax = 24;
  return s.size() <= kMax ? std::string(s) : std::string(cut_utf8(s, kMax - 1)) + "…";
}

constexpr int kChartWidth = 440;

std::string svg_open(int height, std::string_view label) {
  return fmt::format(
      R"(<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {0} {1}" width="{0}" height="{1}" role="img" aria-label="{2}">)",
      kChartWidth, height, escape(label));
}

std::string bin_label(const Json& h, size_t i) {
  const auto& edges = h["edges"];
  const std::string unit = text_of(h["unit"]);
  if (h["integer"].get<bool>()) return fmt::format("{}", edges[i].get<double>());
  const bool last = i + 2 == edges.size();
  return fmt::format("[{}, {}{}{}{}", edges[i].get<double>(), edges[i + 1].get<double>(),
                     last ? "]" : ")", unit.empty() ? "" : " ", unit);
}

// Vertical bars, one per bin, scaled to the fullest bin.
std::string numeric_chart(const Json& h) {
  const auto counts = h["counts"].get<std::vector<uint64_t>>();
  const auto edges = h["edges"].get<std::vector<double>>();
  constexpr int kHeight = 150, kLeft = 48, kRight = 8, kTop = 10, kBottom = 30;
  constexpr double kPlotWidth = kChartWidth - kLeft - kRight,
                   kPlotHeight = kHeight - kTop - kBottom;
  const uint64_t most = counts.empty() ? 0 : *std::max_element(counts.begin(), counts.end());
  const double bar = kPlotWidth / static_cast<double>(counts.size());
  std::string svg = svg_open(kHeight, text_of(h["title"]));
  svg += fmt::format(R"(<line class="axis" x1="{0}" y1="{1}" x2="{2}" y2="{1}"/>)", kLeft,
                     kTop + kPlotHeight, kChartWidth - kRight);
  svg += fmt::format(R"(<text x="{}" y="{}" text-anchor="end">{}</text>)", kLeft - 4, kTop + 8,
                     grouped(most));
  svg += fmt::format(R"(<text x="{}" y="{}" text-anchor="end">0</text>)", kLeft - 4,
                     kTop + kPlotHeight);
  for (size_t i = 0; i < counts.size(); ++i) {
    const double height =
        most == 0 ? 0 : kPlotHeight * static_cast<double>(counts[i]) / static_cast<double>(most);
    svg += fmt::format(
        R"(<rect class="bar" x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}"><title>{}: {}</title></rect>)",
        kLeft + i * bar + 0.5, kTop + kPlotHeight - height, std::max(bar - 1.0, 0.5), height,
        escape(bin_label(h, i)), grouped(counts[i]));
  }
  // Tick labels: every bin of a small whole-number histogram, else the ends and the middle.
  const int y = kHeight - kBottom + 14;
  if (h["integer"].get<bool>() && counts.size() <= 20) {
    for (size_t i = 0; i < counts.size(); ++i) {
      svg += fmt::format(R"(<text x="{:.1f}" y="{}" text-anchor="middle">{}</text>)",
                         kLeft + (i + 0.5) * bar, y, edges[i]);
    }
  } else {
    for (size_t i : {size_t{0}, counts.size() / 2, counts.size()}) {
      // The last edge's label ends there, so that it stays inside the chart.
      svg += fmt::format(R"(<text x="{:.1f}" y="{}" text-anchor="{}">{}</text>)", kLeft + i * bar,
                         y, i == counts.size() ? "end" : "middle", edges[i]);
    }
  }
  const std::string unit = text_of(h["unit"]);
  if (!unit.empty()) {
    svg += fmt::format(R"(<text x="{}" y="{}" text-anchor="end">{}</text>)", kChartWidth - kRight,
                       kHeight - 2, escape(unit));
  }
  if (most == 0) {
    svg += fmt::format(R"(<text x="{}" y="{}" text-anchor="middle">no values</text>)",
                       kLeft + kPlotWidth / 2, kTop + kPlotHeight / 2);
  }
  return svg + "</svg>";
}

// The values of a categorical histogram, fullest first (then by name), "other" last.
std::vector<std::pair<std::string, uint64_t>> category_rows(const Json& h) {
  std::vector<std::pair<std::string, uint64_t>> rows;
  for (const auto& [name, n] : h["counts"].items()) rows.emplace_back(name, n.get<uint64_t>());
  std::stable_sort(rows.begin(), rows.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  if (h["other"].get<uint64_t>() > 0) rows.emplace_back("(other)", h["other"].get<uint64_t>());
  return rows;
}

// Horizontal bars, one per value.
std::string category_chart(const Json& h) {
  const auto rows = category_rows(h);
  constexpr int kRow = 18, kLabel = 150, kCountSpace = 64;
  constexpr double kBarSpace = kChartWidth - kLabel - kCountSpace;
  uint64_t most = 0;
  for (const auto& row : rows) most = std::max(most, row.second);
  std::string svg =
      svg_open(std::max<int>(1, static_cast<int>(rows.size())) * kRow + 6, text_of(h["title"]));
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& [name, n] = rows[i];
    const double width =
        most == 0 ? 0 : kBarSpace * static_cast<double>(n) / static_cast<double>(most);
    const int top = static_cast<int>(i) * kRow + 3;
    svg += fmt::format(R"(<text x="{}" y="{}" text-anchor="end">{}</text>)", kLabel - 6, top + 12,
                       escape(short_label(name)));
    svg += fmt::format(
        R"(<rect class="bar cat" x="{}" y="{}" width="{:.1f}" height="{}"><title>{}: {}</title></rect>)",
        kLabel, top + 2, width, kRow - 4, escape(name), grouped(n));
    svg += fmt::format(R"(<text x="{:.1f}" y="{}">{}</text>)", kLabel + width + 4, top + 12,
                       grouped(n));
  }
  if (rows.empty())
    svg += fmt::format(R"(<text x="{}" y="14" text-anchor="middle">no values</text>)",
                       kChartWidth / 2);
  return svg + "</svg>";
}

std::string table_of(const std::vector<std::pair<std::string, uint64_t>>& rows) {
  std::string out = "<details><summary>Numbers</summary><table>";
  for (const auto& [label, n] : rows)
    out += fmt::format("<tr><td>{}</td><td class=\"n\">{}</td></tr>", escape(label), grouped(n));
  return out + "</table></details>";
}

std::string figure(const Json& h) {
  const bool numeric = h["kind"] == "numeric";
  std::string out = fmt::format("<figure><figcaption>{}</figcaption>", escape(text_of(h["title"])));
  out += numeric ? numeric_chart(h) : category_chart(h);
  uint64_t counted = 0;
  std::vector<std::pair<std::string, uint64_t>> rows;
  if (numeric) {
    const auto counts = h["counts"].get<std::vector<uint64_t>>();
    for (size_t i = 0; i < counts.size(); ++i) {
      rows.emplace_back(bin_label(h, i), counts[i]);
      counted += counts[i];
    }
    rows.emplace_back("below the first bin", h["underflow"].get<uint64_t>());
    rows.emplace_back("above the last bin", h["overflow"].get<uint64_t>());
  } else {
    rows = category_rows(h);
    for (const auto& row : rows) counted += row.second;
  }
  rows.emplace_back("missing", h["missing"].get<uint64_t>());
  const uint64_t outside =
      numeric ? h["underflow"].get<uint64_t>() + h["overflow"].get<uint64_t>() : 0;
  out += fmt::format(
      "<p class=\"note\">{} counted, one per {}{}; missing {}. From <code>{}</code>.</p>",
      grouped(counted), escape(text_of(h["per"])),
      outside > 0 ? fmt::format("; outside the bins {}", grouped(outside)) : "",
      grouped(h["missing"].get<uint64_t>()), escape(text_of(h["source"])));
  return out + table_of(rows) + "</figure>";
}

// Visible, occluded and unlabelled per joint, as shares of the people.
std::string joints_figure(const Json& joints) {
  constexpr int kRow = 16, kLabel = 110, kTop = 22;
  constexpr double kBarSpace = kChartWidth - kLabel - 8;
  std::string svg =
      svg_open(kTop + static_cast<int>(joints.size()) * kRow + 4, "Keypoint visibility per joint");
  int x = kLabel;
  for (const char* part : {"visible", "occluded", "unlabelled"}) {
    svg += fmt::format(
        R"(<rect class="{}" x="{}" y="4" width="10" height="10"/><text x="{}" y="13">{}</text>)",
        part, x, x + 14, part);
    x += 90;
  }
  std::vector<std::pair<std::string, uint64_t>> rows;
  for (size_t i = 0; i < joints.size(); ++i) {
    const Json& joint = joints[i];
    const std::string name = text_of(joint["joint"]);
    const int top = kTop + static_cast<int>(i) * kRow;
    svg += fmt::format(R"(<text x="{}" y="{}" text-anchor="end">{}</text>)", kLabel - 6, top + 11,
                       escape(name));
    uint64_t total = 0;
    for (const char* part : {"visible", "occluded", "unlabelled"})
      total += joint[part].get<uint64_t>();
    double at = kLabel;
    for (const char* part : {"visible", "occluded", "unlabelled"}) {
      const uint64_t n = joint[part].get<uint64_t>();
      const double width =
          total == 0 ? 0 : kBarSpace * static_cast<double>(n) / static_cast<double>(total);
      svg += fmt::format(
          R"(<rect class="{}" x="{:.1f}" y="{}" width="{:.1f}" height="{}"><title>{} {}: {}</title></rect>)",
          part, at, top + 2, width, kRow - 4, escape(name), part, grouped(n));
      at += width;
      rows.emplace_back(name + " " + part, n);
    }
  }
  return "<figure><figcaption>Keypoint visibility per joint</figcaption>" + svg + "</svg>" +
         "<p class=\"note\">Per person, COCO-17 order: visible (v = 2), occluded (v = 1), "
         "unlabelled or outside "
         "the image (v = 0).</p>" +
         table_of(rows) + "</figure>";
}

constexpr const char* kStyle = R"(
body { font: 14px/1.45 system-ui, sans-serif; color: #1d2125; margin: 2em auto; max-width: 1400px; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #d7dce1; padding-bottom: 0.2em; }
.sub { color: #5c6670; margin-top: 0; }
table { border-collapse: collapse; } td, th { padding: 2px 10px; border-bottom: 1px solid #eceff2; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.grid { display: flex; flex-wrap: wrap; gap: 1.5em; }
figure { margin: 0; width: 440px; }
figcaption { font-weight: 600; margin-bottom: 0.3em; }
svg { display: block; font-size: 11px; fill: #1d2125; }
.axis { stroke: #8a949e; } .bar { fill: #3a6ea5; } .bar.cat { fill: #4f8a3a; }
.visible { fill: #2f6f4f; } .occluded { fill: #d08c2b; } .unlabelled { fill: #c9ced3; }
.note { color: #5c6670; font-size: 12px; margin: 0.3em 0; }
.warn { background: #fff4e5; border-left: 4px solid #d08c2b; padding: 0.2em 1em; }
details { font-size: 12px; } code { font-size: 12px; }
)";

std::string counts_table(const Json& card) {
  const Json& c = card["counts"];
  auto n = [&](const Json& v) { return grouped(v.get<uint64_t>()); };
  const std::vector<std::pair<std::string, std::string>> rows = {
      {"Images (still samples and clip frames)", n(c["images"])},
      {"Samples", fmt::format("{} of {} requested", n(c["samples"]), n(card["samples_requested"]))},
      {"People", n(c["people"])},
      {"&nbsp;&nbsp;parametric body", n(c["people_parametric"])},
      {"&nbsp;&nbsp;character (no shape fields)", n(c["people_character"])},
      {"&nbsp;&nbsp;visible (a box in the image)", n(c["people_visible"])},
      {"Instances (people, props, floors, walls)", n(c["instances"])},
      {"Keypoints visible (v = 2)", n(c["keypoints"]["visible"])},
      {"Keypoints occluded (v = 1)", n(c["keypoints"]["occluded"])},
      {"Keypoints unlabelled or outside (v = 0)", n(c["keypoints"]["unlabelled"])},
      {"Skipped sample JSONs (malformed)", n(c["skipped_samples"])},
  };
  std::string out = "<table class=\"counts\">";
  // The labels are this file's own text (some hold &nbsp;); the numbers are digits.
  for (const auto& [label, value] : rows)
    out += fmt::format("<tr><th>{}</th><td class=\"n\">{}</td></tr>", label, value);
  return out + "</table>";
}

std::string skipped_section(const Json& card) {
  const Json& skipped = card["skipped"];
  if (skipped["count"].get<uint64_t>() == 0) return "";
  std::string out = fmt::format(
      "<section class=\"warn\"><h2>Skipped samples</h2><p>{} sample JSON(s) could not be read and "
      "are counted "
      "nowhere else on this card. The first {} of them:</p><ul>",
      grouped(skipped["count"].get<uint64_t>()), skipped["listed"].size());
  for (const Json& s : skipped["listed"]) {
    out += fmt::format("<li><code>{}</code>: {}</li>", escape(text_of(s["key"])),
                       escape(text_of(s["error"])));
  }
  return out + "</ul></section>";
}

// Related fields side by side (the JSON's keys are sorted by name).
constexpr std::array kDisplayOrder = {"people_per_image",
                                      "height_m",
                                      "bmi",
                                      "age",
                                      "sex",
                                      "skin_tone",
                                      "motion",
                                      "camera_distance_m",
                                      "camera_fov_deg",
                                      "sun_elevation_deg",
                                      "scene_kind",
                                      "person_box_height_px",
                                      "occlusion_fraction",
                                      "instance_class"};

std::string page(const Json& card) {
  const std::string name = escape(text_of(card["name"]));
  std::string out = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">";
  // No script, no fetch, whoever serves the file or wherever it is opened.
  out +=
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src "
      "'unsafe-inline'\">";
  out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">";
  out +=
      fmt::format("<title>Dataset card: {}</title><style>{}</style></head><body>\n", name, kStyle);
  out += fmt::format(
      "<header><h1>Dataset card: {}</h1><p class=\"sub\">job <code>{}</code> · {} · "
      "{}</p></header>\n",
      name, escape(text_of(card["job"])), escape(text_of(card["software"])),
      escape(text_of(card["format"])));
  out += "<section><h2>Counts</h2>" + counts_table(card) + "</section>\n" + skipped_section(card);
  for (const auto& [group, heading] :
       {std::pair<const char*, const char*>{"drawn", "What was drawn"},
        {"outcome", "What came out"}}) {
    out += fmt::format("<section><h2>{}</h2><div class=\"grid\">", heading);
    for (const char* key : kDisplayOrder) {
      auto h = card["histograms"].find(key);
      if (h != card["histograms"].end() && (*h)["group"] == group) out += figure(*h);
    }
    if (std::string_view(group) == "outcome") out += joints_figure(card["keypoints_per_joint"]);
    out += "</div></section>\n";
  }
  out += "<section><h2>Definitions</h2><dl>";
  for (const auto& [key, text] : card["definitions"].items()) {
    std::string term = key;  // "occlusion_fraction" -> "Occlusion fraction"
    std::replace(term.begin(), term.end(), '_', ' ');
    if (!term.empty())
      term[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(term[0])));
    out += fmt::format("<dt>{}</dt><dd>{}</dd>", escape(term), escape(text_of(text)));
  }
  return out + "</dl></section>\n</body></html>\n";
}

}  // namespace synthfarm::jobs::card_page

namespace synthfarm::jobs {

std::string dataset_card_html(const nlohmann::json& card) { return card_page::page(card); }

}  // namespace synthfarm::jobs
