// Proxy: keeps the node's iptables service rules in step with Services and EndpointSlices
// (Endpoints as a fallback), one iptables-restore --noflush transaction per change, debounced.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "client/api_client.h"
#include "client/informer.h"
#include "common/result.h"
#include "proxy/rules.h"

namespace k3dpp::proxy {

// How to reach iptables: command prefixes (tests use {"ip","netns","exec",NS,"iptables-restore"}).
struct IptablesCommands {
  std::vector<std::string> restore = {"iptables-restore"};
  std::vector<std::string> save = {"iptables-save"};
};

// Applies a ProxyState: reads `iptables-save` once to find which jump rules already exist and which
// of our SVC/SEP chains are stale, then writes the whole ruleset in one iptables-restore --noflush
// transaction. Only our chains are touched.
class RuleSyncer {
 public:
  explicit RuleSyncer(IptablesCommands cmds = {}) : cmds_(std::move(cmds)) {}
  Status apply(const ProxyState& state);
  // The text of the last successful apply.
  const std::string& last_rules() const { return last_rules_; }

 private:
  IptablesCommands cmds_;
  std::string last_rules_;
};

struct ProxyConfig {
  std::string pod_cidr = "10.42.0.0/16";
  // Redirect of the kube-dns VIP to the node-local DNS server (target_ip "" = no redirect).
  DnsRedirect dns;
  IptablesCommands iptables;
  // Events are coalesced for this long before one apply (changes land well within one second).
  std::chrono::milliseconds debounce{100};
  // Full re-apply this often even without events (repairs rules removed by someone else).
  std::chrono::milliseconds resync{std::chrono::seconds(60)};
  // Set net.bridge.bridge-nf-call-iptables=1 at start (bridged pod-to-pod service replies need it).
  bool set_bridge_nf_call_iptables = true;
  // Retry delay after a failed apply.
  std::chrono::milliseconds retry{std::chrono::seconds(1)};
};

class Proxy {
 public:
  Proxy(client::ApiClient& client, ProxyConfig config);
  ~Proxy();
  Proxy(const Proxy&) = delete;
  Proxy& operator=(const Proxy&) = delete;

  // Starts the informers and the sync thread; the first apply happens once the informers have
  // synced (or after 10 s) and always rebuilds every rule (a restarted node has a fresh netns).
  void start();
  void stop();
  // The state the informers currently describe.
  ProxyState current_state() const;
  // Number of successful applies so far (for tests and metrics).
  size_t applies() const;
  // The services of namespace `ns` as the informer has them; nullopt until it has synced.
  std::optional<std::vector<json>> services_in(const std::string& ns) const;

 private:
  void run(std::stop_token stop);
  void mark_dirty();

  ProxyConfig config_;
  RuleSyncer syncer_;
  std::unique_ptr<client::Informer> services_;
  std::unique_ptr<client::Informer> slices_;
  std::unique_ptr<client::Informer> endpoints_;
  mutable std::mutex mu_;
  std::condition_variable_any cv_;
  bool dirty_ = true;
  size_t applies_ = 0;
  std::jthread thread_;
};

}  // namespace k3dpp::proxy
