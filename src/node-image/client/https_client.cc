#include "client/https_client.h"

namespace k3dpp::client {

HttpsClient::HttpsClient(HttpsOptions options) : opts_(std::move(options)) {}

HttpsClient::~HttpsClient() = default;

Result<std::shared_ptr<TlsContext>> HttpsClient::context() {
  std::lock_guard lk(idle_mu_);
  if (ctx_ == nullptr) {
    TlsConfig c;
    c.ca_pem = opts_.ca_pem;
    c.ca_file = opts_.ca_file;
    c.cert_pem = opts_.cert_pem;
    c.cert_file = opts_.cert_file;
    c.key_pem = opts_.key_pem;
    c.key_file = opts_.key_file;
    auto made = TlsContext::make(c);
    if (!made) return made.error();
    ctx_ = *made;
  }
  return ctx_;
}

std::string HttpsClient::request_headers(const std::string& content_type) const {
  std::string h = "Accept: application/json\r\nUser-Agent: k3dpp-node/" K3DPP_VERSION "\r\n";
  if (!content_type.empty()) h += "Content-Type: " + content_type + "\r\n";
  return h;
}

Result<RawResponse> HttpsClient::request(const std::string& method, const std::string& target,
                                         const std::string& content_type, const std::string& body) {
  auto ctx = context();
  if (!ctx) return ctx.error().wrap(method + " " + opts_.server + target);
  auto ep = parse_https_url(opts_.server);
  if (!ep) return ep.error();
  auto deadline = Clock::now() + std::chrono::seconds(opts_.timeout_seconds);
  std::string headers = request_headers(content_type);
  // A pooled connection first; if it turns out dead before any response byte, a new one.
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::unique_ptr<TlsHttpConnection> conn;
    if (attempt == 0) {
      std::lock_guard lk(idle_mu_);
      while (!idle_.empty() && conn == nullptr) {
        conn = std::move(idle_.back());
        idle_.pop_back();
        if (conn->idle_closed()) conn.reset();
      }
    }
    bool reused = conn != nullptr;
    if (!reused) {
      auto opened = TlsHttpConnection::open(*ctx, *ep, deadline);
      if (!opened) return opened.error().wrap(method + " " + opts_.server + target);
      conn = std::move(*opened);
    }
    bool got_response = false;
    auto reply = conn->exchange(method, target, headers, body, deadline, nullptr, {}, &got_response);
    if (!reply) {
      if (reused && !got_response && !reply.error().is("Timeout")) continue;
      return fail(method + " " + opts_.server + target + ": " + reply.error().message, "Unavailable");
    }
    if (reply->keep_alive) {
      std::lock_guard lk(idle_mu_);
      if (idle_.size() < kMaxIdleHandles) idle_.push_back(std::move(conn));
    }
    return RawResponse{reply->status, std::move(reply->body)};
  }
  return fail(method + " " + opts_.server + target + ": connection lost", "Unavailable");
}

Result<RawResponse> HttpsClient::stream(const std::string& target,
                                        const std::function<bool(std::string_view)>& on_chunk,
                                        std::stop_token stop) {
  auto ctx = context();
  if (!ctx) return ctx.error().wrap("watch " + opts_.server + target);
  auto ep = parse_https_url(opts_.server);
  if (!ep) return ep.error();
  auto conn = TlsHttpConnection::open(*ctx, *ep, Clock::now() + std::chrono::seconds(opts_.timeout_seconds));
  if (!conn) return fail("watch " + opts_.server + target + ": " + conn.error().message, "Unavailable");
  auto reply = (*conn)->exchange("GET", target, request_headers(""), {}, Clock::time_point::max(), &on_chunk, stop);
  if (!reply) {
    if (stop.stop_requested()) return RawResponse{0, ""};
    return fail("watch " + opts_.server + target + ": " + reply.error().message, "Unavailable");
  }
  return RawResponse{reply->status, std::move(reply->body)};
}

}  // namespace k3dpp::client
