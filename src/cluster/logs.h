// `k3dpp cluster logs`: what a failing test needs to see of a cluster's containers (kind's
// `export logs`, kept to the runtime interface so it works on docker and podman alike): every
// container's own log (k3dpp-node / k3dpp-lb / registry output) and, from the nodes, containerd's
// log file (images/node/k3dpp-entrypoint writes it to kContainerdLogFile).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "runtime/runtime.h"

namespace k3dpp::cluster {

inline constexpr const char* kContainerdLogFile = "/var/log/containerd.log";

struct ContainerLogs {
  std::string container;  // k3dpp-C-server-0
  std::string role;       // server, agent, loadbalancer, registry
  std::string state;      // engine state: running, exited, created...
  std::string log;        // the container's stdout+stderr (last `tail` lines)
  std::string log_error;  // why the log could not be read ("" = read)
  // containerd's log file (nodes only; nullopt when the container has none or it is unreadable).
  std::optional<std::string> containerd_log;
};

// Last n lines of text (n <= 0: all). A missing final newline does not count as a line break.
std::string tail_lines(const std::string& text, int n);

// Servers, agents, the load balancer (ClusterState order), then the registries created with the
// cluster (--registry-create). tail <= 0: whole logs. Kind "NotFound" ("cluster 'x' not found")
// for an unknown cluster. A log that cannot be read is recorded in log_error, not a failure.
Result<std::vector<ContainerLogs>> collect_cluster_logs(runtime::Runtime& rt, const std::string& cluster, int tail);

}  // namespace k3dpp::cluster
