#include "cluster/types.h"

#include <cstdlib>

#include "common/strings.h"

namespace k3dpp::cluster {

std::string role_name(Role r) {
  switch (r) {
    case Role::kServer:
      return "server";
    case Role::kAgent:
      return "agent";
    case Role::kLoadBalancer:
      return "loadbalancer";
  }
  return "unknown";
}

std::string network_name(const std::string& cluster) { return "k3dpp-" + cluster; }

std::string node_name(const std::string& cluster, Role role, int index) {
  if (role == Role::kLoadBalancer) return lb_name(cluster);
  return "k3dpp-" + cluster + "-" + role_name(role) + "-" + std::to_string(index);
}

std::string lb_name(const std::string& cluster) { return "k3dpp-" + cluster + "-serverlb"; }

std::string containerd_volume_name(const std::string& cluster, const std::string& container) {
  std::string prefix = "k3dpp-" + cluster + "-";
  std::string node = container;
  if (strings::starts_with(node, prefix)) {
    node = node.substr(prefix.size());
  } else if (strings::starts_with(node, "k3dpp-")) {
    node = node.substr(6);
  }
  return prefix + node + "-containerd";
}

// K3DPP_NODE_IMAGE / K3DPP_LB_IMAGE override the defaults (as k3d's K3D_IMAGE_LOADBALANCER does).
std::string default_node_image() {
  const char* e = std::getenv("K3DPP_NODE_IMAGE");
  return e && *e ? std::string(e) : std::string("k3dpp/node:") + K3DPP_VERSION;
}
std::string default_lb_image() {
  const char* e = std::getenv("K3DPP_LB_IMAGE");
  return e && *e ? std::string(e) : std::string("k3dpp/lb:") + K3DPP_VERSION;
}

std::vector<NodeSpec> planned_nodes(const ClusterSpec& spec) {
  std::vector<NodeSpec> out;
  for (int i = 0; i < spec.servers; ++i) out.push_back({Role::kServer, i, node_name(spec.name, Role::kServer, i)});
  for (int i = 0; i < spec.agents; ++i) out.push_back({Role::kAgent, i, node_name(spec.name, Role::kAgent, i)});
  return out;
}

}  // namespace k3dpp::cluster
