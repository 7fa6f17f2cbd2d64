// The run-time registry of custom resource types (see custom_types.h).
#include "node-image/schema/custom_types.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>

namespace k3dpp::schema {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

struct Registry {
  std::mutex mu;
  // crd name → its served types
  std::map<std::string, std::vector<std::shared_ptr<const ResourceType>>> by_crd;
  // replaced or removed types, kept a while for raw-pointer users inside a request
  std::vector<std::pair<Clock::time_point, std::shared_ptr<const ResourceType>>> retired;

  void retire(std::vector<std::shared_ptr<const ResourceType>> old) {
    auto now = Clock::now();
    retired.erase(std::remove_if(retired.begin(), retired.end(),
                                 [&](const auto& r) { return now - r.first > std::chrono::minutes(5); }),
                  retired.end());
    for (auto& t : old) retired.emplace_back(now, std::move(t));
  }
};

Registry& registry() {
  static Registry r;
  return r;
}

std::string str(const json& o, const char* k) {
  if (!o.is_object()) return {};
  auto it = o.find(k);
  return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
}
const json& at(const json& o, const char* k) {
  static const json kNull;
  if (!o.is_object()) return kNull;
  auto it = o.find(k);
  return it == o.end() ? kNull : *it;
}
std::vector<std::string> strings(const json& a) {
  std::vector<std::string> out;
  if (a.is_array())
    for (const auto& e : a)
      if (e.is_string()) out.push_back(e.get<std::string>());
  return out;
}

}  // namespace

std::string register_custom_resource(const json& crd) {
  const json& spec = at(crd, "spec");
  std::string crd_name = str(at(crd, "metadata"), "name");
  const json& accepted = at(at(crd, "status"), "acceptedNames");
  const json& names = accepted.is_object() && !str(accepted, "plural").empty() ? accepted : at(spec, "names");
  std::string group = str(spec, "group");
  bool namespaced = str(spec, "scope") != "Cluster";
  std::vector<std::shared_ptr<const ResourceType>> types;
  std::string storage;
  std::vector<std::string> served;
  const json& versions = at(spec, "versions");
  if (versions.is_array())
    for (const auto& v : versions) {
      if (at(v, "storage").is_boolean() && at(v, "storage").get<bool>()) storage = str(v, "name");
      if (at(v, "served").is_boolean() && at(v, "served").get<bool>()) served.push_back(str(v, "name"));
    }
  if (versions.is_array())
    for (const auto& v : versions) {
      if (!(at(v, "served").is_boolean() && at(v, "served").get<bool>())) continue;
      auto info = std::make_shared<CustomResourceInfo>();
      info->crd_name = crd_name;
      info->list_kind = str(names, "listKind");
      info->storage_version = storage;
      info->served_versions = served;
      const json& schema = at(at(v, "schema"), "openAPIV3Schema");
      if (schema.is_object()) {
        auto compiled = StructuralSchema::compile(schema);
        if (!compiled) return "version " + str(v, "name") + ": " + compiled.error().message;
        info->schema = *compiled;
        info->openapi_schema = schema;
      }
      const json& cols = at(v, "additionalPrinterColumns");
      if (cols.is_array() && !cols.empty()) {
        for (const auto& c : cols) {
          PrinterColumn pc{str(c, "name"), str(c, "type"), str(c, "format"), str(c, "description"),
                           str(c, "jsonPath"), 0};
          if (at(c, "priority").is_number_integer()) pc.priority = at(c, "priority").get<int>();
          info->columns.push_back(std::move(pc));
        }
      } else {
        info->columns.push_back({"Age", "date", "", "", ".metadata.creationTimestamp", 0});
      }
      const json& subs = at(v, "subresources");
      ResourceType t;
      t.group = group;
      t.version = str(v, "name");
      t.kind = str(names, "kind");
      t.plural = str(names, "plural");
      t.singular = str(names, "singular");
      t.namespaced = namespaced;
      t.short_names = strings(at(names, "shortNames"));
      t.categories = strings(at(names, "categories"));
      t.verbs = {"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"};
      if (at(subs, "status").is_object()) {
        info->status = true;
        t.subresources.push_back({"status", "", "", t.kind, {"get", "patch", "update"}});
      }
      if (const json& sc = at(subs, "scale"); sc.is_object()) {
        info->scale = true;
        info->spec_replicas_path = str(sc, "specReplicasPath");
        info->status_replicas_path = str(sc, "statusReplicasPath");
        info->label_selector_path = str(sc, "labelSelectorPath");
        t.subresources.push_back({"scale", "autoscaling", "v1", "Scale", {"get", "patch", "update"}});
      }
      t.custom = std::move(info);
      types.push_back(std::make_shared<const ResourceType>(std::move(t)));
    }
  auto& r = registry();
  std::lock_guard lock(r.mu);
  auto it = r.by_crd.find(crd_name);
  if (it != r.by_crd.end()) r.retire(std::move(it->second));
  r.by_crd[crd_name] = std::move(types);
  return {};
}

void unregister_custom_resource(const std::string& crd_name) {
  auto& r = registry();
  std::lock_guard lock(r.mu);
  auto it = r.by_crd.find(crd_name);
  if (it == r.by_crd.end()) return;
  r.retire(std::move(it->second));
  r.by_crd.erase(it);
}

std::vector<std::shared_ptr<const ResourceType>> custom_types() {
  auto& r = registry();
  std::lock_guard lock(r.mu);
  std::vector<std::shared_ptr<const ResourceType>> out;
  for (const auto& [name, types] : r.by_crd) out.insert(out.end(), types.begin(), types.end());
  return out;
}

std::vector<std::shared_ptr<const ResourceType>> custom_types_of(const std::string& crd_name) {
  auto& r = registry();
  std::lock_guard lock(r.mu);
  auto it = r.by_crd.find(crd_name);
  return it == r.by_crd.end() ? std::vector<std::shared_ptr<const ResourceType>>{} : it->second;
}

std::shared_ptr<const ResourceType> find_custom(std::string_view group, std::string_view version,
                                                std::string_view plural) {
  auto& r = registry();
  std::lock_guard lock(r.mu);
  for (const auto& [name, types] : r.by_crd)
    for (const auto& t : types)
      if (t->group == group && t->version == version && t->plural == plural) return t;
  return nullptr;
}

}  // namespace k3dpp::schema
