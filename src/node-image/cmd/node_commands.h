// The `k3dpp-node server` and `k3dpp-node agent` commands (docs/node-contract.md). Each runs until
// SIGTERM/SIGINT, which the caller must have blocked in every thread (see main.cc); returns the
// process exit code.
#pragma once

#include <string>
#include <vector>

namespace k3dpp::nodecmd {

struct ServerFlags {
  std::string node_name;  // default: hostname
  std::string cluster_name = "k3dpp";
  std::string data_dir = "/var/lib/k3dpp";
  std::string listen = "0.0.0.0:6443";
  std::string token_file;  // default: <data-dir>/server/token, generated on first boot
  std::vector<std::string> tls_sans;
  bool no_kubelet = false;
  bool no_controllers = false;  // API only: no controller manager, no scheduler (API tests)
  bool registration_only = false;  // the node registers and heartbeats; no kubelet/proxy/dns/routes
  // HA (embedded etcd, cmd/ha_bootstrap.h): the first server --cluster-init, the others --server.
  bool cluster_init = false;
  std::string join_server;        // https://host:port of an existing server
  std::string advertise_address;  // etcd peer/client host (default: this host's first IPv4)
  std::string etcd_listen = "0.0.0.0";
  int etcd_client_port = 2379;
  int etcd_peer_port = 2380;
  std::string etcd_binary = "etcd";
  // Leader election of the controllers and scheduler on HA servers (kube-controller-manager's).
  int leader_lease_seconds = 15;
  int leader_renew_ms = 10'000;
  int leader_retry_ms = 2'000;
};

struct AgentFlags {
  std::string node_name;  // default: hostname
  std::string server;     // https://host:port
  std::string token_file = "/etc/k3dpp/token";
  int hollow = 0;  // > 0: run this many hollow nodes instead (test/benchmark tool)
  bool registration_only = false;  // the node registers and heartbeats; no kubelet/proxy/dns/routes
};

int run_server(const ServerFlags& flags);
int run_agent(const AgentFlags& flags);

// Waits for SIGTERM, SIGINT or SIGHUP (blocked beforehand); returns the signal number.
int wait_for_termination();
// Blocks the termination signals in the calling thread (and threads it starts later).
void block_termination_signals();

}  // namespace k3dpp::nodecmd
