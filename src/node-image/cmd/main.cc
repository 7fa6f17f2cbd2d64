// k3dpp-node: the node image's multi-call binary (server, agent, version).
#include <CLI/CLI.hpp>

#include <iostream>

#include "cmd/node_commands.h"
#include "common/log.h"

int main(int argc, char** argv) {
  using namespace k3dpp;
  // Before any thread exists, so every thread inherits the mask and main() alone sigwaits.
  nodecmd::block_termination_signals();

  CLI::App app{"k3dpp-node: the k3dpp node (API server, agent)", "k3dpp-node"};
  app.require_subcommand(1);
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")->capture_default_str();

  nodecmd::ServerFlags sf;
  auto* server = app.add_subcommand("server", "Run the control plane (and this node's agent)");
  server->add_option("--node-name", sf.node_name, "Node name (default: hostname)");
  server->add_option("--cluster-name", sf.cluster_name, "Cluster name")->capture_default_str();
  server->add_option("--data-dir", sf.data_dir, "State directory")->capture_default_str();
  server->add_option("--listen", sf.listen, "HTTPS listen address host:port")->capture_default_str();
  server->add_option("--token-file", sf.token_file,
                     "Node token file (default: <data-dir>/server/token, generated)");
  server->add_option("--tls-san", sf.tls_sans, "Extra serving-certificate SAN (repeatable)");
  server->add_flag("--no-kubelet", sf.no_kubelet, "Do not run this server as a node");
  server->add_flag("--registration-only", sf.registration_only,
                   "Register and heartbeat this server's node, but run no kubelet, service proxy, cluster DNS "
                   "or pod-network routes (host-process tests: nothing touches the host's network)");
  server->add_flag("--disable-controllers", sf.no_controllers,
                   "Serve the API only: no controller manager and no scheduler");
  server->add_flag("--cluster-init", sf.cluster_init,
                   "HA: start a new embedded etcd cluster (the first server of a multi-server cluster)");
  server->add_option("--server", sf.join_server,
                     "HA: join the cluster of this existing server (https://host:port; needs --token-file)");
  server->add_option("--advertise-address", sf.advertise_address,
                     "HA: host other servers reach this one at (etcd URLs; default: first IPv4)");
  server->add_option("--etcd-listen", sf.etcd_listen, "HA: IP etcd listens on")->capture_default_str();
  server->add_option("--etcd-client-port", sf.etcd_client_port, "HA: etcd client port")->capture_default_str();
  server->add_option("--etcd-peer-port", sf.etcd_peer_port, "HA: etcd peer port")->capture_default_str();
  server->add_option("--etcd-binary", sf.etcd_binary, "HA: etcd executable")->capture_default_str();
  server->add_option("--leader-elect-lease-duration", sf.leader_lease_seconds,
                     "HA: leader election lease duration (s)")->capture_default_str();
  server->add_option("--leader-elect-renew-deadline", sf.leader_renew_ms,
                     "HA: leader election renew deadline (ms)")->capture_default_str();
  server->add_option("--leader-elect-retry-period", sf.leader_retry_ms,
                     "HA: leader election retry period (ms)")->capture_default_str();
  server->add_option("--log-level", log_level, "trace, debug, info, warn, error");

  nodecmd::AgentFlags af;
  auto* agent = app.add_subcommand("agent", "Join a server as a node");
  agent->add_option("--node-name", af.node_name, "Node name (default: hostname)");
  agent->add_option("--server", af.server, "Server URL, https://host:port")->required();
  agent->add_option("--token-file", af.token_file, "Node token file")->capture_default_str();
  agent->add_option("--hollow", af.hollow,
                    "Run N hollow nodes (no containers; test/benchmark tool). --node-name is their name prefix");
  agent->add_flag("--registration-only", af.registration_only,
                  "Register and heartbeat the node, but run no kubelet, service proxy, cluster DNS or "
                  "pod-network routes (host-process tests: nothing touches the host's network)");
  agent->add_option("--log-level", log_level, "trace, debug, info, warn, error");

  auto* version = app.add_subcommand("version", "Print the version");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  log::set_level(log_level);
  if (version->parsed()) {
    std::cout << "k3dpp-node version " << K3DPP_VERSION << " (kubernetes " << K3DPP_KUBE_VERSION
              << "-k3dpp)\n";
    return 0;
  }
  if (server->parsed()) return nodecmd::run_server(sf);
  if (agent->parsed()) return nodecmd::run_agent(af);
  return 1;
}
