// Pod network between nodes. host-gw: every node routes each other node's podCIDR via that node's
// InternalIP (the nodes share one L2 network: the cluster's container network). vxlan (flannel
// style): every node has a VXLAN device; each other node's podCIDR is routed onlink via that
// node's pod network address on the device, with a static neighbour (the remote VTEP MAC, read
// from the remote Node's k3dpp.io/vtep-mac annotation) and FDB entry (MAC -> InternalIP).
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "common/result.h"

namespace k3dpp::podnet {

enum class Backend { kHostGw, kVxlan };
// "host-gw" | "vxlan"; anything else is an error (kind "BadRequest").
Result<Backend> parse_backend(const std::string& name);

// VXLAN backend constants (measured in these nested containers: node-container-recipe.md §5).
inline constexpr const char* kVxlanDevice = "k3dpp.42";
inline constexpr int kVxlanVni = 42;
inline constexpr int kVxlanPort = 8472;
inline constexpr int kVxlanMtu = 1450;  // 1500 - 50 bytes of VXLAN/UDP/IP/Ethernet headers
inline constexpr const char* kVtepMacAnnotation = "k3dpp.io/vtep-mac";

struct Route {
  std::string cidr;      // "10.42.1.0/24"
  std::string via;       // host-gw: the gateway; vxlan: the remote VTEP (the node's InternalIP)
  std::string node;      // whose pods live there
  std::string vtep_mac;  // vxlan only: the remote VTEP's MAC
  bool operator==(const Route&) const = default;
};

// Pure: the routes this node needs, sorted by cidr. Skips my own node, nodes without spec.podCIDR
// or InternalIP, nodes being deleted, and malformed values (only IPv4 CIDRs and addresses). For
// vxlan also nodes without a valid k3dpp.io/vtep-mac annotation (not ready yet).
std::vector<Route> plan_routes(const std::vector<nlohmann::json>& nodes, const std::string& my_node,
                               Backend backend = Backend::kHostGw);

// What a node says about itself: its podCIDR, InternalIP and published VTEP MAC ("" when unset).
struct SelfInfo {
  std::string pod_cidr;
  std::string internal_ip;
  std::string vtep_mac;
};
// Pure: my own Node among `nodes` (empty fields when absent or malformed).
SelfInfo self_info(const std::vector<nlohmann::json>& nodes, const std::string& my_node);

// "10.42.1.0/24" -> "10.42.1.0" (the address the VXLAN device carries and routes go via).
std::string network_address(const std::string& cidr);
// A stable, locally administered unicast MAC for this node's VTEP, derived from its podCIDR
// (unique per node): "10.42.1.0/24" -> "02:6b:0a:2a:01:00". The same after a node restart.
std::string vtep_mac_for(const std::string& cidr);
bool valid_mac(const std::string& s);

struct RouteChanges {
  std::vector<Route> replace;  // new or changed gateway / VTEP
  std::vector<Route> remove;   // cidr no longer wanted, or its old VTEP MAC replaced by another
};
// Pure: what turns `current` into `desired` (both keyed by cidr).
RouteChanges diff_routes(const std::vector<Route>& current, const std::vector<Route>& desired);

bool valid_ipv4(const std::string& s);
bool valid_ipv4_cidr(const std::string& s);

}  // namespace k3dpp::podnet
