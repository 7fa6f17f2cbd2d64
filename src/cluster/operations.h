// The cluster layer's commands: plain functions that take the runtime (and host probes) as
// parameters, like k3d's pkg/client. Progress goes to the "cluster" logger (stderr); data is
// returned to the caller (the CLI prints it).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "cluster/probes.h"
#include "cluster/registry.h"
#include "cluster/state.h"
#include "cluster/types.h"
#include "common/result.h"
#include "runtime/runtime.h"

namespace k3dpp::cluster {

struct KubeconfigOptions {
  bool update_default = true;   // --kubeconfig-update-default
  bool switch_context = true;   // --kubeconfig-switch-context
  std::string path;             // "" = default_kubeconfig_path()
};

struct CreateOptions {
  ClusterSpec spec;             // name, servers, agents, images, ports, volumes, api, network
  bool wait = true;             // wait for every node Ready
  std::chrono::seconds timeout{120};
  bool rollback = true;         // --no-rollback turns it off
  KubeconfigOptions kubeconfig;
  std::optional<RegistryRef> registry_create;  // --registry-create NAME[:[HOST:]PORT]
  std::vector<RegistryRef> registry_use;       // --registry-use NAME[:PORT]
};

struct CreateResult {
  std::string kubeconfig;       // the cluster's own kubeconfig (k3dpp names)
  uint16_t api_port = 0;
};

// Preflight (engine, name, duplicates, images, filters, host ports) then the pipeline:
// network, volumes, nodes (token put before start), LB (ports.json put before start), start
// servers, agents, helpers, API readiness through the published API port, nodes Ready, kubeconfig.
// Any failure removes everything created unless opts.rollback is false.
Result<CreateResult> create_cluster(runtime::Runtime& rt, const CreateOptions& opts, const HostProbes& probes);

// Deletes containers, volumes, the cluster's own network and kubeconfig entries.
// A cluster that does not exist is reported (info) and is not an error, as in k3d.
Status delete_cluster(runtime::Runtime& rt, const std::string& name, const KubeconfigOptions& kc);
// Names of every cluster (for delete --all).
Result<std::vector<std::string>> cluster_names(runtime::Runtime& rt);

Status start_cluster(runtime::Runtime& rt, const std::string& name, bool wait, std::chrono::seconds timeout,
                     const HostProbes& probes);
Status stop_cluster(runtime::Runtime& rt, const std::string& name);

// cluster edit NAME --port-add/--port-delete: recreates the LB with the new mappings.
Status edit_cluster_ports(runtime::Runtime& rt, const std::string& name, const std::vector<PortMapping>& add,
                          const std::vector<PortMapping>& del, const HostProbes& probes);

// The cluster's kubeconfig (read from a server's admin.kubeconfig, renamed).
Result<std::string> get_kubeconfig(runtime::Runtime& rt, const std::string& name);
// Merges it into the file (path "" = default) and optionally switches context; returns the path.
Result<std::string> merge_kubeconfig_for(runtime::Runtime& rt, const std::string& name, const KubeconfigOptions& kc);


// ---- nodes ----
struct NodeCreateOptions {
  std::string name;             // node name; containers k3dpp-NAME-0..
  Role role = Role::kAgent;
  std::string cluster;
  int replicas = 1;
  std::string image;            // "" = the image of the cluster's first server
  bool wait = true;
  std::chrono::seconds timeout{120};
  bool rollback = true;
  int64_t memory = 0;                           // --memory (bytes)
  std::vector<std::string> node_labels;         // --node-label KEY[=VALUE] (Kubernetes labels)
  runtime::Labels runtime_labels;               // --runtime-label KEY=VALUE (container labels)
  std::vector<std::pair<std::string, std::pair<int64_t, int64_t>>> ulimits;  // --runtime-ulimit
  std::vector<std::string> networks;            // -n: more networks to connect the nodes to
  std::string token;                            // -t: must be the cluster's token ("" = read it)
};
Status create_nodes(runtime::Runtime& rt, const NodeCreateOptions& opts, const HostProbes& probes);
Status delete_node(runtime::Runtime& rt, const std::string& container);
Status start_node(runtime::Runtime& rt, const std::string& container);
Status stop_node(runtime::Runtime& rt, const std::string& container);
Result<std::vector<NodeState>> list_nodes(runtime::Runtime& rt);

// Renders the LB's ports.json from the cluster's current servers and its k3dpp.ports label,
// puts it into the LB and (when running) execs `k3dpp-lb reload`.
Status update_lb(runtime::Runtime& rt, const ClusterState& cs);

}  // namespace k3dpp::cluster
