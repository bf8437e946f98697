// How the spec parser reads YAML scalars: their type under the YAML 1.2 core schema, their
// value as a number, and what the user wrote, for messages.
#pragma once

#include <optional>
#include <string>

#include <yaml-cpp/yaml.h>

namespace synthfarm::jobs::spec_internal {

// Scalars. Types follow the YAML 1.2 core schema (the one JSON agrees with): a quoted
// scalar is always a string; a plain one is null, a boolean, a number or a string by its
// spelling. yaml-cpp leaves that decision to the reader, so it is made here.

enum class ScalarKind { kNull, kBool, kInteger, kFloat, kNonFinite, kString };

// Written in quotes (or tagged !!str): a string whatever it spells.
bool is_quoted(const YAML::Node& node);
ScalarKind classify(const YAML::Node& node);
// What the user wrote, for "got ..." in messages.
std::string describe(const YAML::Node& node);
// A finite number, or nothing.
std::optional<double> to_number(const YAML::Node& node);
bool is_whole(double value);

}  // namespace synthfarm::jobs::spec_internal
