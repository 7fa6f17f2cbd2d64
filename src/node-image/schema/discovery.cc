// Discovery (aggregated v2 and legacy) and the minimal OpenAPI v3 documents, built from all_types().
#include <algorithm>
#include <cstdint>
#include <cstdio>

#include "node-image/schema/schema.h"

namespace k3dpp::schema {
namespace {

json response_kind(const std::string& group, const std::string& version, const std::string& kind) {
  return {{"group", group}, {"version", version}, {"kind", kind}};
}

json aggregated_resource(const ResourceType& t) {
  json r = {{"resource", t.plural},
            {"responseKind", response_kind("", "", t.kind)},
            {"scope", t.namespaced ? "Namespaced" : "Cluster"},
            {"singularResource", t.singular},
            {"verbs", t.verbs}};
  if (!t.short_names.empty()) r["shortNames"] = t.short_names;
  if (!t.categories.empty()) r["categories"] = t.categories;
  if (!t.subresources.empty()) {
    json subs = json::array();
    for (const auto& s : t.subresources) {
      subs.push_back({{"subresource", s.name},
                      {"responseKind", response_kind(s.group, s.version, s.kind)},
                      {"verbs", s.verbs}});
    }
    r["subresources"] = std::move(subs);
  }
  return r;
}

// Groups in discovery order (core "" first).
std::vector<std::string> groups_in_order() {
  std::vector<std::string> out;
  for (const auto& t : all_types()) {
    if (std::find(out.begin(), out.end(), t.group) == out.end()) out.push_back(t.group);
  }
  return out;
}

json aggregated_group(const std::string& group) {
  json resources = json::array();
  std::vector<const ResourceType*> ts;
  for (const auto& t : all_types()) {
    if (t.group == group) ts.push_back(&t);
  }
  std::sort(ts.begin(), ts.end(), [](auto* a, auto* b) { return a->plural < b->plural; });
  for (auto* t : ts) resources.push_back(aggregated_resource(*t));
  return {{"metadata", {{"name", group}, {"creationTimestamp", nullptr}}},
          {"versions", json::array({{{"version", "v1"}, {"resources", std::move(resources)},
                                     {"freshness", "Current"}}})}};
}

json discovery_list(json items) {
  return {{"kind", "APIGroupDiscoveryList"},
          {"apiVersion", "apidiscovery.k8s.io/v2"},
          {"metadata", json::object()},
          {"items", std::move(items)}};
}

json group_entry(const std::string& group) {
  json gv = {{"groupVersion", group + "/v1"}, {"version", "v1"}};
  return {{"name", group}, {"versions", json::array({gv})}, {"preferredVersion", gv}};
}

std::string fnv_hex(const std::string& s) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llX", static_cast<unsigned long long>(h));
  return buf;
}

std::string upper_first(std::string s) {
  if (!s.empty() && s[0] >= 'a' && s[0] <= 'z') s[0] = static_cast<char>(s[0] - 'a' + 'A');
  return s;
}

// "apps" → "Apps", "storage.k8s.io" → "Storage", "" → "Core" (operationId prefix like Kubernetes).
std::string group_camel(const std::string& group) {
  if (group.empty()) return "Core";
  std::string first = group.substr(0, group.find('.'));
  return upper_first(first);
}

}  // namespace

json discovery_aggregated_core() { return discovery_list(json::array({aggregated_group("")})); }

json discovery_aggregated_groups() {
  json items = json::array();
  for (const auto& g : groups_in_order()) {
    if (!g.empty()) items.push_back(aggregated_group(g));
  }
  return discovery_list(std::move(items));
}

json discovery_as_v2beta1(json doc) {
  doc["apiVersion"] = "apidiscovery.k8s.io/v2beta1";
  return doc;
}

json discovery_legacy_api(std::string_view server_address) {
  json j = {{"kind", "APIVersions"}, {"versions", json::array({"v1"})}};
  json cidrs = json::array();
  if (!server_address.empty()) {
    cidrs.push_back({{"clientCIDR", "0.0.0.0/0"}, {"serverAddress", std::string(server_address)}});
  }
  j["serverAddressByClientCIDRs"] = cidrs;
  return j;
}

json discovery_legacy_groups() {
  json groups = json::array();
  for (const auto& g : groups_in_order()) {
    if (!g.empty()) groups.push_back(group_entry(g));
  }
  return {{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", std::move(groups)}};
}

std::optional<json> discovery_legacy_group(std::string_view group) {
  for (const auto& g : groups_in_order()) {
    if (!g.empty() && g == group) {
      json e = group_entry(g);
      e["kind"] = "APIGroup";
      e["apiVersion"] = "v1";
      return e;
    }
  }
  return std::nullopt;
}

std::optional<json> discovery_resource_list(std::string_view group, std::string_view version) {
  std::vector<const ResourceType*> ts;
  for (const auto& t : all_types()) {
    if (t.group == group && t.version == version) ts.push_back(&t);
  }
  if (ts.empty()) return std::nullopt;
  std::sort(ts.begin(), ts.end(), [](auto* a, auto* b) { return a->plural < b->plural; });
  json resources = json::array();
  for (auto* t : ts) {
    json r = {{"name", t->plural},   {"singularName", t->singular}, {"namespaced", t->namespaced},
              {"kind", t->kind},     {"verbs", t->verbs}};
    if (!t->short_names.empty()) r["shortNames"] = t->short_names;
    if (!t->categories.empty()) r["categories"] = t->categories;
    resources.push_back(std::move(r));
    for (const auto& s : t->subresources) {
      json sr = {{"name", t->plural + "/" + s.name},
                 {"singularName", ""},
                 {"namespaced", t->namespaced},
                 {"kind", s.kind},
                 {"verbs", s.verbs}};
      if (!s.group.empty() || !s.version.empty()) {
        sr["group"] = s.group;
        sr["version"] = s.version;
      }
      resources.push_back(std::move(sr));
    }
  }
  std::string gv = group.empty() ? std::string(version)
                                 : std::string(group) + "/" + std::string(version);
  return json{{"kind", "APIResourceList"}, {"apiVersion", "v1"}, {"groupVersion", gv},
              {"resources", std::move(resources)}};
}

std::optional<json> openapi_v3_group_version(std::string_view gv) {
  std::string group, version;
  if (gv.substr(0, 4) == "api/") {
    version = std::string(gv.substr(4));
  } else if (gv.substr(0, 5) == "apis/") {
    std::string rest(gv.substr(5));
    auto slash = rest.find('/');
    if (slash == std::string::npos) return std::nullopt;
    group = rest.substr(0, slash);
    version = rest.substr(slash + 1);
  } else {
    return std::nullopt;
  }
  json paths = json::object();
  bool any = false;
  for (const auto& t : all_types()) {
    if (t.group != group || t.version != version) continue;
    if (std::find(t.verbs.begin(), t.verbs.end(), "patch") == t.verbs.end()) continue;
    any = true;
    std::string prefix = group.empty() ? "/api/" + version : "/apis/" + group + "/" + version;
    std::string path = prefix + (t.namespaced ? "/namespaces/{namespace}/" : "/") + t.plural + "/{name}";
    std::string op = "patch" + group_camel(group) + upper_first(version) +
                     (t.namespaced ? "Namespaced" : "") + t.kind;
    paths[path] = {
        {"patch",
         {{"description", "partially update the specified " + t.kind},
          {"operationId", op},
          {"parameters",
           json::array({{{"name", "fieldValidation"},
                         {"in", "query"},
                         {"description",
                          "fieldValidation instructs the server on how to handle objects in the "
                          "request containing unknown or duplicate fields."},
                         {"schema", {{"type", "string"}, {"uniqueItems", true}}}}})},
          {"responses", {{"200", {{"description", "OK"}}}}},
          {"x-kubernetes-action", "patch"},
          {"x-kubernetes-group-version-kind",
           {{"group", group}, {"version", version}, {"kind", t.kind}}}}}};
  }
  if (!any) return std::nullopt;
  return json{{"openapi", "3.0.0"},
              {"info", {{"title", "Kubernetes"}, {"version", K3DPP_KUBE_VERSION}}},
              {"paths", std::move(paths)}};
}

json openapi_v3_root() {
  static const json root = [] {
    json paths = json::object();
    for (const auto& gv : group_versions()) {
      std::string key = gv.find('/') == std::string::npos ? "api/" + gv : "apis/" + gv;
      auto doc = openapi_v3_group_version(key);
      if (!doc) continue;
      paths[key] = {{"serverRelativeURL", "/openapi/v3/" + key + "?hash=" + fnv_hex(doc->dump())}};
    }
    return json{{"paths", std::move(paths)}};
  }();
  return root;
}

}  // namespace k3dpp::schema
