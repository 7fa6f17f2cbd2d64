// One-call glue for an http::Handler (API server or kubelet streaming server): plan the upgrade,
// answer 400 Status or 101, and run the session on the upgraded connection.
#pragma once

#include <functional>

#include "httpserver/http.h"
#include "streams/portforward.h"
#include "streams/remotecommand.h"

namespace k3dpp::streams {

// Runs `run` with the ExecSession for …/exec or …/attach. `run` must end with session.finish(...)
// (if it does not, finish_error("internal error: the command runner returned without a status")
// is sent). Returns once the session is over.
using ExecRunner = std::function<void(ExecSession& session, const ExecOptions& options)>;
void serve_exec(const http::Request& request, http::Responder& responder, Kind kind, const ExecRunner& run);

// Serves …/portforward with the connector until the client goes away.
void serve_port_forward(const http::Request& request, http::Responder& responder, const PortConnector& connector);

}  // namespace k3dpp::streams
