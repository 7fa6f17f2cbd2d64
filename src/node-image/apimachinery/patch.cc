#include "node-image/apimachinery/patch.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "common/strings.h"

namespace k3dpp::apimachinery {

using nlohmann::json;

// ---------------------------------------------------------------------------------------------
// RFC 7386 merge patch
// ---------------------------------------------------------------------------------------------

namespace {

json merge_patch_value(const json& target, const json& patch) {
  if (!patch.is_object()) return patch;
  json result = target.is_object() ? target : json::object();
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    if (it->is_null()) {
      result.erase(it.key());
    } else {
      auto found = result.find(it.key());
      result[it.key()] = merge_patch_value(found != result.end() ? *found : json(), *it);
    }
  }
  return result;
}

}  // namespace

Result<json> json_merge_patch(const json& original, const json& patch) {
  return merge_patch_value(original, patch);
}

// ---------------------------------------------------------------------------------------------
// RFC 6902 JSON patch
// ---------------------------------------------------------------------------------------------

namespace {

Unexpected<Error> bad_request(const std::string& msg) { return fail(msg, "BadRequest"); }
Unexpected<Error> invalid(const std::string& msg) { return fail(msg, "Invalid"); }

// Splits an RFC 6901 pointer into unescaped reference tokens.
Result<std::vector<std::string>> parse_pointer(const std::string& ptr) {
  std::vector<std::string> tokens;
  if (ptr.empty()) return tokens;
  if (ptr[0] != '/') return bad_request("invalid JSON pointer \"" + ptr + "\": must start with '/'");
  size_t pos = 1;
  while (true) {
    size_t next = ptr.find('/', pos);
    std::string raw = ptr.substr(pos, next == std::string::npos ? std::string::npos : next - pos);
    std::string tok;
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '~') {
        if (i + 1 < raw.size() && raw[i + 1] == '0') {
          tok += '~';
        } else if (i + 1 < raw.size() && raw[i + 1] == '1') {
          tok += '/';
        } else {
          return bad_request("invalid JSON pointer \"" + ptr + "\": bad escape");
        }
        ++i;
      } else {
        tok += raw[i];
      }
    }
    tokens.push_back(std::move(tok));
    if (next == std::string::npos) break;
    pos = next + 1;
  }
  return tokens;
}

// Array index token: digits only, no leading zeros (except "0").
std::optional<size_t> array_index(const std::string& tok) {
  if (tok.empty() || tok.size() > 18) return std::nullopt;
  if (tok.size() > 1 && tok[0] == '0') return std::nullopt;
  size_t v = 0;
  for (char c : tok) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<size_t>(c - '0');
  }
  return v;
}

// Navigates to the container of the last token. Returns nullptr with `why` set when missing.
json* resolve_parent(json& doc, const std::vector<std::string>& tokens, std::string& why) {
  json* cur = &doc;
  for (size_t i = 0; i + 1 < tokens.size(); ++i) {
    const std::string& t = tokens[i];
    if (cur->is_object()) {
      auto it = cur->find(t);
      if (it == cur->end()) {
        why = "doc is missing path";
        return nullptr;
      }
      cur = &*it;
    } else if (cur->is_array()) {
      auto idx = array_index(t);
      if (!idx || *idx >= cur->size()) {
        why = "doc is missing path";
        return nullptr;
      }
      cur = &(*cur)[*idx];
    } else {
      why = "doc is missing path";
      return nullptr;
    }
  }
  return cur;
}

json* resolve(json& doc, const std::vector<std::string>& tokens) {
  json* cur = &doc;
  for (const auto& t : tokens) {
    if (cur->is_object()) {
      auto it = cur->find(t);
      if (it == cur->end()) return nullptr;
      cur = &*it;
    } else if (cur->is_array()) {
      auto idx = array_index(t);
      if (!idx || *idx >= cur->size()) return nullptr;
      cur = &(*cur)[*idx];
    } else {
      return nullptr;
    }
  }
  return cur;
}

Status op_add(json& doc, const std::vector<std::string>& tokens, const json& value,
              const std::string& path, const std::string& opname) {
  if (tokens.empty()) {
    doc = value;
    return {};
  }
  std::string why;
  json* parent = resolve_parent(doc, tokens, why);
  if (!parent) return invalid(opname + " operation does not apply: " + why + ": " + path);
  const std::string& last = tokens.back();
  if (parent->is_object()) {
    (*parent)[last] = value;
    return {};
  }
  if (parent->is_array()) {
    if (last == "-") {
      parent->push_back(value);
      return {};
    }
    auto idx = array_index(last);
    if (!idx || *idx > parent->size()) {
      return invalid(opname + " operation does not apply: index out of range: " + path);
    }
    parent->insert(parent->begin() + static_cast<std::ptrdiff_t>(*idx), value);
    return {};
  }
  return invalid(opname + " operation does not apply: doc is missing path: " + path);
}

Result<json> op_remove(json& doc, const std::vector<std::string>& tokens, const std::string& path,
                       const std::string& opname) {
  if (tokens.empty()) {
    json old = doc;
    doc = json();
    return old;
  }
  std::string why;
  json* parent = resolve_parent(doc, tokens, why);
  if (!parent) return invalid(opname + " operation does not apply: " + why + ": " + path);
  const std::string& last = tokens.back();
  if (parent->is_object()) {
    auto it = parent->find(last);
    if (it == parent->end()) {
      return invalid("Unable to remove nonexistent key: " + last + ": missing value");
    }
    json old = *it;
    parent->erase(it);
    return old;
  }
  if (parent->is_array()) {
    auto idx = array_index(last);
    if (!idx || *idx >= parent->size()) {
      return invalid(opname + " operation does not apply: index out of range: " + path);
    }
    json old = (*parent)[*idx];
    parent->erase(parent->begin() + static_cast<std::ptrdiff_t>(*idx));
    return old;
  }
  return invalid(opname + " operation does not apply: doc is missing path: " + path);
}

Result<std::string> string_member(const json& op, const char* name, size_t index) {
  auto it = op.find(name);
  if (it == op.end() || !it->is_string()) {
    return bad_request("json patch operation " + std::to_string(index) + ": missing or invalid \"" +
                       name + "\"");
  }
  return it->get<std::string>();
}

}  // namespace

Result<json> json_patch(const json& original, const json& ops) {
  if (!ops.is_array()) {
    return bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch");
  }
  json doc = original;
  size_t index = 0;
  for (const auto& op : ops) {
    if (!op.is_object()) return bad_request("json patch operation " + std::to_string(index) + " is not an object");
    auto opname = string_member(op, "op", index);
    if (!opname) return opname.error();
    auto path = string_member(op, "path", index);
    if (!path) return path.error();
    auto tokens = parse_pointer(*path);
    if (!tokens) return tokens.error();
    const std::string& name = *opname;
    auto value_it = op.find("value");
    bool needs_value = name == "add" || name == "replace" || name == "test";
    if (needs_value && value_it == op.end()) {
      return bad_request("json patch operation " + std::to_string(index) + " (" + name +
                         "): missing value");
    }
    if (name == "add") {
      K3DPP_TRY(op_add(doc, *tokens, *value_it, *path, "add"));
    } else if (name == "remove") {
      auto r = op_remove(doc, *tokens, *path, "remove");
      if (!r) return r.error();
    } else if (name == "replace") {
      if (tokens->empty()) {
        doc = *value_it;
      } else {
        json* target = resolve(doc, *tokens);
        if (!target) {
          return invalid("replace operation does not apply: doc is missing key: " + *path +
                         ": missing value");
        }
        *target = *value_it;
      }
    } else if (name == "move" || name == "copy") {
      auto from = string_member(op, "from", index);
      if (!from) return from.error();
      auto from_tokens = parse_pointer(*from);
      if (!from_tokens) return from_tokens.error();
      json value;
      if (name == "move") {
        if (from_tokens->size() < tokens->size() &&
            std::equal(from_tokens->begin(), from_tokens->end(), tokens->begin())) {
          return invalid("move operation does not apply: cannot move " + *from + " into its own child " + *path);
        }
        auto r = op_remove(doc, *from_tokens, *from, "move");
        if (!r) return r.error();
        value = std::move(*r);
      } else {
        json* src = resolve(doc, *from_tokens);
        if (!src) return invalid("copy operation does not apply: doc is missing from path: " + *from + ": missing value");
        value = *src;
      }
      K3DPP_TRY(op_add(doc, *tokens, value, *path, name));
    } else if (name == "test") {
      json* target = resolve(doc, *tokens);
      bool ok = target ? *target == *value_it : value_it->is_null();
      if (!ok) return invalid("testing value " + *path + " failed: test failed");
    } else {
      return bad_request("Unexpected kind: " + name);
    }
    ++index;
  }
  return doc;
}

// ---------------------------------------------------------------------------------------------
// Strategic merge patch: schema of patch strategies for the built-in kinds
// ---------------------------------------------------------------------------------------------

namespace {

struct FieldInfo {
  std::string type;  // name of the nested type (for objects and list items); "" = unknown
  ListStrategy list;
};
using TypeInfo = std::map<std::string, FieldInfo, std::less<>>;

ListStrategy by_key(const char* key, bool retain = false) {
  return ListStrategy{ListStrategy::Type::kMergeByKey, key, retain};
}
ListStrategy primitives() { return ListStrategy{ListStrategy::Type::kMergePrimitives, "", false}; }

const std::map<std::string, TypeInfo, std::less<>>& types() {
  static const auto* registry = [] {
    auto* t = new std::map<std::string, TypeInfo, std::less<>>();
    auto& r = *t;
    FieldInfo meta{"ObjectMeta", {}};
    r["ObjectMeta"] = {{"finalizers", {"", primitives()}},
                       {"ownerReferences", {"", by_key("uid")}}};
    r["Container"] = {{"ports", {"", by_key("containerPort")}},
                      {"env", {"", by_key("name")}},
                      {"volumeMounts", {"", by_key("mountPath")}},
                      {"volumeDevices", {"", by_key("devicePath")}}};
    r["PodSpec"] = {{"containers", {"Container", by_key("name")}},
                    {"initContainers", {"Container", by_key("name")}},
                    {"ephemeralContainers", {"Container", by_key("name")}},
                    {"volumes", {"", by_key("name", true)}},
                    {"imagePullSecrets", {"", by_key("name")}},
                    {"hostAliases", {"", by_key("ip")}},
                    {"topologySpreadConstraints", {"", by_key("topologyKey")}},
                    {"schedulingGates", {"", by_key("name")}},
                    {"resourceClaims", {"", by_key("name", true)}}};
    r["PodStatus"] = {{"conditions", {"", by_key("type")}},
                      {"podIPs", {"", by_key("ip")}},
                      {"hostIPs", {"", by_key("ip")}}};
    r["Conditions"] = {{"conditions", {"", by_key("type")}}};
    r["PodTemplateSpec"] = {{"metadata", meta}, {"spec", {"PodSpec", {}}}};
    r["WithTemplate"] = {{"template", {"PodTemplateSpec", {}}}};
    r["JobTemplateSpec"] = {{"metadata", meta}, {"spec", {"WithTemplate", {}}}};
    r["CronJobSpec"] = {{"jobTemplate", {"JobTemplateSpec", {}}}};
    r["ServiceSpec"] = {{"ports", {"", by_key("port")}}};
    r["NodeSpec"] = {{"podCIDRs", {"", primitives()}}};
    r["NodeStatus"] = {{"conditions", {"", by_key("type")}}, {"addresses", {"", by_key("type")}}};

    auto object = [&](const char* kind, const char* spec, const char* status) {
      TypeInfo info{{"metadata", meta}};
      if (spec && *spec) info["spec"] = {spec, {}};
      if (status && *status) info["status"] = {status, {}};
      r[std::string("kind:") + kind] = info;
    };
    object("Pod", "PodSpec", "PodStatus");
    object("PodTemplate", "", "");
    r["kind:PodTemplate"]["template"] = {"PodTemplateSpec", {}};
    for (const char* k : {"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job",
                          "ReplicationController"}) {
      object(k, "WithTemplate", "Conditions");
    }
    object("CronJob", "CronJobSpec", "");
    object("Service", "ServiceSpec", "Conditions");
    object("Node", "NodeSpec", "NodeStatus");
    object("Namespace", "", "Conditions");
    object("PersistentVolumeClaim", "", "Conditions");
    object("PersistentVolume", "", "");
    object("ConfigMap", "", "");
    object("Secret", "", "");
    object("Event", "", "");
    object("Endpoints", "", "");
    object("ServiceAccount", "", "");
    r["kind:ServiceAccount"]["secrets"] = {"", by_key("name")};
    return t;
  }();
  return *registry;
}

const TypeInfo* type_info(const std::string& name) {
  if (name.empty()) return nullptr;
  const auto& r = types();
  auto it = r.find(name);
  return it == r.end() ? nullptr : &it->second;
}

const TypeInfo* kind_info(const std::string& kind) {
  const TypeInfo* t = type_info("kind:" + kind);
  if (t) return t;
  // Unknown kinds still get ObjectMeta semantics (finalizers, ownerReferences).
  static const TypeInfo generic{{"metadata", {"ObjectMeta", {}}}};
  return &generic;
}

FieldInfo field_info(const TypeInfo* type, const std::string& field) {
  if (!type) return {};
  auto it = type->find(field);
  return it == type->end() ? FieldInfo{} : it->second;
}

// ---------------------------------------------------------------------------------------------
// Strategic merge patch: the merge
// ---------------------------------------------------------------------------------------------

constexpr std::string_view kDirective = "$patch";
constexpr std::string_view kRetainKeys = "$retainKeys";
constexpr std::string_view kSetOrderPrefix = "$setElementOrder/";
constexpr std::string_view kDeleteFromPrefix = "$deleteFromPrimitiveList/";

std::string short_json(const json& v) {
  std::string s = v.dump();
  if (s.size() > 200) s = s.substr(0, 200) + "...";
  return s;
}

bool has_directive(const json& v) { return v.is_object() && v.contains(kDirective); }

// Strips directives recursively; false when the value itself is a directive-only item that must
// be dropped. Also discards nulls (the server merges with "ignore unmatched nulls").
bool clean_value(json& v) {
  if (v.is_object()) {
    if (v.contains(kDirective)) return false;
    for (auto it = v.begin(); it != v.end();) {
      const std::string& k = it.key();
      if (it->is_null() || strings::starts_with(k, kSetOrderPrefix) ||
          strings::starts_with(k, kDeleteFromPrefix) || k == kRetainKeys) {
        it = v.erase(it);
        continue;
      }
      if (!clean_value(*it)) {
        it = v.erase(it);
        continue;
      }
      ++it;
    }
  } else if (v.is_array()) {
    json out = json::array();
    for (auto& item : v) {
      if (clean_value(item)) out.push_back(std::move(item));
    }
    v = std::move(out);
  }
  return true;
}

const json* item_key(const json& item, const std::string& key) {
  if (!item.is_object()) return nullptr;
  auto it = item.find(key);
  return it == item.end() ? nullptr : &*it;
}

// Identity of a list element: the merge key value for maps, the value for primitives.
const json& identity(const json& item, const ListStrategy& s) {
  static const json kNull;
  if (s.type == ListStrategy::Type::kMergeByKey) {
    const json* k = item_key(item, s.merge_key);
    return k ? *k : kNull;
  }
  return item;
}

long index_of(const json& list, const json& id, const ListStrategy& s) {
  for (size_t i = 0; i < list.size(); ++i) {
    if (identity(list[i], s) == id) return static_cast<long>(i);
  }
  return -1;
}

// Orders `merged`: items present in `order` sorted by their position there, interleaved with
// the server-only items (kept in their live order) using the live list as the tie-breaker.
json normalize_order(const json& merged, const json& order, const json& live, const ListStrategy& s) {
  std::vector<json> in_order, server_only;
  for (const auto& item : merged) {
    if (index_of(order, identity(item, s), s) >= 0) {
      in_order.push_back(item);
    } else {
      server_only.push_back(item);
    }
  }
  auto sort_by = [&](std::vector<json>& v, const json& ref) {
    std::stable_sort(v.begin(), v.end(), [&](const json& a, const json& b) {
      long ia = index_of(ref, identity(a, s), s);
      long ib = index_of(ref, identity(b, s), s);
      return ia >= 0 && ib >= 0 && ia < ib;
    });
  };
  sort_by(in_order, order);
  sort_by(server_only, live);
  json out = json::array();
  size_t i = 0, j = 0;
  while (i < server_only.size() || j < in_order.size()) {
    if (i >= server_only.size()) {
      out.push_back(in_order[j++]);
    } else if (j >= in_order.size()) {
      out.push_back(server_only[i++]);
    } else {
      long li = index_of(live, identity(server_only[i], s), s);
      long ri = index_of(live, identity(in_order[j], s), s);
      // New items (absent from the live list) go after the server-only items before them.
      if (ri < 0 || (li >= 0 && li < ri)) {
        out.push_back(server_only[i++]);
      } else {
        out.push_back(in_order[j++]);
      }
    }
  }
  return out;
}

Status merge_map(json& original, json patch, const TypeInfo* type);

Unexpected<Error> no_merge_key(const json& item, const std::string& key) {
  return bad_request("map: " + short_json(item) + " does not contain declared merge key: " + key);
}

Status merge_list(json& original, const json& patch, const FieldInfo& field) {
  const ListStrategy& s = field.list;
  if (s.type == ListStrategy::Type::kReplace) {
    json v = patch;
    clean_value(v);
    original = std::move(v);
    return {};
  }
  json live = original;
  json merged;
  if (s.type == ListStrategy::Type::kMergePrimitives) {
    merged = json::array();
    for (const json* src : {static_cast<const json*>(&original), &patch}) {
      for (const auto& v : *src) {
        if (v.is_object() || v.is_array()) return bad_request("list of primitives expected, got " + short_json(v));
        if (std::find(merged.begin(), merged.end(), v) == merged.end()) merged.push_back(v);
      }
    }
  } else {
    merged = original;
    json items = json::array();
    bool replace = false;
    for (const auto& item : patch) {
      if (!item.is_object()) return bad_request("list item is not a map: " + short_json(item));
      auto d = item.find(kDirective);
      if (d == item.end()) {
        items.push_back(item);
        continue;
      }
      if (*d == "delete") {
        const json* key = item_key(item, s.merge_key);
        if (!key) return no_merge_key(item, s.merge_key);
        json kept = json::array();
        for (auto& m : merged) {
          const json* mk = item_key(m, s.merge_key);
          if (!(mk && *mk == *key)) kept.push_back(std::move(m));
        }
        merged = std::move(kept);
      } else if (*d == "replace") {
        replace = true;
      } else if (*d == "merge") {
        return bad_request("merging lists cannot yet be specified in the patch");
      } else {
        return bad_request("Unknown patch type: " + short_json(*d) + " in map: " + short_json(item));
      }
    }
    if (replace) {
      clean_value(items);
      original = std::move(items);
      return {};
    }
    const TypeInfo* item_type = type_info(field.type);
    for (const auto& item : items) {
      const json* key = item_key(item, s.merge_key);
      if (!key) return no_merge_key(item, s.merge_key);
      bool found = false;
      for (auto& m : merged) {
        const json* mk = item_key(m, s.merge_key);
        if (mk && *mk == *key) {
          K3DPP_TRY(merge_map(m, item, item_type));
          found = true;
          break;
        }
      }
      if (!found) {
        json v = item;
        clean_value(v);
        merged.push_back(std::move(v));
      }
    }
  }
  // Patch items follow the patch's order; server-only items keep their live place.
  json patch_ids = json::array();
  for (const auto& item : patch) {
    if (!has_directive(item)) patch_ids.push_back(item);
  }
  original = normalize_order(merged, patch_ids, live, s);
  return {};
}

Status merge_value(json& original, const json& patch, const FieldInfo& field) {
  if (original.is_object() && patch.is_object()) {
    return merge_map(original, patch, type_info(field.type));
  }
  if (original.is_array() && patch.is_array()) return merge_list(original, patch, field);
  json v = patch;
  if (!clean_value(v)) {
    original = json();  // signals deletion to the caller
    return {};
  }
  original = std::move(v);
  return {};
}

Status merge_map(json& original, json patch, const TypeInfo* type) {
  if (!original.is_object()) original = json::object();
  if (auto d = patch.find(kDirective); d != patch.end()) {
    if (*d == "replace") {
      patch.erase(kDirective);
      clean_value(patch);
      original = std::move(patch);
      return {};
    }
    if (*d == "delete") {
      original = json::object();
      return {};
    }
    if (*d != "merge") {
      return bad_request("Unknown patch type: " + short_json(*d) + " in map: " + short_json(patch));
    }
    patch.erase(kDirective);
  }

  if (auto rk = patch.find(kRetainKeys); rk != patch.end()) {
    if (!rk->is_array()) return bad_request("invalid patch: $retainKeys must be a list of strings");
    std::set<std::string> keep;
    for (const auto& k : *rk) {
      if (!k.is_string()) return bad_request("invalid patch: $retainKeys must be a list of strings");
      keep.insert(k.get<std::string>());
    }
    patch.erase(rk);
    for (auto it = patch.begin(); it != patch.end(); ++it) {
      const std::string& k = it.key();
      if (it->is_null() || strings::starts_with(k, kSetOrderPrefix) ||
          strings::starts_with(k, kDeleteFromPrefix)) {
        continue;
      }
      if (!keep.count(k)) {
        return bad_request("invalid patch: the patch has field \"" + k + "\" not listed in $retainKeys");
      }
    }
    for (auto it = original.begin(); it != original.end();) {
      if (!keep.count(it.key())) {
        it = original.erase(it);
      } else {
        ++it;
      }
    }
  }

  // $setElementOrder/<list>: merge that list now, then order it.
  std::vector<std::string> ordered;
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    if (strings::starts_with(it.key(), kSetOrderPrefix)) ordered.push_back(it.key());
  }
  for (const auto& directive_key : ordered) {
    json order = patch[directive_key];
    patch.erase(directive_key);
    std::string key = directive_key.substr(kSetOrderPrefix.size());
    if (!order.is_array()) return bad_request("invalid patch: " + directive_key + " must be a list");
    FieldInfo field = field_info(type, key);
    const ListStrategy& s = field.list;
    if (s.type == ListStrategy::Type::kReplace) {
      // Ordering a list that is replaced anyway: the patch list (if any) wins as is.
      continue;
    }
    auto orig_it = original.find(key);
    auto patch_it = patch.find(key);
    bool in_orig = orig_it != original.end() && orig_it->is_array();
    bool in_patch = patch_it != patch.end() && patch_it->is_array();
    if (!in_orig && !in_patch) continue;
    json live = in_orig ? *orig_it : json::array();
    json merged;
    if (in_orig && in_patch) {
      merged = *orig_it;
      K3DPP_TRY(merge_list(merged, *patch_it, field));
    } else if (in_patch) {
      merged = *patch_it;
      clean_value(merged);
    } else {
      merged = *orig_it;
    }
    if (s.type == ListStrategy::Type::kMergeByKey) {
      for (const auto& o : order) {
        if (!item_key(o, s.merge_key)) return no_merge_key(o, s.merge_key);
      }
    }
    original[key] = normalize_order(merged, order, live, s);
    if (in_patch) patch.erase(key);
  }

  for (auto it = patch.begin(); it != patch.end(); ++it) {
    std::string key = it.key();
    const json& pv = *it;
    if (strings::starts_with(key, kDeleteFromPrefix)) {
      key = key.substr(kDeleteFromPrefix.size());
      if (!pv.is_array()) return bad_request("invalid patch: " + it.key() + " must be a list");
      auto orig_it = original.find(key);
      if (orig_it == original.end() || !orig_it->is_array()) continue;
      json kept = json::array();
      for (auto& v : *orig_it) {
        if (std::find(pv.begin(), pv.end(), v) == pv.end()) kept.push_back(std::move(v));
      }
      *orig_it = std::move(kept);
      continue;
    }
    if (pv.is_null()) {
      original.erase(key);
      continue;
    }
    auto orig_it = original.find(key);
    if (orig_it == original.end()) {
      json v = pv;
      if (clean_value(v)) original[key] = std::move(v);
      continue;
    }
    FieldInfo field = field_info(type, key);
    json& target = *orig_it;
    if (target.type() != pv.type() &&
        !(target.is_number() && pv.is_number())) {
      json v = pv;
      if (clean_value(v)) {
        target = std::move(v);
      } else {
        original.erase(key);
      }
      continue;
    }
    K3DPP_TRY(merge_value(target, pv, field));
    if (target.is_null()) original.erase(key);
  }
  return {};
}

}  // namespace

ListStrategy list_strategy(const std::string& kind, std::string_view dotted_path) {
  const TypeInfo* type = kind_info(kind);
  FieldInfo field;
  for (const auto& part : strings::split(dotted_path, '.')) {
    if (!type) return {};
    field = field_info(type, part);
    type = type_info(field.type);
  }
  return field.list;
}

Result<json> strategic_merge_patch(const json& original, const json& patch, const std::string& kind) {
  if (!patch.is_object()) {
    return bad_request("strategic merge patch must be a JSON object, got " + short_json(patch));
  }
  json result = original.is_object() ? original : json::object();
  K3DPP_TRY(merge_map(result, patch, kind_info(kind)));
  return result;
}

}  // namespace k3dpp::apimachinery
