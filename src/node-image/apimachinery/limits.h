// Limits on the shape of request bodies, checked before anything recursive sees them.
// Kubernetes decodes JSON with Go's scanner, which refuses nesting deeper than 10,000 levels
// ("invalid character '{' exceeded max depth"); the API server's JSON, merge-patch and strategic
// merge code (and nlohmann's dump) recurse per level, so the raw text is checked first.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace k3dpp::apimachinery {

inline constexpr size_t kMaxJsonDepth = 10000;

// Go's message when the text nests objects/arrays deeper than max_depth, nullopt otherwise.
// Linear, no recursion; strings (with escapes) are skipped. Does not validate the JSON.
std::optional<std::string> json_text_depth_error(std::string_view text, size_t max_depth = kMaxJsonDepth);

// True when a decoded tree nests deeper than max_depth (iterative).
bool json_depth_exceeds(const nlohmann::json& v, size_t max_depth = kMaxJsonDepth);

}  // namespace k3dpp::apimachinery
