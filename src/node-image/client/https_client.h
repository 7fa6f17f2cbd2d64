// ApiClient over HTTPS with a client certificate (OpenSSL, tls_http.h; no libcurl): hollow nodes,
// agents and tests against a running `k3dpp-node server`. Thread-safe: each call uses its own
// connection at a time. Connections are kept in a small idle pool after use, so keep-alive TLS
// connections are reused (a new TLS handshake per request cost 100-400 ms on a loaded node when
// a kubelet starts many pods at once); a pooled connection the server closed is replaced and the
// request sent again on a new one; watches use a fresh connection each.
#pragma once

#include <mutex>
#include <vector>

#include "client/api_client.h"
#include "client/tls_http.h"

namespace k3dpp::client {

struct HttpsOptions {
  std::string server;     // "https://127.0.0.1:6443"
  std::string ca_file;    // PEM; empty = no verification (tests only)
  std::string cert_file;  // client certificate PEM
  std::string key_file;   // client key PEM
  // PEM contents instead of files (written to memory blobs); used when set.
  std::string ca_pem, cert_pem, key_pem;
  long timeout_seconds = 30;  // per request (not for watches)
};

class HttpsClient : public RestClient {
 public:
  explicit HttpsClient(HttpsOptions options);
  ~HttpsClient() override;
  HttpsClient(const HttpsClient&) = delete;
  HttpsClient& operator=(const HttpsClient&) = delete;

  // At most this many idle connections are kept.
  static constexpr size_t kMaxIdleHandles = 6;

 protected:
  Result<RawResponse> request(const std::string& method, const std::string& target,
                              const std::string& content_type, const std::string& body) override;
  Result<RawResponse> stream(const std::string& target, const std::function<bool(std::string_view)>& on_chunk,
                             std::stop_token stop) override;

 private:
  Result<std::shared_ptr<TlsContext>> context();
  std::string request_headers(const std::string& content_type) const;

  HttpsOptions opts_;
  std::mutex idle_mu_;
  std::shared_ptr<TlsContext> ctx_;  // built on first use (guarded by idle_mu_)
  std::vector<std::unique_ptr<TlsHttpConnection>> idle_;
};

}  // namespace k3dpp::client
