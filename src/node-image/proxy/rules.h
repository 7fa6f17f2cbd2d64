// Service proxy rules: a pure model of what the node must forward (ProxyState, built from
// Services and EndpointSlices/Endpoints) and the iptables-restore text that implements it, in
// kube-proxy's iptables-mode style with our own chain names.
#pragma once

#include <nlohmann/json.hpp>

#include <set>
#include <string>
#include <vector>

namespace k3dpp::proxy {

using json = nlohmann::json;

// Our chains. nat: SERVICES, NODEPORTS, POSTROUTING, MARK-MASQ, SVC-*, SEP-*.
// filter: SERVICES (rejects for ClusterIPs), EXTERNAL-SERVICES (rejects for NodePorts), FORWARD.
inline constexpr const char* kServicesChain = "K3DPP-SERVICES";
inline constexpr const char* kNodePortsChain = "K3DPP-NODEPORTS";
inline constexpr const char* kPostroutingChain = "K3DPP-POSTROUTING";
inline constexpr const char* kMarkMasqChain = "K3DPP-MARK-MASQ";
inline constexpr const char* kExternalServicesChain = "K3DPP-EXTERNAL-SERVICES";
inline constexpr const char* kForwardChain = "K3DPP-FORWARD";
inline constexpr const char* kMasqMark = "0x4000/0x4000";

struct EndpointAddr {
  std::string ip;
  int port = 0;
  bool operator==(const EndpointAddr&) const = default;
};

struct ServicePortState {
  std::string name;      // port name ("" for a single unnamed port)
  std::string protocol;  // "TCP", "UDP" or "SCTP"
  int port = 0;          // the ClusterIP port
  int node_port = 0;     // 0 = none
  std::vector<EndpointAddr> endpoints;  // ready endpoints only, sorted
};

struct ServiceState {
  std::string ns;
  std::string name;
  std::string cluster_ip;  // "" or "None" = no ClusterIP rules (headless)
  bool client_ip_affinity = false;
  int affinity_timeout_seconds = 10800;
  // A LoadBalancer service the service-lb controller admitted (status.loadBalancer.ingress set, no
  // loadBalancerClass): every node also accepts its ports on its own addresses (klipper-lb style).
  bool load_balancer = false;
  std::vector<ServicePortState> ports;
};

// The cluster DNS service's VIP, redirected to the node-local DNS server for udp and tcp.
struct DnsRedirect {
  std::string cluster_ip = "10.43.0.10";
  int port = 53;
  std::string target_ip;  // the node-local server's address ("" = no redirect)
  int target_port = 53;
};

struct ProxyState {
  std::string pod_cidr = "10.42.0.0/16";
  DnsRedirect dns;
  std::vector<ServiceState> services;  // sorted by ns/name
};

// Builds the state from Service objects and, per service, its EndpointSlices (label
// kubernetes.io/service-name) or, when a service has no slice, its Endpoints object. Only ready
// endpoints are kept (EndpointSlice conditions.ready absent counts as ready).
ProxyState build_state(const std::vector<json>& services, const std::vector<json>& endpoint_slices,
                       const std::vector<json>& endpoints, const std::string& pod_cidr, const DnsRedirect& dns);

// "K3DPP-SVC-" + 16 base32 characters of sha256("ns/name:port/protocol"); same for "K3DPP-SEP-"
// with the endpoint appended.
std::string service_chain(const ServiceState& svc, const ServicePortState& port);
std::string endpoint_chain(const ServiceState& svc, const ServicePortState& port, const EndpointAddr& ep);

// A jump from a built-in chain to one of ours ("nat", "PREROUTING", "-j K3DPP-SERVICES").
struct JumpRule {
  std::string table;
  std::string chain;
  std::string spec;  // rule after "-A CHAIN ", e.g. "-m conntrack --ctstate NEW -j K3DPP-SERVICES"
  std::string target() const;
};
const std::vector<JumpRule>& jump_rules();
// The jump rules already present in `iptables-save` output (matched by table, chain and target).
std::vector<JumpRule> present_jumps(const std::string& iptables_save_output);

// The full iptables-restore input (use with --noflush): declares (and so flushes) every chain of
// ours, fills them, and inserts each jump rule not listed in `present` at the top of its built-in
// chain. Stale SVC/SEP chains of an earlier state are passed in `stale_chains` and deleted (-X).
std::string render_rules(const ProxyState& state, const std::vector<JumpRule>& present = {},
                         const std::set<std::string>& stale_chains = {});

// Every SVC/SEP chain name the state uses (to compute stale chains on the next render).
std::set<std::string> dynamic_chains(const ProxyState& state);
// Our SVC/SEP chains listed in `iptables-save -t nat` output.
std::set<std::string> dynamic_chains_in_save(const std::string& iptables_save_output);

}  // namespace k3dpp::proxy
