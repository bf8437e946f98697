// Parsing of the dataset spec (jobs/spec.h, docs/spec.md): parse_spec reads the YAML and
// hands the document to the Parser; the layer names and SpecError's text are here too.
//
// The parser walks the YAML tree once, in document order, and records every problem it
// finds instead of stopping at the first; a field with a problem keeps its default so the
// walk can go on. Nothing here throws to the caller: yaml-cpp's exceptions are caught and
// turned into SpecErrors.
//
// The rest lives in jobs/spec/: the Parser (internal/parser.h, parser_*.cpp), the scalar
// typing, text helpers and suggestions it stands on, and the canonical JSON (json.cpp).
#include "jobs/spec.h"

#include "jobs/spec/internal/parser.h"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace synthfarm::jobs {

using render::Layer;
using spec_internal::Field;
using spec_internal::Parser;
namespace {

// Where each YAML document starts, and nothing else.
//
// Why not YAML::LoadAll: yaml-cpp 0.7 (Debian 12's) has a bug where some malformed input
// (a stray ',' outside brackets, e.g. ", a") makes the parser return the same empty document
// forever without consuming input (jbeder/yaml-cpp#1040, fixed upstream in 0.8 by #1318 and
// #1319); LoadAll collects them until memory runs out. So documents are counted with this
// handler, at most three, and two documents starting at the same place mean "stuck".
class DocumentStarts : public YAML::EventHandler {
 public:
  std::vector<YAML::Mark> starts;

  void OnDocumentStart(const YAML::Mark& mark) override { starts.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

}  // namespace

std::string_view layer_name(Layer layer) {
  switch (layer) {
    case Layer::kRgb:
      return "rgb";
    case Layer::kDepth:
      return "depth";
    case Layer::kNormal:
      return "normal";
    case Layer::kAlbedo:
      return "albedo";
    case Layer::kInstance:
      return "instance";
    case Layer::kSemantic:
      return "semantic";
    case Layer::kPart:
      return "part";
    case Layer::kUv:
      return "uv";
    case Layer::kMotion:
      return "motion";
  }
  return "unknown";
}

std::optional<Layer> layer_from_name(std::string_view name) {
  for (Layer layer : {Layer::kRgb, Layer::kDepth, Layer::kNormal, Layer::kAlbedo, Layer::kInstance,
                      Layer::kSemantic, Layer::kPart, Layer::kUv, Layer::kMotion}) {
    if (layer_name(layer) == name) return layer;
  }
  return std::nullopt;
}

std::string SpecError::to_string() const {
  std::string out;
  if (!source.empty()) out += source;
  if (line > 0) {
    out += (out.empty() ? "" : ":") + std::to_string(line);
    if (column > 0) out += ":" + std::to_string(column);
  }
  if (!path.empty()) out += (out.empty() ? "" : ": ") + path;
  out += (out.empty() ? "" : ": ") + message;
  return out;
}

tl::expected<JobSpec, std::vector<SpecError>> parse_spec(std::string_view text,
                                                         std::string_view source) {
  Parser parser{std::string(source)};
  const std::string input(text);
  YAML::Node root;
  std::vector<YAML::Mark> starts;
  try {
    // See DocumentStarts: never YAML::LoadAll. At most three documents are looked at: enough
    // to tell a second document from yaml-cpp being stuck on the first or the second.
    std::istringstream stream(input);
    YAML::Parser events(stream);
    DocumentStarts counter;
    while (counter.starts.size() < 3 && events.HandleNextDocument(counter)) {
      size_t n = counter.starts.size();
      if (n >= 2 && counter.starts[n - 1].pos == counter.starts[n - 2].pos) {
        // No progress: the input at that point is not YAML that yaml-cpp can read.
        const YAML::Mark& at = counter.starts[n - 1];
        auto pos = static_cast<size_t>(std::max(0, at.pos));
        std::string what = pos < input.size() ? "'" + std::string(1, input[pos]) + "'" : "input";
        parser.fail(at, "", "unexpected " + what + "; this is not valid YAML");
        return tl::unexpected(parser.take_errors());
      }
    }
    starts = std::move(counter.starts);
    std::istringstream first(input);
    root = YAML::Load(first);
  } catch (const YAML::DeepRecursion& e) {
    parser.fail(e.mark, "", "nested too deeply for a spec");
    return tl::unexpected(parser.take_errors());
  } catch (const YAML::Exception& e) {
    parser.fail(e.mark, "", e.msg);
    return tl::unexpected(parser.take_errors());
  }
  if (root.IsNull() && starts.size() <= 1) {
    parser.fail(YAML::Mark(), "", "the spec is empty; it needs at least 'name' and 'samples'");
    return tl::unexpected(parser.take_errors());
  }
  JobSpec spec;
  try {
    spec = parser.parse_document(Field{root, "", root.Mark()});
  } catch (const YAML::Exception& e) {
    // Not expected: every access above checks the node type first.
    parser.fail(e.mark, "", std::string("internal error reading the spec: ") + e.msg);
  }
  if (starts.size() > 1) {
    parser.fail(starts[1], "", "only one YAML document is allowed per spec");
  }
  auto errors = parser.take_errors();
  if (!errors.empty()) return tl::unexpected(std::move(errors));
  return spec;
}

}  // namespace synthfarm::jobs
