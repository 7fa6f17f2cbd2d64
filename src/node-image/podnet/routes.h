// Pod network between nodes, host-gw style: every node routes each other node's podCIDR via that
// node's InternalIP (the nodes share one L2 network: the cluster's container network).
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "common/result.h"

namespace k3dpp::podnet {

enum class Backend { kHostGw, kVxlan };
// "host-gw" | "vxlan"; anything else is an error (kind "BadRequest").
Result<Backend> parse_backend(const std::string& name);

struct Route {
  std::string cidr;  // "10.42.1.0/24"
  std::string via;   // "172.18.0.3"
  std::string node;  // whose pods live there
  bool operator==(const Route&) const = default;
};

// Pure: the routes this node needs, sorted by cidr. Skips my own node, nodes without spec.podCIDR
// or InternalIP, nodes being deleted, and malformed values (only IPv4 CIDRs and addresses).
std::vector<Route> plan_routes(const std::vector<nlohmann::json>& nodes, const std::string& my_node);

struct RouteChanges {
  std::vector<Route> replace;  // new or changed gateway
  std::vector<Route> remove;   // cidr no longer wanted
};
// Pure: what turns `current` into `desired` (both keyed by cidr).
RouteChanges diff_routes(const std::vector<Route>& current, const std::vector<Route>& desired);

bool valid_ipv4(const std::string& s);
bool valid_ipv4_cidr(const std::string& s);

}  // namespace k3dpp::podnet
