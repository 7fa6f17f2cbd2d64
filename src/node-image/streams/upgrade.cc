#include "streams/upgrade.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/strings.h"
#include "streams/websocket.h"

namespace k3dpp::streams {

namespace {

bool has_token(const http::Headers& headers, const std::string& name, std::string_view want) {
  for (const auto& t : ws::header_tokens(headers, name)) {
    if (strings::to_lower(t) == strings::to_lower(want)) return true;
  }
  return false;
}

}  // namespace

Result<UpgradePlan> plan_upgrade(const http::Request& request, Kind kind) {
  const auto& h = request.headers;
  UpgradePlan plan;
  if (has_token(h, "upgrade", "websocket")) {
    std::vector<std::string> supported = kind == Kind::kPortForward
                                             ? std::vector<std::string>{kProtocolPortForwardWs}
                                             : std::vector<std::string>{kProtocolV5};
    auto hs = ws::server_handshake(request.method, h, supported);
    if (!hs) return hs.error();
    plan.transport = Transport::kWebsocket;
    plan.protocol = hs->protocol;
    plan.headers = std::move(hs->headers);
    return plan;
  }
  if (has_token(h, "upgrade", "SPDY/3.1")) {
    if (!has_token(h, "connection", "upgrade")) {
      return fail("SPDY upgrade: missing 'Connection: Upgrade'", "BadRequest");
    }
    auto offered = ws::header_tokens(h, "x-stream-protocol-version");
    std::vector<std::string> supported = kind == Kind::kPortForward
                                             ? std::vector<std::string>{kProtocolPortForward}
                                             : std::vector<std::string>{kProtocolV4, kProtocolV5};
    for (const auto& s : supported) {
      if (std::find(offered.begin(), offered.end(), s) != offered.end()) {
        plan.protocol = s;
        break;
      }
    }
    if (plan.protocol.empty()) {
      return fail("unable to upgrade: unable to negotiate protocol: client supports [" + strings::join(offered, " ") +
                      "], server supports [" + strings::join(supported, " ") + "]",
                  "BadRequest");
    }
    plan.transport = Transport::kSpdy;
    plan.headers = {{"Connection", "Upgrade"}, {"Upgrade", "SPDY/3.1"}, {"X-Stream-Protocol-Version", plan.protocol}};
    return plan;
  }
  return fail("Upgrade request required", "BadRequest");
}

http::Response upgrade_error_response(const Error& error) {
  nlohmann::ordered_json j = {{"kind", "Status"},          {"apiVersion", "v1"},
                              {"metadata", nlohmann::json::object()}, {"status", "Failure"},
                              {"message", error.message},  {"reason", "BadRequest"},
                              {"code", 400}};
  http::Response r;
  r.status = 400;
  r.headers = {{"Content-Type", "application/json"}};
  r.body = j.dump();
  return r;
}

}  // namespace k3dpp::streams
