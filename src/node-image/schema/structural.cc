// Structural schemas: compile, structural check, prune, default, validate (see structural.h).
// Messages follow apiextensions-apiserver (pkg/apiserver/schema, pkg/apiserver/validation) and the
// OpenAPI validator it uses (kube-openapi's fork of go-openapi/validate), as read from upstream.
#include "node-image/schema/structural.h"

#include <re2/re2.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

namespace k3dpp::schema {
namespace {

using json = nlohmann::json;
using Causes = std::vector<FieldCause>;

// ---- Go-style value formatting (field.Error's ErrorBody) ------------------------------------

std::string go_quote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

// Go's %v of a float64: integral values without a fraction, others shortest.
std::string go_float(double d) {
  if (std::isfinite(d) && std::floor(d) == d && std::fabs(d) < 1e21) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.0f", d);
    return buf;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", d);
  // shortest round-trip form
  for (int prec = 1; prec <= 17; ++prec) {
    char b2[64];
    std::snprintf(b2, sizeof b2, "%.*g", prec, d);
    if (std::strtod(b2, nullptr) == d) return b2;
  }
  return buf;
}

std::string go_number(const json& v) {
  if (v.is_number_integer()) return v.dump();
  if (v.is_number_float()) return go_float(v.get<double>());
  return v.dump();
}

// %#v-like rendering of a JSON value inside a message (Go prints Go syntax for maps/slices; we
// print JSON there, strings quoted, numbers and booleans plain).
std::string go_value(const json& v) {
  if (v.is_string()) return go_quote(v.get<std::string>());
  if (v.is_number()) return go_number(v);
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_null()) return "\"null\"";
  return v.dump();
}

std::string join(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}
std::string index(const std::string& path, size_t i) { return path + "[" + std::to_string(i) + "]"; }
std::string prop_path(const std::string& path, const std::string& key) {
  return path + ".properties[" + key + "]";
}

FieldCause required(const std::string& f, const std::string& detail = {}) {
  return {"FieldValueRequired", detail.empty() ? "Required value" : "Required value: " + detail, f};
}
FieldCause forbidden(const std::string& f, const std::string& detail) {
  return {"FieldValueForbidden", "Forbidden: " + detail, f};
}
FieldCause invalid_raw(const std::string& f, const std::string& value, const std::string& detail) {
  return {"FieldValueInvalid", "Invalid value: " + value + ": " + detail, f};
}
FieldCause invalid(const std::string& f, const json& v, const std::string& detail) {
  return invalid_raw(f, go_value(v), detail);
}
FieldCause type_invalid(const std::string& f, const json& v, const std::string& detail) {
  return {"FieldValueTypeInvalid", "Invalid value: " + go_value(v) + ": " + detail, f};
}
FieldCause not_supported(const std::string& f, const json& v, const std::vector<std::string>& values) {
  std::string s = "Unsupported value: " + go_value(v);
  if (!values.empty()) {
    s += ": supported values: ";
    for (size_t i = 0; i < values.size(); ++i) s += (i ? ", " : "") + go_quote(values[i]);
  }
  return {"FieldValueNotSupported", s, f};
}
FieldCause duplicate(const std::string& f, const std::string& rendered) {
  return {"FieldValueDuplicate", "Duplicate value: " + rendered, f};
}

bool is_true(const json& s, const char* key) {
  auto it = s.find(key);
  return it != s.end() && it->is_boolean() && it->get<bool>();
}
std::string str_of(const json& s, const char* key) {
  auto it = s.find(key);
  return it != s.end() && it->is_string() ? it->get<std::string>() : std::string();
}
const json* child(const json& s, const char* key) {
  if (!s.is_object()) return nullptr;
  auto it = s.find(key);
  return it == s.end() ? nullptr : &*it;
}

// The JSON type name go-openapi reports for a value.
std::string json_type(const json& v) {
  if (v.is_null()) return "null";
  if (v.is_string()) return "string";
  if (v.is_boolean()) return "boolean";
  if (v.is_number_integer()) return "integer";
  if (v.is_number_float()) return "number";
  if (v.is_array()) return "array";
  return "object";
}

bool integral(const json& v) {
  if (v.is_number_integer()) return true;
  if (v.is_number_float()) {
    double d = v.get<double>();
    return std::isfinite(d) && std::floor(d) == d;
  }
  return false;
}

// ---- compile --------------------------------------------------------------------------------

Result<void> compile_node(const json& s, SchemaNode& n, const std::string& path) {
  if (!s.is_object()) return fail(path + ": a schema must be an object", "Invalid");
  n.type = str_of(s, "type");
  n.format = str_of(s, "format");
  n.description = str_of(s, "description");
  n.nullable = is_true(s, "nullable");
  n.preserve_unknown = is_true(s, "x-kubernetes-preserve-unknown-fields");
  n.int_or_string = is_true(s, "x-kubernetes-int-or-string");
  n.embedded = is_true(s, "x-kubernetes-embedded-resource");
  n.list_type = str_of(s, "x-kubernetes-list-type");
  n.map_type = str_of(s, "x-kubernetes-map-type");
  if (const json* k = child(s, "x-kubernetes-list-map-keys"); k && k->is_array())
    for (const auto& e : *k)
      if (e.is_string()) n.list_map_keys.push_back(e.get<std::string>());
  if (const json* r = child(s, "required"); r && r->is_array())
    for (const auto& e : *r)
      if (e.is_string()) n.required.push_back(e.get<std::string>());
  if (const json* e = child(s, "enum"); e && e->is_array()) n.enum_values = *e;
  if (const json* d = child(s, "default")) n.default_value = *d;
  auto num = [&](const char* key) -> std::optional<double> {
    const json* v = child(s, key);
    if (v && v->is_number()) return v->get<double>();
    return std::nullopt;
  };
  auto count = [&](const char* key) -> std::optional<int64_t> {
    const json* v = child(s, key);
    if (v && v->is_number()) return v->get<int64_t>();
    return std::nullopt;
  };
  n.minimum = num("minimum");
  n.maximum = num("maximum");
  n.multiple_of = num("multipleOf");
  n.exclusive_minimum = is_true(s, "exclusiveMinimum");
  n.exclusive_maximum = is_true(s, "exclusiveMaximum");
  n.min_length = count("minLength");
  n.max_length = count("maxLength");
  n.min_items = count("minItems");
  n.max_items = count("maxItems");
  n.min_properties = count("minProperties");
  n.max_properties = count("maxProperties");
  n.unique_items = is_true(s, "uniqueItems");
  n.pattern = str_of(s, "pattern");
  if (!n.pattern.empty()) {
    RE2::Options opts;
    opts.set_log_errors(false);
    opts.set_max_mem(8 << 20);  // bounded program size for hostile patterns
    auto re = std::make_shared<RE2>(n.pattern, opts);
    if (!re->ok())
      return fail(path + ".pattern: must be a valid regular expression, but isn't: " + re->error(),
                  "Invalid");
    n.pattern_re = std::move(re);
  }
  if (const json* v = child(s, "x-kubernetes-validations")) n.x_validations = *v;
  if (const json* p = child(s, "properties"); p && p->is_object()) {
    for (auto it = p->begin(); it != p->end(); ++it) {
      SchemaNode c;
      if (auto r = compile_node(it.value(), c, prop_path(path, it.key())); !r) return r;
      n.properties.emplace(it.key(), std::move(c));
    }
  }
  if (const json* a = child(s, "additionalProperties")) {
    n.has_additional = true;
    if (a->is_boolean()) {
      n.additional_allows = a->get<bool>();
    } else {
      n.additional = std::make_shared<SchemaNode>();
      if (auto r = compile_node(*a, *n.additional, path + ".additionalProperties"); !r) return r;
    }
  }
  if (const json* i = child(s, "items"); i && i->is_object()) {
    n.items = std::make_shared<SchemaNode>();
    if (auto r = compile_node(*i, *n.items, path + ".items"); !r) return r;
  }
  auto list = [&](const char* key, std::vector<SchemaNode>& out) -> Result<void> {
    const json* l = child(s, key);
    if (!l || !l->is_array()) return {};
    for (size_t i = 0; i < l->size(); ++i) {
      SchemaNode c;
      if (auto r = compile_node((*l)[i], c, index(path + "." + key, i)); !r) return r;
      out.push_back(std::move(c));
    }
    return {};
  };
  if (auto r = list("allOf", n.all_of); !r) return r;
  if (auto r = list("anyOf", n.any_of); !r) return r;
  if (auto r = list("oneOf", n.one_of); !r) return r;
  if (const json* no = child(s, "not"); no && no->is_object()) {
    n.not_ = std::make_shared<SchemaNode>();
    if (auto r = compile_node(*no, *n.not_, path + ".not"); !r) return r;
  }
  return {};
}

// ---- structural check -----------------------------------------------------------------------

enum class Level { kRoot, kItem, kField };

bool int_or_string_any_of(const json& any_of) {
  if (!any_of.is_array() || any_of.size() != 2) return false;
  auto only_type = [](const json& s, const char* t) {
    return s.is_object() && s.size() == 1 && str_of(s, "type") == t;
  };
  return only_type(any_of[0], "integer") && only_type(any_of[1], "string");
}

void check_nested(const json& v, bool skip_any_of, Level lvl, const std::string& path, Causes& out);

void check_value_validation(const json& s, bool skip_any_of, bool skip_first_all_of_any_of, Level lvl,
                            const std::string& path, Causes& out) {
  if (const json* a = child(s, "anyOf"); a && a->is_array() && !skip_any_of)
    for (size_t i = 0; i < a->size(); ++i) check_nested((*a)[i], false, lvl, index(path + ".anyOf", i), out);
  if (const json* a = child(s, "allOf"); a && a->is_array())
    for (size_t i = 0; i < a->size(); ++i)
      check_nested((*a)[i], skip_first_all_of_any_of && i == 0, lvl, index(path + ".allOf", i), out);
  if (const json* a = child(s, "oneOf"); a && a->is_array())
    for (size_t i = 0; i < a->size(); ++i) check_nested((*a)[i], false, lvl, index(path + ".oneOf", i), out);
  if (const json* n = child(s, "not")) check_nested(*n, false, lvl, path + ".not", out);
  std::string pattern = str_of(s, "pattern");
  if (!pattern.empty()) {
    RE2::Options opts;
    opts.set_log_errors(false);
    opts.set_max_mem(8 << 20);
    RE2 re(pattern, opts);
    if (!re.ok())
      out.push_back(invalid(path + ".pattern", pattern,
                            "must be a valid regular expression, but isn't: " + re.error()));
  }
}

// A schema under allOf/anyOf/oneOf/not: only value validations, no structure or generics.
void check_nested(const json& v, bool skip_any_of, Level lvl, const std::string& path, Causes& out) {
  if (!v.is_object()) return;
  check_value_validation(v, skip_any_of, false, lvl, path, out);
  if (const json* i = child(v, "items"); i && i->is_object()) check_nested(*i, false, lvl, path + ".items", out);
  if (const json* p = child(v, "properties"); p && p->is_object())
    for (auto it = p->begin(); it != p->end(); ++it)
      check_nested(it.value(), false, Level::kField, prop_path(path, it.key()), out);
  if (!str_of(v, "type").empty()) out.push_back(forbidden(path + ".type", "must be empty to be structural"));
  if (child(v, "additionalProperties"))
    out.push_back(forbidden(path + ".additionalProperties", "must be undefined to be structural"));
  if (child(v, "default")) out.push_back(forbidden(path + ".default", "must be undefined to be structural"));
  if (!str_of(v, "title").empty()) out.push_back(forbidden(path + ".title", "must be empty to be structural"));
  if (!str_of(v, "description").empty())
    out.push_back(forbidden(path + ".description", "must be empty to be structural"));
  if (is_true(v, "nullable")) out.push_back(forbidden(path + ".nullable", "must be false to be structural"));
  if (child(v, "externalDocs"))
    out.push_back(forbidden(path + ".externalDocs", "must be undefined to be structural"));
  if (is_true(v, "x-kubernetes-preserve-unknown-fields"))
    out.push_back(forbidden(path + ".x-kubernetes-preserve-unknown-fields", "must be false to be structural"));
  if (is_true(v, "x-kubernetes-embedded-resource"))
    out.push_back(forbidden(path + ".x-kubernetes-embedded-resource", "must be false to be structural"));
  if (is_true(v, "x-kubernetes-int-or-string"))
    out.push_back(forbidden(path + ".x-kubernetes-int-or-string", "must be false to be structural"));
  if (const json* k = child(v, "x-kubernetes-list-map-keys"); k && k->is_array() && !k->empty())
    out.push_back(forbidden(path + ".x-kubernetes-list-map-keys", "must be empty to be structural"));
  if (child(v, "x-kubernetes-list-type"))
    out.push_back(forbidden(path + ".x-kubernetes-list-type", "must be undefined to be structural"));
  if (child(v, "x-kubernetes-map-type"))
    out.push_back(forbidden(path + ".x-kubernetes-map-type", "must be undefined to be structural"));
  if (const json* x = child(v, "x-kubernetes-validations"); x && x->is_array() && !x->empty())
    out.push_back(forbidden(path + ".x-kubernetes-validations", "must be empty to be structural"));
  if (const json* p = child(v, "properties"); p && p->is_object() && p->contains("metadata"))
    out.push_back(forbidden(prop_path(path, "metadata"), "must not be specified in a nested context"));
}

void check_metadata(const json& m, bool check_meta, Level lvl, const std::string& path, Causes& out) {
  if (check_meta && str_of(m, "type") != "object")
    out.push_back(invalid(path + ".type", str_of(m, "type"), "must be object"));
  if (lvl != Level::kRoot || !m.is_object()) return;
  // Only name and generateName may be restricted; type and default are ignored here.
  bool ok = true;
  for (auto it = m.begin(); it != m.end(); ++it) {
    const std::string& k = it.key();
    if (k == "type" || k == "default") continue;
    if (k == "properties" && it->is_object()) {
      bool only_names = !it->empty();
      for (auto p = it->begin(); p != it->end(); ++p)
        if (p.key() != "name" && p.key() != "generateName") only_names = false;
      if (only_names) continue;
    }
    ok = false;
  }
  if (!ok)
    out.push_back(forbidden(path, "must not specify anything other than name and generateName, but metadata is "
                                  "implicitly specified"));
}

const std::vector<std::string> kTypes = {"array", "boolean", "integer", "number", "object", "string"};

void check_invariants(const json& s, Level lvl, const std::string& path, Causes& out) {
  if (!s.is_object()) return;
  std::string type = str_of(s, "type");
  if (!type.empty() && std::find(kTypes.begin(), kTypes.end(), type) == kTypes.end())
    out.push_back(not_supported(path + ".type", type, kTypes));
  const json* items = child(s, "items");
  if (type == "array" && !(items && items->is_object()))
    out.push_back(required(path + ".items", "must be specified"));
  if (items && items->is_object()) check_invariants(*items, Level::kItem, path + ".items", out);
  const json* props = child(s, "properties");
  if (props && props->is_object())
    for (auto it = props->begin(); it != props->end(); ++it)
      check_invariants(it.value(), Level::kField, prop_path(path, it.key()), out);
  const json* add = child(s, "additionalProperties");
  if (add) {
    if (lvl == Level::kRoot) out.push_back(forbidden(path + ".additionalProperties", "must not be used at the root"));
    if (add->is_object()) check_invariants(*add, Level::kField, path + ".additionalProperties", out);
    if (props && props->is_object() && !props->empty() && !(add->is_boolean() && add->get<bool>()))
      out.push_back(forbidden(path + ".additionalProperties", "additionalProperties and properties are mutual exclusive"));
  }
  bool ios = is_true(s, "x-kubernetes-int-or-string");
  bool pres = is_true(s, "x-kubernetes-preserve-unknown-fields");
  bool emb = is_true(s, "x-kubernetes-embedded-resource");
  if (ios && pres)
    out.push_back(invalid(path + ".x-kubernetes-preserve-unknown-fields", true,
                          "must be false if x-kubernetes-int-or-string is true"));
  if (ios && emb)
    out.push_back(invalid(path + ".x-kubernetes-embedded-resource", true,
                          "must be false if x-kubernetes-int-or-string is true"));
  if (const json* p = child(s, "x-kubernetes-preserve-unknown-fields"); p && p->is_boolean() && !p->get<bool>())
    out.push_back(invalid(path + ".x-kubernetes-preserve-unknown-fields", false, "must be true or undefined"));
  if (ios && !type.empty()) {
    out.push_back(invalid(path + ".type", type, "must be empty if x-kubernetes-int-or-string is true"));
  }
  if (is_true(s, "uniqueItems"))
    out.push_back(forbidden(path + ".uniqueItems",
                            "uniqueItems cannot be set to true since the runtime complexity becomes quadratic"));
  if (child(s, "$ref")) out.push_back(forbidden(path + ".$ref", "$ref is not supported"));

  const json* any_of = child(s, "anyOf");
  const json* all_of = child(s, "allOf");
  bool skip_any_of = any_of && int_or_string_any_of(*any_of);
  bool skip_all_of = all_of && all_of->is_array() && !all_of->empty() && (*all_of)[0].is_object() &&
                     (*all_of)[0].contains("anyOf") && int_or_string_any_of((*all_of)[0]["anyOf"]);
  check_value_validation(s, skip_any_of, skip_all_of, lvl, path, out);

  bool check_meta = lvl == Level::kRoot || emb;
  if (emb && type != "object") {
    if (type.empty())
      out.push_back(required(path + ".type", "must be object if x-kubernetes-embedded-resource is true"));
    else
      out.push_back(invalid(path + ".type", type, "must be object if x-kubernetes-embedded-resource is true"));
  } else if (type.empty() && !ios && !pres) {
    switch (lvl) {
      case Level::kRoot: out.push_back(required(path + ".type", "must not be empty at the root")); break;
      case Level::kItem: out.push_back(required(path + ".type", "must not be empty for specified array items")); break;
      case Level::kField: out.push_back(required(path + ".type", "must not be empty for specified object fields")); break;
    }
  }
  if (emb && add) out.push_back(forbidden(path + ".additionalProperties", "must not be used if x-kubernetes-embedded-resource is set"));
  if (lvl == Level::kRoot && !type.empty() && type != "object")
    out.push_back(invalid(path + ".type", type, "must be object at the root"));
  if (props && props->is_object() && check_meta) {
    for (const char* k : {"kind", "apiVersion"}) {
      auto it = props->find(k);
      if (it != props->end() && str_of(*it, "type") != "string")
        out.push_back(invalid(prop_path(path, k) + ".type", str_of(*it, "type"), "must be string"));
    }
  }
  if (props && props->is_object()) {
    auto it = props->find("metadata");
    if (it != props->end()) check_metadata(*it, check_meta, lvl, prop_path(path, "metadata"), out);
  }
  if (emb && !pres && !(props && props->is_object() && !props->empty()))
    out.push_back(required(path + ".properties",
                           "must not be empty if x-kubernetes-embedded-resource is true without "
                           "x-kubernetes-preserve-unknown-fields"));

  // list types (apiextensions validation of x-kubernetes-list-type / -map-keys)
  std::string lt = str_of(s, "x-kubernetes-list-type");
  if (child(s, "x-kubernetes-list-type")) {
    if (type != "array")
      out.push_back(invalid(path + ".type", type, "must be array if x-kubernetes-list-type is specified"));
    else if (lt != "atomic" && lt != "set" && lt != "map")
      out.push_back(not_supported(path + ".x-kubernetes-list-type", lt, {"atomic", "set", "map"}));
  }
  const json* keys = child(s, "x-kubernetes-list-map-keys");
  if (lt == "map") {
    if (!keys || !keys->is_array() || keys->empty()) {
      out.push_back(required(path + ".x-kubernetes-list-map-keys", "must not be empty if x-kubernetes-list-type is map"));
    } else if (items && items->is_object()) {
      if (str_of(*items, "type") != "object") {
        out.push_back(invalid(path + ".items.type", str_of(*items, "type"),
                              "must be object when x-kubernetes-list-type is map"));
      } else {
        const json* ip = child(*items, "properties");
        for (const auto& k : *keys) {
          if (!k.is_string()) continue;
          std::string key = k.get<std::string>();
          if (!ip || !ip->is_object() || !ip->contains(key)) {
            out.push_back(required(path + ".items.properties", "entries for all x-kubernetes-list-map-keys are required"));
            break;
          }
          const json& kp = (*ip)[key];
          std::string kt = str_of(kp, "type");
          if (kt != "string" && kt != "integer" && kt != "number" && kt != "boolean" && !is_true(kp, "x-kubernetes-int-or-string"))
            out.push_back(invalid(prop_path(path + ".items", key) + ".type", kt,
                                  "must be a scalar type if parent array's x-kubernetes-list-type is map"));
        }
      }
    }
  } else if (keys && keys->is_array() && !keys->empty()) {
    out.push_back(forbidden(path + ".x-kubernetes-list-map-keys", "must be empty if x-kubernetes-list-type is not map"));
  }
}

// Every field or item named under a junctor must also be in the structural part.
void check_completeness_nested(const json& v, const json* s, const std::string& spath, const std::string& vpath,
                               Causes& out);
void check_completeness(const json& v, const json* s, const std::string& spath, const std::string& vpath,
                        Causes& out) {
  for (const char* j : {"allOf", "anyOf", "oneOf"}) {
    const json* l = child(v, j);
    if (!l || !l->is_array()) continue;
    for (size_t i = 0; i < l->size(); ++i)
      check_completeness_nested((*l)[i], s, spath, index(vpath + "." + j, i), out);
  }
  if (const json* n = child(v, "not")) check_completeness_nested(*n, s, spath, vpath + ".not", out);
}
void check_completeness_nested(const json& v, const json* s, const std::string& spath, const std::string& vpath,
                               Causes& out) {
  if (!v.is_object()) return;
  if (!s) {
    out.push_back(required(spath, "because it is defined in " + vpath));
    return;
  }
  check_completeness(v, s, spath, vpath, out);
  if (const json* i = child(v, "items"); i && i->is_object()) {
    const json* si = child(*s, "items");
    check_completeness_nested(*i, si && si->is_object() ? si : nullptr, spath + ".items", vpath + ".items", out);
  }
  if (const json* p = child(v, "properties"); p && p->is_object()) {
    const json* sp = child(*s, "properties");
    for (auto it = p->begin(); it != p->end(); ++it) {
      const json* sf = sp && sp->is_object() && sp->contains(it.key()) ? &(*sp)[it.key()] : nullptr;
      if (!sf)
        out.push_back(required(prop_path(spath, it.key()), "because it is defined in " + prop_path(vpath, it.key())));
      else
        check_completeness_nested(it.value(), sf, prop_path(spath, it.key()), prop_path(vpath, it.key()), out);
    }
  }
}

void completeness_walk(const json& s, const std::string& path, Causes& out) {
  if (!s.is_object()) return;
  check_completeness(s, &s, path, path, out);
  if (const json* i = child(s, "items"); i && i->is_object()) completeness_walk(*i, path + ".items", out);
  if (const json* p = child(s, "properties"); p && p->is_object())
    for (auto it = p->begin(); it != p->end(); ++it) completeness_walk(it.value(), prop_path(path, it.key()), out);
  if (const json* a = child(s, "additionalProperties"); a && a->is_object())
    completeness_walk(*a, path + ".additionalProperties", out);
}

// ---- prune ----------------------------------------------------------------------------------

const std::set<std::string> kObjectMetaFields = {
    "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
    "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations",
    "ownerReferences", "finalizers", "managedFields"};

void prune_node(json& v, const SchemaNode& n, bool root_like, const std::string& path,
                std::vector<std::string>& out) {
  if (n.int_or_string) return;
  if (v.is_object()) {
    bool keep_unknown = n.preserve_unknown;
    if (!n.properties.empty() || n.additional || root_like || !keep_unknown) {
      for (auto it = v.begin(); it != v.end();) {
        const std::string key = it.key();
        std::string p = join(path, key);
        if (root_like && (key == "apiVersion" || key == "kind")) {
          ++it;
          continue;
        }
        if (root_like && key == "metadata") {
          if (it->is_object())
            for (auto m = it->begin(); m != it->end();) {
              if (!kObjectMetaFields.count(m.key())) {
                out.push_back(join(p, m.key()));
                m = it->erase(m);
              } else {
                ++m;
              }
            }
          ++it;
          continue;
        }
        auto pi = n.properties.find(key);
        if (pi != n.properties.end()) {
          prune_node(*it, pi->second, pi->second.embedded, p, out);
          ++it;
        } else if (n.additional) {
          prune_node(*it, *n.additional, n.additional->embedded, p, out);
          ++it;
        } else if (keep_unknown || (n.has_additional && n.additional_allows)) {
          ++it;
        } else {
          out.push_back(p);
          it = v.erase(it);
        }
      }
    }
  } else if (v.is_array() && n.items) {
    for (size_t i = 0; i < v.size(); ++i) prune_node(v[i], *n.items, n.items->embedded, index(path, i), out);
  }
}

// ---- defaults -------------------------------------------------------------------------------

void default_node(json& v, const SchemaNode& n) {
  if (v.is_object()) {
    for (const auto& [key, p] : n.properties) {
      auto it = v.find(key);
      if (p.default_value && (it == v.end() || (it->is_null() && !p.nullable))) v[key] = *p.default_value;
    }
    for (auto it = v.begin(); it != v.end(); ++it) {
      auto pi = n.properties.find(it.key());
      if (pi != n.properties.end()) {
        default_node(*it, pi->second);
      } else if (n.additional) {
        if (it->is_null() && !n.additional->nullable && n.additional->default_value)
          *it = *n.additional->default_value;
        default_node(*it, *n.additional);
      }
    }
  } else if (v.is_array() && n.items) {
    for (auto& e : v) {
      if (e.is_null() && !n.items->nullable && n.items->default_value) e = *n.items->default_value;
      default_node(e, *n.items);
    }
  }
}

// ---- validate -------------------------------------------------------------------------------

bool valid_format(const std::string& fmt, const std::string& s) {
  static const RE2 kDateTime(
      R"(\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2}))");
  static const RE2 kDate(R"(\d{4}-\d{2}-\d{2})");
  static const RE2 kUuid(R"([0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12})");
  static const RE2 kIpv4(R"((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3})");
  static const RE2 kIpv6(R"([0-9a-fA-F:.]*:[0-9a-fA-F:.]*)");
  static const RE2 kHostname(
      R"([a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?)*\.?)");
  static const RE2 kByte(R"((?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?)");
  static const RE2 kEmail(R"([^@\s]+@[^@\s]+)");
  static const RE2 kMac(R"(([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2})");
  static const RE2 kDuration(R"(([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h|d|w))+)");
  if (fmt == "date-time" || fmt == "datetime") return RE2::FullMatch(s, kDateTime);
  if (fmt == "date") return RE2::FullMatch(s, kDate);
  if (fmt == "uuid" || fmt == "uuid3" || fmt == "uuid4" || fmt == "uuid5") return RE2::FullMatch(s, kUuid);
  if (fmt == "ipv4") return RE2::FullMatch(s, kIpv4);
  if (fmt == "ipv6") return RE2::FullMatch(s, kIpv6);
  if (fmt == "cidr") {
    auto slash = s.find('/');
    if (slash == std::string::npos) return false;
    std::string ip = s.substr(0, slash), bits = s.substr(slash + 1);
    if (bits.empty() || bits.size() > 3 || !std::all_of(bits.begin(), bits.end(), ::isdigit)) return false;
    int b = std::stoi(bits);
    if (RE2::FullMatch(ip, kIpv4)) return b <= 32;
    return RE2::FullMatch(ip, kIpv6) && b <= 128;
  }
  if (fmt == "hostname") return s.size() <= 255 && RE2::FullMatch(s, kHostname);
  if (fmt == "byte") return RE2::FullMatch(s, kByte);
  if (fmt == "email") return RE2::FullMatch(s, kEmail);
  if (fmt == "mac") return RE2::FullMatch(s, kMac);
  if (fmt == "duration") return RE2::FullMatch(s, kDuration);
  return true;  // other formats (int32, int64, password, uri, ...) are not checked
}

size_t rune_count(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

std::string in_body(const std::string& path) { return (path.empty() ? std::string(".") : path) + " in body"; }

// map[string]interface {}{"k":"v"} as Go's %#v prints a list-map key tuple.
std::string go_key_map(const json& item, const std::vector<std::string>& keys) {
  std::vector<std::string> sorted = keys;
  std::sort(sorted.begin(), sorted.end());
  std::string s = "map[string]interface {}{";
  bool first = true;
  for (const auto& k : sorted) {
    if (!item.contains(k)) continue;
    if (!first) s += ", ";
    first = false;
    s += go_quote(k) + ":" + (item[k].is_string() ? go_quote(item[k].get<std::string>()) : go_value(item[k]));
  }
  return s + "}";
}

bool type_matches(const SchemaNode& n, const json& v) {
  if (n.int_or_string) return v.is_string() || integral(v);
  if (n.type.empty()) return true;
  if (n.type == "object") return v.is_object();
  if (n.type == "array") return v.is_array();
  if (n.type == "string") return v.is_string();
  if (n.type == "boolean") return v.is_boolean();
  if (n.type == "integer") return integral(v);
  if (n.type == "number") return v.is_number();
  return true;
}

void validate_node(const json& v, const SchemaNode& n, const std::string& path, bool root, Causes& out);

void validate_values(const json& v, const SchemaNode& n, const std::string& path, Causes& out) {
  const std::string ib = in_body(path);
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    if (n.max_length && static_cast<int64_t>(rune_count(s)) > *n.max_length)
      out.push_back({"FieldValueTooLong", "Too long: may not be longer than " + std::to_string(*n.max_length), path});
    if (n.min_length && static_cast<int64_t>(rune_count(s)) < *n.min_length)
      out.push_back(invalid(path, v, ib + " should be at least " + std::to_string(*n.min_length) + " chars long"));
    if (n.pattern_re && !RE2::PartialMatch(s, *n.pattern_re))
      out.push_back(invalid(path, v, ib + " should match '" + n.pattern + "'"));
    if (!n.format.empty() && !valid_format(n.format, s))
      out.push_back(type_invalid(path, v, ib + " must be of type " + n.format + ": " + go_quote(s)));
  }
  if (v.is_number()) {
    double d = v.get<double>();
    if (n.maximum) {
      bool bad = n.exclusive_maximum ? d >= *n.maximum : d > *n.maximum;
      if (bad)
        out.push_back(invalid(path, v, ib + (n.exclusive_maximum ? " should be less than " : " should be less than or equal to ") +
                                           go_float(*n.maximum)));
    }
    if (n.minimum) {
      bool bad = n.exclusive_minimum ? d <= *n.minimum : d < *n.minimum;
      if (bad)
        out.push_back(invalid(path, v, ib + (n.exclusive_minimum ? " should be greater than " : " should be greater than or equal to ") +
                                           go_float(*n.minimum)));
    }
    if (n.multiple_of && *n.multiple_of > 0) {
      double q = d / *n.multiple_of;
      if (std::fabs(q - std::round(q)) > 1e-9)
        out.push_back(invalid(path, v, ib + " should be a multiple of " + go_float(*n.multiple_of)));
    }
  }
  if (v.is_array()) {
    int64_t size = static_cast<int64_t>(v.size());
    if (n.min_items && size < *n.min_items)
      out.push_back(invalid(path, size, ib + " should have at least " + std::to_string(*n.min_items) + " items"));
    if (n.max_items && size > *n.max_items)
      out.push_back({"FieldValueTooMany", "Too many: " + std::to_string(size) + ": must have at most " +
                                              std::to_string(*n.max_items) + " items", path});
    if (n.unique_items) {
      for (size_t i = 0; i < v.size(); ++i)
        for (size_t j = 0; j < i; ++j)
          if (v[i] == v[j]) {
            out.push_back(invalid(path, v, ib + " shouldn't contain duplicates"));
            i = v.size();
            break;
          }
    }
  }
  if (v.is_object()) {
    int64_t size = static_cast<int64_t>(v.size());
    if (n.min_properties && size < *n.min_properties)
      out.push_back(invalid(path, size, ib + " should have at least " + std::to_string(*n.min_properties) + " properties"));
    if (n.max_properties && size > *n.max_properties)
      out.push_back({"FieldValueTooMany", "Too many: " + std::to_string(size) + ": must have at most " +
                                              std::to_string(*n.max_properties) + " items", path});
  }
  if (n.enum_values) {
    bool found = false;
    for (const auto& e : *n.enum_values)
      if (e == v) found = true;
    if (!found) {
      std::vector<std::string> values;
      for (const auto& e : *n.enum_values) values.push_back(e.is_string() ? e.get<std::string>() : e.dump());
      out.push_back(not_supported(path, v, values));
    }
  }
  // junctors
  for (const auto& a : n.all_of) validate_node(v, a, path, false, out);
  if (!n.any_of.empty()) {
    bool any = false;
    for (const auto& a : n.any_of) {
      Causes sub;
      validate_node(v, a, path, false, sub);
      if (sub.empty()) any = true;
    }
    if (!any) out.push_back(invalid_raw(path, "\"\"", go_quote(path) + " must validate at least one schema (anyOf)"));
  }
  if (!n.one_of.empty()) {
    int ok = 0;
    for (const auto& a : n.one_of) {
      Causes sub;
      validate_node(v, a, path, false, sub);
      if (sub.empty()) ++ok;
    }
    if (ok != 1) out.push_back(invalid_raw(path, "\"\"", go_quote(path) + " must validate one and only one schema (oneOf)"));
  }
  if (n.not_) {
    Causes sub;
    validate_node(v, *n.not_, path, false, sub);
    if (sub.empty()) out.push_back(invalid_raw(path, "\"\"", go_quote(path) + " must not validate the schema (not)"));
  }
}

void validate_list_type(const json& v, const SchemaNode& n, const std::string& path, Causes& out) {
  if (n.list_type == "set") {
    for (size_t i = 0; i < v.size(); ++i)
      for (size_t j = 0; j < i; ++j)
        if (v[i] == v[j]) {
          out.push_back(duplicate(index(path, i), go_value(v[i])));
          break;
        }
  } else if (n.list_type == "map" && !n.list_map_keys.empty()) {
    auto key_of = [&](const json& item) {
      json k = json::object();
      if (item.is_object())
        for (const auto& name : n.list_map_keys)
          if (item.contains(name)) k[name] = item[name];
      return k;
    };
    std::vector<json> seen;
    for (size_t i = 0; i < v.size(); ++i) {
      json k = key_of(v[i]);
      if (std::find(seen.begin(), seen.end(), k) != seen.end())
        out.push_back(duplicate(index(path, i), go_key_map(v[i], n.list_map_keys)));
      else
        seen.push_back(std::move(k));
    }
  }
}

void validate_node(const json& v, const SchemaNode& n, const std::string& path, bool root, Causes& out) {
  const std::string ib = in_body(path);
  if (v.is_null()) {
    if (n.nullable || (n.type.empty() && !n.int_or_string)) return;
    std::string t = n.int_or_string ? "integer,string" : n.type;
    out.push_back(type_invalid(path, "null", ib + " must be of type " + t + ": \"null\""));
    return;
  }
  if (!type_matches(n, v)) {
    std::string t = n.int_or_string ? "integer,string" : n.type;
    std::string actual = json_type(v);
    out.push_back(type_invalid(path, actual, ib + " must be of type " + t + ": " + go_quote(actual)));
    return;
  }
  if (v.is_object()) {
    for (const auto& r : n.required)
      if (!v.contains(r)) out.push_back(required(join(path, r)));
    for (auto it = v.begin(); it != v.end(); ++it) {
      if (root && (it.key() == "apiVersion" || it.key() == "kind" || it.key() == "metadata")) continue;
      if (n.embedded && (it.key() == "apiVersion" || it.key() == "kind" || it.key() == "metadata")) continue;
      auto pi = n.properties.find(it.key());
      if (pi != n.properties.end())
        validate_node(*it, pi->second, join(path, it.key()), false, out);
      else if (n.additional)
        validate_node(*it, *n.additional, join(path, it.key()), false, out);
    }
  } else if (v.is_array()) {
    if (n.items)
      for (size_t i = 0; i < v.size(); ++i) validate_node(v[i], *n.items, index(path, i), false, out);
    validate_list_type(v, n, path, out);
  }
  validate_values(v, n, path, out);
}

void collect_rules(const json& s, const std::string& path, std::vector<std::string>& out) {
  if (!s.is_object()) return;
  if (const json* x = child(s, "x-kubernetes-validations"); x && x->is_array())
    for (size_t i = 0; i < x->size(); ++i)
      out.push_back(index(path + ".x-kubernetes-validations", i) + ": rule " +
                    go_quote((*x)[i].is_object() ? str_of((*x)[i], "rule") : std::string()) +
                    " is not evaluated by this server (no CEL implementation); objects are accepted without it");
  if (const json* i = child(s, "items")) collect_rules(*i, path + ".items", out);
  if (const json* a = child(s, "additionalProperties")) collect_rules(*a, path + ".additionalProperties", out);
  if (const json* p = child(s, "properties"); p && p->is_object())
    for (auto it = p->begin(); it != p->end(); ++it) collect_rules(it.value(), prop_path(path, it.key()), out);
  for (const char* j : {"allOf", "anyOf", "oneOf"})
    if (const json* l = child(s, j); l && l->is_array())
      for (size_t i = 0; i < l->size(); ++i) collect_rules((*l)[i], index(path + "." + j, i), out);
}

}  // namespace

Result<std::shared_ptr<const StructuralSchema>> StructuralSchema::compile(const json& schema) {
  auto s = std::make_shared<StructuralSchema>();
  if (auto r = compile_node(schema, s->root_, "openAPIV3Schema"); !r) return unexpected(r.error());
  return std::shared_ptr<const StructuralSchema>(std::move(s));
}

std::vector<std::string> StructuralSchema::prune(json& obj) const {
  std::vector<std::string> out;
  prune_node(obj, root_, true, "", out);
  return out;
}

void StructuralSchema::apply_defaults(json& obj) const { default_node(obj, root_); }

std::vector<FieldCause> StructuralSchema::validate(const json& obj) const {
  Causes out;
  validate_node(obj, root_, "", true, out);
  return out;
}

std::vector<FieldCause> structural_errors(const json& schema, const std::string& path) {
  Causes out;
  if (!schema.is_object()) {
    out.push_back(required(path + ".type", "must not be empty at the root"));
    return out;
  }
  check_invariants(schema, Level::kRoot, path, out);
  completeness_walk(schema, path, out);
  std::sort(out.begin(), out.end(),
            [](const FieldCause& a, const FieldCause& b) { return cause_text(a) < cause_text(b); });
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<std::string> cel_rule_warnings(const json& schema, const std::string& path) {
  std::vector<std::string> out;
  collect_rules(schema, path, out);
  return out;
}

}  // namespace k3dpp::schema
