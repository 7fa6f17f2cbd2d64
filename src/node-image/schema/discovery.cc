// Discovery (aggregated v2 and legacy) and the minimal OpenAPI v3 documents, built from all_types().
#include <algorithm>
#include <cstdint>
#include <cstdio>

#include "node-image/schema/schema.h"

#include <memory>

#include "node-image/schema/custom_types.h"

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

// Every served type: the built-ins, then the custom ones (kept alive by `keep`).
std::vector<const ResourceType*> served_types(std::vector<std::shared_ptr<const ResourceType>>& keep) {
  std::vector<const ResourceType*> out;
  for (const auto& t : all_types()) out.push_back(&t);
  keep = custom_types();
  for (const auto& t : keep) out.push_back(t.get());
  return out;
}

// Kubernetes' version priority: GA > beta > alpha, higher major/minor first, then others
// alphabetically ("v2" > "v1" > "v1beta2" > "v1beta1" > "v1alpha1" > "foo").
struct VersionRank {
  int kind = 0;  // 3 GA, 2 beta, 1 alpha, 0 other
  long major = 0, minor = 0;
  std::string text;
};
VersionRank rank(const std::string& v) {
  VersionRank r{0, 0, 0, v};
  if (v.size() < 2 || v[0] != 'v' || !isdigit(static_cast<unsigned char>(v[1]))) return r;
  size_t i = 1;
  while (i < v.size() && isdigit(static_cast<unsigned char>(v[i]))) ++i;
  r.major = std::stol(v.substr(1, i - 1));
  std::string rest = v.substr(i);
  if (rest.empty()) {
    r.kind = 3;
    return r;
  }
  for (const auto& [word, k] : std::vector<std::pair<std::string, int>>{{"beta", 2}, {"alpha", 1}}) {
    if (rest.rfind(word, 0) == 0 && rest.size() > word.size() &&
        std::all_of(rest.begin() + static_cast<long>(word.size()), rest.end(), ::isdigit)) {
      r.kind = k;
      r.minor = std::stol(rest.substr(word.size()));
      return r;
    }
  }
  r.major = 0;
  return r;
}
bool version_before(const std::string& a, const std::string& b) {
  VersionRank x = rank(a), y = rank(b);
  if (x.kind != y.kind) return x.kind > y.kind;
  if (x.kind == 0) return x.text < y.text;
  if (x.major != y.major) return x.major > y.major;
  return x.minor > y.minor;
}

// Groups in discovery order (core "" first, custom groups after the built-in ones).
std::vector<std::string> groups_in_order() {
  std::vector<std::shared_ptr<const ResourceType>> keep;
  std::vector<std::string> out;
  for (const auto* t : served_types(keep)) {
    if (std::find(out.begin(), out.end(), t->group) == out.end()) out.push_back(t->group);
  }
  return out;
}

// Versions of a group, preferred first.
std::vector<std::string> versions_of(const std::string& group) {
  std::vector<std::shared_ptr<const ResourceType>> keep;
  std::vector<std::string> out;
  for (const auto* t : served_types(keep))
    if (t->group == group && std::find(out.begin(), out.end(), t->version) == out.end()) out.push_back(t->version);
  std::stable_sort(out.begin(), out.end(), version_before);
  return out;
}

json aggregated_group(const std::string& group) {
  std::vector<std::shared_ptr<const ResourceType>> keep;
  auto all = served_types(keep);
  json versions = json::array();
  for (const auto& version : versions_of(group)) {
    json resources = json::array();
    std::vector<const ResourceType*> ts;
    for (const auto* t : all) {
      if (t->group == group && t->version == version) ts.push_back(t);
    }
    std::sort(ts.begin(), ts.end(), [](auto* a, auto* b) { return a->plural < b->plural; });
    for (auto* t : ts) resources.push_back(aggregated_resource(*t));
    versions.push_back({{"version", version}, {"resources", std::move(resources)}, {"freshness", "Current"}});
  }
  return {{"metadata", {{"name", group}, {"creationTimestamp", nullptr}}}, {"versions", std::move(versions)}};
}

json discovery_list(json items) {
  return {{"kind", "APIGroupDiscoveryList"},
          {"apiVersion", "apidiscovery.k8s.io/v2"},
          {"metadata", json::object()},
          {"items", std::move(items)}};
}

json group_entry(const std::string& group) {
  json versions = json::array();
  for (const auto& v : versions_of(group)) versions.push_back({{"groupVersion", group + "/" + v}, {"version", v}});
  json preferred = versions.empty() ? json::object() : versions[0];
  return {{"name", group}, {"versions", std::move(versions)}, {"preferredVersion", std::move(preferred)}};
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

// "stable.example.com" + "v1" + "CronTab" → "com.example.stable.v1.CronTab" (Kubernetes' name).
std::string custom_schema_name(const ResourceType& t) {
  std::string g = t.group, out;
  while (!g.empty()) {
    auto dot = g.rfind('.');
    out += (out.empty() ? "" : ".") + (dot == std::string::npos ? g : g.substr(dot + 1));
    g = dot == std::string::npos ? "" : g.substr(0, dot);
  }
  return out + "." + t.version + "." + t.kind;
}

// A CRD version's schema as Kubernetes publishes it: apiVersion, kind and metadata described,
// the group-version-kind extension set.
json custom_openapi_schema(const ResourceType& t) {
  json s = t.custom->openapi_schema.is_object() ? t.custom->openapi_schema
                                                : json{{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true}};
  json& props = s["properties"];
  if (!props.is_object()) props = json::object();
  props["apiVersion"] = {
      {"description",
       "APIVersion defines the versioned schema of this representation of an object. Servers should convert "
       "recognized schemas to the latest internal value, and may reject unrecognized values. More info: "
       "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources"},
      {"type", "string"}};
  props["kind"] = {
      {"description",
       "Kind is a string value representing the REST resource this object represents. Servers may infer this "
       "from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: "
       "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds"},
      {"type", "string"}};
  props["metadata"] = {
      {"description",
       "Standard object's metadata. More info: "
       "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"},
      {"type", "object"}};
  s["x-kubernetes-group-version-kind"] =
      json::array({{{"group", t.group}, {"kind", t.kind}, {"version", t.version}}});
  return s;
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
  std::vector<std::shared_ptr<const ResourceType>> keep;
  std::vector<const ResourceType*> ts;
  for (const auto* t : served_types(keep)) {
    if (t->group == group && t->version == version) ts.push_back(t);
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
  json schemas = json::object();
  bool any = false;
  std::vector<std::shared_ptr<const ResourceType>> keep;
  for (const auto* tp : served_types(keep)) {
    const ResourceType& t = *tp;
    if (t.group != group || t.version != version) continue;
    if (t.custom) schemas[custom_schema_name(t)] = custom_openapi_schema(t);
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
  json doc = {{"openapi", "3.0.0"},
              {"info", {{"title", "Kubernetes"}, {"version", K3DPP_KUBE_VERSION}}},
              {"paths", std::move(paths)}};
  if (!schemas.empty()) doc["components"] = {{"schemas", std::move(schemas)}};
  return doc;
}

json openapi_v3_root() {
  static const json builtin = [] {
    json paths = json::object();
    for (const auto& t : all_types()) {
      std::string gv = t.api_version();
      std::string key = gv.find('/') == std::string::npos ? "api/" + gv : "apis/" + gv;
      if (paths.contains(key)) continue;
      auto doc = openapi_v3_group_version(key);
      if (!doc) continue;
      paths[key] = {{"serverRelativeURL", "/openapi/v3/" + key + "?hash=" + fnv_hex(doc->dump())}};
    }
    return paths;
  }();
  json paths = builtin;
  for (const auto& t : custom_types()) {
    std::string key = "apis/" + t->api_version();
    if (paths.contains(key)) continue;
    auto doc = openapi_v3_group_version(key);
    if (!doc) continue;
    paths[key] = {{"serverRelativeURL", "/openapi/v3/" + key + "?hash=" + fnv_hex(doc->dump())}};
  }
  return json{{"paths", std::move(paths)}};
}

}  // namespace k3dpp::schema
