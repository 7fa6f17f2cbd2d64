// Tolerant field readers for Kubernetes objects held as JSON: a missing key, a non-object or a value
// of the wrong type reads as empty / zero, as informer handlers want.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace k3dpp::client {

inline std::string str_field(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return {};
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return {};
  return it->get<std::string>();
}

inline int int_field(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return 0;
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()) return 0;
  return it->get<int>();
}

}  // namespace k3dpp::client
