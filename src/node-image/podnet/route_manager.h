// RouteManager: keeps this node's routes to the other nodes' pod CIDRs in line with the Nodes
// (an Informer on nodes). Changes are debounced; at start every route is (re)programmed (a
// restarted node container has a fresh network namespace), and every `resync` the whole set is
// replaced again (routes removed behind our back come back).
//
// Wiring (agent/cmd): podnet::RouteManager routes(api, node_name); routes.start(); ... routes.stop();
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "client/api_client.h"
#include "client/informer.h"
#include "common/result.h"
#include "podnet/routes.h"

namespace k3dpp::podnet {

// Where routes go: `ip route` in production, a recorder in tests.
class RouteProgrammer {
 public:
  virtual ~RouteProgrammer() = default;
  // Before any route (every full sync, so a fresh netns gets it again): the backend's own device.
  // Returns the VTEP MAC this node must publish ("" for host-gw: nothing to publish).
  virtual Result<std::string> prepare(const std::string& local_ip, const std::string& pod_cidr) {
    (void)local_ip;
    (void)pod_cidr;
    return std::string();
  }
  virtual Status replace(const Route& r) = 0;  // ip route replace CIDR via IP
  virtual Status remove(const Route& r) = 0;   // ip route del CIDR (missing route = success)
};

// host-gw: runs /sbin/ip (no shell).
std::unique_ptr<RouteProgrammer> ip_command_programmer(std::string ip_binary = "ip");
// vxlan: runs ip and bridge (no shell). prepare() (re)creates kVxlanDevice (VNI kVxlanVni, UDP
// kVxlanPort, local = the node IP, nolearning, MTU kVxlanMtu, MAC vtep_mac_for(podCIDR), address
// network_address(podCIDR)/32) unless one with those settings exists; replace() programs
//   ip route replace CIDR via NET dev k3dpp.42 onlink
//   ip neigh replace NET lladdr MAC dev k3dpp.42 nud permanent
//   bridge fdb replace MAC dev k3dpp.42 dst VTEP-IP
// and remove() deletes those three (missing entries = success).
std::unique_ptr<RouteProgrammer> vxlan_command_programmer(std::string ip_binary = "ip",
                                                          std::string bridge_binary = "bridge");

struct RouteManagerOptions {
  Backend backend = Backend::kHostGw;
  std::chrono::milliseconds debounce{200};
  std::chrono::milliseconds resync{30000};
  std::shared_ptr<RouteProgrammer> programmer;  // null: ip_command_programmer() / vxlan_command_programmer()
};

class RouteManager {
 public:
  RouteManager(client::ApiClient& api, std::string my_node_name, RouteManagerOptions options = {});
  ~RouteManager();
  RouteManager(const RouteManager&) = delete;
  RouteManager& operator=(const RouteManager&) = delete;

  // vxlan: also creates the VXLAN device once this Node has a podCIDR and an InternalIP, and
  // publishes its MAC in the Node annotation k3dpp.io/vtep-mac (merge patch of its own Node).
  Status start();
  void stop();

  // The routes programmed so far (sorted by cidr).
  std::vector<Route> routes() const;
  // Waits until a sync has run after this call (tests).
  bool wait_for_sync(std::chrono::milliseconds timeout);

 private:
  void kick();
  void run(std::stop_token st);
  void sync(bool full);

  client::ApiClient& api_;
  std::string me_;
  RouteManagerOptions opts_;
  std::unique_ptr<client::Informer> informer_;
  mutable std::mutex mu_;
  std::condition_variable_any cv_;
  bool dirty_ = true;
  unsigned long syncs_ = 0;
  std::vector<Route> programmed_;
  std::string prepared_;  // vxlan: "IP podCIDR" the device was last prepared for
  std::jthread worker_;
};

}  // namespace k3dpp::podnet
