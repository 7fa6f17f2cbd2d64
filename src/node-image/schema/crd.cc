// CustomResourceDefinition (apiextensions.k8s.io/v1) defaulting and validation with Kubernetes'
// messages (apiextensions-apiserver pkg/apis/apiextensions/validation, as read from upstream).
#include <re2/re2.h>

#include <algorithm>
#include <set>

#include "node-image/schema/structural.h"

namespace k3dpp::schema {
namespace {

using json = nlohmann::json;
using Causes = std::vector<FieldCause>;

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}
std::string go_value(const json& v) {
  if (v.is_string()) return quote(v.get<std::string>());
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  return v.dump();
}
FieldCause required(const std::string& f, const std::string& detail = {}) {
  return {"FieldValueRequired", detail.empty() ? "Required value" : "Required value: " + detail, f};
}
FieldCause invalid_raw(const std::string& f, const std::string& value, const std::string& detail) {
  return {"FieldValueInvalid", "Invalid value: " + value + ": " + detail, f};
}
FieldCause invalid(const std::string& f, const json& v, const std::string& detail) {
  return invalid_raw(f, go_value(v), detail);
}
FieldCause forbidden(const std::string& f, const std::string& detail) {
  return {"FieldValueForbidden", "Forbidden: " + detail, f};
}
FieldCause not_supported(const std::string& f, const json& v, const std::vector<std::string>& values) {
  std::string s = "Unsupported value: " + go_value(v) + ": supported values: ";
  for (size_t i = 0; i < values.size(); ++i) s += (i ? ", " : "") + quote(values[i]);
  return {"FieldValueNotSupported", s, f};
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
std::string idx(const std::string& p, size_t i) { return p + "[" + std::to_string(i) + "]"; }

std::string regex_msg(const std::string& msg, const char* fmt, const std::vector<std::string>& examples) {
  std::string s = msg + " (e.g. ";
  for (size_t i = 0; i < examples.size(); ++i) s += (i ? ",  or " : "") + ("'" + examples[i] + "'");
  return s + ", regex used for validation is '" + fmt + "')";
}
const char* kDns1035 = "[a-z]([-a-z0-9]*[a-z0-9])?";
const char* kDns1123Sub = "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";

std::vector<std::string> dns1035(const std::string& v) {
  static const RE2 re(kDns1035);
  std::vector<std::string> e;
  if (v.size() > 63) e.push_back("must be no more than 63 characters");
  if (!RE2::FullMatch(v, re))
    e.push_back(regex_msg("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with "
                          "an alphabetic character, and end with an alphanumeric character",
                          kDns1035, {"my-name", "abc-123"}));
  return e;
}
std::vector<std::string> dns1123_subdomain(const std::string& v) {
  static const RE2 re(kDns1123Sub);
  std::vector<std::string> e;
  if (v.size() > 253) e.push_back("must be no more than 253 characters");
  if (!RE2::FullMatch(v, re))
    e.push_back(regex_msg("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
                          "or '.', and must start and end with an alphanumeric character",
                          kDns1123Sub, {"example.com"}));
  return e;
}
std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + v[i];
  return s;
}
std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

void validate_names(const json& names, const std::string& p, Causes& out) {
  for (const char* k : {"plural", "singular"}) {
    std::string v = str(names, k);
    if (!v.empty())
      if (auto e = dns1035(v); !e.empty()) out.push_back(invalid(p + "." + k, v, joined(e)));
  }
  for (const char* k : {"kind", "listKind"}) {
    std::string v = str(names, k);
    if (!v.empty())
      if (auto e = dns1035(lower(v)); !e.empty())
        out.push_back(invalid(p + "." + k, v, "may have mixed case, but should otherwise match: " + joined(e)));
  }
  const json& sn = at(names, "shortNames");
  if (sn.is_array())
    for (size_t i = 0; i < sn.size(); ++i) {
      std::string v = sn[i].is_string() ? sn[i].get<std::string>() : std::string();
      if (auto e = dns1035(v); !e.empty()) out.push_back(invalid(idx(p + ".shortNames", i), v, joined(e)));
    }
  if (!str(names, "kind").empty() && str(names, "kind") == str(names, "listKind"))
    out.push_back(invalid(p + ".listKind", str(names, "listKind"), "kind and listKind may not be the same"));
  const json& cats = at(names, "categories");
  if (cats.is_array())
    for (size_t i = 0; i < cats.size(); ++i) {
      std::string v = cats[i].is_string() ? cats[i].get<std::string>() : std::string();
      if (auto e = dns1035(v); !e.empty()) out.push_back(invalid(idx(p + ".categories", i), v, joined(e)));
    }
}

void validate_subresources(const json& sub, const std::string& p, Causes& out) {
  const json& scale = at(sub, "scale");
  if (!scale.is_object()) return;
  std::string spec = str(scale, "specReplicasPath"), status = str(scale, "statusReplicasPath");
  if (spec.empty())
    out.push_back(required(p + ".scale.specReplicasPath"));
  else if (spec.rfind(".spec.", 0) != 0)
    out.push_back(invalid(p + ".scale.specReplicasPath", spec, "should be a json path under .spec"));
  if (status.empty())
    out.push_back(required(p + ".scale.statusReplicasPath"));
  else if (status.rfind(".status.", 0) != 0)
    out.push_back(invalid(p + ".scale.statusReplicasPath", status, "should be a json path under .status"));
  std::string sel = str(scale, "labelSelectorPath");
  if (!sel.empty() && sel.rfind(".spec.", 0) != 0 && sel.rfind(".status.", 0) != 0)
    out.push_back(invalid(p + ".scale.labelSelectorPath", sel, "should be a json path under either .spec or .status"));
}

void validate_columns(const json& cols, const std::string& p, Causes& out) {
  if (!cols.is_array()) return;
  static const std::vector<std::string> kTypes = {"boolean", "date", "integer", "number", "string"};
  static const std::vector<std::string> kFormats = {"byte", "date", "date-time", "double", "float", "int32", "int64",
                                                    "password", "uri", "email", "hostname", "ipv4", "ipv6", "name"};
  for (size_t i = 0; i < cols.size(); ++i) {
    const json& c = cols[i];
    std::string cp = idx(p, i);
    if (str(c, "name").empty()) out.push_back(required(cp + ".name"));
    std::string t = str(c, "type");
    if (t.empty())
      out.push_back(required(cp + ".type"));
    else if (std::find(kTypes.begin(), kTypes.end(), t) == kTypes.end())
      out.push_back(not_supported(cp + ".type", t, kTypes));
    std::string f = str(c, "format");
    if (!f.empty() && std::find(kFormats.begin(), kFormats.end(), f) == kFormats.end())
      out.push_back(not_supported(cp + ".format", f, kFormats));
    if (str(c, "jsonPath").empty()) out.push_back(required(cp + ".jsonPath"));
  }
}

bool protected_group(const std::string& g) {
  auto ends = [&](const std::string& suf) { return g.size() >= suf.size() && g.compare(g.size() - suf.size(), suf.size(), suf) == 0; };
  return g == "k8s.io" || ends(".k8s.io") || g == "kubernetes.io" || ends(".kubernetes.io");
}

}  // namespace

void default_crd(json& crd) {
  if (!crd.is_object()) return;
  json& spec = crd["spec"];
  if (!spec.is_object()) return;
  json& names = spec["names"];
  if (!names.is_object()) names = json::object();
  std::string kind = str(names, "kind");
  if (str(names, "singular").empty() && !kind.empty()) names["singular"] = lower(kind);
  if (str(names, "listKind").empty() && !kind.empty()) names["listKind"] = kind + "List";
  if (!spec.contains("conversion") || !spec["conversion"].is_object()) spec["conversion"] = {{"strategy", "None"}};
}

std::vector<FieldCause> validate_crd(const json& crd, const json& old) {
  Causes out;
  const json& meta = at(crd, "metadata");
  const json& spec = at(crd, "spec");
  const json& names = at(spec, "names");
  std::string group = str(spec, "group"), plural = str(names, "plural");
  std::string name = str(meta, "name");
  if (name.empty()) {
    out.push_back(required("metadata.name", "name or generateName is required"));
  } else {
    auto errs = dns1123_subdomain(name);
    if (name != plural + "." + group) errs.push_back("must be spec.names.plural+\".\"+spec.group");
    for (const auto& e : errs) out.push_back(invalid("metadata.name", name, e));
  }

  if (group.empty())
    out.push_back(required("spec.group"));
  else if (auto e = dns1123_subdomain(group); !e.empty())
    out.push_back(invalid("spec.group", group, joined(e)));
  else if (group.find('.') == std::string::npos)
    out.push_back(invalid("spec.group", group, "should be a domain with at least one dot"));

  std::string scope = str(spec, "scope");
  if (scope.empty())
    out.push_back(required("spec.scope"));
  else if (scope != "Cluster" && scope != "Namespaced")
    out.push_back(not_supported("spec.scope", scope, {"Cluster", "Namespaced"}));

  bool preserve = at(spec, "preserveUnknownFields").is_boolean() && at(spec, "preserveUnknownFields").get<bool>();
  if (preserve)
    out.push_back(invalid("spec.preserveUnknownFields", true, "cannot set to true, set x-kubernetes-preserve-unknown-fields to true in spec.versions[*].schema instead"));

  const json& versions = at(spec, "versions");
  int storage = 0;
  std::set<std::string> seen;
  bool unique = true;
  if (versions.is_array()) {
    for (size_t i = 0; i < versions.size(); ++i) {
      const json& v = versions[i];
      std::string vp = idx("spec.versions", i);
      std::string vn = str(v, "name");
      if (at(v, "storage").is_boolean() && at(v, "storage").get<bool>()) ++storage;
      if (!seen.insert(vn).second) unique = false;
      if (auto e = dns1035(vn); !e.empty()) out.push_back(invalid(vp + ".name", vn, joined(e)));
      const json& schema = at(at(v, "schema"), "openAPIV3Schema");
      if (!schema.is_object()) {
        out.push_back(required(vp + ".schema.openAPIV3Schema", "schemas are required"));
      } else {
        auto se = structural_errors(schema, vp + ".schema.openAPIV3Schema");
        out.insert(out.end(), se.begin(), se.end());
        if (se.empty()) {
          // defaults must validate against their own schema and survive pruning
          auto compiled = StructuralSchema::compile(schema);
          if (!compiled) out.push_back(invalid(vp + ".schema.openAPIV3Schema", "", compiled.error().message));
        }
      }
      validate_subresources(at(v, "subresources"), vp + ".subresources", out);
      validate_columns(at(v, "additionalPrinterColumns"), vp + ".additionalPrinterColumns", out);
    }
  }
  std::string versions_value = "[]apiextensions.CustomResourceDefinitionVersion{...}";
  if (!versions.is_array() || versions.empty()) versions_value = "[]apiextensions.CustomResourceDefinitionVersion(nil)";
  if (!unique) out.push_back(invalid_raw("spec.versions", versions_value, "must contain unique version names"));
  if (storage != 1)
    out.push_back(invalid_raw("spec.versions", versions_value, "must have exactly one version marked as storage version"));

  if (plural.empty()) out.push_back(required("spec.names.plural"));
  if (str(names, "singular").empty()) out.push_back(required("spec.names.singular"));
  if (str(names, "kind").empty()) out.push_back(required("spec.names.kind"));
  if (str(names, "listKind").empty()) out.push_back(required("spec.names.listKind"));
  validate_names(names, "spec.names", out);

  const json& conv = at(spec, "conversion");
  std::string strategy = str(conv, "strategy");
  if (conv.is_object()) {
    if (strategy.empty())
      out.push_back(required("spec.conversion.strategy"));
    else if (strategy != "None" && strategy != "Webhook")
      out.push_back(not_supported("spec.conversion.strategy", strategy, {"None", "Webhook"}));
    else if (strategy == "Webhook")
      out.push_back(forbidden("spec.conversion.strategy",
                              "conversion webhooks are not supported by this server; use None"));
  }

  if (protected_group(group)) {
    const json& ann = at(meta, "annotations");
    if (!ann.is_object() || !ann.contains("api-approved.kubernetes.io"))
      out.push_back(required("metadata.annotations[api-approved.kubernetes.io]",
                             "protected groups must have approval annotation \"api-approved.kubernetes.io\", see "
                             "https://github.com/kubernetes/enhancements/pull/1111"));
  }

  if (old.is_object()) {
    const json& ospec = at(old, "spec");
    auto immutable = [&](const std::string& path, const std::string& now, const std::string& before) {
      if (now != before) out.push_back(invalid(path, now, "field is immutable"));
    };
    immutable("spec.group", group, str(ospec, "group"));
    immutable("spec.names.plural", plural, str(at(ospec, "names"), "plural"));
  }
  return out;
}

}  // namespace k3dpp::schema
