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
  virtual Status replace(const Route& r) = 0;  // ip route replace CIDR via IP
  virtual Status remove(const Route& r) = 0;   // ip route del CIDR (missing route = success)
};

// Runs /sbin/ip (no shell).
std::unique_ptr<RouteProgrammer> ip_command_programmer(std::string ip_binary = "ip");

struct RouteManagerOptions {
  Backend backend = Backend::kHostGw;
  std::chrono::milliseconds debounce{200};
  std::chrono::milliseconds resync{30000};
  std::shared_ptr<RouteProgrammer> programmer;  // null: ip_command_programmer()
};

class RouteManager {
 public:
  RouteManager(client::ApiClient& api, std::string my_node_name, RouteManagerOptions options = {});
  ~RouteManager();
  RouteManager(const RouteManager&) = delete;
  RouteManager& operator=(const RouteManager&) = delete;

  // Error for the vxlan backend (not implemented yet).
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
  std::jthread worker_;
};

}  // namespace k3dpp::podnet
