// The node agent: joins a server with the node token (docs/node-contract.md), registers its Node,
// keeps it Ready and renews its Lease in kube-node-lease. Runs standalone (`k3dpp-node agent`) or
// in-process inside `k3dpp-node server` (k3s servers are nodes too). The kubelet grows here.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/result.h"

namespace k3dpp::agent {

struct Options {
  std::string node_name;
  std::string server_url;  // "https://k3dpp-dev-server-0:6443"
  std::string token;       // the node token (contents of --token-file, trimmed)
  bool control_plane = false;  // role labels control-plane/master
  bool etcd = false;           // role label etcd (HA servers run an etcd member)
  std::map<std::string, std::string> node_labels;  // --node-label, added to the Node's labels
  nlohmann::json node_taints = nlohmann::json::array();  // --node-taint, the Node's spec.taints at registration
  std::chrono::milliseconds lease_renew_interval{10'000};
  int lease_duration_seconds = 40;
  std::chrono::milliseconds status_interval{60'000};
  std::chrono::milliseconds max_backoff{30'000};
};

// Bootstrap result: the pinned CA and this node's client certificate.
struct Credentials {
  std::string ca_pem;
  std::string cert_pem;
  std::string key_pem;
};

// GET /cacerts (unverified), checks its HMAC with the token, then POSTs node-credentials over the
// pinned CA. Error kinds: "Unauthorized" (401 on node-credentials), "TokenMismatch" (the CA's HMAC
// does not match our token, so the token was never sent), "Unavailable" (network), "Invalid".
Result<Credentials> bootstrap(const std::string& server_url, const std::string& token,
                              const std::string& node_name);

class Agent {
 public:
  explicit Agent(Options options);
  ~Agent();  // stop()
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Starts the background loop (bootstrap with backoff, register, heartbeats).
  void start();
  // Stops and joins the loop. Idempotent.
  void stop();
  // True once the Node is registered and its Lease renewed at least once.
  bool registered() const { return registered_; }

 private:
  void run();
  // Sleeps up to d; false if stop() was called.
  bool sleep_for(std::chrono::milliseconds d);

  Options options_;
  std::thread thread_;
  std::atomic<bool> registered_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
};

}  // namespace k3dpp::agent
