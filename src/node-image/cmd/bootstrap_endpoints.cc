#include "cmd/bootstrap_endpoints.h"

#include <nlohmann/json.hpp>

#include "common/log.h"

namespace k3dpp::nodecmd {

namespace {
std::shared_ptr<spdlog::logger> logger() {
  static auto l = log::get("bootstrap");
  return l;
}
}  // namespace

bool valid_node_name(const std::string& name) {
  if (name.empty() || name.size() > 253) return false;
  size_t start = 0;
  while (start <= name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    std::string_view label(name.data() + start, dot - start);
    if (label.empty() || label.size() > 63) return false;
    for (char c : label)
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
    if (label.front() == '-' || label.back() == '-') return false;
    start = dot + 1;
  }
  return true;
}

BootstrapEndpoints::BootstrapEndpoints(pki::CertKey ca, std::string token)
    : ca_(std::move(ca)), token_(std::move(token)) {
  ca_hmac_ = pki::hmac_sha256_hex(token_, ca_.cert_pem);
}

bool BootstrapEndpoints::handles(const std::string& path) {
  return path == kCacertsPath || path == kNodeCredentialsPath;
}

void BootstrapEndpoints::handle(const http::Request& req, http::Responder& r) const {
  if (req.path == kCacertsPath) {
    if (req.method != "GET" && req.method != "HEAD") {
      r.send(http::status_response(405, "MethodNotAllowed", "the server does not allow this method on the requested resource"));
      return;
    }
    http::Response res;
    res.headers = {{"Content-Type", "text/plain; charset=utf-8"}, {"X-K3dpp-CA-HMAC", ca_hmac_}};
    res.body = ca_.cert_pem;
    r.send(std::move(res));
    return;
  }
  // node-credentials
  if (req.method != "POST") {
    r.send(http::status_response(405, "MethodNotAllowed", "the server does not allow this method on the requested resource"));
    return;
  }
  std::string presented;
  if (auto auth = req.header("authorization"); auth && auth->rfind("Bearer ", 0) == 0)
    presented = auth->substr(7);
  if (token_.empty() || !pki::constant_time_equal(presented, token_)) {
    logger()->warn("node-credentials: refused {} from {} (wrong or missing node token)",
                   presented.empty() ? "a request without a token" : "a wrong token", req.remote);
    r.send(http::status_response(401, "Unauthorized", "Unauthorized"));
    return;
  }
  auto body = nlohmann::json::parse(req.body, nullptr, false);
  std::string node;
  if (body.is_object() && body.contains("nodeName") && body["nodeName"].is_string()) node = body["nodeName"];
  if (!valid_node_name(node)) {
    r.send(http::status_response(400, "BadRequest", "nodeName must be a DNS-1123 subdomain"));
    return;
  }
  auto cert = pki::issue_client(ca_, "system:node:" + node, {"system:nodes"});
  if (!cert) {
    logger()->error("node-credentials: {}", cert.error().message);
    r.send(http::status_response(500, "InternalError", "cannot issue the node certificate"));
    return;
  }
  logger()->info("issued node credentials for {} to {}", node, req.remote);
  http::Response res;
  res.headers = {{"Content-Type", "application/json"}};
  res.body = nlohmann::json({{"cert", cert->cert_pem}, {"key", cert->key_pem}}).dump();
  r.send(std::move(res));
}

}  // namespace k3dpp::nodecmd
