#include "node-image/apimachinery/limits.h"

#include <utility>
#include <vector>

namespace k3dpp::apimachinery {

std::optional<std::string> json_text_depth_error(std::string_view text, size_t max_depth) {
  size_t depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;  // the escaped character cannot end the string
      else if (c == '"') in_string = false;
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '{':
      case '[':
        if (++depth > max_depth) return std::string("invalid character '") + c + "' exceeded max depth";
        break;
      case '}':
      case ']':
        if (depth > 0) --depth;
        break;
      default:
        break;
    }
  }
  return std::nullopt;
}

bool json_depth_exceeds(const nlohmann::json& v, size_t max_depth) {
  // (node, its depth) pairs still to visit; containers count one level each.
  std::vector<std::pair<const nlohmann::json*, size_t>> todo{{&v, 0}};
  while (!todo.empty()) {
    auto [n, d] = todo.back();
    todo.pop_back();
    if (!n->is_structured()) continue;
    if (d + 1 > max_depth) return true;
    for (const auto& child : *n) todo.emplace_back(&child, d + 1);
  }
  return false;
}

}  // namespace k3dpp::apimachinery
