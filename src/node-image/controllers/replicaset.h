// ReplicaSet reconcile logic, pure: given a ReplicaSet and the pods of its namespace, what to do.
#pragma once

#include <string>
#include <vector>

#include "controllers/pod_index.h"
#include "controllers/util.h"

namespace k3dpp::controllers {

struct ReplicaSetPlan {
  int create = 0;                        // pods to create from the template
  std::vector<std::string> delete_pods;  // names, in deletion order
  std::vector<std::string> adopt;        // orphans matching the selector
  std::vector<std::string> release;      // owned pods that no longer match
  json status;                           // the status the RS should have (after this plan)
  // > 0: sync again after this long (pods ready but not yet available for minReadySeconds).
  std::chrono::milliseconds requeue_after{0};
};

// pods: the RS's pods and the namespace's orphans (others are skipped: every pod of the namespace
// will do). A null or unparsable selector matches nothing.
ReplicaSetPlan plan_replica_set(const json& rs, const std::vector<const PodFacts*>& pods, TimePoint now);
// The same over plain JSON pods (tests).
ReplicaSetPlan plan_replica_set(const json& rs, const std::vector<const json*>& pods, TimePoint now);

// A new pod for the RS: name "<rs>-<5 chars>", template labels/annotations/spec, controller ref.
json pod_from_template(const json& rs, const std::string& suffix);

// Deletion order for scaling down: unscheduled before scheduled, Pending before Running, not ready
// before ready, ready for less time first, newer before older. Returns a sorted copy.
std::vector<const PodFacts*> deletion_order(std::vector<const PodFacts*> pods);

}  // namespace k3dpp::controllers
