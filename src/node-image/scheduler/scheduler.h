// Scheduler: filters (node Ready & schedulable, taints/tolerations, nodeSelector, required node
// affinity, resource requests vs allocatable, host ports) and scoring (least allocated with
// Kubernetes' non-zero default requests + spreading one owner's replicas, ties to the node with
// the fewest pods), then binds through pods/binding; a bound pod counts on its node at once
// (AssumeCache, before the watch shows the binding). A pod that fits nowhere stays Pending
// with a FailedScheduling event worded as Kubernetes words it.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client/api_client.h"
#include "common/result.h"

namespace k3dpp::scheduler {

using json = nlohmann::json;

// Pure decision for one pod. nodes: Node objects; pods: every bound, non-terminated pod.
struct Decision {
  std::string node;     // chosen node, "" when none fits
  std::string message;  // FailedScheduling message when none fits
};
Decision schedule_one(const json& pod, const std::vector<const json*>& nodes, const std::vector<const json*>& pods);

// Individual filters: "" when the node passes, else the Kubernetes reason text (used in the
// "0/N nodes are available: ..." message, e.g. "node(s) didn't match Pod's node affinity/selector").
std::string filter_node(const json& pod, const json& node, const std::vector<const json*>& pods_on_node);

// Quantities: "100m" → 100 milli, "1Gi" → bytes, etc. CPU in millicores, others in units.
long long parse_cpu_milli(const std::string& q);
long long parse_quantity(const std::string& q);

class Scheduler {
 public:
  explicit Scheduler(client::ApiClient& client);
  ~Scheduler();
  Status start();
  void stop();
  // Nodes whose cached status says Ready (tests wait on it before creating pods).
  size_t ready_nodes() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace k3dpp::scheduler
