#include "agent/https_client.h"

#include <algorithm>

namespace k3dpp::agent {

HttpsClient::HttpsClient(std::string base_url) : base_url_(std::move(base_url)) {}

HttpsClient::~HttpsClient() = default;

Result<HttpResult> HttpsClient::request(const std::string& method, const std::string& path,
                                        const std::string& body, const std::string& content_type) {
  std::string url = base_url_ + path;
  auto ep = client::parse_https_url(base_url_);
  if (!ep) return fail(method + " " + url + ": " + ep.error().message, "Unavailable");
  // The TLS settings may change between requests (pin_ca, set_client_cert): a new context and
  // connection then.
  std::string key = ca_pem_ + '\0' + cert_pem_ + '\0' + key_pem_;
  if (ctx_ == nullptr || key != ctx_key_) {
    client::TlsConfig c;
    c.ca_pem = ca_pem_;
    c.cert_pem = cert_pem_;
    c.key_pem = key_pem_;
    auto made = client::TlsContext::make(c);
    if (!made) return fail(method + " " + url + ": " + made.error().message, "Unavailable");
    ctx_ = *made;
    ctx_key_ = std::move(key);
    conn_.reset();
  }
  auto deadline = client::Clock::now() + std::chrono::milliseconds(timeout_ms_);
  std::string headers = "Accept: application/json\r\nUser-Agent: k3dpp-node/" K3DPP_VERSION "\r\n";
  if (!bearer_.empty()) headers += "Authorization: Bearer " + bearer_ + "\r\n";
  if (method != "GET" && method != "DELETE") headers += "Content-Type: " + content_type + "\r\n";
  for (int attempt = 0; attempt < 2; ++attempt) {
    bool reused = conn_ != nullptr && !conn_->idle_closed();
    if (!reused) {
      auto connect_deadline = std::min(deadline, client::Clock::now() + std::chrono::seconds(5));
      auto opened = client::TlsHttpConnection::open(ctx_, *ep, connect_deadline);
      if (!opened) {
        conn_.reset();
        return fail(method + " " + url + ": " + opened.error().message, "Unavailable");
      }
      conn_ = std::move(*opened);
    }
    bool got_response = false;
    auto reply = conn_->exchange(method, path, headers, body, deadline, nullptr, {}, &got_response);
    if (!reply) {
      conn_.reset();
      if (reused && !got_response && !reply.error().is("Timeout")) continue;
      return fail(method + " " + url + ": " + reply.error().message, "Unavailable");
    }
    HttpResult out;
    out.status = reply->status;
    out.body = std::move(reply->body);
    out.headers = std::move(reply->headers);
    out.local_ip = conn_->local_ip();
    if (!reply->keep_alive) conn_.reset();
    return out;
  }
  return fail(method + " " + url + ": connection lost", "Unavailable");
}

}  // namespace k3dpp::agent
