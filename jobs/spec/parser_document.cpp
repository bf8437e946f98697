// The Parser's sections at the top of a spec (internal/parser.h): the document itself (name,
// samples, sharding, seed, priority, retries) and output, camera and render.
#include "jobs/spec/internal/parser.h"

#include "jobs/spec/internal/text.h"
#include "jobs/spec/internal/yaml_scalars.h"

#include <algorithm>
#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace synthfarm::jobs::spec_internal {

using render::Layer;

void Parser::output(const Field& field, OutputSpec& out) {
  static constexpr std::array<std::string_view, 5> kKeys = {"storage", "layers", "labels", "preview",
                                                            "format"};
  mapping(field, kKeys, {}, [&](std::string_view key, const Field& value) {
    if (key == "storage") {
      if (value.node.IsNull()) {
        out.storage.clear();
        return;
      }
      auto uri = string(value, "a file:// or s3:// URI");
      if (!uri) return;
      bool file = uri->starts_with("file://"), s3 = uri->starts_with("s3://");
      if (!uri->empty() && !file && !s3) {
        fail(value, "must be a file:// or s3:// URI, got " + describe(value.node));
      } else if (!is_clean_text(*uri)) {
        fail(value, "must be valid UTF-8 without control characters, got " + describe(value.node));
      } else if ((file && uri->size() == 7) || (s3 && uri->size() == 5)) {
        fail(value, "must name a location after the scheme, got " + describe(value.node));
      } else {
        out.storage = *uri;
      }
    } else if (key == "layers") {
      auto layers = word_list<Layer>(value, "layer", kLayerNames, kFutureLayers,
                                     [](std::string_view name) { return *layer_from_name(name); });
      if (layers && layers->empty()) {
        fail(value, "must list at least one layer (" + join(kLayerNames) + ")");
      } else if (layers) {
        out.layers = std::move(*layers);
      }
    } else if (key == "labels") {
      auto labels = word_list<std::string>(value, "label", kLabelNames, kFutureLabels,
                                           [](std::string_view name) { return std::string(name); });
      if (!labels) return;
      const bool coco = std::find(labels->begin(), labels->end(), "coco") != labels->end();
      const bool json = std::find(labels->begin(), labels->end(), "sample_json") != labels->end();
      if (coco && !json) {
        fail(value, "coco is built from the per-sample JSON: list sample_json too, got " + describe(value.node));
      } else {
        out.labels = std::move(*labels);
      }
    } else if (key == "format") {
      auto format = string(value, "files or webdataset");
      if (!format) return;
      if (*format != "files" && *format != "webdataset") {
        fail(value, "must be files or webdataset, got " + describe(value.node));
      } else {
        out.format = *format;
      }
    } else {
      set(out.preview_png, boolean(value));
    }
  });
}

void Parser::camera(const Field& field, CameraSpec& out) {
  static constexpr std::array<std::string_view, 6> kKeys = {"resolution", "fov_deg",       "height_m",
                                                            "distance_m", "keep_in_frame", "f_number"};
  mapping(field, kKeys, {}, [&](std::string_view key, const Field& value) {
    if (key == "resolution") {
      if (!value.node.IsSequence() || value.node.size() != 2) {
        fail(value, "must be [width, height], two integers between 1 and 16384, got " +
                        describe(value.node));
        return;
      }
      auto width =
          integer({value.node[0], item_path(value.path, 0), value.node[0].Mark()}, 1, 16384);
      auto height =
          integer({value.node[1], item_path(value.path, 1), value.node[1].Mark()}, 1, 16384);
      if (width && height) {
        out.width = static_cast<int>(*width);
        out.height = static_cast<int>(*height);
      }
    } else if (key == "fov_deg") {
      set(out.fov_deg, value, {10, 150});
    } else if (key == "height_m") {
      set(out.height_m, value, {0.1, 20});
    } else if (key == "distance_m") {
      set(out.distance_m, value, {0.5, 100});
    } else if (key == "f_number") {
      set(out.f_number, value, {0, 64});
    } else {
      auto word = string(value, "one of " + join(kKeepInFrame));
      if (word && check_word(value, *word, "keep_in_frame mode", kKeepInFrame, {})) {
        out.keep_in_frame = *word;
      }
    }
  });
}

void Parser::render(const Field& field, RenderSpec& out) {
  static constexpr std::array<std::string_view, 2> kKeys = {"spp", "max_bounces"};
  mapping(field, kKeys, {}, [&](std::string_view key, const Field& value) {
    if (key == "spp") {
      if (auto v = integer(value, 1, 65536)) out.spp = static_cast<int>(*v);
    } else {
      if (auto v = integer(value, 0, 64)) out.max_bounces = static_cast<int>(*v);
    }
  });
}

namespace {

bool valid_name(std::string_view name) {
  auto first = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  auto rest = [&](char c) { return first(c) || c == '.' || c == '_' || c == '-'; };
  return !name.empty() && name.size() <= 64 && first(name[0]) &&
         std::all_of(name.begin() + 1, name.end(), rest);
}

}  // namespace

JobSpec Parser::parse_document(const Field& top) {
  JobSpec spec;
  static constexpr std::array<std::string_view, 19> kKeys = {
      "name",   "samples", "shard_size", "seed",   "priority", "max_attempts", "on_dead_shards",
      "output", "camera",  "render",     "scene",  "lighting", "humans",       "clip",
      "sensor", "task",    "inputs",     "fit",    "fusion"};
  if (!top.node.IsMap()) {
    fail(top, "the spec must be a mapping of fields (name: ..., samples: ...), got " +
                  describe(top.node));
    return spec;
  }
  std::map<std::string, Field> fields;  // every top-level field, for check_task
  bool task_known = true;               // an unknown task has no rules to check
  auto seen = mapping(top, kKeys, {}, [&](std::string_view key, const Field& value) {
    fields.emplace(std::string(key), value);
    if (key == "task") {
      task_known = task(value, spec);
    } else if (key == "inputs") {
      inputs(value, spec.inputs);
    } else if (key == "fit") {
      fit(value, spec.fit);
    } else if (key == "fusion") {
      fusion(value, spec.fusion);
    } else if (key == "name") {
      auto name = string(value, "a string");
      if (name && !valid_name(*name)) {
        fail(value,
             "must be 1 to 64 characters of a-z, 0-9, '.', '_' or '-', starting with a "
             "letter or digit, got " +
                 describe(value.node));
      } else if (name) {
        spec.name = *name;
      }
    } else if (key == "samples") {
      set(spec.samples, integer(value, 1, 100000000));
    } else if (key == "shard_size") {
      if (value.node.IsScalar() && value.node.Scalar() == "auto" && !is_quoted(value.node)) {
        fail(value,
             "'auto' is not supported in this version; give an integer between 1 and "
             "100000");
      } else {
        set(spec.shard_size, integer(value, 1, 100000));
      }
    } else if (key == "seed") {
      set(spec.seed, unsigned_integer(value));
    } else if (key == "priority") {
      if (auto v = integer(value, -1000, 1000)) spec.priority = static_cast<int>(*v);
    } else if (key == "max_attempts") {
      if (auto v = integer(value, 1, 100)) spec.max_attempts = static_cast<int>(*v);
    } else if (key == "on_dead_shards") {
      auto v = string(value, "a string");
      if (v && *v != "fail" && *v != "partial") {
        fail(value, "must be 'fail' or 'partial', got " + describe(value.node));
      } else if (v) {
        spec.on_dead_shards = *v;
      }
    } else if (key == "output") {
      output(value, spec.output);
    } else if (key == "camera") {
      camera(value, spec.camera);
    } else if (key == "render") {
      render(value, spec.render);
    } else if (key == "scene") {
      scene(value, spec.scene);
    } else if (key == "lighting") {
      lighting(value, spec.lighting);
    } else if (key == "clip") {
      clip(value, spec.clip);
    } else if (key == "sensor") {
      sensor(value, spec.sensor);
    } else {
      humans(value, spec.humans);
    }
  });
  if (seen) {
    require(top, *seen, "name");
    if (task_known) check_task(top, fields, spec);  // samples is required for render only
  }
  if (spec.sensor.enabled) check_lens(spec);
  return spec;
}

}  // namespace synthfarm::jobs::spec_internal
