// The Kubernetes API (kubectl 1.32's contract): discovery, /version, /openapi, generic REST over
// the store (get/list/watch/create/update/patch/delete/deletecollection), subresources (status,
// scale, binding), namespaces lifecycle, Service IP/NodePort allocation, authorization.
// The HTTP server (httpserver/) routes every API path to ApiServer::handle.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/result.h"
#include "httpserver/http.h"

namespace k3dpp::store {
class Store;
}

namespace k3dpp::apiserver {

struct Options {
  std::string data_dir;                      // the store lives in <data_dir>/server/db/state.db
  std::string cluster_name = "k3dpp";
  std::string service_cidr = "10.43.0.0/16";  // ClusterIPs; .1 = kubernetes, .10 = kube-dns
  int node_port_min = 30000;
  int node_port_max = 32767;
  // Address advertised in the `kubernetes` Endpoints and legacy discovery ("10.0.0.2"), optional.
  std::string advertise_address;
  int advertise_port = 6443;
  // Background work (store compaction, namespace finalization, allocator repair). Off in tests.
  bool background = true;
  // Run the simple built-in namespace finalizer (deletes a Terminating namespace's contents and
  // then the namespace) until a real namespace controller exists.
  bool builtin_namespace_finalizer = true;
  // History kept by compaction.
  int64_t compact_keep_revisions = 10000;
  int compact_min_age_seconds = 300;
};

class ApiServer {
 public:
  // Opens the SQLite store under options.data_dir (or uses `store` if given: tests, etcd).
  explicit ApiServer(Options options, std::shared_ptr<store::Store> store = nullptr);
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Opens the store, creates the default namespaces, the `kubernetes` Service, and starts the
  // background work. Idempotent data-wise (a restart keeps the stored objects).
  Status start();
  void stop();

  // Every API path (/api, /apis, /version, /openapi/..., /healthz, /livez, /readyz). Thread-safe;
  // a watch blocks the calling thread until the client goes away or the timeout ends.
  void handle(const http::Request& request, http::Responder& responder);

  // Plugs in the handler of a connect-style subresource the API server does not serve itself
  // ("pods/log", "pods/exec", "pods/attach", "pods/portforward", "nodes/proxy"): after routing and
  // authorization it gets the request (path /api/v1/namespaces/NS/pods/NAME/exec) and answers it,
  // upgrades included. Unset → 404 NotFound Status. Call before start().
  void set_subresource_handler(const std::string& resource_and_subresource, http::Handler handler);

  // The store, for in-process components (controllers, scheduler) that talk to it directly.
  std::shared_ptr<store::Store> store() const;

  struct Impl;

 private:
  void handle_request(const http::Request& request, http::Responder& responder);
  std::unique_ptr<Impl> impl_;
};

}  // namespace k3dpp::apiserver
