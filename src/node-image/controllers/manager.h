// ControllerManager: starts every controller of `k3dpp-node server` on one ApiClient (normally the
// in-process client over ApiServer::handle) with shared informers.
//
// Controllers: replicaset, deployment, garbagecollector (background/foreground/orphan), namespace
// (optional; the API server has a built-in finalizer), endpoints + endpointslices, node lifecycle
// (pod CIDRs, Lease-based NotReady, taints, eviction), persistentvolume binder + local-path
// StorageClass/provisioner.
#pragma once

#include <chrono>
#include <memory>

#include "client/api_client.h"
#include "common/result.h"

namespace k3dpp::controllers {

struct ManagerOptions {
  int replicaset_workers = 2;
  int deployment_workers = 2;
  int job_workers = 2;                // Jobs (and their TTL after finished)
  bool garbage_collector = true;
  bool namespace_controller = false;  // true once the API server's built-in finalizer is off
  bool endpoints = true;
  bool node_lifecycle = true;
  bool storage = true;                // PV binder, local-path StorageClass and provisioner
  std::chrono::seconds node_monitor_grace{40};   // NotReady after this long without a Lease renewal
  std::chrono::seconds default_toleration{300};  // eviction delay without a pod toleration
  std::string pod_cidr_prefix = "10.42.";        // node N gets 10.42.N.0/24
  std::chrono::seconds cache_sync_timeout{30};
};

class ControllerManager {
 public:
  explicit ControllerManager(client::ApiClient& client, ManagerOptions options = {});
  ~ControllerManager();
  ControllerManager(const ControllerManager&) = delete;
  ControllerManager& operator=(const ControllerManager&) = delete;

  // Starts the informers and the controllers; returns once the caches are loaded (error
  // "Timeout" if they are not within cache_sync_timeout).
  Status start();
  void stop();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace k3dpp::controllers
