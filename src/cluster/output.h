// Listings as k3d prints them: tables (tabwriter-like, 3 spaces between columns), `-o wide`
// tables with more columns, and JSON/YAML documents with k3d's field names (k3d's types.Node and
// types.Cluster as `k3d node|cluster|registry list -o json` marshals them). Pure functions,
// golden-tested (tests/unit/cluster/golden/list_*).
#pragma once

#include <string>
#include <vector>

#include "cluster/registry.h"
#include "cluster/state.h"
#include "common/result.h"

namespace k3dpp::cluster {

// Rows (the first is the header) padded to columns; trailing blanks trimmed.
std::string render_table(const std::vector<std::vector<std::string>>& rows);

// k3d's node shape: name, role, image, portMappings ({"6443/tcp":[{"HostIp","HostPort"}]}),
// runtimeLabels, Networks, Memory, State {Running, Status, Started}, IP {IP, Static}.
std::string render_node_json(const std::vector<NodeState>& nodes);
// NAME ROLE CLUSTER STATUS (wide: + IMAGE IP PORTS MEMORY).
std::string render_node_table(const std::vector<NodeState>& nodes, bool wide = false);

// k3d's cluster shape: name, network {name, id, isExternal}, nodes, kubeAPI (nat.PortMapping +
// host), serverLoadBalancer {node, config {ports {"PORT.PROTO": [upstreams]}}}, volumes,
// serversRunning, serversCount, agentsRunning, agentsCount, hasLoadbalancer (only when true).
std::string render_cluster_json(const std::vector<ClusterState>& clusters);
// NAME SERVERS AGENTS LOADBALANCER (wide: + NETWORK API PORTS).
std::string render_cluster_table(const std::vector<ClusterState>& clusters, bool wide = false);

// k3d lists registries as nodes: the node shape with role "registry".
std::string render_registry_json(const std::vector<RegistryState>& registries);
// NAME ROLE CLUSTER STATUS HOST (wide: + IMAGE NETWORKS).
std::string render_registry_table(const std::vector<RegistryState>& registries, bool wide = false);

// A JSON document as block YAML (what `-o yaml` prints); keys keep their order.
Result<std::string> json_to_yaml(const std::string& json);

}  // namespace k3dpp::cluster
