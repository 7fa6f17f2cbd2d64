// Deployment reconcile logic, pure: given a Deployment, its ReplicaSets and their pods, one step of
// what the deployment controller does (Kubernetes' sync/rolloutRolling/rolloutRecreate).
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "controllers/pod_index.h"
#include "controllers/util.h"

namespace k3dpp::controllers {

inline constexpr const char* kRevisionAnnotation = "deployment.kubernetes.io/revision";
inline constexpr const char* kDesiredReplicasAnnotation = "deployment.kubernetes.io/desired-replicas";
inline constexpr const char* kMaxReplicasAnnotation = "deployment.kubernetes.io/max-replicas";
inline constexpr const char* kPodTemplateHashLabel = "pod-template-hash";

struct DeploymentPlan {
  std::vector<json> create;          // new ReplicaSets (at most one)
  std::vector<json> update;          // ReplicaSets to PUT (scale, annotations, adoption)
  std::vector<std::string> remove;   // ReplicaSet names (revision history cleanup)
  json status;                       // the Deployment's status
  std::string revision;              // the Deployment's revision annotation ("" = leave)
  std::vector<std::string> events;   // ScalingReplicaSet messages (Normal)
  std::chrono::milliseconds requeue_after{0};
};

// Stable hash of a pod template (pod-template-hash label ignored) and the collision count:
// fnv-1a 32 of the canonical JSON, as decimal, mapped into the safe alphabet (like "64dd99d679").
std::string pod_template_hash(const json& pod_template, long long collision_count = 0);
// Templates equal ignoring the pod-template-hash label.
bool templates_equal(const json& a, const json& b);

// replica_sets: the ReplicaSets owned by the deployment (and orphans matching its selector,
// which are adopted). pods: the counts of the pods owned by those ReplicaSets, by ReplicaSet uid
// (available: Ready for the deployment's minReadySeconds).
DeploymentPlan plan_deployment(const json& deployment, const std::vector<json>& replica_sets,
                               const std::map<std::string, PodCounts>& pods, TimePoint now);
// The same over the pods themselves (tests).
DeploymentPlan plan_deployment(const json& deployment, const std::vector<json>& replica_sets,
                               const std::vector<const json*>& pods, TimePoint now);

// maxSurge / maxUnavailable resolved against replicas (surge rounds up, unavailable down;
// both zero → unavailable 1).
std::pair<long long, long long> resolve_surge_unavailable(const json& deployment);

}  // namespace k3dpp::controllers
