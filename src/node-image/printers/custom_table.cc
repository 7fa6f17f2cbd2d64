// Tables of custom resources from their CRD's additionalPrinterColumns (see printers.h).
#include <cstdlib>

#include "node-image/printers/printers.h"

namespace k3dpp::printers {

using nlohmann::json;

namespace {

constexpr const char* kNameDesc =
    "Name must be unique within a namespace. Is required when creating resources, although some "
    "resources may allow a client to request the name to be generated automatically. Name is "
    "primarily intended for creation idempotence and configuration definition. Cannot be updated. "
    "More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
constexpr const char* kCreationDesc =
    "CreationTimestamp is a timestamp representing the server time when this object was created. "
    "It is not guaranteed to be set in happens-before order across separate operations. Clients "
    "may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the "
    "system. Read-only. Null for lists. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

const json* step_field(const json* v, const std::string& field) {
  if (!v || !v->is_object()) return nullptr;
  auto it = v->find(field);
  return it == v->end() ? nullptr : &*it;
}

json cell(const CustomColumn& c, const json& obj, std::chrono::system_clock::time_point now) {
  const json* v = json_path_value(obj, c.json_path);
  if (!v || v->is_null()) return nullptr;
  if (c.type == "date") {
    std::chrono::system_clock::time_point t;
    if (!v->is_string() || !parse_time(v->get<std::string>(), t)) return nullptr;
    return format_age(now - t);
  }
  if (c.type == "integer") return v->is_number() ? json(v->get<int64_t>()) : json(nullptr);
  if (c.type == "number") return v->is_number() ? json(v->get<double>()) : json(nullptr);
  if (c.type == "boolean") return v->is_boolean() ? *v : json(nullptr);
  if (v->is_string()) return *v;
  return v->dump();
}

}  // namespace

const json* json_path_value(const json& obj, const std::string& path) {
  std::string p = path;
  if (p.size() >= 2 && p.front() == '{' && p.back() == '}') p = p.substr(1, p.size() - 2);
  const json* v = &obj;
  size_t i = 0;
  while (v && i < p.size()) {
    if (p[i] == '.') {
      size_t j = i + 1;
      while (j < p.size() && p[j] != '.' && p[j] != '[') ++j;
      v = step_field(v, p.substr(i + 1, j - i - 1));
      i = j;
    } else if (p[i] == '[') {
      size_t j = p.find(']', i);
      if (j == std::string::npos) return nullptr;
      std::string in = p.substr(i + 1, j - i - 1);
      if (in.rfind("?(", 0) == 0) {
        // a filter: [?(@.type == "Ready")] → the first item whose field equals the literal
        j = p.find(")]", i);
        if (j == std::string::npos) return nullptr;
        in = p.substr(i + 3, j - i - 3);  // @.type == "Ready"
        j += 1;                           // at ']'
        auto eq = in.find("==");
        if (eq == std::string::npos || !v->is_array()) return nullptr;
        std::string lhs = in.substr(0, eq), rhs = in.substr(eq + 2);
        auto trim = [](std::string x) {
          while (!x.empty() && x.front() == ' ') x.erase(0, 1);
          while (!x.empty() && x.back() == ' ') x.pop_back();
          return x;
        };
        lhs = trim(lhs);
        rhs = trim(rhs);
        if (lhs.rfind("@", 0) != 0) return nullptr;
        json want;
        if (rhs.size() >= 2 && (rhs.front() == '"' || rhs.front() == '\'')) {
          want = rhs.substr(1, rhs.size() - 2);
        } else {
          want = json::parse(rhs, nullptr, false);
          if (want.is_discarded()) return nullptr;
        }
        const json* found = nullptr;
        for (const auto& item : *v) {
          const json* f = json_path_value(item, lhs.substr(1));
          if (f && *f == want) {
            found = &item;
            break;
          }
        }
        v = found;
        i = j + 1;
        continue;
      }
      if (in.size() >= 2 && (in.front() == '\'' || in.front() == '"')) {
        v = step_field(v, in.substr(1, in.size() - 2));
      } else {
        char* end = nullptr;
        long n = std::strtol(in.c_str(), &end, 10);
        if (in.empty() || end == in.c_str() || *end || !v->is_array()) return nullptr;
        if (n < 0) n += static_cast<long>(v->size());
        if (n < 0 || static_cast<size_t>(n) >= v->size()) return nullptr;
        v = &(*v)[static_cast<size_t>(n)];
      }
      i = j + 1;
    } else {
      return nullptr;
    }
  }
  return v;
}

json to_custom_table(const std::vector<CustomColumn>& columns, const std::vector<json>& objects,
                     std::chrono::system_clock::time_point now, const std::string& resource_version,
                     IncludeObject include, const std::string& continue_token) {
  json defs = json::array({{{"name", "Name"}, {"type", "string"}, {"format", "name"}, {"description", kNameDesc},
                            {"priority", 0}}});
  for (const auto& c : columns) {
    std::string desc = c.description;
    if (desc.empty())
      desc = c.json_path == ".metadata.creationTimestamp" && c.name == "Age"
                 ? kCreationDesc
                 : "Custom resource definition column (in JSONPath format): " + c.json_path;
    defs.push_back({{"name", c.name}, {"type", c.type}, {"format", c.format}, {"description", desc},
                    {"priority", c.priority}});
  }
  json rows = json::array();
  for (const auto& obj : objects) {
    json cells = json::array();
    const json* name = json_path_value(obj, ".metadata.name");
    cells.push_back(name && name->is_string() ? *name : json(""));
    for (const auto& c : columns) cells.push_back(cell(c, obj, now));
    json row = {{"cells", std::move(cells)}};
    if (include == IncludeObject::kObject) {
      row["object"] = obj;
    } else if (include == IncludeObject::kMetadata) {
      json meta = obj.is_object() && obj.contains("metadata") && obj["metadata"].is_object() ? obj["metadata"]
                                                                                              : json::object();
      meta.erase("managedFields");
      row["object"] = {{"kind", "PartialObjectMetadata"}, {"apiVersion", "meta.k8s.io/v1"}, {"metadata", meta}};
    }
    rows.push_back(std::move(row));
  }
  json metadata = {{"resourceVersion", resource_version}};
  if (!continue_token.empty()) metadata["continue"] = continue_token;
  return {{"kind", "Table"},
          {"apiVersion", "meta.k8s.io/v1"},
          {"metadata", std::move(metadata)},
          {"columnDefinitions", std::move(defs)},
          {"rows", std::move(rows)}};
}

}  // namespace k3dpp::printers
