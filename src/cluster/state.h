// A cluster as the engine reports it: rebuilt from container labels (no state file).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "cluster/parse.h"
#include "cluster/types.h"
#include "common/result.h"
#include "runtime/runtime.h"

namespace k3dpp::cluster {

struct NodeState {
  std::string name;
  std::string cluster;
  Role role = Role::kServer;
  int index = 0;
  std::string state;  // engine state: running, exited, created...
  bool running = false;
  std::string image;
  runtime::Labels labels;
  std::map<std::string, std::string> ips;   // network -> IPv4 address
  std::vector<runtime::PortBinding> ports;  // published ports
  int64_t memory = 0;                       // memory limit in bytes (0 = none)
};

struct ClusterState {
  std::string name;
  std::string network;
  std::vector<NodeState> nodes;  // servers, agents, then the load balancer; by index then name
  std::string api_host = "127.0.0.1";
  std::string api_hostname;         // kubeAPI.host ("" = api_host)
  uint16_t api_port = 0;
  std::vector<ResolvedPort> ports;  // from the LB's k3dpp.ports label
  std::vector<std::string> volumes;
  bool network_owned = false;       // network labelled with this cluster

  const NodeState* lb() const;
  std::vector<const NodeState*> with_role(Role r) const;
  std::vector<std::string> names(Role r) const;
  int count(Role r, bool running_only) const;
  std::vector<FilterNode> filter_nodes() const;
};

// Parses one container's labels into a NodeState; false when it is not a k3dpp node.
bool node_from_container(const runtime::ContainerInfo& c, NodeState& out);

// Everything labelled k3dpp.cluster=NAME (containers incl. stopped, volumes, network).
// Kind "NotFound" when nothing is found.
Result<ClusterState> load_cluster(runtime::Runtime& rt, const std::string& name);
// All clusters, sorted by name (clusters that have at least one container).
Result<std::vector<ClusterState>> load_clusters(runtime::Runtime& rt);

}  // namespace k3dpp::cluster
