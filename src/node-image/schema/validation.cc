// Validation with Kubernetes' field paths, cause types and messages (pkg/apis/*/validation and
// apimachinery's name/label helpers), for the kinds the course uses.
#include <arpa/inet.h>

#include <algorithm>
#include <climits>
#include <map>
#include <mutex>
#include <set>
#include <string_view>

#include "cron/cron.h"
#include "node-image/schema/schema.h"
#include "node-image/schema/custom_types.h"
#include "common/json_read.h"

namespace k3dpp::schema {
namespace {

using Causes = std::vector<FieldCause>;

// ---- value formatting as Go's field.Error does it -------------------------------------------

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
  if (v.is_null()) return "null";
  return v.dump();
}

// map[string]string{"a":"b", "c":"d"}
std::string go_string_map(const json& m) {
  std::string s = "map[string]string{";
  bool first = true;
  if (m.is_object()) {
    for (auto it = m.begin(); it != m.end(); ++it) {
      if (!first) s += ", ";
      first = false;
      s += quote(it.key()) + ":" + (it.value().is_string() ? quote(it.value().get<std::string>()) : it.value().dump());
    }
  }
  return s + "}";
}

std::string go_string_slice(const json& a) {
  std::string s = "[]string{";
  bool first = true;
  if (a.is_array()) {
    for (const auto& e : a) {
      if (!first) s += ", ";
      first = false;
      s += go_value(e);
    }
  }
  return s + "}";
}

std::string go_label_selector(const json& sel) {
  std::string ml = sel.is_object() && sel.contains("matchLabels") && sel["matchLabels"].is_object()
                       ? go_string_map(sel["matchLabels"])
                       : "map[string]string(nil)";
  std::string me = "[]v1.LabelSelectorRequirement(nil)";
  if (sel.is_object() && sel.contains("matchExpressions") && sel["matchExpressions"].is_array()) {
    me = "[]v1.LabelSelectorRequirement{";
    bool first = true;
    for (const auto& r : sel["matchExpressions"]) {
      if (!first) me += ", ";
      first = false;
      me += "v1.LabelSelectorRequirement{Key:" + quote(jvalue(r, "key", "")) + ", Operator:" +
            quote(jvalue(r, "operator", "")) + ", Values:" + go_string_slice(jvalue(r, "values", json::array())) + "}";
    }
    me += "}";
  }
  return "v1.LabelSelector{MatchLabels:" + ml + ", MatchExpressions:" + me + "}";
}

// ---- cause builders ---------------------------------------------------------------------------

FieldCause required(const std::string& f, const std::string& detail = {}) {
  return {"FieldValueRequired", detail.empty() ? "Required value" : "Required value: " + detail, f};
}
FieldCause invalid_raw(const std::string& f, const std::string& value, const std::string& detail) {
  return {"FieldValueInvalid", "Invalid value: " + value + ": " + detail, f};
}
FieldCause invalid(const std::string& f, const json& v, const std::string& detail) {
  return invalid_raw(f, go_value(v), detail);
}
FieldCause not_supported(const std::string& f, const json& v, const std::vector<std::string>& supported) {
  std::string s = "Unsupported value: " + go_value(v) + ": supported values: ";
  for (size_t i = 0; i < supported.size(); ++i) s += (i ? ", " : "") + quote(supported[i]);
  return {"FieldValueNotSupported", s, f};
}
FieldCause duplicate(const std::string& f, const json& v) {
  return {"FieldValueDuplicate", "Duplicate value: " + go_value(v), f};
}
FieldCause forbidden(const std::string& f, const std::string& detail) {
  return {"FieldValueForbidden", "Forbidden: " + detail, f};
}
FieldCause not_found(const std::string& f, const json& v) {
  return {"FieldValueNotFound", "Not found: " + go_value(v), f};
}

std::string idx(const std::string& path, size_t i) { return path + "[" + std::to_string(i) + "]"; }

std::string str(const json& obj, const char* key) {
  if (!obj.is_object() || !obj.contains(key) || !obj[key].is_string()) return {};
  return obj[key].get<std::string>();
}
bool has(const json& obj, const char* key) {
  return obj.is_object() && obj.contains(key) && !obj[key].is_null();
}
const json& at(const json& obj, const char* key) {
  static const json kNull;
  return has(obj, key) ? obj[key] : kNull;
}

// ---- apimachinery name helpers ----------------------------------------------------------------

const char* kDns1123LabelFmt = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const char* kDns1123SubdomainFmt = "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const char* kDns1035LabelFmt = "[a-z]([-a-z0-9]*[a-z0-9])?";
const char* kQualifiedNameFmt = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const char* kLabelValueFmt = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";

// The name and label patterns above, matched by hand: linear in the length and without recursion
// (std::regex_match recurses per character and overflowed the stack on a 200,000-character name).
// The pattern strings stay for Kubernetes' messages.
bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_alnum(char c) { return is_lower_alnum(c) || (c >= 'A' && c <= 'Z'); }

// [a-z0-9]([-a-z0-9]*[a-z0-9])?
bool match_dns1123_label(std::string_view v) {
  if (v.empty() || !is_lower_alnum(v.front()) || !is_lower_alnum(v.back())) return false;
  return std::all_of(v.begin(), v.end(), [](char c) { return is_lower_alnum(c) || c == '-'; });
}

// label(\.label)*
bool match_dns1123_subdomain(std::string_view v) {
  for (;;) {
    size_t dot = v.find('.');
    if (!match_dns1123_label(v.substr(0, dot))) return false;
    if (dot == std::string_view::npos) return true;
    v.remove_prefix(dot + 1);
  }
}

// [a-z]([-a-z0-9]*[a-z0-9])?
bool match_dns1035_label(std::string_view v) {
  return match_dns1123_label(v) && v.front() >= 'a' && v.front() <= 'z';
}

// ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]
bool match_qualified_name(std::string_view v) {
  if (v.empty() || !is_alnum(v.front()) || !is_alnum(v.back())) return false;
  return std::all_of(v.begin(), v.end(), [](char c) { return is_alnum(c) || c == '-' || c == '_' || c == '.'; });
}

// [-a-z0-9]+
bool match_port_name_chars(std::string_view v) {
  return !v.empty() && std::all_of(v.begin(), v.end(), [](char c) { return is_lower_alnum(c) || c == '-'; });
}

// [-._a-zA-Z0-9]+
bool match_config_key(std::string_view v) {
  return !v.empty() && std::all_of(v.begin(), v.end(), [](char c) { return is_alnum(c) || c == '-' || c == '_' || c == '.'; });
}

std::string regex_error(const std::string& msg, const char* fmt, const std::vector<std::string>& examples) {
  std::string s = msg;
  if (!examples.empty()) {
    s += " (e.g. ";
    for (size_t i = 0; i < examples.size(); ++i) s += (i ? ",  or " : "") + ("'" + examples[i] + "'");
    s += ", regex used for validation is '" + std::string(fmt) + "')";
  } else {
    s += " (regex used for validation is '" + std::string(fmt) + "')";
  }
  return s;
}

std::vector<std::string> dns1123_label(const std::string& v) {
  std::vector<std::string> errs;
  if (v.size() > 63) errs.push_back("must be no more than 63 characters");
  if (!match_dns1123_label(v)) {
    errs.push_back(regex_error("a lowercase RFC 1123 label must consist of lower case alphanumeric characters "
                               "or '-', and must start and end with an alphanumeric character",
                               kDns1123LabelFmt, {"my-name", "123-abc"}));
  }
  return errs;
}

std::vector<std::string> dns1123_subdomain(const std::string& v) {
  std::vector<std::string> errs;
  if (v.size() > 253) errs.push_back("must be no more than 253 characters");
  if (!match_dns1123_subdomain(v)) {
    errs.push_back(regex_error("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                               "characters, '-' or '.', and must start and end with an alphanumeric character",
                               kDns1123SubdomainFmt, {"example.com"}));
  }
  return errs;
}

std::vector<std::string> dns1035_label(const std::string& v) {
  std::vector<std::string> errs;
  if (v.size() > 63) errs.push_back("must be no more than 63 characters");
  if (!match_dns1035_label(v)) {
    errs.push_back(regex_error("a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
                               "start with an alphabetic character, and end with an alphanumeric character",
                               kDns1035LabelFmt, {"my-name", "abc-123"}));
  }
  return errs;
}

std::vector<std::string> qualified_name(const std::string& v) {
  std::vector<std::string> errs;
  const std::string msg = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
                          "with an alphanumeric character";
  auto parts = std::count(v.begin(), v.end(), '/');
  std::string name = v;
  if (parts > 1) {
    errs.push_back(regex_error("a qualified name " + msg, kQualifiedNameFmt, {"MyName", "my.name", "123-abc"}) +
                   " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')");
    return errs;
  }
  if (parts == 1) {
    std::string prefix = v.substr(0, v.find('/'));
    name = v.substr(v.find('/') + 1);
    if (prefix.empty()) {
      errs.push_back("prefix part must be non-empty");
    } else {
      for (const auto& e : dns1123_subdomain(prefix)) errs.push_back("prefix part " + e);
    }
  }
  if (name.empty()) {
    errs.push_back("name part must be non-empty");
  } else if (name.size() > 63) {
    errs.push_back("name part must be no more than 63 characters");
  }
  if (!name.empty() && !match_qualified_name(name)) {
    errs.push_back(regex_error("name part " + msg, kQualifiedNameFmt, {"MyName", "my.name", "123-abc"}));
  }
  return errs;
}

std::vector<std::string> label_value(const std::string& v) {
  std::vector<std::string> errs;
  if (v.size() > 63) errs.push_back("must be no more than 63 characters");
  if (!v.empty() && !match_qualified_name(v)) {
    errs.push_back(regex_error("a valid label must be an empty string or consist of alphanumeric characters, "
                               "'-', '_' or '.', and must start and end with an alphanumeric character",
                               kLabelValueFmt, {"MyValue", "my_value", "12345"}));
  }
  return errs;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

void validate_labels(const json& labels, const std::string& path, Causes& out) {
  if (!labels.is_object()) return;
  for (auto it = labels.begin(); it != labels.end(); ++it) {
    for (const auto& e : qualified_name(it.key())) out.push_back(invalid(path, it.key(), e));
    std::string val = it.value().is_string() ? it.value().get<std::string>() : "";
    for (const auto& e : label_value(val)) out.push_back(invalid(path, val, e));
  }
}

void validate_annotations(const json& ann, const std::string& path, Causes& out) {
  if (!ann.is_object()) return;
  size_t total = 0;
  for (auto it = ann.begin(); it != ann.end(); ++it) {
    for (const auto& e : qualified_name(lower(it.key()))) out.push_back(invalid(path, it.key(), e));
    total += it.key().size() + (it.value().is_string() ? it.value().get<std::string>().size() : 0);
  }
  if (total > 262144) {
    out.push_back({"FieldValueTooLong", "Too long: may not be more than 262144 bytes", path});
  }
}

enum class NameRule { kSubdomain, kLabel, kDns1035 };

void validate_meta(const json& obj, NameRule rule, const std::string& path, Causes& out, bool name_required = true) {
  const json& meta = at(obj, "metadata");
  std::string name = str(meta, "name");
  if (name.empty()) {
    if (name_required && str(meta, "generateName").empty()) {
      out.push_back(required(path + ".name", "name or generateName is required"));
    }
  } else {
    std::vector<std::string> errs = rule == NameRule::kLabel      ? dns1123_label(name)
                                    : rule == NameRule::kDns1035 ? dns1035_label(name)
                                                                 : dns1123_subdomain(name);
    for (const auto& e : errs) out.push_back(invalid(path + ".name", name, e));
  }
  validate_labels(at(meta, "labels"), path + ".labels", out);
  validate_annotations(at(meta, "annotations"), path + ".annotations", out);
}

// ---- pods -------------------------------------------------------------------------------------

bool valid_port_name(const std::string& p, std::vector<std::string>& errs) {
  if (p.size() > 15) errs.push_back("must be no more than 15 characters");
  if (!match_port_name_chars(p)) {
    errs.push_back("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)");
  }
  if (std::none_of(p.begin(), p.end(), [](char c) { return c >= 'a' && c <= 'z'; })) errs.push_back("must contain at least one letter (a-z)");
  if (p.find("--") != std::string::npos) errs.push_back("must not contain consecutive hyphens");
  if (!p.empty() && (p.front() == '-' || p.back() == '-')) errs.push_back("must not begin or end with a hyphen");
  return errs.empty();
}

void port_range(const json& v, const std::string& path, Causes& out, bool required_nonzero) {
  if (!v.is_number_integer() || v.get<long long>() == 0) {
    if (required_nonzero) out.push_back(required(path));
    return;
  }
  long long p = v.get<long long>();
  if (p < 1 || p > 65535) out.push_back(invalid_raw(path, std::to_string(p), "must be between 1 and 65535, inclusive"));
}

const std::vector<std::string> kProtocols = {"SCTP", "TCP", "UDP"};

void validate_containers(const json& list, const std::string& path, const std::set<std::string>& volumes,
                         std::set<std::string>& names, Causes& out) {
  if (!list.is_array()) return;
  for (size_t i = 0; i < list.size(); ++i) {
    const json& c = list[i];
    std::string p = idx(path, i);
    std::string name = str(c, "name");
    if (name.empty()) {
      out.push_back(required(p + ".name"));
    } else {
      for (const auto& e : dns1123_label(name)) out.push_back(invalid(p + ".name", name, e));
      if (!names.insert(name).second) out.push_back(duplicate(p + ".name", name));
    }
    if (str(c, "image").empty()) out.push_back(required(p + ".image"));
    if (has(c, "imagePullPolicy")) {
      std::string pp = str(c, "imagePullPolicy");
      if (pp != "Always" && pp != "IfNotPresent" && pp != "Never") {
        out.push_back(not_supported(p + ".imagePullPolicy", c["imagePullPolicy"], {"Always", "IfNotPresent", "Never"}));
      }
    }
    if (has(c, "terminationMessagePolicy")) {
      std::string t = str(c, "terminationMessagePolicy");
      if (t != "File" && t != "FallbackToLogsOnError") {
        out.push_back(not_supported(p + ".terminationMessagePolicy", c["terminationMessagePolicy"],
                                    {"File", "FallbackToLogsOnError"}));
      }
    }
    const json& ports = at(c, "ports");
    if (ports.is_array()) {
      std::set<std::string> port_names;
      for (size_t j = 0; j < ports.size(); ++j) {
        const json& port = ports[j];
        std::string pp = idx(p + ".ports", j);
        std::string pn = str(port, "name");
        if (!pn.empty()) {
          std::vector<std::string> errs;
          if (!valid_port_name(pn, errs)) {
            for (const auto& e : errs) out.push_back(invalid(pp + ".name", pn, e));
          } else if (!port_names.insert(pn).second) {
            out.push_back(duplicate(pp + ".name", pn));
          }
        }
        port_range(at(port, "containerPort"), pp + ".containerPort", out, true);
        if (has(port, "hostPort")) port_range(port["hostPort"], pp + ".hostPort", out, false);
        if (has(port, "protocol") &&
            std::find(kProtocols.begin(), kProtocols.end(), str(port, "protocol")) == kProtocols.end()) {
          out.push_back(not_supported(pp + ".protocol", port["protocol"], kProtocols));
        }
      }
    }
    const json& env = at(c, "env");
    if (env.is_array()) {
      for (size_t j = 0; j < env.size(); ++j) {
        if (str(env[j], "name").empty()) out.push_back(required(idx(p + ".env", j) + ".name"));
      }
    }
    const json& mounts = at(c, "volumeMounts");
    if (mounts.is_array()) {
      std::set<std::string> paths;
      for (size_t j = 0; j < mounts.size(); ++j) {
        std::string mp = idx(p + ".volumeMounts", j);
        std::string vn = str(mounts[j], "name");
        if (vn.empty()) {
          out.push_back(required(mp + ".name"));
        } else if (!volumes.count(vn)) {
          out.push_back(not_found(mp + ".name", vn));
        }
        std::string path_value = str(mounts[j], "mountPath");
        if (path_value.empty()) {
          out.push_back(required(mp + ".mountPath"));
        } else if (!paths.insert(path_value).second) {
          out.push_back(invalid(mp + ".mountPath", path_value, "must be unique"));
        }
      }
    }
  }
}

void validate_pod_spec(const json& spec, const std::string& path, Causes& out,
                       const std::vector<std::string>& restart_policies = {"Always", "OnFailure", "Never"}) {
  if (!spec.is_object()) {
    out.push_back(required(path + ".containers"));
    return;
  }
  std::set<std::string> volumes;
  const json& vols = at(spec, "volumes");
  if (vols.is_array()) {
    for (size_t i = 0; i < vols.size(); ++i) {
      std::string vp = idx(path + ".volumes", i);
      std::string n = str(vols[i], "name");
      if (n.empty()) {
        out.push_back(required(vp + ".name"));
        continue;
      }
      for (const auto& e : dns1123_label(n)) out.push_back(invalid(vp + ".name", n, e));
      if (!volumes.insert(n).second) out.push_back(duplicate(vp + ".name", n));
      const json& pvc = at(vols[i], "persistentVolumeClaim");
      if (pvc.is_object() && str(pvc, "claimName").empty()) {
        out.push_back(required(vp + ".persistentVolumeClaim.claimName"));
      }
      const json& hp = at(vols[i], "hostPath");
      if (hp.is_object() && str(hp, "path").empty()) out.push_back(required(vp + ".hostPath.path"));
    }
  }
  std::set<std::string> names;
  const json& containers = at(spec, "containers");
  if (!containers.is_array() || containers.empty()) {
    out.push_back(required(path + ".containers"));
  }
  validate_containers(at(spec, "initContainers"), path + ".initContainers", volumes, names, out);
  validate_containers(containers, path + ".containers", volumes, names, out);
  if (has(spec, "restartPolicy")) {
    std::string rp = str(spec, "restartPolicy");
    if (std::find(restart_policies.begin(), restart_policies.end(), rp) == restart_policies.end()) {
      out.push_back(not_supported(path + ".restartPolicy", spec["restartPolicy"], restart_policies));
    }
  }
  if (has(spec, "dnsPolicy")) {
    std::string dp = str(spec, "dnsPolicy");
    if (dp != "ClusterFirst" && dp != "ClusterFirstWithHostNet" && dp != "Default" && dp != "None") {
      out.push_back(not_supported(path + ".dnsPolicy", spec["dnsPolicy"],
                                  {"ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"}));
    }
  }
  if (has(spec, "terminationGracePeriodSeconds") && spec["terminationGracePeriodSeconds"].is_number_integer() &&
      spec["terminationGracePeriodSeconds"].get<long long>() < 0) {
    out.push_back(invalid(path + ".terminationGracePeriodSeconds", spec["terminationGracePeriodSeconds"],
                          "must be greater than or equal to 0"));
  }
  if (has(spec, "activeDeadlineSeconds") && spec["activeDeadlineSeconds"].is_number_integer() &&
      spec["activeDeadlineSeconds"].get<long long>() <= 0) {
    out.push_back(invalid(path + ".activeDeadlineSeconds", spec["activeDeadlineSeconds"],
                          "must be between 1 and 2147483647, inclusive"));
  }
  validate_labels(at(spec, "nodeSelector"), path + ".nodeSelector", out);
  const json& tol = at(spec, "tolerations");
  if (tol.is_array()) {
    for (size_t i = 0; i < tol.size(); ++i) {
      std::string tp = idx(path + ".tolerations", i);
      std::string op = str(tol[i], "operator");
      if (!op.empty() && op != "Exists" && op != "Equal") {
        out.push_back(not_supported(tp + ".operator", tol[i]["operator"], {"Equal", "Exists"}));
      }
      std::string eff = str(tol[i], "effect");
      if (!eff.empty() && eff != "NoSchedule" && eff != "PreferNoSchedule" && eff != "NoExecute") {
        out.push_back(not_supported(tp + ".effect", tol[i]["effect"], {"NoSchedule", "PreferNoSchedule", "NoExecute"}));
      }
    }
  }
}

// ---- selectors and templates ------------------------------------------------------------------

bool selector_matches(const json& sel, const json& labels) {
  if (!sel.is_object()) return false;
  const json& ml = at(sel, "matchLabels");
  if (ml.is_object()) {
    for (auto it = ml.begin(); it != ml.end(); ++it) {
      if (!labels.is_object() || !labels.contains(it.key()) || labels[it.key()] != it.value()) return false;
    }
  }
  const json& me = at(sel, "matchExpressions");
  if (me.is_array()) {
    for (const auto& r : me) {
      std::string key = str(r, "key"), op = str(r, "operator");
      bool present = labels.is_object() && labels.contains(key);
      std::string val = present && labels[key].is_string() ? labels[key].get<std::string>() : "";
      const json& values = at(r, "values");
      bool in = present && values.is_array() && std::find(values.begin(), values.end(), json(val)) != values.end();
      if ((op == "In" && !in) || (op == "NotIn" && in) || (op == "Exists" && !present) ||
          (op == "DoesNotExist" && present)) {
        return false;
      }
    }
  }
  return true;
}

bool selector_empty(const json& sel) {
  return !sel.is_object() || ((!has(sel, "matchLabels") || sel["matchLabels"].empty()) &&
                              (!has(sel, "matchExpressions") || sel["matchExpressions"].empty()));
}

void validate_label_selector(const json& sel, const std::string& path, Causes& out) {
  if (!sel.is_object()) return;
  validate_labels(at(sel, "matchLabels"), path + ".matchLabels", out);
  const json& me = at(sel, "matchExpressions");
  if (!me.is_array()) return;
  for (size_t i = 0; i < me.size(); ++i) {
    std::string p = idx(path + ".matchExpressions", i);
    std::string op = str(me[i], "operator");
    const json& values = at(me[i], "values");
    if (op == "In" || op == "NotIn") {
      if (!values.is_array() || values.empty()) {
        out.push_back(required(p + ".values", "must be specified when `operator` is 'In' or 'NotIn'"));
      }
    } else if (op == "Exists" || op == "DoesNotExist") {
      if (values.is_array() && !values.empty()) {
        out.push_back(forbidden(p + ".values", "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
      }
    } else {
      out.push_back(invalid(p + ".operator", op, "not a valid selector operator"));
    }
    for (const auto& e : qualified_name(str(me[i], "key"))) out.push_back(invalid(p + ".key", str(me[i], "key"), e));
  }
}

void non_negative(const json& spec, const char* field, const std::string& path, Causes& out) {
  if (has(spec, field) && spec[field].is_number_integer() && spec[field].get<long long>() < 0) {
    out.push_back(invalid(path + "." + field, spec[field], "must be greater than or equal to 0"));
  }
}

// Workloads with a LabelSelector and a pod template (Deployment, ReplicaSet, StatefulSet, DaemonSet).
void validate_selector_template(const json& spec, const std::string& kind_lower, Causes& out,
                                const std::vector<std::string>& restart = {"Always"}) {
  const json& sel = at(spec, "selector");
  if (!sel.is_object()) {
    out.push_back(required("spec.selector"));
  } else {
    validate_label_selector(sel, "spec.selector", out);
    if (selector_empty(sel)) {
      out.push_back(invalid_raw("spec.selector", go_label_selector(sel), "empty selector is invalid for " + kind_lower));
    }
  }
  const json& tmpl = at(spec, "template");
  const json& tmeta = at(tmpl, "metadata");
  const json& labels = at(tmeta, "labels");
  if (sel.is_object() && !selector_empty(sel) && !selector_matches(sel, labels)) {
    out.push_back(invalid_raw("spec.template.metadata.labels", go_string_map(labels),
                              "`selector` does not match template `labels`"));
  }
  validate_labels(labels, "spec.template.metadata.labels", out);
  validate_annotations(at(tmeta, "annotations"), "spec.template.metadata.annotations", out);
  validate_pod_spec(at(tmpl, "spec"), "spec.template.spec", out, restart);
}

void validate_deployment(const json& obj, Causes& out) {
  const json& spec = at(obj, "spec");
  non_negative(spec, "replicas", "spec", out);
  validate_selector_template(spec, "deployment", out);
  const json& strategy = at(spec, "strategy");
  std::string type = str(strategy, "type");
  if (has(strategy, "type") && type != "Recreate" && type != "RollingUpdate") {
    out.push_back(not_supported("spec.strategy.type", strategy["type"], {"Recreate", "RollingUpdate"}));
  }
  if (type == "Recreate" && has(strategy, "rollingUpdate")) {
    out.push_back(forbidden("spec.strategy.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'"));
  }
  const json& ru = at(strategy, "rollingUpdate");
  auto is_zero = [](const json& v) { return v.is_null() || v == 0 || v == "0%" || v == "0"; };
  if (ru.is_object() && has(ru, "maxUnavailable") && has(ru, "maxSurge") && is_zero(ru["maxUnavailable"]) &&
      is_zero(ru["maxSurge"])) {
    out.push_back(invalid("spec.strategy.rollingUpdate.maxUnavailable", ru["maxUnavailable"],
                          "may not be 0 when `maxSurge` is 0"));
  }
  non_negative(spec, "minReadySeconds", "spec", out);
  non_negative(spec, "revisionHistoryLimit", "spec", out);
  if (has(spec, "progressDeadlineSeconds") && spec["progressDeadlineSeconds"].is_number_integer()) {
    long long pd = spec["progressDeadlineSeconds"].get<long long>();
    long long mr = has(spec, "minReadySeconds") && spec["minReadySeconds"].is_number_integer()
                       ? spec["minReadySeconds"].get<long long>() : 0;
    if (pd <= mr) {
      out.push_back(invalid("spec.progressDeadlineSeconds", spec["progressDeadlineSeconds"],
                            "must be greater than minReadySeconds"));
    }
  }
}

bool valid_target_port(const json& tp, std::string& err) {
  if (tp.is_number_integer()) {
    long long v = tp.get<long long>();
    if (v < 1 || v > 65535) {
      err = "must be between 1 and 65535, inclusive";
      return false;
    }
    return true;
  }
  if (tp.is_string()) {
    std::vector<std::string> errs;
    if (!valid_port_name(tp.get<std::string>(), errs)) {
      err = errs.front();
      return false;
    }
  }
  return true;
}

void validate_service(const json& obj, Causes& out) {
  const json& spec = at(obj, "spec");
  std::string type = str(spec, "type");
  const std::vector<std::string> types = {"ClusterIP", "ExternalName", "LoadBalancer", "NodePort"};
  if (has(spec, "type") && std::find(types.begin(), types.end(), type) == types.end()) {
    out.push_back(not_supported("spec.type", spec["type"], types));
  }
  const json& ports = at(spec, "ports");
  bool headless = str(spec, "clusterIP") == "None";
  if (type != "ExternalName" && !headless && (!ports.is_array() || ports.empty())) {
    out.push_back(required("spec.ports"));
  }
  if (type == "ExternalName" && str(spec, "externalName").empty()) out.push_back(required("spec.externalName"));
  if (ports.is_array()) {
    std::set<std::string> names;
    std::set<std::pair<long long, std::string>> node_ports;
    for (size_t i = 0; i < ports.size(); ++i) {
      const json& p = ports[i];
      std::string pp = idx("spec.ports", i);
      std::string name = str(p, "name");
      if (ports.size() > 1 && name.empty()) {
        out.push_back(required(pp + ".name"));
      } else if (!name.empty()) {
        for (const auto& e : dns1123_label(name)) out.push_back(invalid(pp + ".name", name, e));
        if (!names.insert(name).second) out.push_back(duplicate(pp + ".name", name));
      }
      port_range(at(p, "port"), pp + ".port", out, true);
      if (has(p, "protocol") &&
          std::find(kProtocols.begin(), kProtocols.end(), str(p, "protocol")) == kProtocols.end()) {
        out.push_back(not_supported(pp + ".protocol", p["protocol"], kProtocols));
      }
      std::string err;
      if (has(p, "targetPort") && !valid_target_port(p["targetPort"], err)) {
        out.push_back(invalid(pp + ".targetPort", p["targetPort"], err));
      }
      if (has(p, "nodePort") && p["nodePort"] != 0) {
        if (type == "ClusterIP" || type.empty()) {
          out.push_back(forbidden(pp + ".nodePort", "may not be used when `type` is 'ClusterIP'"));
        } else if (type == "ExternalName") {
          out.push_back(forbidden(pp + ".nodePort", "may not be used when `type` is 'ExternalName'"));
        } else {
          port_range(p["nodePort"], pp + ".nodePort", out, false);
          auto key = std::make_pair(p["nodePort"].is_number_integer() ? p["nodePort"].get<long long>() : 0LL,
                                    str(p, "protocol"));
          if (!node_ports.insert(key).second) out.push_back(duplicate(pp + ".nodePort", p["nodePort"]));
        }
      }
    }
  }
  if (has(spec, "sessionAffinity")) {
    std::string sa = str(spec, "sessionAffinity");
    if (sa != "ClientIP" && sa != "None") {
      out.push_back(not_supported("spec.sessionAffinity", spec["sessionAffinity"], {"ClientIP", "None"}));
    }
  }
  if (type != "NodePort" && type != "LoadBalancer" && has(spec, "externalTrafficPolicy")) {
    out.push_back(invalid("spec.externalTrafficPolicy", spec["externalTrafficPolicy"],
                          "may only be set for externally-accessible services"));
  }
  const json& sel = at(spec, "selector");
  validate_labels(sel, "spec.selector", out);
}

const std::vector<std::string> kAccessModes = {"ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"};

void validate_access_modes(const json& spec, Causes& out) {
  const json& am = at(spec, "accessModes");
  if (!am.is_array() || am.empty()) {
    out.push_back(required("spec.accessModes", "at least 1 access mode is required"));
    return;
  }
  for (const auto& m : am) {
    if (!m.is_string() || std::find(kAccessModes.begin(), kAccessModes.end(), m.get<std::string>()) == kAccessModes.end()) {
      out.push_back(not_supported("spec.accessModes", m, kAccessModes));
    }
  }
}

void validate_pvc(const json& obj, Causes& out) {
  const json& spec = at(obj, "spec");
  validate_access_modes(spec, out);
  const json& req = at(at(spec, "resources"), "requests");
  if (!req.is_object() || !req.contains("storage")) out.push_back(required("spec.resources[storage]"));
  validate_label_selector(at(spec, "selector"), "spec.selector", out);
  if (has(spec, "volumeMode") && str(spec, "volumeMode") != "Block" && str(spec, "volumeMode") != "Filesystem") {
    out.push_back(not_supported("spec.volumeMode", spec["volumeMode"], {"Block", "Filesystem"}));
  }
}

void validate_pv(const json& obj, Causes& out) {
  const json& spec = at(obj, "spec");
  validate_access_modes(spec, out);
  const json& cap = at(spec, "capacity");
  if (!cap.is_object() || cap.empty()) {
    out.push_back(required("spec.capacity"));
  } else if (!cap.contains("storage")) {
    out.push_back(required("spec.capacity[storage]"));
  }
  static const std::set<std::string> kNotSources = {"capacity", "accessModes", "claimRef",
      "persistentVolumeReclaimPolicy", "storageClassName", "mountOptions", "volumeMode", "nodeAffinity",
      "volumeAttributesClassName"};
  int sources = 0;
  if (spec.is_object()) {
    for (auto it = spec.begin(); it != spec.end(); ++it) {
      if (!kNotSources.count(it.key()) && !it.value().is_null()) ++sources;
    }
  }
  if (sources == 0) out.push_back(required("spec", "must specify a volume type"));
  if (sources > 1) out.push_back(forbidden("spec", "may not specify more than 1 volume type"));
  if (has(spec, "persistentVolumeReclaimPolicy")) {
    std::string rp = str(spec, "persistentVolumeReclaimPolicy");
    if (rp != "Delete" && rp != "Recycle" && rp != "Retain") {
      out.push_back(not_supported("spec.persistentVolumeReclaimPolicy", spec["persistentVolumeReclaimPolicy"],
                                  {"Delete", "Recycle", "Retain"}));
    }
  }
  const json& hp = at(spec, "hostPath");
  if (hp.is_object() && str(hp, "path").empty()) out.push_back(required("spec.hostPath.path"));
}

void validate_config_keys(const json& data, const std::string& path, Causes& out) {
  if (!data.is_object()) return;
  for (auto it = data.begin(); it != data.end(); ++it) {
    const std::string& k = it.key();
    std::string p = path + "[" + k + "]";
    if (k.size() > 253) out.push_back(invalid(p, k, "must be no more than 253 characters"));
    if (!match_config_key(k)) {
      out.push_back(invalid(p, k, regex_error("a valid config key must consist of alphanumeric characters, '-', "
                                              "'_' or '.'", "[-._a-zA-Z0-9]+", {"key.name", "KEY_NAME", "key-name"})));
    } else if (k == "." || k == "..") {
      out.push_back(invalid(p, k, "must not be '.'"));
    } else if (k.rfind("..", 0) == 0) {
      out.push_back(invalid(p, k, "must not start with '..'"));
    }
  }
}

// ---- updates ----------------------------------------------------------------------------------

const char* kPodUpdateMessage =
    "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,"
    "`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),"
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

// Lines "- old" / "+ new" for the top-level PodSpec fields that differ (a short stand-in for
// Kubernetes' cmp.Diff output after the message).
std::string spec_diff(const json& old_spec, const json& new_spec) {
  std::string d;
  std::set<std::string> keys;
  for (const json* s : {&old_spec, &new_spec}) {
    if (!s->is_object()) continue;
    for (auto it = s->begin(); it != s->end(); ++it) keys.insert(it.key());
  }
  for (const auto& k : keys) {
    json a = old_spec.is_object() && old_spec.contains(k) ? old_spec[k] : json();
    json b = new_spec.is_object() && new_spec.contains(k) ? new_spec[k] : json();
    if (a == b) continue;
    if (!a.is_null()) d += "\n- " + k + ": " + a.dump();
    if (!b.is_null()) d += "\n+ " + k + ": " + b.dump();
  }
  return d;
}

void validate_pod_update(const json& obj, const json& old, Causes& out) {
  json new_spec = at(obj, "spec");
  const json& old_spec = at(old, "spec");
  if (!new_spec.is_object() || !old_spec.is_object()) return;
  json munged = new_spec;
  // Images may change: take the old containers with the new images.
  for (const char* list : {"containers", "initContainers"}) {
    if (has(munged, list) && has(old_spec, list) && munged[list].is_array() && old_spec[list].is_array() &&
        munged[list].size() == old_spec[list].size()) {
      for (size_t i = 0; i < munged[list].size(); ++i) {
        if (munged[list][i].is_object() && old_spec[list][i].is_object()) {
          munged[list][i]["image"] = jvalue(old_spec[list][i], "image", json());
          if (!has(old_spec[list][i], "image")) munged[list][i].erase("image");
        }
      }
    }
  }
  auto copy_old = [&](const char* f) {
    if (has(old_spec, f)) munged[f] = old_spec[f]; else munged.erase(f);
  };
  copy_old("activeDeadlineSeconds");
  // Tolerations: additions only.
  const json& old_tol = at(old_spec, "tolerations");
  const json& new_tol = at(new_spec, "tolerations");
  bool superset = true;
  if (old_tol.is_array()) {
    for (const auto& t : old_tol) {
      if (!new_tol.is_array() || std::find(new_tol.begin(), new_tol.end(), t) == new_tol.end()) superset = false;
    }
  }
  if (superset) copy_old("tolerations");
  // terminationGracePeriodSeconds may go from negative to 1.
  if (has(old_spec, "terminationGracePeriodSeconds") && old_spec["terminationGracePeriodSeconds"].is_number_integer() &&
      old_spec["terminationGracePeriodSeconds"].get<long long>() < 0 && at(new_spec, "terminationGracePeriodSeconds") == 1) {
    copy_old("terminationGracePeriodSeconds");
  }
  if (munged != old_spec) {
    out.push_back(forbidden("spec", std::string(kPodUpdateMessage) + spec_diff(old_spec, munged)));
  }
}

void immutable_selector(const json& obj, const json& old, Causes& out) {
  const json& ns = at(at(obj, "spec"), "selector");
  const json& os = at(at(old, "spec"), "selector");
  if (ns != os) out.push_back(invalid_raw("spec.selector", go_label_selector(ns), "field is immutable"));
}

void immutable_data(const json& obj, const json& old, Causes& out) {
  if (at(old, "immutable") != true) return;
  if (at(obj, "immutable") != true) {
    out.push_back(forbidden("immutable", "field is immutable when `immutable` is set"));
  }
  if (at(obj, "data") != at(old, "data")) out.push_back(forbidden("data", "field is immutable when `immutable` is set"));
  if (has(old, "binaryData") || has(obj, "binaryData")) {
    if (at(obj, "binaryData") != at(old, "binaryData")) {
      out.push_back(forbidden("binaryData", "field is immutable when `immutable` is set"));
    }
  }
}

void validate_meta_update(const json& obj, const json& old, Causes& out) {
  const json& nm = at(obj, "metadata");
  const json& om = at(old, "metadata");
  for (const char* f : {"name", "namespace", "uid"}) {
    if (has(om, f) && has(nm, f) && nm[f] != om[f]) {
      out.push_back(invalid(std::string("metadata.") + f, nm[f], "field is immutable"));
    }
  }
}

// ---- batch/v1: Jobs and CronJobs (pkg/apis/batch/validation) ----------------------------------

void positive_or_zero(const json& spec, const char* field, const std::string& path, Causes& out) {
  non_negative(spec, field, path, out);
}

void validate_pod_failure_policy(const json& pfp, const std::string& path, const json& pod_spec, Causes& out) {
  if (!pfp.is_object()) return;
  std::string rp = str(pod_spec, "restartPolicy");
  if (rp != "Never") {
    out.push_back(invalid(path.substr(0, path.rfind('.')) + ".template.spec.restartPolicy", rp,
                          "only \"Never\" is supported when podFailurePolicy is specified"));
  }
  const json& rules = at(pfp, "rules");
  if (rules.is_array() && rules.size() > 20) {
    out.push_back({"FieldValueTooMany", "Too many: " + std::to_string(rules.size()) + ": must have at most 20 items",
                   path + ".rules"});
  }
  if (!rules.is_array()) return;
  for (size_t i = 0; i < rules.size(); ++i) {
    std::string rp_i = idx(path + ".rules", i);
    const json& r = rules[i];
    std::string action = str(r, "action");
    if (!has(r, "action")) {
      out.push_back(required(rp_i + ".action"));
    } else if (action != "FailJob" && action != "FailIndex" && action != "Ignore" && action != "Count") {
      out.push_back(not_supported(rp_i + ".action", r["action"], {"Count", "FailIndex", "FailJob", "Ignore"}));
    }
    bool codes = has(r, "onExitCodes"), conds = has(r, "onPodConditions");
    if (codes && conds) {
      out.push_back(invalid_raw(rp_i, "specifying both OnExitCodes and OnPodConditions is not supported", ""));
      out.back().message = "Invalid value: specifying both OnExitCodes and OnPodConditions is not supported";
    } else if (!codes && !conds) {
      out.push_back(invalid_raw(rp_i, "specifying one of OnExitCodes and OnPodConditions is required", ""));
      out.back().message = "Invalid value: specifying one of OnExitCodes and OnPodConditions is required";
    }
    if (codes) {
      const json& oc = r["onExitCodes"];
      std::string op = str(oc, "operator");
      if (op != "In" && op != "NotIn") {
        out.push_back(not_supported(rp_i + ".onExitCodes.operator", at(oc, "operator"), {"In", "NotIn"}));
      }
      const json& values = at(oc, "values");
      if (!values.is_array() || values.empty()) {
        out.push_back(required(rp_i + ".onExitCodes.values"));
      } else {
        if (values.size() > 255) {
          out.push_back({"FieldValueTooMany", "Too many: " + std::to_string(values.size()) +
                                                   ": must have at most 255 items",
                         rp_i + ".onExitCodes.values"});
        }
        long long prev = LLONG_MIN;
        for (size_t j = 0; j < values.size(); ++j) {
          long long v = values[j].is_number_integer() ? values[j].get<long long>() : 0;
          std::string vp = idx(rp_i + ".onExitCodes.values", j);
          if (v == 0 && op == "In") {
            out.push_back(invalid(vp, v, "must not be 0 for the In operator"));
          }
          if (j > 0 && v == prev) {
            out.push_back(duplicate(vp, v));
          } else if (j > 0 && v < prev) {
            out.push_back(invalid(vp, v, "must be ordered"));
          }
          prev = v;
        }
      }
    }
    if (conds) {
      const json& pc = r["onPodConditions"];
      for (size_t j = 0; pc.is_array() && j < pc.size(); ++j) {
        std::string cp = idx(rp_i + ".onPodConditions", j);
        if (str(pc[j], "type").empty()) out.push_back(required(cp + ".type"));
        std::string st = str(pc[j], "status");
        if (has(pc[j], "status") && st != "True" && st != "False" && st != "Unknown") {
          out.push_back(not_supported(cp + ".status", pc[j]["status"], {"True", "False", "Unknown"}));
        }
      }
    }
  }
}

// validateJobSpec: what a Job's spec and a CronJob's jobTemplate.spec share.
void validate_job_spec_common(const json& spec, const std::string& path, Causes& out) {
  for (const char* f : {"parallelism", "completions", "activeDeadlineSeconds", "backoffLimit",
                        "ttlSecondsAfterFinished"}) {
    positive_or_zero(spec, f, path, out);
  }
  if (has(spec, "activeDeadlineSeconds") && spec["activeDeadlineSeconds"].is_number_integer() &&
      spec["activeDeadlineSeconds"].get<long long>() == 0) {
    out.push_back(invalid(path + ".activeDeadlineSeconds", spec["activeDeadlineSeconds"], "must be greater than 0"));
  }
  if (has(spec, "completionMode")) {
    std::string mode = str(spec, "completionMode");
    if (mode != "NonIndexed" && mode != "Indexed") {
      out.push_back(not_supported(path + ".completionMode", spec["completionMode"], {"NonIndexed", "Indexed"}));
    }
    if (mode == "Indexed") {
      if (!has(spec, "completions")) out.push_back(required(path + ".completions", "when completion mode is Indexed"));
      if (has(spec, "parallelism") && spec["parallelism"].is_number_integer() &&
          spec["parallelism"].get<long long>() > 100000) {
        out.push_back(invalid(path + ".parallelism", spec["parallelism"],
                              "must be less than or equal to 100000 when completion mode is Indexed"));
      }
    }
  }
  if (has(spec, "podReplacementPolicy")) {
    std::string p = str(spec, "podReplacementPolicy");
    if (p != "TerminatingOrFailed" && p != "Failed") {
      out.push_back(not_supported(path + ".podReplacementPolicy", spec["podReplacementPolicy"],
                                  {"Failed", "TerminatingOrFailed"}));
    } else if (p == "TerminatingOrFailed" && has(spec, "podFailurePolicy")) {
      out.push_back(not_supported(path + ".podReplacementPolicy", spec["podReplacementPolicy"], {"Failed"}));
    }
  }
  const json& tmpl = at(spec, "template");
  const json& tmeta = at(tmpl, "metadata");
  validate_labels(at(tmeta, "labels"), path + ".template.metadata.labels", out);
  validate_annotations(at(tmeta, "annotations"), path + ".template.metadata.annotations", out);
  validate_pod_spec(at(tmpl, "spec"), path + ".template.spec", out, {"OnFailure", "Never"});
  validate_pod_failure_policy(at(spec, "podFailurePolicy"), path + ".podFailurePolicy", at(tmpl, "spec"), out);
}

void validate_job(const json& obj, Causes& out) {
  const json& spec = at(obj, "spec");
  const json& sel = at(spec, "selector");
  if (!sel.is_object()) {
    out.push_back(required("spec.selector"));
  } else {
    validate_label_selector(sel, "spec.selector", out);
    const json& labels = at(at(at(spec, "template"), "metadata"), "labels");
    if (selector_empty(sel) || !selector_matches(sel, labels)) {
      out.push_back(invalid_raw("spec.template.metadata.labels", go_string_map(labels),
                                "`selector` does not match template `labels`"));
    }
    // ValidateGeneratedSelector: without manualSelector the selector must be the generated one.
    std::string uid = str(at(obj, "metadata"), "uid");
    if (at(spec, "manualSelector") != true && !uid.empty()) {
      json expected = {{"batch.kubernetes.io/controller-uid", uid}};
      const json& tl = at(at(at(spec, "template"), "metadata"), "labels");
      if (!tl.is_object() || at(tl, "batch.kubernetes.io/controller-uid") != uid) {
        out.push_back(invalid("spec.template.metadata.labels[batch.kubernetes.io/controller-uid]",
                              str(tl, "batch.kubernetes.io/controller-uid"), "must be '" + uid + "'"));
      }
      if (!selector_matches(sel, expected)) {
        out.push_back(invalid_raw("spec.selector", go_label_selector(sel), "`selector` not auto-generated"));
      }
    }
  }
  validate_job_spec_common(spec, "spec", out);
}

void validate_job_update(const json& obj, const json& old, Causes& out) {
  const json& ns = at(obj, "spec");
  const json& os = at(old, "spec");
  if (has(os, "selector") && at(ns, "selector") != at(os, "selector")) {
    out.push_back(invalid_raw("spec.selector", go_label_selector(at(ns, "selector")), "field is immutable"));
  }
  // Indexed Jobs may change completions together with parallelism (elastic Indexed Jobs).
  bool elastic = str(ns, "completionMode") == "Indexed" && at(ns, "completions") == at(ns, "parallelism");
  if (at(ns, "completions") != at(os, "completions") && !elastic) {
    out.push_back(invalid("spec.completions", at(ns, "completions"), "field is immutable"));
  }
  for (const char* f : {"completionMode", "podFailurePolicy", "backoffLimitPerIndex", "managedBy"}) {
    if (at(ns, f) != at(os, f)) out.push_back(invalid(std::string("spec.") + f, at(ns, f), "field is immutable"));
  }
  // The pod template may change only while the Job is suspended and never started (the scheduling
  // directives of a queued Job), as Kubernetes allows.
  if (at(ns, "template") != at(os, "template")) {
    bool never_started = !has(at(old, "status"), "startTime");
    if (!(at(ns, "suspend") == true && never_started)) {
      out.push_back(invalid_raw("spec.template", "core.PodTemplateSpec{...}", "field is immutable"));
    }
  }
}

void validate_cron_schedule(const json& spec, Causes& out, bool allow_tz_in_schedule) {
  std::string schedule = str(spec, "schedule");
  if (schedule.empty()) {
    out.push_back(required("spec.schedule"));
    return;
  }
  if (auto s = cron::parse_standard(schedule); !s) {
    out.push_back(invalid("spec.schedule", schedule, s.error().message));
  }
  bool tz_in = schedule.find("TZ") != std::string::npos;
  if (allow_tz_in_schedule && tz_in && has(spec, "timeZone")) {
    out.push_back(invalid("spec.schedule", schedule, "cannot use both timeZone field and TZ or CRON_TZ in schedule"));
  } else if (!allow_tz_in_schedule && tz_in) {
    out.push_back(invalid("spec.schedule", schedule, "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"));
  }
}

void validate_time_zone(const json& spec, Causes& out) {
  if (!has(spec, "timeZone")) return;
  std::string tz = str(spec, "timeZone");
  const std::string f = "spec.timeZone";
  if (tz.empty()) {
    out.push_back(invalid(f, tz, "timeZone must be nil or non-empty string"));
    return;
  }
  // ^[A-Za-z.\-_0-9+]{1,14}$, by hand (no std::regex in this file).
  auto part_ok = [](const std::string& part) {
    return !part.empty() && part.size() <= 14 && std::all_of(part.begin(), part.end(), [](char c) {
             return is_alnum(c) || c == '.' || c == '-' || c == '_' || c == '+';
           });
  };
  size_t start = 0;
  for (;;) {
    size_t p = tz.find('/', start);
    std::string part = tz.substr(start, p == std::string::npos ? std::string::npos : p - start);
    if (part == "." || part == ".." || (!part.empty() && part[0] == '-') || !part_ok(part)) {
      out.push_back(invalid(f, tz, "unknown time zone " + tz));
      return;
    }
    if (p == std::string::npos) break;
    start = p + 1;
  }
  if (lower(tz) == "local") {
    out.push_back(invalid(f, tz, "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"));
  }
  // Go's time.LoadLocation knows "Local" (the machine's zone), refused above.
  if (tz != "Local") {
    if (auto z = cron::load_zone(tz); !z) out.push_back(invalid(f, tz, z.error().message));
  }
}

void validate_cronjob(const json& obj, Causes& out, bool allow_tz_in_schedule) {
  std::string name = str(at(obj, "metadata"), "name");
  if (name.size() > 52) out.push_back(invalid("metadata.name", name, "must be no more than 52 characters"));
  const json& spec = at(obj, "spec");
  validate_cron_schedule(spec, out, allow_tz_in_schedule);
  validate_time_zone(spec, out);
  if (has(spec, "concurrencyPolicy")) {
    std::string p = str(spec, "concurrencyPolicy");
    if (p != "Allow" && p != "Forbid" && p != "Replace") {
      out.push_back(not_supported("spec.concurrencyPolicy", spec["concurrencyPolicy"], {"Allow", "Forbid", "Replace"}));
    }
  } else {
    out.push_back(required("spec.concurrencyPolicy"));
  }
  for (const char* f : {"startingDeadlineSeconds", "successfulJobsHistoryLimit", "failedJobsHistoryLimit"}) {
    non_negative(spec, f, "spec", out);
  }
  const json& jt = at(spec, "jobTemplate");
  const json& jspec = at(jt, "spec");
  validate_labels(at(at(jt, "metadata"), "labels"), "spec.jobTemplate.metadata.labels", out);
  validate_annotations(at(at(jt, "metadata"), "annotations"), "spec.jobTemplate.metadata.annotations", out);
  validate_job_spec_common(jspec, "spec.jobTemplate.spec", out);
  if (has(jspec, "selector")) {
    out.push_back(invalid_raw("spec.jobTemplate.spec.selector", go_label_selector(jspec["selector"]),
                              "`selector` will be auto-generated"));
  }
  if (at(jspec, "manualSelector") == true) {
    out.push_back(not_supported("spec.jobTemplate.spec.manualSelector", true, {"nil", "false"}));
  }
}

// ---- networking.k8s.io Ingress, IngressClass ---------------------------------------------------

const char* kWildcardDns1123SubdomainFmt = "\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";

std::vector<std::string> wildcard_dns1123_subdomain(const std::string& v) {
  std::vector<std::string> errs;
  if (v.size() > 253) errs.push_back("must be no more than 253 characters");
  if (v.size() < 3 || v.compare(0, 2, "*.") != 0 || !match_dns1123_subdomain(v.substr(2))) {
    errs.push_back(regex_error("a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, "
                               "which must consist of lower case alphanumeric characters, '-' or '.' and end with an "
                               "alphanumeric character",
                               kWildcardDns1123SubdomainFmt, {"*.example.com"}));
  }
  return errs;
}

bool is_ip_address(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

void validate_ingress_host(const std::string& host, const std::string& path, Causes& out, bool check_ip) {
  if (check_ip && is_ip_address(host)) out.push_back(invalid(path, host, "must be a DNS name, not an IP address"));
  const auto errs = host.find('*') != std::string::npos ? wildcard_dns1123_subdomain(host) : dns1123_subdomain(host);
  for (const auto& e : errs) out.push_back(invalid(path, host, e));
}

void validate_ingress_backend(const json& b, const std::string& path, Causes& out) {
  const bool has_resource = has(b, "resource"), has_service = has(b, "service");
  if (has_resource && has_service) {
    out.push_back(invalid(path, "", "cannot set both resource and service backends"));
    return;
  }
  if (has_resource) {
    const json& r = at(b, "resource");
    if (str(r, "kind").empty()) out.push_back(required(path + ".resource.kind", "kind is required"));
    if (str(r, "name").empty()) out.push_back(required(path + ".resource.name", "name is required"));
    return;
  }
  if (!has_service) {
    out.push_back(invalid(path, "", "resource or service backend is required"));
    return;
  }
  const json& svc = at(b, "service");
  const std::string name = str(svc, "name");
  if (name.empty()) {
    out.push_back(required(path + ".service.name"));
  } else {
    for (const auto& e : dns1035_label(name)) out.push_back(invalid(path + ".service.name", name, e));
  }
  const json& port = at(svc, "port");
  const std::string port_name = str(port, "name");
  const json& number = at(port, "number");
  const bool has_number = number.is_number_integer() && number.get<long long>() != 0;
  if (!port_name.empty() && has_number) {
    out.push_back(invalid(path, "", "cannot set both port name & port number"));
  } else if (!port_name.empty()) {
    std::vector<std::string> errs;
    valid_port_name(port_name, errs);
    for (const auto& e : errs) out.push_back(invalid(path + ".service.port.name", port_name, e));
  } else if (has_number) {
    port_range(number, path + ".service.port.number", out, true);
  } else {
    out.push_back(required(path, "port name or number is required"));
  }
}

void validate_ingress_path(const json& p, const std::string& path, Causes& out) {
  if (!has(p, "pathType")) {
    out.push_back(required(path + ".pathType", "pathType must be specified"));
    return;
  }
  const std::string type = str(p, "pathType");
  const std::string value = str(p, "path");
  if (type == "Exact" || type == "Prefix") {
    if (value.empty() || value[0] != '/') out.push_back(invalid(path + ".path", value, "must be an absolute path"));
    if (!value.empty()) {
      for (const char* seq : {"//", "/./", "/../", "%2f", "%2F"}) {
        if (value.find(seq) != std::string::npos)
          out.push_back(invalid(path + ".path", value, std::string("must not contain '") + seq + "'"));
      }
      for (const std::string suffix : {"/..", "/."}) {
        if (value.size() >= suffix.size() && value.compare(value.size() - suffix.size(), suffix.size(), suffix) == 0)
          out.push_back(invalid(path + ".path", value, "cannot end with '" + suffix + "'"));
      }
    }
  } else if (type == "ImplementationSpecific") {
    if (!value.empty() && value[0] != '/') out.push_back(invalid(path + ".path", value, "must be an absolute path"));
  } else {
    out.push_back(not_supported(path + ".pathType", at(p, "pathType"), {"Exact", "ImplementationSpecific", "Prefix"}));
  }
  validate_ingress_backend(at(p, "backend"), path + ".backend", out);
}

// Kubernetes' ValidateIngressCreate/Update for networking.k8s.io/v1 (pkg/apis/networking/validation).
void validate_ingress(const json& obj, Causes& out) {
  const json& spec = at(obj, "spec");
  const json& rules = at(spec, "rules");
  const bool has_rules = rules.is_array() && !rules.empty();
  if (!has_rules && !has(spec, "defaultBackend")) {
    out.push_back(invalid_raw("spec", "[]networking.IngressRule(nil)", "either `defaultBackend` or `rules` must be specified"));
  }
  if (has(spec, "defaultBackend")) validate_ingress_backend(at(spec, "defaultBackend"), "spec.defaultBackend", out);
  if (has_rules) {
    for (size_t i = 0; i < rules.size(); ++i) {
      const std::string rp = idx("spec.rules", i);
      const std::string host = str(rules[i], "host");
      if (!host.empty()) validate_ingress_host(host, rp + ".host", out, true);
      if (!has(rules[i], "http")) continue;
      const json& paths = at(at(rules[i], "http"), "paths");
      if (!paths.is_array() || paths.empty()) {
        out.push_back(required(rp + ".http.paths"));
        continue;
      }
      for (size_t j = 0; j < paths.size(); ++j) validate_ingress_path(paths[j], idx(rp + ".http.paths", j), out);
    }
  }
  const json& tls = at(spec, "tls");
  if (tls.is_array()) {
    for (size_t i = 0; i < tls.size(); ++i) {
      const json& hosts = at(tls[i], "hosts");
      if (hosts.is_array()) {
        for (size_t j = 0; j < hosts.size(); ++j) {
          if (hosts[j].is_string())
            validate_ingress_host(hosts[j].get<std::string>(), idx(idx("spec.tls", i) + ".hosts", j), out, false);
        }
      }
      const std::string secret = str(tls[i], "secretName");
      if (!secret.empty()) {
        for (const auto& e : dns1123_subdomain(secret)) out.push_back(invalid(idx("spec.tls", i) + ".secretName", secret, e));
      }
    }
  }
  if (has(spec, "ingressClassName")) {
    const std::string cls = str(spec, "ingressClassName");
    for (const auto& e : dns1123_subdomain(cls)) out.push_back(invalid("spec.ingressClassName", cls, e));
  }
  const json& ann = at(at(obj, "metadata"), "annotations");
  if (has(spec, "ingressClassName") && ann.is_object() && ann.contains("kubernetes.io/ingress.class")) {
    out.push_back(invalid("annotations.kubernetes.io/ingress.class", ann["kubernetes.io/ingress.class"],
                          "can not be set when the class field is also set"));
  }
}

void validate_ingress_class(const json& obj, Causes& out) {
  const std::string controller = str(at(obj, "spec"), "controller");
  if (controller.size() > 250) {
    out.push_back({"FieldValueTooLong", "Too long: may not be more than 250 bytes", "spec.controller"});
  }
  // IsDomainPrefixedPath: a DNS subdomain, then '/', then a path.
  const auto slash = controller.find('/');
  if (controller.empty()) {
    out.push_back(required("spec.controller"));
  } else if (slash == std::string::npos || slash == 0) {
    out.push_back(invalid("spec.controller", controller, "must be a domain-prefixed path (such as \"acme.io/foo\")"));
  } else {
    for (const auto& e : dns1123_subdomain(controller.substr(0, slash)))
      out.push_back(invalid("spec.controller", controller.substr(0, slash), e));
  }
}

NameRule name_rule(const ResourceType& t) {
  if (t.kind == "Namespace") return NameRule::kLabel;
  if (t.kind == "Service") return NameRule::kDns1035;
  return NameRule::kSubdomain;
}

}  // namespace

std::vector<FieldCause> validate_create(const ResourceType& type, const json& obj) {
  Causes out;
  if (type.custom) {  // custom kinds: ObjectMeta (DNS-1123 subdomain names), then their schema
    validate_meta(obj, NameRule::kSubdomain, "metadata", out);
    if (type.custom->schema) {
      auto more = type.custom->schema->validate(obj);
      out.insert(out.end(), more.begin(), more.end());
    }
    return out;
  }
  if (type.kind == "CustomResourceDefinition" && type.group == "apiextensions.k8s.io") return validate_crd(obj);
  validate_meta(obj, name_rule(type), "metadata", out);
  const std::string& k = type.kind;
  if (k == "Pod") {
    validate_pod_spec(at(obj, "spec"), "spec", out);
  } else if (k == "Deployment") {
    validate_deployment(obj, out);
  } else if (k == "ReplicaSet") {
    const json& spec = at(obj, "spec");
    non_negative(spec, "replicas", "spec", out);
    non_negative(spec, "minReadySeconds", "spec", out);
    validate_selector_template(spec, "replicaset", out);
  } else if (k == "StatefulSet") {
    const json& spec = at(obj, "spec");
    non_negative(spec, "replicas", "spec", out);
    validate_selector_template(spec, "statefulset", out);
  } else if (k == "DaemonSet") {
    validate_selector_template(at(obj, "spec"), "daemonset", out);
  } else if (k == "Job") {
    validate_job(obj, out);
  } else if (k == "CronJob") {
    validate_cronjob(obj, out, false);
  } else if (k == "Service") {
    validate_service(obj, out);
  } else if (k == "PersistentVolumeClaim") {
    validate_pvc(obj, out);
  } else if (k == "PersistentVolume") {
    validate_pv(obj, out);
  } else if (k == "ConfigMap") {
    validate_config_keys(at(obj, "data"), "data", out);
    validate_config_keys(at(obj, "binaryData"), "binaryData", out);
    if (obj.contains("data") && obj.contains("binaryData") && obj["data"].is_object() && obj["binaryData"].is_object()) {
      for (auto it = obj["data"].begin(); it != obj["data"].end(); ++it) {
        if (obj["binaryData"].contains(it.key())) {
          out.push_back(invalid("data[" + it.key() + "]", it.key(), "duplicate of key present in binaryData"));
        }
      }
    }
  } else if (k == "Secret") {
    validate_config_keys(at(obj, "data"), "data", out);
  } else if (k == "Ingress") {
    validate_ingress(obj, out);
  } else if (k == "IngressClass") {
    validate_ingress_class(obj, out);
  } else if (k == "StorageClass") {
    if (str(obj, "provisioner").empty()) out.push_back(required("provisioner"));
    if (has(obj, "reclaimPolicy") && str(obj, "reclaimPolicy") != "Delete" && str(obj, "reclaimPolicy") != "Retain") {
      out.push_back(not_supported("reclaimPolicy", obj["reclaimPolicy"], {"Delete", "Retain"}));
    }
    if (has(obj, "volumeBindingMode") && str(obj, "volumeBindingMode") != "Immediate" &&
        str(obj, "volumeBindingMode") != "WaitForFirstConsumer") {
      out.push_back(not_supported("volumeBindingMode", obj["volumeBindingMode"], {"Immediate", "WaitForFirstConsumer"}));
    }
  }
  return out;
}

std::vector<FieldCause> validate_update(const ResourceType& type, const json& obj, const json& old) {
  if (type.kind == "CustomResourceDefinition" && type.group == "apiextensions.k8s.io" && !type.custom) {
    Causes out = validate_crd(obj, old);
    validate_meta_update(obj, old, out);
    return out;
  }
  if (type.custom) {  // custom kinds: their schema and ObjectMeta, nothing kind-specific
    Causes out = validate_create(type, obj);
    validate_meta_update(obj, old, out);
    return out;
  }
  Causes out;
  if (type.kind == "CronJob") {
    // A schedule that had TZ= before may keep it (AllowTZInSchedule on update).
    validate_meta(obj, name_rule(type), "metadata", out);
    validate_cronjob(obj, out, str(at(old, "spec"), "schedule").find("TZ") != std::string::npos);
  } else {
    out = validate_create(type, obj);
  }
  validate_meta_update(obj, old, out);
  const std::string& k = type.kind;
  if (k == "Pod") {
    validate_pod_update(obj, old, out);
  } else if (k == "Deployment" || k == "ReplicaSet" || k == "DaemonSet") {
    immutable_selector(obj, old, out);
  } else if (k == "StatefulSet") {
    json a = at(obj, "spec"), b = at(old, "spec");
    for (const char* f : {"replicas", "ordinals", "template", "updateStrategy",
                          "persistentVolumeClaimRetentionPolicy", "minReadySeconds"}) {
      if (a.is_object()) a.erase(f);
      if (b.is_object()) b.erase(f);
    }
    if (a != b) {
      out.push_back(forbidden("spec", "updates to statefulset spec for fields other than 'replicas', 'ordinals', "
                                      "'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and "
                                      "'minReadySeconds' are forbidden"));
    }
  } else if (k == "Job") {
    validate_job_update(obj, old, out);
  } else if (k == "Service") {
    std::string nip = str(at(obj, "spec"), "clusterIP"), oip = str(at(old, "spec"), "clusterIP");
    if (!oip.empty() && !nip.empty() && nip != oip && str(at(obj, "spec"), "type") != "ExternalName") {
      out.push_back(invalid_raw("spec.clusterIPs[0]", go_string_slice(at(at(obj, "spec"), "clusterIPs").is_array()
                                                                       ? at(at(obj, "spec"), "clusterIPs")
                                                                       : json::array({nip})),
                                "may not change once set"));
    }
  } else if (k == "PersistentVolumeClaim") {
    json a = at(obj, "spec"), b = at(old, "spec");
    bool bound = !str(b, "volumeName").empty();
    for (json* s : {&a, &b}) {
      if (!s->is_object()) continue;
      if (s->contains("resources") && (*s)["resources"].is_object()) (*s)["resources"].erase("requests");
      if (s->contains("resources") && (*s)["resources"].empty()) s->erase("resources");
      // The binder fills volumeName on an unbound claim.
      if (!bound) s->erase("volumeName");
    }
    if (a != b) {
      out.push_back(forbidden("spec", "spec is immutable after creation except resources.requests for bound claims" +
                                          spec_diff(b, a)));
    }
  } else if (k == "ConfigMap") {
    immutable_data(obj, old, out);
  } else if (k == "Secret") {
    immutable_data(obj, old, out);
    if (has(old, "type") && at(obj, "type") != old["type"]) {
      out.push_back(invalid("type", at(obj, "type"), "field is immutable"));
    }
  }
  return out;
}

std::string cause_text(const FieldCause& c) { return c.field.empty() ? c.message : c.field + ": " + c.message; }

std::string invalid_message(const ResourceType& type, std::string_view name, const std::vector<FieldCause>& causes) {
  std::string gk = type.group.empty() ? type.kind : type.kind + "." + type.group;
  std::string msg = gk + " " + quote(std::string(name)) + " is invalid";
  if (causes.empty()) return msg;
  msg += ": ";
  if (causes.size() == 1) return msg + cause_text(causes[0]);
  msg += "[";
  for (size_t i = 0; i < causes.size(); ++i) msg += (i ? ", " : "") + cause_text(causes[i]);
  return msg + "]";
}

json invalid_status(const ResourceType& type, std::string_view name, const std::vector<FieldCause>& causes) {
  json details = {{"name", std::string(name)}, {"kind", type.kind}};
  if (!type.group.empty()) details["group"] = type.group;
  json cs = json::array();
  for (const auto& c : causes) cs.push_back({{"reason", c.reason}, {"message", c.message}, {"field", c.field}});
  details["causes"] = std::move(cs);
  return {{"kind", "Status"},
          {"apiVersion", "v1"},
          {"metadata", json::object()},
          {"status", "Failure"},
          {"message", invalid_message(type, name, causes)},
          {"reason", "Invalid"},
          {"details", std::move(details)},
          {"code", 422}};
}

}  // namespace k3dpp::schema
