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
#include <set>
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

// What one pod takes on its node, parsed once: requests (filtering), requests with the non-zero
// defaults (scoring), its controller's uid, its host ports.
struct PodUsage {
  long long cpu = 0, memory = 0;              // requests (milli-cpu, bytes)
  long long score_cpu = 0, score_memory = 0;  // with 100m / 200Mi for a container without requests
  std::string owner_uid;
  std::set<std::string> host_ports;
};
PodUsage usage_of(const json& pod);

// Running totals of the pods on one node, kept up to date as pods come and go, so placing one pod
// costs O(nodes) rather than O(pods).
struct NodeUsage {
  long long cpu = 0, memory = 0, score_cpu = 0, score_memory = 0, pods = 0;
  std::map<std::string, long long> owners;  // controller uid → pods on this node
  std::multiset<std::string> host_ports;
  void add(const PodUsage& u);
  void remove(const PodUsage& u);
};
// Totals by node name; a node without an entry has no pods.
using UsageByNode = std::map<std::string, NodeUsage>;
Decision schedule_on_usage(const json& pod, const std::vector<const json*>& nodes, const UsageByNode& usage);

// A node's filter inputs parsed once (the Scheduler caches one per node and replaces it when the
// node changes): allocatable, the taints that count (spec.taints plus the unschedulable and
// not-ready taints the node's state implies), the object for labels and affinity.
struct NodeInfo {
  std::shared_ptr<const json> object;
  std::string name;
  long long alloc_cpu = 0, alloc_memory = 0, alloc_pods = 0;
  std::vector<json> taints;
  const json* labels = nullptr;  // metadata.labels inside *object (null json when it has none)
};
NodeInfo node_info(std::shared_ptr<const json> node);
// True when a node change cannot change any placement (a status heartbeat): no requeue needed.
bool same_for_scheduling(const NodeInfo& a, const NodeInfo& b);
// schedule_on_usage with the pod's usage (usage_of) and the nodes' infos computed by the caller.
Decision schedule_prepared(const json& pod, const PodUsage& want, const std::vector<const NodeInfo*>& nodes,
                           const UsageByNode& usage);

// A pod's filter inputs looked up once per decision instead of once per node: its usage and
// pointers into the pod (valid while the pod object lives) to its tolerations, nodeSelector and
// required node affinity terms, each nullptr when the pod has none.
struct PodInfo {
  PodUsage usage;
  const json* tolerations = nullptr;
  const json* node_selector = nullptr;
  const json* required_terms = nullptr;
};
PodInfo pod_info(const json& pod);
PodInfo pod_info(const json& pod, PodUsage usage);
// One candidate node and its totals, both kept by the caller (the scheduler holds a pointer to each
// node's NodeUsage), so a decision looks nothing up by node name. usage nullptr = no pods there.
struct NodeSlot {
  const NodeInfo* info = nullptr;
  const NodeUsage* usage = nullptr;
};
// schedule_prepared over slots: what the Scheduler calls for every pod.
Decision schedule_slots(const PodInfo& pod, const std::vector<NodeSlot>& nodes);

// Individual filters: "" when the node passes, else the Kubernetes reason text (used in the
// "0/N nodes are available: ..." message, e.g. "node(s) didn't match Pod's node affinity/selector").
std::string filter_node(const json& pod, const json& node, const std::vector<const json*>& pods_on_node);
std::string filter_on_usage(const json& pod, const json& node, const NodeUsage& on_node);
std::string filter_prepared(const json& pod, const PodUsage& want, const NodeInfo& node, const NodeUsage& on_node);
std::string filter_slot(const PodInfo& pod, const NodeInfo& node, const NodeUsage& on_node);

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
