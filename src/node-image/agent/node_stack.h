// NodeStack: the pod-running side of a node (kubelet, service proxy, cluster DNS) over an HTTPS
// client with this node's own credentials (CN system:node:<name>, so the API server's node
// restriction applies exactly as it does to a standalone agent). Used by `k3dpp-node agent` and,
// in-process, by `k3dpp-node server` (k3s servers are nodes too). Node registration and Lease
// renewal stay in `Agent`; NodeStack waits for the Node to exist and for the node lifecycle
// controller to assign its spec.podCIDR, then starts, in order:
//   0. podnet::RouteManager (host-gw routes to the other nodes' podCIDRs),
//   1. ClusterDns on dns_listen:dns_port (0.0.0.0:53 in the node netns),
//   2. Proxy (iptables) with the kube-dns VIP redirect cluster_dns_ip:53 → <node IP>:dns_port,
//   3. Kubelet with the podCIDR (writes the CNI config, talks CRI to containerd).
// A component that fails to start is logged and retried (DNS/proxy/kubelet every retry interval)
// without blocking the others.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>

#include "client/api_client.h"

namespace k3dpp::agent {

struct NodeStackOptions {
  std::string node_name;
  std::string server_url;  // "https://127.0.0.1:6443"
  std::string token;
  bool run_kubelet = true;
  bool run_proxy = true;
  bool run_dns = true;
  bool run_routes = true;  // podnet host-gw routes to the other nodes' podCIDRs
  std::string node_ip;                       // "" = kubelet::detect_host_ip()
  std::string cluster_pod_cidr = "10.42.0.0/16";
  std::string cluster_dns_ip = "10.43.0.10";
  std::string dns_listen = "0.0.0.0";
  uint16_t dns_port = 53;
  std::chrono::milliseconds max_backoff{30'000};
  std::chrono::milliseconds retry{5'000};
};

// What the node stack has reached (for logs and tests).
struct NodeStackState {
  std::string pod_cidr;
  bool dns = false, proxy = false, kubelet = false;
};

class NodeStack {
 public:
  explicit NodeStack(NodeStackOptions options);
  ~NodeStack();  // stop()
  NodeStack(const NodeStack&) = delete;
  NodeStack& operator=(const NodeStack&) = delete;

  void start();  // background thread; returns at once
  void stop();   // kubelet, proxy, dns stop in that order; idempotent
  NodeStackState state() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// The IPv4 default gateway of this host from /proc/net/route ("" when none): the docker
// network's gateway inside a node container, answered for host.k3dpp.internal.
std::string default_gateway_ipv4();

}  // namespace k3dpp::agent
