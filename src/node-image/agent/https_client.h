// A small HTTPS client for the agent (client/tls_http.h, OpenSSL; no libcurl): pinned CA and
// client certificate from memory (never written to disk), or no verification at all for the one
// bootstrap GET /cacerts. One keep-alive connection per client; not thread-safe, one client per
// thread.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "client/tls_http.h"
#include "common/result.h"

namespace k3dpp::agent {

struct HttpResult {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names, last value wins
  std::string local_ip;                        // our address on this connection
};

class HttpsClient {
 public:
  explicit HttpsClient(std::string base_url);  // "https://host:port"
  ~HttpsClient();
  HttpsClient(const HttpsClient&) = delete;
  HttpsClient& operator=(const HttpsClient&) = delete;

  // No CA: the server is not verified (bootstrap only). With a CA: verified against it alone.
  void pin_ca(std::string ca_pem) { ca_pem_ = std::move(ca_pem); }
  void set_client_cert(std::string cert_pem, std::string key_pem) {
    cert_pem_ = std::move(cert_pem);
    key_pem_ = std::move(key_pem);
  }
  void set_bearer(std::string token) { bearer_ = std::move(token); }
  void set_timeout_ms(long ms) { timeout_ms_ = ms; }

  // Transport failures are errors (kind "Unavailable"); any HTTP status is a result.
  Result<HttpResult> request(const std::string& method, const std::string& path,
                             const std::string& body = "",
                             const std::string& content_type = "application/json");

 private:
  std::string base_url_;
  std::string ca_pem_, cert_pem_, key_pem_, bearer_;
  long timeout_ms_ = 15000;
  std::shared_ptr<client::TlsContext> ctx_;  // built on the first request after the TLS settings
  std::string ctx_key_;                       // the settings ctx_ was built from
  std::unique_ptr<client::TlsHttpConnection> conn_;
};

}  // namespace k3dpp::agent
