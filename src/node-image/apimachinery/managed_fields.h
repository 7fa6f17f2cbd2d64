// Server-side apply and managedFields, as Kubernetes' field manager (structured-merge-diff) does
// them: field sets per manager in the FieldsV1 encoding (`f:<name>`, `k:{"name":"x"}`,
// `v:"value"`, `i:<n>`, `.`), apply as a merge that follows each list's type (atomic, set, map
// with keys), conflicts when an applier changes a value another manager owns (409 with
// Kubernetes' message and FieldManagerConflict causes), `force` taking ownership, removal of the
// fields an applier stopped applying (unless another manager owns them), and the Update
// bookkeeping every other write does (the writer owns what it changed; others lose it).
// Pure functions over nlohmann::json; nothing throws.
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace k3dpp::apimachinery {

// A set of field paths as a tree keyed by FieldsV1 path elements ("f:spec", "k:{\"name\":\"a\"}",
// "v:\"x\"", "i:0"). `member` is FieldsV1's "." — the node itself is in the set (leaves and
// list-map items); a node with children but not a member only leads to its members.
struct FieldSet {
  bool member = false;
  std::map<std::string, FieldSet> children;

  bool empty() const;
  bool operator==(const FieldSet&) const = default;
  void merge(const FieldSet& other);      // union
  void subtract(const FieldSet& other);   // difference (members of other leave this set)
  FieldSet intersect(const FieldSet& other) const;
  // Every member path, each as its elements ({"f:spec","f:replicas"}), in key order.
  std::vector<std::vector<std::string>> paths() const;
};

// FieldsV1 JSON ({"f:spec":{"f:replicas":{}}}) to and from a FieldSet. Malformed input (non
// objects) decodes to what could be read.
nlohmann::json to_fields_v1(const FieldSet& set);
FieldSet from_fields_v1(const nlohmann::json& fields);

// Kubernetes' text for a path: ".spec.containers[name=\"nginx\"].image", ".metadata.finalizers[=\"x\"]".
std::string path_string(const std::vector<std::string>& elements);

// How a list at a dotted field path (list levels not part of the path, e.g.
// "spec.template.spec.containers.ports") merges.
struct ListType {
  enum class Kind { kAtomic, kSet, kMap };
  Kind kind = Kind::kAtomic;
  std::vector<std::string> keys;  // kMap
  bool atomic_map = false;         // a map/struct replaced as a whole (x-kubernetes-map-type: atomic)
};
// is_list: the value there is a list (else a map; only atomic_map matters then).
using ListTypeOf = std::function<ListType(const std::string& dotted_path, bool is_list)>;
// Built-in kinds: from the strategic-merge-patch table (merge key → map, primitives → set).
ListTypeOf builtin_list_types(const std::string& kind);

// The fields an object sets (apiVersion, kind and server-owned metadata — name, namespace, uid,
// resourceVersion, generation, creationTimestamp, selfLink, managedFields — are not fields).
FieldSet fields_of(const nlohmann::json& obj, const ListTypeOf& types);
// Fields of `now` that are new or whose value differs from `old`.
FieldSet changed_fields(const nlohmann::json& old, const nlohmann::json& now, const ListTypeOf& types);

// One managedFields entry.
struct ManagedEntry {
  std::string manager, operation, api_version, time, subresource;
  FieldSet fields;
};
std::vector<ManagedEntry> read_managed_fields(const nlohmann::json& obj);
void write_managed_fields(nlohmann::json& obj, const std::vector<ManagedEntry>& entries);

struct WriteContext {
  std::string manager;      // fieldManager (or derived from the User-Agent)
  std::string api_version;  // "apps/v1"
  std::string subresource;  // "" or "status"
  std::string now;          // RFC 3339 time for the entry
  ListTypeOf types;
};

// Create/update/patch (not apply): records on `now` the managedFields of a write from `old`
// (null for a create). A client that sent managedFields different from old's (e.g. kubectl's
// client-side-apply upgrade) gets its own entries kept as the base.
void track_update(const nlohmann::json& old, nlohmann::json& now, const WriteContext& ctx);

struct ApplyConflict {
  std::string manager_text;  // `"kubectl"` or `"kubectl-client-side-apply" using apps/v1`
  std::string path;          // ".spec.replicas"
};
struct ApplyResult {
  nlohmann::json object;  // the merged object with managedFields (when no conflicts)
  std::vector<ApplyConflict> conflicts;
  // "Apply failed with 1 conflict: conflict with \"a\": .spec.replicas" (when conflicts)
  std::string conflict_message;
};
// Server-side apply of `config` (the applied configuration, apiVersion/kind/metadata.name set)
// onto `live` (null when the object does not exist yet). An object without managedFields gets
// its current fields assigned to "before-first-apply" (Update) first, as Kubernetes does.
ApplyResult server_side_apply(const nlohmann::json& live, const nlohmann::json& config, const WriteContext& ctx,
                              bool force);

}  // namespace k3dpp::apimachinery
