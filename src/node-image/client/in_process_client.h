// ApiClient over an in-process HTTP handler (ApiServer::handle): no network, no TLS, and the same
// defaulting, validation, admission and watch behaviour kubectl sees. Requests run as the given
// user (default: admin, system:masters). A watch runs on the calling thread.
#pragma once

#include "client/api_client.h"
#include "httpserver/http.h"

namespace k3dpp::client {

class InProcessClient : public RestClient {
 public:
  // handler: typically [&api](const http::Request& q, http::Responder& r) { api.handle(q, r); }.
  explicit InProcessClient(http::Handler handler, http::User user = admin_user());
  static http::User admin_user();

 protected:
  Result<RawResponse> request(const std::string& method, const std::string& target,
                              const std::string& content_type, const std::string& body) override;
  Result<RawResponse> stream(const std::string& target, const std::function<bool(std::string_view)>& on_chunk,
                             std::stop_token stop) override;
  // Watch events arrive as the API server's decoded objects (apiserver/watch_sink.h), not text.
  Result<RawResponse> stream_watch(const std::string& target, const std::function<bool(std::string_view)>& on_chunk,
                                   const EventSink& on_event, std::stop_token stop) override;

 private:
  http::Request make_request(const std::string& method, const std::string& target,
                             const std::string& content_type, const std::string& body) const;
  http::Handler handler_;
  http::User user_;
};

}  // namespace k3dpp::client
