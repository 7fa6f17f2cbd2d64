// Pure translation of domain types into runtime::ContainerSpec, and the LB ports file.
// Everything here is deterministic and golden-tested (tests/unit/cluster).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "cluster/parse.h"
#include "cluster/types.h"
#include "common/result.h"
#include "runtime/runtime.h"

namespace k3dpp::cluster {

// What every container of one cluster shares.
struct NodeContext {
  std::string cluster;
  std::string network;
  std::string image;    // node image (or LB image for lb_container)
  std::string version;  // K3DPP_VERSION, label k3dpp.version
  std::string pod_network;  // nodes: env K3DPP_POD_NETWORK + label k3dpp.pod-network ("" = none)
};

// HA (etcd) clusters: what node containers get on top of node_container().
struct HaContext {
  bool ha = false;
  std::string join_url;          // https://k3dpp-NAME-server-0:6443 (or the LB)
  std::string agent_server_url;  // agents' --server ("" = unchanged: server-0)
};

// Servers: label k3dpp.etcd=true, `--advertise-address NODE --server-token-file
// /etc/k3dpp/server-token` (the caller puts that file into servers only), then `--cluster-init` (index 0
// with no join_url) or `--server join_url`. Agents: --server agent_server_url when set.
void apply_ha(runtime::ContainerSpec& spec, const NodeSpec& node, const HaContext& ha);

// Server/agent container per docs/node-contract.md: --init, CapAdd ALL, CapDrop SYS_RESOURCE,
// seccomp/apparmor unconfined, tmpfs /run and /tmp, containerd volume, ip_forward sysctl, ulimits,
// labels, and the k3dpp-node command. Never privileged.
runtime::ContainerSpec node_container(const NodeContext& ctx, const NodeSpec& node,
                                      const std::vector<std::string>& extra_binds,
                                      const std::vector<runtime::PortBinding>& ports);

// The k3dpp-node command line (without the binary; the image entrypoint execs k3dpp-node "$@").
std::vector<std::string> server_command(const std::string& cluster, const std::string& node);
std::vector<std::string> agent_command(const std::string& cluster, const std::string& node);

// What one node (or the LB) gets from the filtered options of a ClusterSpec.
struct NodeExtras {
  std::vector<std::string> env;         // KEY=VALUE
  runtime::Labels runtime_labels;       // container labels
  std::vector<std::string> node_args;   // k3dpp-node args: --node-label=K=V, --tls-san=X, ...
  int64_t memory = 0;
  std::vector<std::string> warnings;    // filters that hit the LB for node-only options
};

// Resolves the filters of spec.env, runtime_labels, node_labels and node_args against nodes
// (servers, agents and, when present, the LB) and adds the memory limits by role. Errors: a
// filter that matches no node, a server-only argument (--tls-san) on an agent, a runtime label
// that would replace a k3dpp.* label.
Result<std::map<std::string, NodeExtras>> node_extras(const ClusterSpec& spec, const std::vector<FilterNode>& nodes);

// Puts extras, spec.ulimits and spec.host_aliases into a node container (node_args only for
// servers and agents).
void apply_extras(runtime::ContainerSpec& cs, const NodeExtras& extras, const ClusterSpec& spec);

// k3d's --k3s-arg values mapped onto k3dpp-node: --tls-san (servers), --node-label, --node-taint
// become node args; --flannel-backend=vxlan|host-gw chooses the pod network; --disable=traefik (or
// ingress) becomes k3dpp-node's --disable=ingress, --disable=metrics-server is accepted (a note); anything else is
// refused naming the argument.
struct MappedK3sArg {
  std::string node_arg;     // "--tls-san=x" ("" = none)
  std::string pod_network;  // from --flannel-backend
  std::string note;         // accepted without effect, and why
};
Result<MappedK3sArg> map_k3s_arg(const std::string& arg);

// Load balancer k3dpp-NAME-serverlb: publishes api.host_ip:api.host_port -> 6443 and every
// proxied -p mapping host -> same LB port; carries k3dpp.api.port and k3dpp.ports labels.
runtime::ContainerSpec lb_container(const NodeContext& ctx, const ApiPort& api,
                                    const std::vector<ResolvedPort>& ports);

// The LB's ports file (contract format): 6443/tcp -> every server's :6443, then one entry per
// listen port/protocol of the proxied mappings, upstreams NODE:PORT; nodes not in `existing`
// (when non-empty) are dropped, and entries left without upstreams are omitted.
// worker_connections > 0 adds {"settings": {"workerConnections": N}} (--lb-config-override).
std::string render_ports_json(const std::vector<std::string>& servers, const std::vector<ResolvedPort>& ports,
                              const std::vector<std::string>& existing = {}, int worker_connections = 0);
// The LB's worker connections as its k3dpp.lb.worker-connections label records them (0 = none).
int lb_worker_connections(const runtime::Labels& lb_labels);

// k3dpp.ports label: the resolved -p mappings as JSON, and back.
std::string ports_label(const std::vector<ResolvedPort>& ports);
Result<std::vector<ResolvedPort>> parse_ports_label(const std::string& json);

// Checks that no proxied mapping claims the LB's API port (6443/tcp).
Status check_lb_port_conflicts(const std::vector<ResolvedPort>& ports);

}  // namespace k3dpp::cluster
