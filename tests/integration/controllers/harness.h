// In-process control plane for integration tests: ApiServer (temp data dir) + InProcessClient +
// ControllerManager + Scheduler + HollowNodes, and small helpers to wait on API state.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "apiserver/api_server.h"
#include "client/in_process_client.h"
#include "controllers/manager.h"
#include "hollow/hollow.h"
#include "scheduler/scheduler.h"

namespace k3dpp::testing {

using json = nlohmann::json;

struct HarnessOptions {
  int hollow_nodes = 2;
  controllers::ManagerOptions manager;
  bool scheduler = true;
  int lease_seconds = 10;
};

class Harness {
 public:
  explicit Harness(HarnessOptions o = {});
  ~Harness();

  client::ApiClient& api() { return *client_; }
  apiserver::ApiServer& server() { return *server_; }
  // Stops hollow nodes (their leases stop too) — for node lifecycle tests.
  void stop_hollow();
  hollow::HollowNodes& hollow() { return *hollow_; }

  // Polls pred every 50 ms until true or timeout; returns the last value.
  static bool wait_for(const std::function<bool()>& pred, std::chrono::milliseconds timeout);

  std::vector<json> pods(const std::string& ns, const std::string& selector = {});
  std::vector<json> replica_sets(const std::string& ns);
  json get(const client::Resource& r, const std::string& ns, const std::string& name);

 private:
  std::filesystem::path dir_;
  std::unique_ptr<apiserver::ApiServer> server_;
  std::unique_ptr<client::InProcessClient> client_;
  std::unique_ptr<controllers::ControllerManager> manager_;
  std::unique_ptr<scheduler::Scheduler> scheduler_;
  std::unique_ptr<hollow::HollowNodes> hollow_;
};

}  // namespace k3dpp::testing
