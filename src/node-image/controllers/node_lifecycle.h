// Node lifecycle decisions, pure (Kubernetes' node lifecycle controller and taint manager):
// condition → taints, NoExecute eviction times from tolerations, pod CIDR indexes.
#pragma once

#include <optional>
#include <set>
#include <string>

#include "controllers/util.h"

namespace k3dpp::controllers {

inline constexpr const char* kTaintNotReady = "node.kubernetes.io/not-ready";
inline constexpr const char* kTaintUnreachable = "node.kubernetes.io/unreachable";
inline constexpr const char* kTaintUnschedulable = "node.kubernetes.io/unschedulable";

// "True", "False", "Unknown" or "" (no Ready condition).
std::string node_ready_status(const json& node);

// The node's spec.taints with the lifecycle taints (not-ready / unreachable as NoSchedule and
// NoExecute, unschedulable as NoSchedule) made to match its Ready condition and
// spec.unschedulable. Other taints are kept; an unchanged taint keeps its timeAdded.
json reconcile_taints(const json& node, const std::string& now_rfc3339);

// The Ready/MemoryPressure/DiskPressure/PIDPressure conditions set to Unknown as the controller
// does when the kubelet stops posting (NodeStatusUnknown, "Kubelet stopped posting node
// status.", or NodeStatusNeverUpdated when a condition was never posted).
json conditions_unknown(const json& node, const std::string& now_rfc3339);

// When the taint manager deletes this pod given the node's NoExecute taints: nullopt = never
// (no NoExecute taint, or tolerated without tolerationSeconds); a taint not tolerated at all
// means now.
std::optional<TimePoint> eviction_time(const json& pod, const json& taints, TimePoint now);

// Whether a toleration matches a taint (key/operator/value/effect rules).
bool toleration_matches(const json& toleration, const json& taint);

// The smallest index in [0, 255] not in used; -1 when full.
int free_cidr_index(const std::set<int>& used);
// N from "<prefix>N.0/24" ("10.42.7.0/24" → 7); -1 when it does not match.
int cidr_index(const std::string& cidr, const std::string& prefix);

}  // namespace k3dpp::controllers
