// Tolerant reads of Kubernetes objects held as nlohmann::json. `jvalue(obj, "key", def)` is
// `obj.value("key", def)` without its exceptions: a non-object, a missing key, null, or a value of
// another type than def's reads as def. nlohmann's value() throws type_error when the stored type
// differs ({"phase":5} read as a string), and one such object in an informer, a controller's sync
// or the start-up code used to end the thread, and with it the process.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <type_traits>

namespace k3dpp {

namespace json_read_detail {
inline const nlohmann::json* find(const nlohmann::json& j, std::string_view key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return nullptr;
  return &*it;
}
}  // namespace json_read_detail

inline std::string jvalue(const nlohmann::json& j, std::string_view key, const char* def) {
  const auto* v = json_read_detail::find(j, key);
  return v && v->is_string() ? v->get<std::string>() : std::string(def);
}

inline std::string jvalue(const nlohmann::json& j, std::string_view key, const std::string& def) {
  const auto* v = json_read_detail::find(j, key);
  return v && v->is_string() ? v->get<std::string>() : def;
}

inline bool jvalue(const nlohmann::json& j, std::string_view key, bool def) {
  const auto* v = json_read_detail::find(j, key);
  return v && v->is_boolean() ? v->get<bool>() : def;
}

// Numbers: any JSON number converts (as value() does); anything else reads as def.
template <typename T, std::enable_if_t<std::is_arithmetic_v<T> && !std::is_same_v<T, bool>, int> = 0>
T jvalue(const nlohmann::json& j, std::string_view key, T def) {
  const auto* v = json_read_detail::find(j, key);
  return v && v->is_number() ? v->get<T>() : def;
}

// A JSON default: an array default wants an array, an object default an object; otherwise any
// present value is returned as it is (value()'s behaviour).
inline nlohmann::json jvalue(const nlohmann::json& j, std::string_view key, const nlohmann::json& def) {
  const auto* v = json_read_detail::find(j, key);
  if (!v) return def;
  if (def.is_array() && !v->is_array()) return def;
  if (def.is_object() && !v->is_object()) return def;
  if (def.is_string() && !v->is_string()) return def;
  if (def.is_number() && !v->is_number()) return def;
  if (def.is_boolean() && !v->is_boolean()) return def;
  return *v;
}

}  // namespace k3dpp
