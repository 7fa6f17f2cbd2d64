#include "streams/handlers.h"

#include "common/log.h"

namespace k3dpp::streams {

namespace {

auto logger() {
  static auto l = log::get("streams");
  return l;
}

}  // namespace

void serve_exec(const http::Request& request, http::Responder& responder, Kind kind, const ExecRunner& run) {
  auto plan = plan_upgrade(request, kind);
  if (!plan) {
    responder.send(upgrade_error_response(plan.error()));
    return;
  }
  auto options = exec_options_from_request(request);
  http::Conn& conn = responder.upgrade(plan->headers);
  auto session = ExecSession::start(conn, plan->transport, options);
  if (!session) {
    logger()->debug("exec {}: {}", request.path, session.error().message);
    return;
  }
  run(**session, options);
  // A no-op when the runner already finished.
  (void)(*session)->finish_error("internal error: the command runner returned without a status");
}

void serve_port_forward(const http::Request& request, http::Responder& responder, const PortConnector& connector) {
  auto plan = plan_upgrade(request, Kind::kPortForward);
  if (!plan) {
    responder.send(upgrade_error_response(plan.error()));
    return;
  }
  http::Conn& conn = responder.upgrade(plan->headers);
  auto st = PortForwardSession::serve(conn, plan->transport, connector);
  if (!st) logger()->debug("port-forward {}: {}", request.path, st.error().message);
}

}  // namespace k3dpp::streams
