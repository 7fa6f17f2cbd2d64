// The node bootstrap endpoints the server answers itself (docs/node-contract.md):
//   GET  /cacerts                    CA PEM + X-K3dpp-CA-HMAC: hex(HMAC-SHA256(token, ca_pem))
//   POST /k3dpp/v1/node-credentials  Bearer <token>, {"nodeName":"X"} -> {"cert":PEM,"key":PEM}
//                                    (CN system:node:X, O system:nodes)
// Both are served without a client certificate; the second is authenticated by the token,
// compared in constant time. Wrong tokens get 401 and a log line without the token.
#pragma once

#include <string>

#include "httpserver/http.h"
#include "pki/pki.h"

namespace k3dpp::nodecmd {

inline constexpr const char* kCacertsPath = "/cacerts";
inline constexpr const char* kNodeCredentialsPath = "/k3dpp/v1/node-credentials";

class BootstrapEndpoints {
 public:
  BootstrapEndpoints(pki::CertKey ca, std::string token);
  static bool handles(const std::string& path);
  void handle(const http::Request& req, http::Responder& r) const;

 private:
  pki::CertKey ca_;
  std::string token_;
  std::string ca_hmac_;
};

// True for a DNS-1123 subdomain (what Kubernetes accepts as a Node name).
bool valid_node_name(const std::string& name);

}  // namespace k3dpp::nodecmd
