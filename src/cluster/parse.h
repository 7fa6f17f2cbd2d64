// Pure parsers and validators for user input (names, -p, --api-port, -v, node filters).
// Every error is kind "Invalid" with a message that names the bad input.
#pragma once

#include <string>
#include <vector>

#include "cluster/types.h"
#include "common/result.h"

namespace k3dpp::cluster {

// DNS-1123 label (lower-case alphanumerics and '-', starting and ending alphanumeric), 1..32 chars.
Status validate_cluster_name(const std::string& name);
// Node names (node create NAME) follow the same rule, max 50 chars (hostname k3dpp-NAME-N <= 63).
Status validate_node_name(const std::string& name);

Result<NodeFilter> parse_node_filter(const std::string& text);
// "server:0;agent:*" style lists are not k3d's; a flag value carries exactly one filter after '@'.

Result<PortMapping> parse_port_mapping(const std::string& text);
Result<ApiPort> parse_api_port(const std::string& text);
Result<VolumeMount> parse_volume(const std::string& text);

// A node as filters see it: role and index within its role group.
struct FilterNode {
  Role role;
  int index;
  std::string name;
};

// Names of the nodes a filter selects, in the order given. A filter that matches no node is an
// error ("node filter 'agent:3' matches no node (cluster has 1 server(s), 0 agent(s))").
Result<std::vector<std::string>> resolve_filter(const NodeFilter& filter,
                                                const std::vector<FilterNode>& nodes);

// Resolves a -p mapping's filters: loadbalancer/all (proxy) forward to every server and agent;
// server/agent filters to the selected nodes; suffix "direct" publishes on the nodes themselves.
Result<ResolvedPort> resolve_port(const PortMapping& pm, const std::vector<FilterNode>& nodes,
                                  bool has_lb);

}  // namespace k3dpp::cluster
