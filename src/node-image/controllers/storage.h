// PersistentVolume binding and the local-path provisioner, pure parts: PV ↔ PVC matching
// (class, access modes, capacity — smallest fit), the local-path StorageClass and the PV it
// provisions for a claim on a node.
#pragma once

#include <string>
#include <vector>

#include "controllers/util.h"

namespace k3dpp::controllers {

inline constexpr const char* kLocalPathProvisioner = "rancher.io/local-path";
inline constexpr const char* kLocalPathClass = "local-path";
inline constexpr const char* kLocalPathRoot = "/var/lib/k3dpp/storage";
inline constexpr const char* kSelectedNodeAnnotation = "volume.kubernetes.io/selected-node";
inline constexpr const char* kBindCompletedAnnotation = "pv.kubernetes.io/bind-completed";
inline constexpr const char* kBoundByControllerAnnotation = "pv.kubernetes.io/bound-by-controller";
inline constexpr const char* kProvisionedByAnnotation = "pv.kubernetes.io/provisioned-by";
inline constexpr const char* kDefaultClassAnnotation = "storageclass.kubernetes.io/is-default-class";

// "1Gi" → bytes (binary and decimal suffixes, plain numbers); -1 on garbage.
long long parse_storage(const std::string& q);

// The StorageClass created at start when missing.
json local_path_storage_class();

// The claim's storageClassName ("" when unset or null).
std::string claim_class(const json& pvc);

// Whether pv can satisfy pvc: same class, not claimed by another claim, access modes a
// superset, capacity ≥ request, same volumeMode, label selector, and (when node is set) the
// PV's node affinity admits that node (node_labels).
bool volume_matches(const json& pv, const json& pvc, const json* node_labels);

// The smallest matching PV (a PV pre-bound to this claim wins), or nullptr.
const json* find_best_volume(const std::vector<const json*>& pvs, const json& pvc, const json* node_labels);

// Whether the node (its labels, name in kubernetes.io/hostname) satisfies the PV's
// spec.nodeAffinity.required (true when there is none).
bool volume_node_affinity_matches(const json& pv, const json& node);

// The PV local-path provisions for a claim on node: pvc-<uid>, hostPath
// /var/lib/k3dpp/storage/pvc-<uid>_<ns>_<name>, node affinity to node, capacity = request,
// reclaim policy from the class, claimRef to the claim.
json local_path_volume(const json& pvc, const json& storage_class, const std::string& node);

}  // namespace k3dpp::controllers
