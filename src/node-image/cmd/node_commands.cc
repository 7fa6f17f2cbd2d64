#include "cmd/node_commands.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include <nlohmann/json.hpp>

#include "agent/agent.h"
#include "agent/node_info.h"
#include "agent/node_routing_client.h"
#include "agent/node_stack.h"
#include "client/in_process_client.h"
#include "controllers/manager.h"
#include "hollow/hollow.h"
#include "ingress/controller.h"
#include "scheduler/scheduler.h"
#include "cmd/bootstrap_endpoints.h"
#include "cmd/ha_bootstrap.h"
#include "cmd/leader_election.h"
#include "common/files.h"
#include "common/log.h"
#include "common/strings.h"
#include "httpserver/server.h"
#include "pki/server_pki.h"
#ifdef K3DPP_HAVE_APISERVER
#include "apiserver/api_server.h"
#include "nodeapi/pod_streams.h"
#endif

namespace k3dpp::nodecmd {

namespace {

// --node-label / --node-taint into the agent options; errors name the bad flag value.
Status apply_node_labels_taints(const std::vector<std::string>& labels, const std::vector<std::string>& taints,
                                agent::Options& o) {
  for (const auto& l : labels) {
    auto kv = agent::parse_node_label(l);
    if (!kv) return kv.error();
    o.node_labels[kv->first] = kv->second;
  }
  for (const auto& t : taints) {
    auto j = agent::parse_node_taint(t);
    if (!j) return j.error();
    o.node_taints.push_back(*j);
  }
  return {};
}

std::shared_ptr<spdlog::logger> logger() {
  static auto l = log::get("node");
  return l;
}

std::string hostname() {
  char h[256] = {0};
  ::gethostname(h, sizeof h - 1);
  return h;
}

// Every address of this host worth a SAN: IPv4 and global IPv6, no loopback/link-local.
std::vector<std::string> host_ips() {
  std::vector<std::string> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return out;
  for (ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr) continue;
    char buf[INET6_ADDRSTRLEN] = {0};
    if (i->ifa_addr->sa_family == AF_INET) {
      auto* a = reinterpret_cast<sockaddr_in*>(i->ifa_addr);
      if ((ntohl(a->sin_addr.s_addr) >> 16) == 0xA9FE) continue;
      inet_ntop(AF_INET, &a->sin_addr, buf, sizeof buf);
    } else if (i->ifa_addr->sa_family == AF_INET6) {
      auto* a = reinterpret_cast<sockaddr_in6*>(i->ifa_addr);
      if (IN6_IS_ADDR_LINKLOCAL(&a->sin6_addr)) continue;
      inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof buf);
    } else {
      continue;
    }
    out.emplace_back(buf);
  }
  freeifaddrs(list);
  return out;
}

Result<std::string> read_token(const std::string& path) {
  auto t = files::read(path);
  if (!t) return fail("cannot read the token file " + path, "NotFound");
  std::string token(strings::trim(*t));
  if (token.empty()) return fail("the token file " + path + " is empty", "Invalid");
  return token;
}

// Host part of --listen for the admin kubeconfig: wildcard → 127.0.0.1.
std::string kubeconfig_url(const std::string& listen, uint16_t port) {
  std::string host;
  if (!listen.empty() && listen[0] == '[') {
    host = listen.substr(1, listen.find(']') - 1);
  } else {
    auto colon = listen.rfind(':');
    host = colon == std::string::npos ? "" : listen.substr(0, colon);
  }
  if (host.empty() || host == "0.0.0.0" || host == "::") host = "127.0.0.1";
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return "https://" + host + ":" + std::to_string(port);
}

// The kube-dns Service every k3s cluster has (the node-local DNS servers answer behind its VIP).
// Created through the API like any client would; an existing one is left as it is.
Status ensure_kube_dns_service(client::ApiClient& api) {
  auto got = api.get(client::res::kServices, "kube-system", "kube-dns");
  if (got) return {};
  if (!got.error().is("NotFound")) return unexpected(got.error().wrap("reading kube-system/kube-dns"));
  nlohmann::json labels = {{"k8s-app", "kube-dns"}, {"kubernetes.io/cluster-service", "true"},
                           {"kubernetes.io/name", "CoreDNS"}};
  nlohmann::json svc = {
      {"apiVersion", "v1"},
      {"kind", "Service"},
      {"metadata", {{"name", "kube-dns"}, {"namespace", "kube-system"}, {"labels", labels}}},
      {"spec",
       {{"type", "ClusterIP"},
        {"clusterIP", "10.43.0.10"},
        {"clusterIPs", nlohmann::json::array({"10.43.0.10"})},
        {"selector", {{"k8s-app", "kube-dns"}}},
        {"ports",
         {{{"name", "dns"}, {"port", 53}, {"protocol", "UDP"}, {"targetPort", 53}},
          {{"name", "dns-tcp"}, {"port", 53}, {"protocol", "TCP"}, {"targetPort", 53}}}}}}};
  auto made = api.create(client::res::kServices, "kube-system", svc);
  if (!made && !made.error().is("AlreadyExists"))
    return unexpected(made.error().wrap("creating Service kube-system/kube-dns (ClusterIP 10.43.0.10)"));
  if (made) logger()->info("created Service kube-system/kube-dns (10.43.0.10)");
  return {};
}

#ifndef K3DPP_HAVE_APISERVER
// Until the API server is linked in: health and version, everything else 404.
void fallback_handler(const http::Request& req, http::Responder& r) {
  if (req.path == "/healthz" || req.path == "/livez" || req.path == "/readyz") {
    r.send(http::Response{200, {{"Content-Type", "text/plain; charset=utf-8"}}, "ok"});
    return;
  }
  if (req.path == "/version") {
    nlohmann::ordered_json v = {{"major", "1"},
                                {"minor", "32"},
                                {"gitVersion", K3DPP_KUBE_VERSION "-k3dpp"},
                                {"gitCommit", "k3dpp-" K3DPP_VERSION},
                                {"gitTreeState", "clean"},
                                {"buildDate", "2025-01-01T00:00:00Z"},
                                {"goVersion", "go1.23.6"},
                                {"compiler", "gc"},
                                {"platform", "linux/amd64"}};
    r.send(http::Response{200, {{"Content-Type", "application/json"}}, v.dump()});
    return;
  }
  r.send(http::status_response(404, "NotFound", "the server could not find the requested resource"));
}
#endif

// The bundled ingress controller (ingress/controller.h): on every server that runs as a node,
// unless `--disable ingress`. It runs on the in-process client because it reads every TLS Secret,
// which a node's own credentials may not.
std::unique_ptr<ingress::IngressController> start_ingress(client::ApiClient& admin, const ServerFlags& f) {
  if (std::find(f.disable.begin(), f.disable.end(), "ingress") != f.disable.end()) {
    logger()->info("ingress controller disabled (--disable ingress)");
    return nullptr;
  }
  auto c = std::make_unique<ingress::IngressController>(admin, ingress::ControllerOptions{});
  c->start();
  logger()->info("ingress controller started (IngressClass {}, nginx on :80 and :443)", ingress::kClassName);
  return c;
}

}  // namespace

void block_termination_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int wait_for_termination() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  int sig = 0;
  while (sigwait(&set, &sig) != 0) {
  }
  return sig;
}

int run_server(const ServerFlags& f) {
  auto lg = logger();
  const std::string node_name = f.node_name.empty() ? hostname() : f.node_name;
  // HA: --cluster-init, --server, or an etcd member already in the data dir (a restarted server).
  const bool ha = f.cluster_init || !f.join_server.empty() || files::exists(f.data_dir + "/server/db/etcd/member");
  if (f.cluster_init && !f.join_server.empty()) {
    lg->error("ERROR: --cluster-init and --server exclude each other");
    return 1;
  }
  agent::Options labels_taints;
  if (auto st = apply_node_labels_taints(f.node_labels, f.node_taints, labels_taints); !st) {
    lg->error("ERROR: {}", st.error().message);
    return 1;
  }
  if (!f.join_server.empty() && f.token_file.empty()) {
    lg->error("ERROR: --server needs --token-file (the cluster's token)");
    return 1;
  }

  // Token: the CLI's, or our own on first boot (host-process runs).
  std::string token_file = f.token_file;
  if (token_file.empty()) {
    token_file = f.data_dir + "/server/token";
    if (!files::exists(token_file)) {
      if (auto st = pki::make_dirs(f.data_dir + "/server", 0700); !st) {
        lg->error("ERROR: {}", st.error().message);
        return 1;
      }
      if (auto st = files::write_atomic(token_file, strings::random_hex(32) + "\n", 0600); !st) {
        lg->error("ERROR: {}", st.error().message);
        return 1;
      }
      lg->info("generated a node token in {}", token_file);
    }
  }
  auto token = read_token(token_file);
  if (!token) {
    lg->error("ERROR: {}", token.error().message);
    return 1;
  }

  // HA: the first IPv4 of this host is what other servers reach us at, unless told otherwise.
  HaOptions ha_opts;
  if (ha) {
    std::string server_token_file = f.server_token_file;
    if (server_token_file.empty()) {
      server_token_file = f.data_dir + "/server/server-token";
      if (!files::exists(server_token_file)) {
        if (!f.cluster_init) {
          lg->error("ERROR: an HA server needs the servers' token: --server-token-file (agents' node token is not enough)");
          return 1;
        }
        if (auto st = pki::make_dirs(f.data_dir + "/server", 0700); !st) {
          lg->error("ERROR: {}", st.error().message);
          return 1;
        }
        if (auto st = files::write_atomic(server_token_file, strings::random_hex(32) + "\n", 0600); !st) {
          lg->error("ERROR: {}", st.error().message);
          return 1;
        }
        lg->info("generated the servers' token in {}", server_token_file);
      }
    }
    auto server_token = read_token(server_token_file);
    if (!server_token) {
      lg->error("ERROR: {}", server_token.error().message);
      return 1;
    }
    if (*server_token == *token) {
      lg->error("ERROR: the servers' token must differ from the node token (agents hold the node token)");
      return 1;
    }
    ha_opts.server_token = *server_token;
    ha_opts.cluster_init = f.cluster_init;
    ha_opts.join_url = f.join_server;
    while (!ha_opts.join_url.empty() && ha_opts.join_url.back() == '/') ha_opts.join_url.pop_back();
    ha_opts.token = *token;
    ha_opts.data_dir = f.data_dir;
    ha_opts.node_name = node_name;
    ha_opts.advertise_host = f.advertise_address;
    for (const auto& ip : host_ips())
      if (ha_opts.advertise_host.empty() && ip.find(':') == std::string::npos && ip.rfind("127.", 0) != 0)
        ha_opts.advertise_host = ip;
    if (ha_opts.advertise_host.empty()) ha_opts.advertise_host = "127.0.0.1";
    ha_opts.listen_host = f.etcd_listen;
    ha_opts.etcd_client_port = f.etcd_client_port;
    ha_opts.etcd_peer_port = f.etcd_peer_port;
    ha_opts.etcd_binary = f.etcd_binary;
    ha_opts.sans = host_ips();
    ha_opts.sans.push_back(hostname());
    // A joining server uses the cluster's CA (its own certificates are issued from it below).
    if (!ha_opts.join_url.empty()) {
      if (auto st = fetch_cluster_ca(ha_opts); !st) {
        lg->error("ERROR: {}", st.error().message);
        return 1;
      }
    }
  }

  // PKI.
  std::vector<std::string> extra = host_ips();
  extra.push_back(hostname());
  extra.push_back(node_name);
  extra.insert(extra.end(), f.tls_sans.begin(), f.tls_sans.end());
  auto pki = pki::ensure_server_pki(f.data_dir, pki::default_sans(extra));
  if (!pki) {
    lg->error("ERROR: cluster PKI: {}", pki.error().message);
    return 1;
  }

  // The Kubernetes API.
  BootstrapEndpoints bootstrap(pki->ca, *token);
#ifdef K3DPP_HAVE_APISERVER
  apiserver::Options api_opts;
  api_opts.data_dir = f.data_dir;
  api_opts.cluster_name = f.cluster_name;
  auto ips = host_ips();
  for (const auto& ip : ips)
    if (ip.find(':') == std::string::npos && ip.rfind("127.", 0) != 0) {
      api_opts.advertise_address = ip;
      break;
    }
  // Store: SQLite on single servers (as always); HA servers run an etcd member and use it.
  std::optional<EtcdMemberNode> etcd;
  std::unique_ptr<HaEndpoints> ha_endpoints;
  if (ha) {
    auto member = start_etcd_member(ha_opts, pki->ca);
    if (!member) {
      lg->error("ERROR: etcd: {}", member.error().message);
      return 1;
    }
    etcd = std::move(*member);
    ha_endpoints = std::make_unique<HaEndpoints>(pki->ca, ha_opts.server_token, etcd->client);
  }
  auto api = std::make_unique<apiserver::ApiServer>(api_opts, etcd ? etcd->store : nullptr);
  // pods/log, exec, attach and portforward are proxied to the pod's node (:10250).
  if (auto dialer = nodeapi::NodeDialer::from_tls_dir(f.data_dir + "/server/tls"); dialer) {
    nodeapi::install_pod_stream_handlers(*api, std::move(*dialer));
  } else {
    lg->error("logs/exec/port-forward disabled: {}", dialer.error().message);
  }
  if (auto st = api->start(); !st) {
    lg->error("ERROR: API server: {}", st.error().message);
    return 1;
  }
  http::Handler handler = [&bootstrap, a = api.get(), h = ha_endpoints.get()](const http::Request& req,
                                                                               http::Responder& r) {
    if (BootstrapEndpoints::handles(req.path)) return bootstrap.handle(req, r);
    if (h && HaEndpoints::handles(req.path)) return h->handle(req, r);
    a->handle(req, r);
  };
#else
  http::Handler handler = [&bootstrap](const http::Request& req, http::Responder& r) {
    if (BootstrapEndpoints::handles(req.path)) return bootstrap.handle(req, r);
    fallback_handler(req, r);
  };
#endif

  httpserver::Options o;
  o.listen = f.listen;
  o.cert_pem = pki->serving.cert_pem;
  o.key_pem = pki->serving.key_pem;
  o.client_ca_pem = pki->ca.cert_pem;
  o.anonymous_paths = {kCacertsPath, kNodeCredentialsPath};
  if (ha) {
    o.anonymous_paths.push_back(kServerBootstrapPath);  // token-authenticated
    o.anonymous_paths.push_back(kEtcdMembersPath);
    o.anonymous_paths.push_back(kEtcdPromotePath);
  }
  auto server = httpserver::Server::start(o, handler);
  if (!server) {
    lg->error("ERROR: {}", server.error().message);
#ifdef K3DPP_HAVE_APISERVER
    api->stop();
#endif
    return 1;
  }
  const std::string url = kubeconfig_url(f.listen, (*server)->port());
  if (auto st = pki::write_admin_kubeconfig(f.data_dir, *pki, url); !st) {
    lg->error("ERROR: {}", st.error().message);
    (*server)->stop();
    return 1;
  }
  lg->info("k3dpp-node server {} ready on {} (cluster {}, node {})", K3DPP_VERSION, url, f.cluster_name,
           node_name);

  // k3s servers are nodes too.
  std::unique_ptr<agent::Agent> local_agent;
  std::unique_ptr<agent::NodeStack> local_node;
  std::unique_ptr<ingress::IngressController> ingress;
#ifdef K3DPP_HAVE_APISERVER
  // Control loops on an in-process admin client (no network, same admission as kubectl sees).
  client::InProcessClient admin([a = api.get()](const http::Request& q, http::Responder& r) { a->handle(q, r); });
  if (auto st = ensure_kube_dns_service(admin); !st) lg->error("ERROR: {}", st.error().message);
  controllers::ControllerManager manager(admin);
  scheduler::Scheduler sched(admin);
  // HA: every server runs them, only the Lease holder acts (fresh instances per term).
  std::unique_ptr<controllers::ControllerManager> elected_manager;
  std::unique_ptr<scheduler::Scheduler> elected_sched;
  std::unique_ptr<LeaderElector> manager_election, sched_election;
  if (f.no_controllers) {
    lg->info("controller manager and scheduler disabled (--disable-controllers)");
  } else if (ha) {
    LeaderElectionOptions le;
    // The node name (unique per cluster and stable across restarts): a restarted leader resumes its
    // own Lease at once instead of waiting for it to expire.
    le.identity = node_name;
    le.lease_duration = std::chrono::seconds(f.leader_lease_seconds);
    le.renew_deadline = std::chrono::milliseconds(f.leader_renew_ms);
    le.retry_period = std::chrono::milliseconds(f.leader_retry_ms);
    le.name = "kube-controller-manager";
    manager_election = std::make_unique<LeaderElector>(
        admin, le,
        [&] {
          elected_manager = std::make_unique<controllers::ControllerManager>(admin);
          if (auto st = elected_manager->start(); !st) lg->error("ERROR: controller manager: {}", st.error().message);
        },
        [&] {
          if (elected_manager) elected_manager->stop();
          elected_manager.reset();
        });
    le.name = "kube-scheduler";
    sched_election = std::make_unique<LeaderElector>(
        admin, le,
        [&] {
          elected_sched = std::make_unique<scheduler::Scheduler>(admin);
          if (auto st = elected_sched->start(); !st) lg->error("ERROR: scheduler: {}", st.error().message);
        },
        [&] {
          if (elected_sched) elected_sched->stop();
          elected_sched.reset();
        });
    manager_election->start();
    sched_election->start();
    lg->info("controller manager and scheduler run when this server holds their Lease (leader election)");
  } else {
    if (auto st = manager.start(); !st) lg->error("ERROR: controller manager: {}", st.error().message);
    if (auto st = sched.start(); !st) lg->error("ERROR: scheduler: {}", st.error().message);
    lg->info("controller manager and scheduler running");
  }

  if (!f.no_kubelet) {
    const std::string self_url = "https://127.0.0.1:" + std::to_string((*server)->port());
    agent::Options ao;
    ao.node_name = node_name;
    ao.server_url = self_url;
    ao.token = *token;
    ao.control_plane = true;
    ao.etcd = ha;
    ao.node_labels = labels_taints.node_labels;
    ao.node_taints = labels_taints.node_taints;
    local_agent = std::make_unique<agent::Agent>(ao);
    local_agent->start();
    if (f.registration_only) {
      lg->info("registration only: no kubelet, service proxy, cluster DNS or pod-network routes on this host");
    } else {
      agent::NodeStackOptions no;
      no.node_name = node_name;
      no.server_url = self_url;
      no.token = *token;
      local_node = std::make_unique<agent::NodeStack>(no);
      local_node->start();
      ingress = start_ingress(admin, f);
    }
  }
#endif

  int sig = wait_for_termination();
  lg->info("received signal {}, shutting down", sig);
#ifdef K3DPP_HAVE_APISERVER
  // HA: hand the Leases over first (stop acting, release), so another server takes over within its
  // retry period instead of after the lease duration.
  {
    std::thread sched_handover([&] {
      if (sched_election) sched_election->stop();
    });
    if (manager_election) manager_election->stop();
    sched_handover.join();
  }
#endif
  if (ingress) ingress->stop();
  if (local_node) local_node->stop();
  if (local_agent) local_agent->stop();
#ifdef K3DPP_HAVE_APISERVER
  sched.stop();
  manager.stop();
#endif
  (*server)->stop();
#ifdef K3DPP_HAVE_APISERVER
  api->stop();
  if (etcd) etcd->process->stop();
#endif
  lg->info("stopped");
  return 0;
}

namespace {

// TEST AND BENCHMARK TOOL: N hollow nodes (no containers) joined with the node token; each node
// writes with its own certificate (NodeRoutingClient), as N real kubelets would.
int run_hollow(const AgentFlags& f, const std::string& server_url, const std::string& token) {
  auto lg = logger();
  hollow::Options ho;
  ho.nodes = f.hollow;
  ho.name_prefix = f.node_name.empty() ? "hollow-node-" : f.node_name + "-";
  agent::NodeRoutingClient api(server_url, token, ho.name_prefix + "0");
  lg->info("k3dpp-node agent {}: {} hollow nodes {}0..{} joining {} (test/benchmark tool)", K3DPP_VERSION, ho.nodes,
           ho.name_prefix, ho.nodes - 1, server_url);
  std::unique_ptr<hollow::HollowNodes> nodes;
  // The server may still be starting: retry the registration until it works or we are stopped.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  std::chrono::milliseconds backoff{500};
  for (;;) {
    nodes = std::make_unique<hollow::HollowNodes>(api, ho);
    auto st = nodes->start();
    if (st) break;
    lg->warn("hollow nodes: {}; retrying", st.error().message);
    nodes.reset();
    timespec ts{static_cast<time_t>(backoff.count() / 1000), static_cast<long>(backoff.count() % 1000) * 1000000L};
    if (sigtimedwait(&set, nullptr, &ts) > 0) return 0;
    backoff = std::min(backoff * 2, std::chrono::milliseconds(10'000));
  }
  int sig = wait_for_termination();
  lg->info("received signal {}, shutting down", sig);
  nodes->stop();
  return 0;
}

}  // namespace

int run_agent(const AgentFlags& f) {
  auto lg = logger();
  if (f.server.rfind("https://", 0) != 0) {
    lg->error("ERROR: --server must be an https:// URL, got '{}'", f.server);
    return 1;
  }
  auto token = read_token(f.token_file);
  if (!token) {
    lg->error("ERROR: {}", token.error().message);
    return 1;
  }
  agent::Options o;
  o.node_name = f.node_name.empty() ? hostname() : f.node_name;
  o.server_url = f.server;
  while (!o.server_url.empty() && o.server_url.back() == '/') o.server_url.pop_back();
  o.token = *token;
  if (auto st = apply_node_labels_taints(f.node_labels, f.node_taints, o); !st) {
    lg->error("ERROR: {}", st.error().message);
    return 1;
  }
  if (f.hollow > 0) return run_hollow(f, o.server_url, *token);
  agent::Agent a(o);
  lg->info("k3dpp-node agent {} joining {} as {}", K3DPP_VERSION, o.server_url, o.node_name);
  a.start();
  std::unique_ptr<agent::NodeStack> node;
  if (f.registration_only) {
    lg->info("registration only: no kubelet, service proxy, cluster DNS or pod-network routes on this host");
  } else {
    agent::NodeStackOptions no;
    no.node_name = o.node_name;
    no.server_url = o.server_url;
    no.token = *token;
    node = std::make_unique<agent::NodeStack>(no);
    node->start();
  }
  int sig = wait_for_termination();
  lg->info("received signal {}, shutting down", sig);
  if (node) node->stop();
  a.stop();
  return 0;
}

}  // namespace k3dpp::nodecmd
