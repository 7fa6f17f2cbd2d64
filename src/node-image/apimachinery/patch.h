// Patches as the Kubernetes API server applies them (PATCH with the three JSON patch types).
// Pure functions over nlohmann::json; nothing here throws.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

#include "common/result.h"

namespace k3dpp::apimachinery {

// RFC 7386 JSON merge patch (application/merge-patch+json): objects merge recursively, null
// deletes a key, anything else (lists included) replaces. A non-object patch replaces the whole
// document. Never fails today; Result for symmetry with the other patch types.
Result<nlohmann::json> json_merge_patch(const nlohmann::json& original, const nlohmann::json& patch);

// RFC 6902 JSON patch (application/json-patch+json): ops add, remove, replace, move, copy, test;
// JSON pointers (RFC 6901) with ~0 / ~1 escapes and "-" (append) for arrays.
// Errors:
//   kind "BadRequest": the patch document is malformed (not an array, unknown op, missing "path"
//     or "value", bad pointer syntax).
//   kind "Invalid" (answer 422): an op does not apply to the document, e.g.
//     "replace operation does not apply: doc is missing key: /spec/x",
//     "testing value /spec/replicas failed" (a failed test).
Result<nlohmann::json> json_patch(const nlohmann::json& original, const nlohmann::json& ops);

// Kubernetes strategic merge patch (application/strategic-merge-patch+json) for a built-in kind
// ("Pod", "Deployment", "Service", ...). Semantics:
//   - maps merge recursively; null deletes a key;
//   - lists follow the Kubernetes patch strategy of their field (path-aware, per kind):
//     merge by key (containers/initContainers/ephemeralContainers/volumes/env/imagePullSecrets by
//     name, container ports by containerPort, Service ports by port, volumeMounts by mountPath,
//     conditions by type, ownerReferences by uid, hostAliases by ip, ...), merge as a primitive
//     set (finalizers), or replace (everything else: args, command, tolerations, envFrom, ...);
//   - directives: {"$patch": "replace"|"delete"|"merge"} in maps and list items,
//     "$setElementOrder/<list>", "$retainKeys", "$deleteFromPrimitiveList/<list>".
// An unknown kind or field still works: maps merge, lists replace (like a merge patch).
// Errors: kind "BadRequest" for a malformed patch (patch not an object, list item without its
// merge key, unknown $patch directive).
Result<nlohmann::json> strategic_merge_patch(const nlohmann::json& original,
                                             const nlohmann::json& patch,
                                             const std::string& kind);

// How strategic merge treats a list field; exposed for tests and for the apply logic.
struct ListStrategy {
  enum class Type { kReplace, kMergeByKey, kMergePrimitives };
  Type type = Type::kReplace;
  std::string merge_key;     // for kMergeByKey
  bool retain_keys = false;  // list items honour $retainKeys (e.g. PodSpec.volumes)
};
// Strategy of the list at a dotted field path inside an object of `kind`, e.g.
// list_strategy("Deployment", "spec.template.spec.containers") → merge by "name".
// List levels are not part of the path ("spec.containers.ports" for container ports).
ListStrategy list_strategy(const std::string& kind, std::string_view dotted_path);

}  // namespace k3dpp::apimachinery
