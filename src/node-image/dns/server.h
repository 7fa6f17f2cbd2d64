// DnsServer: answers cluster.local (and host.k3dpp.internal, cluster reverse zones) from a Zone and
// forwards every other name to upstream resolvers (the node's /etc/resolv.conf), over UDP and TCP
// on one address and port. ClusterDns keeps the zone in step with Services and EndpointSlices.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "client/api_client.h"
#include "client/informer.h"
#include "common/result.h"
#include "dns/message.h"
#include "dns/zone.h"

namespace k3dpp::dns {

struct Upstream {
  std::string ip;
  uint16_t port = 53;
};

// "nameserver" lines of a resolv.conf (IPv4 only; IPv6 ones are skipped).
std::vector<Upstream> parse_resolv_conf(const std::string& text);
// "1.2.3.4" or "1.2.3.4:5353".
std::optional<Upstream> parse_upstream(const std::string& s);

struct DnsServerConfig {
  std::string listen_address = "0.0.0.0";
  uint16_t port = 53;  // 0 = an ephemeral port (same number for UDP and TCP)
  // Upstreams for names that are not ours; empty = the nameservers of resolv_conf, read at start().
  std::vector<Upstream> upstreams;
  std::string resolv_conf = "/etc/resolv.conf";
  std::chrono::milliseconds upstream_timeout{2000};
  size_t max_inflight = 256;  // concurrent forwards + TCP connections
  uint16_t edns_udp_size = 1232;
};

class DnsServer {
 public:
  explicit DnsServer(DnsServerConfig config);
  ~DnsServer();
  DnsServer(const DnsServer&) = delete;
  DnsServer& operator=(const DnsServer&) = delete;

  void set_zone(std::shared_ptr<const Zone> zone);
  std::shared_ptr<const Zone> zone() const;

  // Binds UDP and TCP and starts serving. Errors: address in use, permission denied, ...
  Status start();
  void stop();
  uint16_t port() const { return port_; }
  const std::vector<Upstream>& upstreams() const { return config_.upstreams; }

  // The response to one query when it can be answered here (zone, or FORMERR/NOTIMP), nullopt when
  // it must be forwarded. max_udp_size 0 = TCP (no truncation).
  std::optional<std::vector<uint8_t>> answer_locally(std::span<const uint8_t> query, size_t max_udp_size) const;
  // Forwards a query to the upstreams (UDP, or TCP when `tcp` or after a truncated UDP reply);
  // SERVFAIL when none answers.
  std::vector<uint8_t> forward(std::span<const uint8_t> query, bool tcp) const;

 private:
  void udp_loop();
  void tcp_loop();
  void serve_tcp_connection(int fd);
  bool acquire_slot();
  void release_slot();

  DnsServerConfig config_;
  mutable std::mutex zone_mu_;
  std::shared_ptr<const Zone> zone_;
  int udp_fd_ = -1;
  int tcp_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread udp_thread_;
  std::thread tcp_thread_;
  std::mutex inflight_mu_;
  std::condition_variable inflight_cv_;
  size_t inflight_ = 0;
};

// Wires a DnsServer to informers on services, endpointslices and endpoints: the zone is rebuilt
// (debounced) on every change.
class ClusterDns {
 public:
  ClusterDns(client::ApiClient& client, DnsServerConfig server_config, ZoneConfig zone_config);
  ~ClusterDns();
  Status start();
  void stop();
  DnsServer& server() { return server_; }

 private:
  void run(std::stop_token stop);

  ZoneConfig zone_config_;
  DnsServer server_;
  std::unique_ptr<client::Informer> services_;
  std::unique_ptr<client::Informer> slices_;
  std::unique_ptr<client::Informer> endpoints_;
  std::mutex mu_;
  std::condition_variable_any cv_;
  bool dirty_ = true;
  std::jthread thread_;
};

}  // namespace k3dpp::dns
