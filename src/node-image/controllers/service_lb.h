// Service load balancer (k3s servicelb / klipper-lb semantics), pure part: which LoadBalancer
// Services every node serves on their `port`, and the status.loadBalancer.ingress they get.
//
// Every node accepts a served service's ports on its own address (the proxy's iptables rules do
// the forwarding, like a hostPort); the ingress lists the Ready nodes' addresses. A port can be
// served once per protocol: a service whose port is already taken (by an older LoadBalancer
// service, a NodePort, or a port the node itself listens on) stays pending, with the reason.
#pragma once

#include <string>
#include <vector>

#include "controllers/util.h"

namespace k3dpp::controllers {

// A port the node itself listens on; a LoadBalancer port equal to it would hijack the node.
struct ReservedPort {
  int port = 0;
  std::string protocol;  // "TCP" / "UDP"
  std::string owner;     // "the API server"
};

// The node ports k3dpp-node listens on (API server, kubelet endpoint, node-local DNS).
const std::vector<ReservedPort>& node_reserved_ports();

struct LoadBalancerPlan {
  std::string ns;
  std::string name;
  // Desired status.loadBalancer.ingress ([{"ip": "...", "ipMode": "VIP"}], sorted); empty =
  // pending.
  json ingress = json::array();
  // Why the service is pending ("" when served, or when only no node has an address yet).
  std::string conflict;
};

// True when this controller owns the service: type LoadBalancer without a loadBalancerClass.
bool is_managed_load_balancer(const json& service);

// The addresses a LoadBalancer service is published on: ExternalIP (else InternalIP) of every
// Ready node, sorted; every node's when none is Ready (a cluster that is still starting).
std::vector<std::string> load_balancer_addresses(const std::vector<const json*>& nodes);

// One plan per managed service (every service of any type is needed to see NodePort clashes).
// Ports are given out per (port, protocol): services already serving it (they have an ingress)
// keep it, then the oldest (creationTimestamp, then namespace/name) wins.
std::vector<LoadBalancerPlan> plan_load_balancers(const std::vector<const json*>& services,
                                                  const std::vector<const json*>& nodes,
                                                  const std::vector<ReservedPort>& reserved);

}  // namespace k3dpp::controllers
