// Server side of Kubernetes port-forward (portforward.k8s.io): SPDY/3.1 either directly on the
// upgraded connection or inside binary websocket messages (SPDY/3.1+portforward.k8s.io). Each
// forwarded client connection is a pair of streams (streamtype error + data) sharing the `port`
// and `requestID` headers; the session dials the pod's port through the caller's connector and
// pumps bytes both ways.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "common/result.h"
#include "httpserver/http.h"
#include "streams/byte_stream.h"
#include "streams/upgrade.h"

namespace k3dpp::streams {

// Dials the pod's port. An error's message is written to the error stream (kubectl prints it).
using PortConnector = std::function<Result<std::unique_ptr<ByteStream>>(uint16_t port)>;

struct PortForwardStats {
  size_t requests = 0;        // data streams served
  size_t connect_errors = 0;  // connector failures
};

class PortForwardSession {
 public:
  // Serves the upgraded connection until the client's GOAWAY, EOF or a protocol error; then closes
  // every pod connection and returns. Blocks. For Transport::kWebsocket the connection is wrapped in
  // a websocket (server role) whose binary payloads carry the SPDY byte stream.
  static Status serve(http::Conn& conn, Transport transport, PortConnector connector,
                      PortForwardStats* stats = nullptr);
};

}  // namespace k3dpp::streams
