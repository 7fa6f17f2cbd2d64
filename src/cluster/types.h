// Runtime-neutral domain types of the cluster layer. No engine types here: translate.h maps these
// onto runtime::ContainerSpec.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace k3dpp::cluster {

enum class Role { kServer, kAgent, kLoadBalancer };

// "server", "agent", "loadbalancer".
std::string role_name(Role r);

// Label keys and fixed names from docs/node-contract.md.
inline constexpr const char* kLabelCluster = "k3dpp.cluster";
inline constexpr const char* kLabelRole = "k3dpp.role";
inline constexpr const char* kLabelIndex = "k3dpp.node.index";
inline constexpr const char* kLabelVersion = "k3dpp.version";
inline constexpr const char* kLabelApiPort = "k3dpp.api.port";
inline constexpr const char* kLabelApiHost = "k3dpp.api.host";
inline constexpr const char* kLabelApiHostName = "k3dpp.api.hostname";  // kubeAPI.host, when given
inline constexpr const char* kLabelPorts = "k3dpp.ports";
inline constexpr const char* kLabelNetwork = "k3dpp.network";
inline constexpr const char* kLabelPodNetwork = "k3dpp.pod-network";  // host-gw | vxlan (on nodes)
inline constexpr const char* kLabelEtcd = "k3dpp.etcd";
inline constexpr const char* kLabelLbWorkerConnections = "k3dpp.lb.worker-connections";  // on the LB  // "true" on the servers of an HA (etcd) cluster
inline constexpr const char* kTokenPath = "/etc/k3dpp/token";
// HA clusters: the servers' own token (joining, the CA key), only ever put into server nodes.
inline constexpr const char* kServerTokenPath = "/etc/k3dpp/server-token";
inline constexpr const char* kAdminKubeconfigPath = "/var/lib/k3dpp/server/admin.kubeconfig";
inline constexpr const char* kLbPortsPath = "/etc/k3dpp-lb/ports.json";
inline constexpr const char* kDataDir = "/var/lib/k3dpp";
inline constexpr uint16_t kApiContainerPort = 6443;
inline constexpr size_t kMaxClusterNameLength = 32;

struct NodeSpec {
  Role role = Role::kServer;
  int index = 0;      // index within its role group (server-N / agent-N) or replica index
  std::string name;   // container name, e.g. k3dpp-dev-server-0
};

// A node filter as k3d defines it: GROUP[:SUBSET[:SUFFIX]].
//   GROUP  server|servers|agent|agents|loadbalancer|all
//   SUBSET *, N, N,M,...  or  N-M (may be combined: 0,2-3)
//   SUFFIX direct|proxy (ports only)
struct NodeFilter {
  std::string group;         // normalised: "server", "agent", "loadbalancer", "all"
  bool all_indices = true;   // subset "*" or absent
  std::vector<int> indices;  // when !all_indices, sorted and unique
  std::string suffix;        // "", "direct" or "proxy"
  std::string text;          // original text, for messages
};

// -p [HOST:][HOSTPORT:]CONTAINERPORT[/proto][@nodefilter]
struct PortMapping {
  std::string host_ip;         // "" = all addresses
  uint16_t host_port = 0;      // 0 = engine picks one
  uint16_t container_port = 0;
  std::string protocol = "tcp";
  std::vector<NodeFilter> filters;  // at least one (default: loadbalancer)
  std::string text;                 // original spec
};

// --api-port [HOST:]PORT
struct ApiPort {
  std::string host_ip = "127.0.0.1";
  uint16_t host_port = 0;  // 0 = pick a free port
  std::string host;  // name the kubeconfig uses (k3d's kubeAPI.host); "" = host_ip
};

// -v [SOURCE:]DEST[:ro|rw][@nodefilter]; SOURCE is a host path (absolute, or made absolute
// against the working directory), a named volume, or absent (a volume per node, deleted with the
// cluster).
struct VolumeMount {
  std::string host_path;  // "" = a volume per node created by k3dpp; no '/' = a named volume
  std::string node_path;
  std::string mode;  // "", "ro", "rw"
  std::vector<NodeFilter> filters;  // default: all
  std::string text;
};

// A -p mapping after its filters were resolved against the cluster's nodes: the LB forwards
// listen/protocol to every upstream node's same container port. Stored (JSON) in k3dpp.ports.
struct ResolvedPort {
  std::string host_ip;
  uint16_t host_port = 0;
  uint16_t container_port = 0;
  std::string protocol = "tcp";
  std::vector<std::string> nodes;  // upstream container names
  bool direct = false;             // published on the node itself instead of the LB
  std::string text;
};

// A flag value with node filters: -e KEY=VAL@FILTER, --runtime-label, --node-label, --k3s-arg.
struct FilteredValue {
  std::string value;                // the part before '@' ("KEY=VAL", "--tls-san=x")
  std::vector<NodeFilter> filters;  // at least one (each flag has its default)
  std::string text;                 // original spec, for messages
};

// --host-alias IP:NAME[,NAME...] (k3d's hostAliases): an /etc/hosts entry in every node.
struct HostAlias {
  std::string ip;
  std::vector<std::string> hostnames;
};

// --lb-config-override settings.KEY=VALUE (k3d's LB settings k3dpp's LB has).
struct LbSettings {
  int worker_connections = 0;  // nginx worker_connections (0 = the LB's default)
};

struct ClusterSpec {
  std::string name;
  int servers = 1;
  int agents = 0;
  std::string node_image;  // k3dpp/node:<version>
  std::string lb_image;    // k3dpp/lb:<version>
  std::string network;     // default k3dpp-NAME
  bool own_network = true; // false when --network names an existing network
  ApiPort api;
  std::vector<PortMapping> ports;
  std::vector<VolumeMount> volumes;
  bool with_lb = true;
  std::string pod_network; // "host-gw" | "vxlan"; "" = by engine (podman: vxlan, docker: host-gw)
  std::string subnet;      // --subnet CIDR of a network the cluster creates ("" = engine's choice)
  std::vector<FilteredValue> env;             // -e KEY=VALUE@FILTER (default all)
  std::vector<FilteredValue> runtime_labels;  // --runtime-label KEY=VALUE@FILTER: container labels (default all)
  std::vector<FilteredValue> node_labels;     // --node-label KEY=VALUE@FILTER: Kubernetes node labels (default all)
  std::vector<FilteredValue> node_args;       // k3dpp-node args per node (from --k3s-arg/--server-arg/--agent-arg)
  int64_t servers_memory = 0;                 // bytes, 0 = no limit
  int64_t agents_memory = 0;
  std::vector<std::pair<std::string, std::pair<int64_t, int64_t>>> ulimits;  // --runtime-ulimit NAME=SOFT:HARD
  std::vector<HostAlias> host_aliases;
  LbSettings lb_settings;
  std::string token;       // --token, else filled by the create pipeline
  std::string server_token;  // HA only (servers > 1), filled by the create pipeline
  std::string version;     // K3DPP_VERSION
};

// Names (architecture.md): k3dpp-NAME, k3dpp-NAME-server-N, k3dpp-NAME-agent-N, k3dpp-NAME-serverlb.
std::string network_name(const std::string& cluster);
std::string node_name(const std::string& cluster, Role role, int index);
std::string lb_name(const std::string& cluster);
std::string containerd_volume_name(const std::string& cluster, const std::string& container);
std::string default_node_image();
std::string default_lb_image();

// The nodes (servers then agents) a spec asks for, with names.
std::vector<NodeSpec> planned_nodes(const ClusterSpec& spec);

}  // namespace k3dpp::cluster
