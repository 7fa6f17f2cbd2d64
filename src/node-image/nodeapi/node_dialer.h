// The API server's connection to a node's :10250 endpoint: TCP (5 s connect timeout), TLS with a
// client certificate, the node's certificate checked against the cluster CA (any key usage: nodes
// serve with their own system:node:X credentials) and, when asked, its CN against system:node:X.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "common/result.h"
#include "httpserver/http.h"

namespace k3dpp::nodeapi {

inline constexpr uint16_t kNodePort = 10250;
// The identity the API server presents to nodes (O system:masters).
inline constexpr const char* kApiServerClientName = "kube-apiserver-kubelet-client";

struct NodeDialerOptions {
  std::string ca_pem;    // cluster CA: verifies the node
  std::string cert_pem;  // client certificate presented to the node
  std::string key_pem;
  uint16_t port = kNodePort;
  bool verify_node_name = true;  // node cert CN must be system:node:<node name>
  std::chrono::milliseconds connect_timeout{5000};
};

class NodeDialer {
 public:
  explicit NodeDialer(NodeDialerOptions options) : opts_(std::move(options)) {}
  // Reads <tls_dir>/ca.crt and ca.key and issues (first time) or reuses
  // <tls_dir>/kubelet-client.crt/.key (CN kube-apiserver-kubelet-client, O system:masters).
  static Result<NodeDialer> from_tls_dir(const std::string& tls_dir);

  // An open TLS connection to host (the node's InternalIP) on the configured port.
  Result<std::unique_ptr<http::Conn>> dial(const std::string& node_name, const std::string& host) const;
  const NodeDialerOptions& options() const { return opts_; }

 private:
  NodeDialerOptions opts_;
};

// Client TLS connection helper (also used by tests): connects to host:port, presents cert/key if
// given, verifies the peer against ca_pem, and when expected_cn is set, the peer certificate's CN.
Result<std::unique_ptr<http::Conn>> tls_connect(const std::string& host, uint16_t port, const std::string& ca_pem,
                                                const std::string& cert_pem, const std::string& key_pem,
                                                const std::string& expected_cn,
                                                std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));

// Plain TCP with the same connect timeout (containerd's stream server).
Result<std::unique_ptr<http::Conn>> tcp_connect(const std::string& host, uint16_t port,
                                                std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));

}  // namespace k3dpp::nodeapi
