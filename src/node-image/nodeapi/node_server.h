// The node's :10250 endpoint (every node): container logs (chunked) and the exec/attach/port-forward
// upgrades, proxied to containerd's stream server inside the node. TLS with the node's own
// credentials; callers must present a cluster-CA client certificate of the API server
// (CN kube-apiserver-kubelet-client or group system:masters), anyone else gets 403.
//
//   GET  /containerLogs/NS/POD/CONTAINER?follow&tailLines&sinceSeconds&sinceTime&timestamps&previous&limitBytes
//   GET|POST /exec/NS/POD/CONTAINER?command=..&stdin&stdout&stderr&tty   (websocket or SPDY upgrade)
//   GET|POST /attach/NS/POD/CONTAINER?stdin&stdout&stderr&tty
//   GET|POST /portForward/NS/POD[?port=..]
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <stop_token>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "httpserver/http.h"
#include "httpserver/server.h"
#include "nodeapi/node_dialer.h"

namespace k3dpp::kubelet {
class Kubelet;
}

namespace k3dpp::nodeapi {

// What the node endpoint needs from the kubelet (a fake in tests).
class NodeBackend {
 public:
  virtual ~NodeBackend() = default;
  // Writes the log (query = the request's first values); errors before the first byte become a
  // Status (kind NotFound → 404, BadRequest → 400).
  virtual Status logs(const std::string& ns, const std::string& pod, const std::string& container,
                      const std::map<std::string, std::string>& query,
                      const std::function<bool(std::string_view)>& out, std::stop_token stop) = 0;
  // One-time "http://127.0.0.1:PORT/exec/TOKEN" style URLs on the runtime's stream server.
  virtual Result<std::string> exec_url(const std::string& ns, const std::string& pod, const std::string& container,
                                       const std::vector<std::string>& cmd, bool tty, bool in, bool out, bool err) = 0;
  virtual Result<std::string> attach_url(const std::string& ns, const std::string& pod, const std::string& container,
                                         bool tty, bool in, bool out, bool err) = 0;
  virtual Result<std::string> port_forward_url(const std::string& ns, const std::string& pod,
                                               const std::vector<int>& ports) = 0;
};

// The real backend over a running Kubelet.
std::unique_ptr<NodeBackend> kubelet_backend(kubelet::Kubelet& kubelet);

struct NodeServerOptions {
  std::string listen = ":10250";
  std::string cert_pem;  // serving certificate: the node's system:node:X credentials work
  std::string key_pem;
  std::string ca_pem;    // cluster CA (client certificates)
};

// "http://host:port/path?q" → host, port, path?q. Error kind BadRequest otherwise.
struct StreamUrl {
  std::string host;
  uint16_t port = 80;
  std::string target;
};
Result<StreamUrl> parse_stream_url(std::string_view url);

// Whether a caller may use the node endpoint.
bool node_api_allowed(const http::User& user);

class NodeServer {
 public:
  static Result<std::unique_ptr<NodeServer>> start(NodeServerOptions options, NodeBackend& backend);
  ~NodeServer();
  uint16_t port() const;
  void stop();
  // The request handler (also usable without TLS in tests).
  void handle(const http::Request& req, http::Responder& out);

 private:
  explicit NodeServer(NodeBackend& backend) : backend_(backend) {}
  NodeBackend& backend_;
  std::unique_ptr<httpserver::Server> server_;
};

}  // namespace k3dpp::nodeapi
