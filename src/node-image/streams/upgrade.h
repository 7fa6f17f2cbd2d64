// The handshake decision for the API server (and the kubelet's streaming server): given the request
// for …/exec, …/attach or …/portforward, which transport and subprotocol to run and the 101
// headers to send, or a 400 Status when it is neither a websocket nor a SPDY/3.1 upgrade we speak.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "common/result.h"
#include "httpserver/http.h"

namespace k3dpp::streams {

enum class Kind { kExec, kAttach, kPortForward };
enum class Transport { kWebsocket, kSpdy };

// Subprotocols.
inline constexpr const char* kProtocolV5 = "v5.channel.k8s.io";
inline constexpr const char* kProtocolV4 = "v4.channel.k8s.io";
inline constexpr const char* kProtocolPortForward = "portforward.k8s.io";
inline constexpr const char* kProtocolPortForwardWs = "SPDY/3.1+portforward.k8s.io";

struct UpgradePlan {
  Transport transport = Transport::kWebsocket;
  std::string protocol;  // the chosen subprotocol
  // Headers for Responder::upgrade (Connection, Upgrade, Sec-WebSocket-Accept/-Protocol or
  // X-Stream-Protocol-Version).
  std::vector<std::pair<std::string, std::string>> headers;
};

// GET + Upgrade: websocket + Sec-WebSocket-Protocol (v5.channel.k8s.io for exec/attach,
// SPDY/3.1+portforward.k8s.io for port-forward), or POST/GET + Upgrade: SPDY/3.1 +
// X-Stream-Protocol-Version (v4.channel.k8s.io / v5.channel.k8s.io, portforward.k8s.io).
// Error kind "BadRequest" with a message kubectl can show.
Result<UpgradePlan> plan_upgrade(const http::Request& request, Kind kind);

// {"kind":"Status",...,"status":"Failure","message":…,"reason":"BadRequest","code":400}.
http::Response upgrade_error_response(const Error& error);

}  // namespace k3dpp::streams
