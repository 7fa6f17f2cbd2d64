// TEST AND BENCHMARK TOOL — hollow nodes (like kubemark/kwok): N fake nodes that register Node
// objects, renew their Leases, mark pods bound to them Running/Ready without running any
// container, and finish graceful deletions. Never use this as a real kubelet.
#pragma once

#include <memory>
#include <string>

#include "client/api_client.h"
#include "common/result.h"

namespace k3dpp::hollow {

struct Options {
  int nodes = 1;
  std::string name_prefix = "hollow-node-";  // nodes hollow-node-0 .. N-1
  int first_index = 0;  // pod IPs 10.42.<first_index + i>.x until the node controller set a podCIDR
  std::string cpu = "4", memory = "8Gi", pods = "110";
  int lease_seconds = 10;
  int status_workers = 4;  // pods whose status is posted in parallel
};

class HollowNodes {
 public:
  HollowNodes(client::ApiClient& client, Options options);
  ~HollowNodes();
  Status start();  // registers the nodes, then runs leases and the pod loop in threads
  void stop();
  // Simulates a lost node (no Lease renewals, bound pods left as they are) and its return
  // (Leases again, NodeReady posted True again as a kubelet does when its status differs).
  void kill_node(int index);
  void revive_node(int index);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace k3dpp::hollow
