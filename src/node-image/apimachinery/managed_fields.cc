// Server-side apply and managedFields bookkeeping (see managed_fields.h).
#include "node-image/apimachinery/managed_fields.h"

#include <algorithm>
#include <set>

#include "node-image/apimachinery/patch.h"

namespace k3dpp::apimachinery {

using nlohmann::json;

// ---- FieldSet -------------------------------------------------------------------------------

bool FieldSet::empty() const {
  if (member) return false;
  for (const auto& [k, c] : children)
    if (!c.empty()) return false;
  return true;
}

void FieldSet::merge(const FieldSet& other) {
  member = member || other.member;
  for (const auto& [k, c] : other.children) children[k].merge(c);
}

void FieldSet::subtract(const FieldSet& other) {
  if (other.member) member = false;
  for (auto it = children.begin(); it != children.end();) {
    auto o = other.children.find(it->first);
    if (o != other.children.end()) it->second.subtract(o->second);
    if (it->second.empty())
      it = children.erase(it);
    else
      ++it;
  }
}

FieldSet FieldSet::intersect(const FieldSet& other) const {
  FieldSet out;
  out.member = member && other.member;
  for (const auto& [k, c] : children) {
    auto o = other.children.find(k);
    if (o == other.children.end()) continue;
    FieldSet i = c.intersect(o->second);
    if (!i.empty()) out.children.emplace(k, std::move(i));
  }
  return out;
}

namespace {
void collect_paths(const FieldSet& s, std::vector<std::string>& prefix, std::vector<std::vector<std::string>>& out) {
  if (s.member) out.push_back(prefix);
  for (const auto& [k, c] : s.children) {
    prefix.push_back(k);
    collect_paths(c, prefix, out);
    prefix.pop_back();
  }
}
}  // namespace

std::vector<std::vector<std::string>> FieldSet::paths() const {
  std::vector<std::vector<std::string>> out;
  std::vector<std::string> prefix;
  collect_paths(*this, prefix, out);
  return out;
}

json to_fields_v1(const FieldSet& set) {
  json out = json::object();
  if (set.member && !set.children.empty()) out["."] = json::object();
  for (const auto& [k, c] : set.children)
    if (!c.empty()) out[k] = to_fields_v1(c);
  return out;
}

namespace {
FieldSet decode_node(const json& j) {
  FieldSet s;
  if (!j.is_object()) return s;
  if (j.empty()) {
    s.member = true;
    return s;
  }
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() == ".") {
      s.member = true;
      continue;
    }
    s.children[it.key()] = decode_node(it.value());
  }
  return s;
}
}  // namespace

FieldSet from_fields_v1(const json& fields) {
  FieldSet s;
  if (!fields.is_object()) return s;
  for (auto it = fields.begin(); it != fields.end(); ++it)
    if (it.key() != ".") s.children[it.key()] = decode_node(it.value());
  return s;
}

std::string path_string(const std::vector<std::string>& elements) {
  std::string out;
  for (const auto& e : elements) {
    if (e.size() < 2 || e[1] != ':') {
      out += "." + e;
      continue;
    }
    std::string body = e.substr(2);
    switch (e[0]) {
      case 'f': out += "." + body; break;
      case 'v': out += "[=" + body + "]"; break;
      case 'i': out += "[" + body + "]"; break;
      case 'k': {
        json k = json::parse(body, nullptr, false);
        std::string s = "[";
        bool first = true;
        if (k.is_object())
          for (auto it = k.begin(); it != k.end(); ++it) {
            s += (first ? "" : ",") + it.key() + "=" + it.value().dump();
            first = false;
          }
        out += s + "]";
        break;
      }
      default: out += "." + e;
    }
  }
  return out;
}

// ---- types ----------------------------------------------------------------------------------

ListTypeOf builtin_list_types(const std::string& kind) {
  return [kind](const std::string& dotted, bool is_list) {
    ListType t;
    // LabelSelector is an atomic struct (+structType=atomic) wherever workloads use it.
    bool workload = kind == "Deployment" || kind == "ReplicaSet" || kind == "StatefulSet" || kind == "DaemonSet" ||
                    kind == "Job";
    auto ends_with = [&](const std::string& suf) {
      return dotted.size() >= suf.size() && dotted.compare(dotted.size() - suf.size(), suf.size(), suf) == 0;
    };
    if (!is_list) {
      if ((workload && dotted == "spec.selector") || ends_with("labelSelector") || ends_with("namespaceSelector"))
        t.atomic_map = true;
      return t;
    }
    ListStrategy s = list_strategy(kind, dotted);
    if (s.type == ListStrategy::Type::kMergeByKey) {
      t.kind = ListType::Kind::kMap;
      t.keys = {s.merge_key};
      // container ports are keyed by containerPort + protocol in the OpenAPI list-map-keys
      if (s.merge_key == "containerPort") t.keys = {"containerPort", "protocol"};
      if (s.merge_key == "port" && kind == "Service") t.keys = {"port", "protocol"};
    } else if (s.type == ListStrategy::Type::kMergePrimitives) {
      t.kind = ListType::Kind::kSet;
    }
    return t;
  };
}

namespace {

std::string join(const std::string& p, const std::string& k) { return p.empty() ? k : p + "." + k; }

// "k:{...}" of a list-map item: its key fields, compact JSON with keys sorted (nlohmann sorts).
std::string item_key(const json& item, const std::vector<std::string>& keys) {
  json k = json::object();
  if (item.is_object())
    for (const auto& name : keys) {
      auto it = item.find(name);
      if (it != item.end()) k[name] = *it;
    }
  return "k:" + k.dump();
}

bool is_stripped(const std::string& dotted) {
  static const std::set<std::string> kStripped = {
      "apiVersion",        "kind",            "metadata.name",     "metadata.namespace",
      "metadata.uid",      "metadata.resourceVersion", "metadata.generation", "metadata.creationTimestamp",
      "metadata.selfLink", "metadata.managedFields", "metadata.deletionTimestamp",
      "metadata.deletionGracePeriodSeconds"};
  return kStripped.count(dotted) > 0;
}

void collect(const json& v, const std::string& dotted, const ListTypeOf& types, FieldSet& node, bool added_member);

void collect_object(const json& v, const std::string& dotted, const ListTypeOf& types, FieldSet& node,
                    bool added_member) {
  for (auto it = v.begin(); it != v.end(); ++it) {
    std::string d = join(dotted, it.key());
    if (is_stripped(d)) continue;
    if (it->is_null()) continue;
    collect(*it, d, types, node.children["f:" + it.key()], added_member);
  }
}

// The fields of value v, placed at `node`. added_member: nested maps and lists count as members
// themselves (what an Update records for a map it added).
void collect(const json& v, const std::string& dotted, const ListTypeOf& types, FieldSet& node, bool added_member) {
  ListType t = types && (v.is_array() || v.is_object()) ? types(dotted, v.is_array()) : ListType{};
  if (v.is_object() && !t.atomic_map) {
    if (v.empty()) {
      node.member = true;
      return;
    }
    if (added_member && dotted.find('.') != std::string::npos) node.member = true;
    collect_object(v, dotted, types, node, added_member);
    return;
  }
  if (v.is_array() && t.kind == ListType::Kind::kMap) {
    if (added_member || v.empty()) node.member = true;
    for (const auto& item : v) {
      FieldSet& in = node.children[item_key(item, t.keys)];
      in.member = true;
      if (item.is_object()) collect_object(item, dotted, types, in, added_member);
    }
    return;
  }
  if (v.is_array() && t.kind == ListType::Kind::kSet) {
    if (added_member || v.empty()) node.member = true;
    for (const auto& e : v) node.children["v:" + e.dump()].member = true;
    return;
  }
  node.member = true;  // scalar, atomic list or map
}

void diff(const json& old, const json& now, const std::string& dotted, const ListTypeOf& types, FieldSet& node) {
  if (old == now) return;
  ListType t = types && (now.is_array() || now.is_object()) ? types(dotted, now.is_array()) : ListType{};
  if (old.is_null()) {
    collect(now, dotted, types, node, true);
    return;
  }
  if (now.is_object() && old.is_object() && !t.atomic_map) {
    for (auto it = now.begin(); it != now.end(); ++it) {
      std::string d = join(dotted, it.key());
      if (is_stripped(d) || it->is_null()) continue;
      auto o = old.find(it.key());
      FieldSet child;
      diff(o == old.end() ? json() : *o, *it, d, types, child);
      if (!child.empty()) node.children["f:" + it.key()].merge(child);
    }
    return;
  }
  if (now.is_array() && old.is_array() && t.kind == ListType::Kind::kMap) {
    std::map<std::string, const json*> old_items;
    for (const auto& item : old) old_items[item_key(item, t.keys)] = &item;
    for (const auto& item : now) {
      std::string k = item_key(item, t.keys);
      auto o = old_items.find(k);
      FieldSet child;
      if (o == old_items.end()) {
        child.member = true;
        if (item.is_object()) collect_object(item, dotted, types, child, true);
      } else if (*o->second != item && item.is_object() && o->second->is_object()) {
        for (auto it = item.begin(); it != item.end(); ++it) {
          auto f = o->second->find(it.key());
          FieldSet c;
          diff(f == o->second->end() ? json() : *f, *it, join(dotted, it.key()), types, c);
          if (!c.empty()) child.children["f:" + it.key()].merge(c);
        }
      }
      if (!child.empty()) node.children[k].merge(child);
    }
    return;
  }
  if (now.is_array() && old.is_array() && t.kind == ListType::Kind::kSet) {
    for (const auto& e : now)
      if (std::find(old.begin(), old.end(), e) == old.end()) node.children["v:" + e.dump()].member = true;
    return;
  }
  node.member = true;
}

// ---- apply merge ----------------------------------------------------------------------------

json merge_applied(const json& live, const json& cfg, const std::string& dotted, const ListTypeOf& types) {
  ListType t = types && (cfg.is_array() || cfg.is_object()) ? types(dotted, cfg.is_array()) : ListType{};
  if (cfg.is_object() && live.is_object() && !t.atomic_map) {
    json out = live;
    for (auto it = cfg.begin(); it != cfg.end(); ++it) {
      if (it->is_null()) {
        out.erase(it.key());
        continue;
      }
      auto l = live.find(it.key());
      out[it.key()] = merge_applied(l == live.end() ? json() : *l, *it, join(dotted, it.key()), types);
    }
    return out;
  }
  if (cfg.is_array() && live.is_array() && t.kind == ListType::Kind::kMap) {
    json out = live;
    for (const auto& item : cfg) {
      std::string k = item_key(item, t.keys);
      bool found = false;
      for (auto& l : out)
        if (item_key(l, t.keys) == k) {
          l = merge_applied(l, item, dotted, types);
          found = true;
          break;
        }
      if (!found) out.push_back(item);
    }
    return out;
  }
  if (cfg.is_array() && live.is_array() && t.kind == ListType::Kind::kSet) {
    json out = live;
    for (const auto& e : cfg)
      if (std::find(out.begin(), out.end(), e) == out.end()) out.push_back(e);
    return out;
  }
  return cfg;
}

// Removes one member path from obj (a field, a list-map item or a set value).
void remove_path(json& obj, const std::vector<std::string>& path, size_t i, const std::string& dotted,
                 const ListTypeOf& types) {
  if (i >= path.size()) return;
  const std::string& e = path[i];
  bool last = i + 1 == path.size();
  if (e.rfind("f:", 0) == 0) {
    if (!obj.is_object()) return;
    std::string name = e.substr(2);
    auto it = obj.find(name);
    if (it == obj.end()) return;
    if (last)
      obj.erase(it);
    else
      remove_path(*it, path, i + 1, join(dotted, name), types);
    return;
  }
  if (!obj.is_array()) return;
  if (e.rfind("k:", 0) == 0) {
    ListType t = types ? types(dotted, true) : ListType{};
    for (size_t j = 0; j < obj.size(); ++j)
      if (item_key(obj[j], t.keys) == e) {
        if (last)
          obj.erase(j);
        else
          remove_path(obj[j], path, i + 1, dotted, types);
        return;
      }
    return;
  }
  if (e.rfind("v:", 0) == 0 && last) {
    json v = json::parse(e.substr(2), nullptr, false);
    for (size_t j = 0; j < obj.size(); ++j)
      if (obj[j] == v) {
        obj.erase(j);
        return;
      }
  }
}

const FieldSet* find_node(const FieldSet& s, const std::vector<std::string>& path) {
  const FieldSet* n = &s;
  for (const auto& e : path) {
    auto it = n->children.find(e);
    if (it == n->children.end()) return nullptr;
    n = &it->second;
  }
  return n;
}

std::string manager_text(const ManagedEntry& e) {
  std::string s = "\"" + e.manager + "\"";
  if (!e.subresource.empty()) s += " with subresource \"" + e.subresource + "\"";
  if (e.operation == "Update") s += " using " + e.api_version;
  return s;
}

bool same_identity(const ManagedEntry& a, const std::string& manager, const std::string& operation,
                   const std::string& api_version, const std::string& subresource) {
  if (a.manager != manager || a.operation != operation || a.subresource != subresource) return false;
  return operation == "Apply" || a.api_version == api_version;
}

}  // namespace

FieldSet fields_of(const json& obj, const ListTypeOf& types) {
  FieldSet s;
  if (obj.is_object()) collect_object(obj, "", types, s, false);
  s.subtract(FieldSet{});  // drop empty nodes
  return s;
}

FieldSet changed_fields(const json& old, const json& now, const ListTypeOf& types) {
  FieldSet s;
  if (!old.is_object()) {
    if (now.is_object()) collect_object(now, "", types, s, true);
  } else {
    diff(old, now, "", types, s);
  }
  s.subtract(FieldSet{});
  return s;
}

std::vector<ManagedEntry> read_managed_fields(const json& obj) {
  std::vector<ManagedEntry> out;
  if (!obj.is_object() || !obj.contains("metadata") || !obj["metadata"].is_object()) return out;
  auto it = obj["metadata"].find("managedFields");
  if (it == obj["metadata"].end() || !it->is_array()) return out;
  auto str = [](const json& o, const char* k) {
    auto f = o.find(k);
    return f != o.end() && f->is_string() ? f->get<std::string>() : std::string();
  };
  for (const auto& e : *it) {
    if (!e.is_object()) continue;
    ManagedEntry m{str(e, "manager"), str(e, "operation"), str(e, "apiVersion"), str(e, "time"), str(e, "subresource"), {}};
    if (e.contains("fieldsV1")) m.fields = from_fields_v1(e["fieldsV1"]);
    out.push_back(std::move(m));
  }
  return out;
}

void write_managed_fields(json& obj, const std::vector<ManagedEntry>& entries) {
  json list = json::array();
  for (const auto& e : entries) {
    if (e.fields.empty()) continue;
    json j = {{"manager", e.manager}, {"operation", e.operation}, {"apiVersion", e.api_version}};
    if (!e.time.empty()) j["time"] = e.time;
    j["fieldsType"] = "FieldsV1";
    j["fieldsV1"] = to_fields_v1(e.fields);
    if (!e.subresource.empty()) j["subresource"] = e.subresource;
    list.push_back(std::move(j));
  }
  if (!obj.is_object()) return;
  if (list.empty()) {
    if (obj.contains("metadata") && obj["metadata"].is_object()) obj["metadata"].erase("managedFields");
    return;
  }
  if (!obj.contains("metadata") || !obj["metadata"].is_object()) obj["metadata"] = json::object();
  obj["metadata"]["managedFields"] = std::move(list);
}

void track_update(const json& old, json& now, const WriteContext& ctx) {
  std::vector<ManagedEntry> entries = read_managed_fields(old);
  json sent;
  if (now.is_object() && now.contains("metadata") && now["metadata"].is_object() &&
      now["metadata"].contains("managedFields"))
    sent = now["metadata"]["managedFields"];
  json old_sent = old.is_object() && old.contains("metadata") && old["metadata"].is_object() &&
                          old["metadata"].contains("managedFields")
                      ? old["metadata"]["managedFields"]
                      : json();
  if (sent.is_array() && sent != old_sent) entries = read_managed_fields(now);  // the client rewrote them
  bool old_tracked = !read_managed_fields(old).empty();
  json base = old.is_object() && old_tracked ? old : json();
  FieldSet changed = changed_fields(base, now, ctx.types);
  FieldSet removed;
  if (old.is_object()) {
    removed = fields_of(old, ctx.types);
    removed.subtract(fields_of(now, ctx.types));
  }
  FieldSet lost = changed;
  lost.merge(removed);
  ManagedEntry* mine = nullptr;
  for (auto& e : entries) {
    if (same_identity(e, ctx.manager, "Update", ctx.api_version, ctx.subresource)) {
      mine = &e;
      continue;
    }
    e.fields.subtract(lost);
  }
  if (!changed.empty() || mine) {
    if (!mine) {
      entries.push_back({ctx.manager, "Update", ctx.api_version, ctx.now, ctx.subresource, {}});
      mine = &entries.back();
    }
    if (!changed.empty()) mine->time = ctx.now;
    mine->fields.merge(changed);
    mine->fields.subtract(removed);
  }
  write_managed_fields(now, entries);
}

ApplyResult server_side_apply(const json& live, const json& config, const WriteContext& ctx, bool force) {
  ApplyResult r;
  json base = live.is_object() ? live : json::object();
  std::vector<ManagedEntry> entries = read_managed_fields(base);
  if (live.is_object() && entries.empty()) {
    FieldSet all = fields_of(live, ctx.types);
    if (!all.empty())
      entries.push_back({"before-first-apply", "Update", live.value("apiVersion", ctx.api_version), ctx.now, "",
                         std::move(all)});
  }
  json cfg = config;
  if (cfg.is_object() && cfg.contains("metadata") && cfg["metadata"].is_object())
    cfg["metadata"].erase("managedFields");
  FieldSet applied = fields_of(cfg, ctx.types);

  json stripped_live = base;
  if (stripped_live.contains("metadata") && stripped_live["metadata"].is_object())
    stripped_live["metadata"].erase("managedFields");
  json merged = merge_applied(stripped_live, cfg, "", ctx.types);

  // conflicts: values this apply changes that another manager owns
  FieldSet changed = changed_fields(live.is_object() ? stripped_live : json::object(), merged, ctx.types);
  ManagedEntry* mine = nullptr;
  for (auto& e : entries) {
    if (same_identity(e, ctx.manager, "Apply", ctx.api_version, ctx.subresource)) {
      mine = &e;
      continue;
    }
    FieldSet both = changed.intersect(e.fields);
    for (const auto& p : both.paths()) r.conflicts.push_back({manager_text(e), path_string(p)});
    if (force) e.fields.subtract(both);
  }
  if (!r.conflicts.empty() && !force) {
    if (r.conflicts.size() == 1) {
      r.conflict_message = "Apply failed with 1 conflict: conflict with " + r.conflicts[0].manager_text + ": " +
                           r.conflicts[0].path;
    } else {
      std::map<std::string, std::vector<std::string>> by_manager;
      for (const auto& c : r.conflicts) by_manager[c.manager_text].push_back(c.path);
      std::string msg = "Apply failed with " + std::to_string(r.conflicts.size()) + " conflicts: ";
      bool first = true;
      for (const auto& [m, paths] : by_manager) {
        msg += (first ? "" : "\n") + std::string("conflicts with ") + m + ":";
        first = false;
        for (const auto& p : paths) msg += "\n- " + p;
      }
      r.conflict_message = msg;
    }
    return r;
  }
  r.conflicts.clear();

  // fields this manager applied before and no longer applies go, unless someone else owns them
  if (mine) {
    FieldSet dropped = mine->fields;
    dropped.subtract(applied);
    FieldSet others;
    for (const auto& e : entries)
      if (&e != mine) others.merge(e.fields);
    for (const auto& p : dropped.paths()) {
      const FieldSet* o = find_node(others, p);
      if (o && !o->empty()) continue;
      remove_path(merged, p, 0, "", ctx.types);
    }
  }
  if (!mine) {
    entries.push_back({ctx.manager, "Apply", ctx.api_version, ctx.now, ctx.subresource, {}});
    mine = &entries.back();
  }
  mine->fields = applied;
  mine->api_version = ctx.api_version;
  mine->time = ctx.now;
  write_managed_fields(merged, entries);
  r.object = std::move(merged);
  return r;
}

}  // namespace k3dpp::apimachinery
