// IngressController: the bundled ingress controller of a server node. Informers on Ingresses,
// IngressClasses, Services, EndpointSlices, Secrets and Nodes feed build_config(); the rendered
// nginx.conf is written with its certificates under `dir`, checked with `nginx -t` and swapped in,
// then nginx (a supervised child: started on the first good config, restarted if it dies) reloads
// on SIGHUP — old workers finish their requests, so a reload drops no connection.
//
// It also owns the cluster objects of the controller (k3s ships Traefik's the same way):
//  - IngressClass `k3dpp` (controller k3dpp.io/ingress-nginx, the default class);
//  - Service kube-system/k3dpp-ingress, type LoadBalancer, ports 80 and 443, without selector, and
//    its EndpointSlice listing the Ready server nodes (where nginx runs) on 80/443. The service-lb
//    controller admits it like any LoadBalancer service, so every node's proxy forwards its own
//    :80/:443 to the servers, a later LoadBalancer service on 80 or 443 stays pending (k3s's
//    servicelb rule with Traefik), and the serverlb's `-p 8081:80@loadbalancer` reaches nginx
//    whichever node it picks;
//  - status.loadBalancer.ingress of the Ingresses it serves = that Service's addresses.
//
// Why only on servers: serving TLS needs every kubernetes.io/tls Secret of the cluster. A server
// holds the whole store and the CA key anyway; agents hold node credentials that may read only
// their own pods' Secrets (Node authorizer). Running nginx on agents would hand every TLS key to
// every node.
#pragma once

#include <sys/types.h>

#include <atomic>
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
#include "ingress/config.h"

namespace k3dpp::ingress {

struct ControllerOptions {
  std::string dir = "/run/k3dpp/ingress";
  std::string nginx = "nginx";
  std::string error_log = "/var/log/k3dpp-ingress.log";
  int http_port = 80;
  int https_port = 443;
  // Events are coalesced this long before one render (a rollout touches many objects).
  std::chrono::milliseconds debounce{100};
  std::chrono::milliseconds retry{std::chrono::seconds(2)};
  // Create the IngressClass, the Service and its EndpointSlice (off in tests of the data path).
  bool manage_cluster_objects = true;
  // Start and reload nginx (off in tests that only look at the written files).
  bool run_nginx = true;
};

// A supervised nginx master in the foreground (daemon off): started with signals unblocked,
// restarted after 1 s if it exits on its own, SIGHUP to reload, SIGQUIT (graceful) to stop.
class NginxProcess {
 public:
  NginxProcess(std::string binary, std::string conf, std::string log_file);
  ~NginxProcess();
  NginxProcess(const NginxProcess&) = delete;
  NginxProcess& operator=(const NginxProcess&) = delete;
  Status start();
  Status reload();
  void stop();
  bool running() const { return pid_.load() > 0; }

 private:
  Result<pid_t> spawn();
  void supervise();
  std::string binary_, conf_, log_file_;
  std::atomic<pid_t> pid_{0};
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread supervisor_;
};

class IngressController {
 public:
  IngressController(client::ApiClient& client, ControllerOptions options);
  ~IngressController();
  IngressController(const IngressController&) = delete;
  IngressController& operator=(const IngressController&) = delete;

  void start();
  void stop();
  // Successful config applies (first start + reloads), for tests and the bench.
  size_t applies() const;
  // The configuration text last applied ("" before the first).
  std::string applied_text() const;

 private:
  void run(std::stop_token stop);
  void mark_dirty();
  Status ensure_cluster_objects();
  Status sync_endpoint_slice();
  Status sync_statuses();
  Status apply(const IngressConfig& cfg, const std::string& text);

  client::ApiClient& client_;
  ControllerOptions opts_;
  std::unique_ptr<client::Informer> ingresses_, classes_, services_, slices_, secrets_, nodes_;
  std::unique_ptr<NginxProcess> nginx_;
  mutable std::mutex mu_;
  std::condition_variable_any cv_;
  bool dirty_ = true;
  size_t applies_ = 0;
  std::string applied_;
  bool objects_ok_ = false;
  std::jthread thread_;
};

// The objects ensure_cluster_objects() creates (pure, for tests).
json ingress_class_object();
json ingress_service_object();
// The EndpointSlice of kServiceName for these nodes: Ready server (control-plane) nodes'
// InternalIPs on 80/443.
json ingress_endpoint_slice(const std::vector<const json*>& nodes, int http_port = 80, int https_port = 443);
// status.loadBalancer.ingress of an Ingress from the Service's (ip/hostname only).
json ingress_status_from_service(const json& service);

}  // namespace k3dpp::ingress
