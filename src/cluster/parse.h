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
// Like parse_port_mapping, with docker's port ranges: "8080-8082:80-82" (equal sizes) or
// "30000-30002" (host and container the same) give one mapping per port (at most 1000).
Result<std::vector<PortMapping>> parse_port_mappings(const std::string& text);

// VALUE[@FILTER[;FILTER...]] (-e, --runtime-label, --node-label, --k3s-arg); the filters follow
// the last '@' ("a@b@server:0" is value "a@b"); default_filter when there is no '@FILTER'.
// `what` names the flag in errors.
Result<FilteredValue> parse_filtered(const std::string& text, const std::string& default_filter, const std::string& what);
// KEY[=VALUE] with a valid key (labels: [prefix/]name as Kubernetes allows; env: no '=' in KEY).
Status validate_label(const std::string& kv, const std::string& what);
Status validate_env(const std::string& kv);
// Docker memory notation: 512m, 1g, 1.5g, 2048k, 1073741824 (bytes); >= 6 MiB (docker's minimum).
Result<int64_t> parse_memory(const std::string& text);
// --runtime-ulimit NAME=SOFT[:HARD] (k3d's form; HARD defaults to SOFT).
Result<std::pair<std::string, std::pair<int64_t, int64_t>>> parse_ulimit(const std::string& text);
// --lb-config-override values: settings.workerConnections=N (k3d's other settings are refused by name).
Result<LbSettings> parse_lb_overrides(const std::vector<std::string>& overrides);
// --subnet: an IPv4 CIDR a.b.c.d/N with N in 8..30.
Status validate_subnet(const std::string& cidr);
// --token: 1-256 printable characters without blanks.
Status validate_token(const std::string& token);
// --host-alias IP:NAME[,NAME...]
Result<HostAlias> parse_host_alias(const std::string& text);
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
