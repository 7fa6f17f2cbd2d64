// YAML request bodies (Content-Type application/yaml): decoded to the same JSON the API server
// works on. Plain scalars are typed as YAML 1.2's core schema says (null, true/false, integers,
// floats); quoted scalars stay strings. One document only; anchors and aliases are expanded.
#pragma once

#include <nlohmann/json.hpp>

#include <string_view>

#include "common/result.h"

namespace k3dpp::apimachinery {

inline constexpr const char* kYamlContentType = "application/yaml";

// "BadRequest" error (with yaml-cpp's position) when the text is not YAML.
Result<nlohmann::json> yaml_to_json(std::string_view text);

}  // namespace k3dpp::apimachinery
