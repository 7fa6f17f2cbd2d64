#include "agent/node_stack.h"

#include "nodeapi/node_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string_view>

#include "agent/agent.h"
#include "client/https_client.h"
#include "common/log.h"
#include "dns/server.h"
#include "kubelet/kubelet.h"
#include "podnet/route_manager.h"
#include "proxy/proxy.h"

namespace k3dpp::agent {

namespace {

std::shared_ptr<spdlog::logger> logger() {
  static auto l = log::get("agent");
  return l;
}

// glibc gives every thread that allocates its own arena (up to 8 per core), each keeping the
// memory its thread freed: with a kubelet worker thread per pod the agent's RSS grew ~0.3 MiB per
// pod. Two arenas suffice for our thread counts. Set before main(), so before any thread exists,
// in every process that links the node stack (k3dpp-node).
// `k3dpp-node agent` (kubelet, proxy, dns: little CPU, RSS counted per node) keeps one arena, so
// no memory sits free in a second arena's heap; the server and hollow agents (many busy threads)
// keep two.
int arena_max_for_this_process() {
  char buf[4096] = {};
  int fd = ::open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 2;
  ssize_t n = ::read(fd, buf, sizeof(buf) - 1);
  ::close(fd);
  if (n <= 0) return 2;
  // NUL-separated arguments: argv[1] must be "agent", and no "--hollow" anywhere.
  bool agent = false;
  int index = 0;
  for (size_t pos = 0; pos < static_cast<size_t>(n); ++index) {
    std::string_view arg(buf + pos);
    if (index == 1) agent = arg == "agent";
    if (arg.substr(0, 8) == "--hollow") return 2;
    pos += arg.size() + 1;
  }
  return agent ? 1 : 2;
}
[[maybe_unused]] const bool kMallocArenasLimited = mallopt(M_ARENA_MAX, arena_max_for_this_process()) == 1;

}  // namespace

std::string default_gateway_ipv4() {
  std::ifstream in("/proc/net/route");
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string iface, dest, gw;
    if (!(fields >> iface >> dest >> gw)) continue;
    if (dest != "00000000") continue;
    unsigned long v = std::stoul(gw, nullptr, 16);
    in_addr a{};
    a.s_addr = static_cast<uint32_t>(v);  // /proc/net/route is in network byte order already
    char buf[INET_ADDRSTRLEN] = {0};
    inet_ntop(AF_INET, &a, buf, sizeof buf);
    return buf;
  }
  return {};
}

struct NodeStack::Impl {
  explicit Impl(NodeStackOptions o) : opts(std::move(o)) {}

  NodeStackOptions opts;
  mutable std::mutex mu;
  std::condition_variable_any cv;
  NodeStackState st;
  std::unique_ptr<client::HttpsClient> api;
  std::unique_ptr<dns::ClusterDns> dns;
  std::unique_ptr<proxy::Proxy> proxy;
  std::unique_ptr<kubelet::Kubelet> kubelet;
  // The node's :10250 endpoint (logs, exec, attach, port-forward); destroyed before the kubelet.
  std::unique_ptr<nodeapi::NodeBackend> node_backend;
  std::unique_ptr<nodeapi::NodeServer> node_api;
  std::unique_ptr<podnet::RouteManager> routes;
  std::jthread thread;

  bool sleep_for(std::chrono::milliseconds d, std::stop_token stop) {
    std::unique_lock<std::mutex> l(mu);
    cv.wait_for(l, stop, d, [] { return false; });
    return !stop.stop_requested();
  }

  void run(std::stop_token stop) {
    auto lg = logger();
    const auto& o = opts;
    // 1. Credentials of this node (the same bootstrap as the registering Agent).
    std::chrono::milliseconds backoff{1000};
    Credentials creds;
    for (;;) {
      auto c = bootstrap(o.server_url, o.token, o.node_name);
      if (c) {
        creds = std::move(*c);
        break;
      }
      lg->warn("node {}: kubelet/proxy/dns cannot obtain credentials from {}: {}", o.node_name, o.server_url,
               c.error().message);
      if (!sleep_for(backoff, stop)) return;
      backoff = std::min(backoff * 2, o.max_backoff);
    }
    client::HttpsOptions ho;
    ho.server = o.server_url;
    ho.ca_pem = creds.ca_pem;
    ho.cert_pem = creds.cert_pem;
    ho.key_pem = creds.key_pem;
    api = std::make_unique<client::HttpsClient>(ho);

    // 2. The podCIDR the node lifecycle controller assigns after registration.
    std::string cidr;
    for (;;) {
      auto r = kubelet::wait_for_pod_cidr(*api, o.node_name, std::chrono::seconds(30), stop);
      if (r) {
        cidr = *r;
        break;
      }
      if (r.error().is("Cancelled")) return;
      lg->warn("{} (is the node lifecycle controller running?); still waiting", r.error().message);
    }
    const std::string node_ip = o.node_ip.empty() ? kubelet::detect_host_ip() : o.node_ip;
    lg->info("node {}: podCIDR {}, node IP {}; starting dns, proxy, kubelet", o.node_name, cidr, node_ip);
    {
      std::lock_guard<std::mutex> l(mu);
      st.pod_cidr = cidr;
    }

    // 3. Components, each retried until it starts.
    bool dns_up = !o.run_dns, proxy_up = !o.run_proxy, kubelet_up = !o.run_kubelet, routes_up = !o.run_routes;
    while (!stop.stop_requested()) {
      if (!routes_up) {
        // The backend comes from the node container's K3DPP_POD_NETWORK (set by the CLI:
        // host-gw on docker, vxlan on podman; docs/node-contract.md).
        const char* env = std::getenv("K3DPP_POD_NETWORK");
        std::string backend_name = env != nullptr ? env : "";
        auto backend = podnet::parse_backend(backend_name);
        if (!backend) {
          lg->error("node {}: K3DPP_POD_NETWORK: {}; using host-gw", o.node_name, backend.error().message);
          backend_name = "host-gw";
        }
        if (backend_name.empty()) backend_name = "host-gw";
        podnet::RouteManagerOptions ro;
        ro.backend = backend ? *backend : podnet::Backend::kHostGw;
        auto r = std::make_unique<podnet::RouteManager>(*api, o.node_name, ro);
        if (auto s = r->start(); !s) {
          lg->error("node {}: pod network routes: {}", o.node_name, s.error().message);
        } else {
          lg->info("pod network routes ({}) to the other nodes' podCIDRs managed", backend_name);
          routes = std::move(r);
          routes_up = true;
        }
      }
      if (!dns_up) {
        dns::DnsServerConfig sc;
        sc.listen_address = o.dns_listen;
        sc.port = o.dns_port;
        dns::ZoneConfig zc;
        zc.host_gateway_ip = default_gateway_ipv4();
        auto d = std::make_unique<dns::ClusterDns>(*api, sc, zc);
        if (auto s = d->start(); !s) {
          lg->error("node {}: cluster DNS on {}:{}: {}", o.node_name, o.dns_listen, o.dns_port, s.error().message);
        } else {
          lg->info("cluster DNS listening on {}:{} (udp, tcp)", o.dns_listen, d->server().port());
          dns = std::move(d);
          dns_up = true;
        }
      }
      if (!proxy_up) {
        proxy::ProxyConfig pc;
        pc.pod_cidr = o.cluster_pod_cidr;
        pc.dns.cluster_ip = o.cluster_dns_ip;
        pc.dns.target_ip = o.run_dns ? node_ip : "";
        pc.dns.target_port = o.dns_port;
        proxy = std::make_unique<proxy::Proxy>(*api, pc);
        proxy->start();
        lg->info("service proxy started ({} :53 → {}:{})", o.cluster_dns_ip, node_ip, o.dns_port);
        proxy_up = true;
      }
      if (!kubelet_up) {
        kubelet::KubeletOptions ko;
        ko.node_name = o.node_name;
        ko.pod_cidr = cidr;
        ko.host_ip = node_ip;
        // Service env vars from the proxy's informer (stopped after the kubelet) instead of a
        // LIST per container start.
        if (proxy) ko.cached_services = [p = proxy.get()](const std::string& ns) { return p->services_in(ns); };
        auto k = std::make_unique<kubelet::Kubelet>(*api, ko);
        if (auto s = k->start(); !s) {
          lg->error("node {}: {}", o.node_name, s.error().message);
        } else {
          kubelet = std::move(k);
          kubelet_up = true;
          lg->info("kubelet started for node {}", o.node_name);
          node_backend = nodeapi::kubelet_backend(*kubelet);
          auto ns = nodeapi::NodeServer::start({":10250", creds.cert_pem, creds.key_pem, creds.ca_pem}, *node_backend);
          if (!ns) {
            lg->error("node {}: node endpoint :10250: {}", o.node_name, ns.error().message);
          } else {
            node_api = std::move(*ns);
          }
        }
      }
      {
        std::lock_guard<std::mutex> l(mu);
        st.dns = dns != nullptr;
        st.proxy = proxy != nullptr;
        st.kubelet = kubelet != nullptr;
      }
      if (dns_up && proxy_up && kubelet_up && routes_up) break;
      if (!sleep_for(o.retry, stop)) return;
    }
  }

  void shutdown() {
    if (thread.joinable()) {
      thread.request_stop();
      cv.notify_all();
      thread.join();
    }
    if (node_api) node_api->stop();
    node_api.reset();
    node_backend.reset();
    if (kubelet) kubelet->stop();
    if (proxy) proxy->stop();
    if (dns) dns->stop();
    if (routes) routes->stop();
    routes.reset();
    kubelet.reset();
    proxy.reset();
    dns.reset();
  }
};

NodeStack::NodeStack(NodeStackOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

NodeStack::~NodeStack() { stop(); }

void NodeStack::start() {
  if (impl_->thread.joinable()) return;
  impl_->thread = std::jthread([this](std::stop_token st) { impl_->run(st); });
}

void NodeStack::stop() { impl_->shutdown(); }

NodeStackState NodeStack::state() const {
  std::lock_guard<std::mutex> l(impl_->mu);
  return impl_->st;
}

}  // namespace k3dpp::agent
