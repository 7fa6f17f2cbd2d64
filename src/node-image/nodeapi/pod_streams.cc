#include "nodeapi/pod_streams.h"

#include <cctype>

#include "apiserver/api_server.h"
#include "client/in_process_client.h"
#include "common/log.h"
#include "nodeapi/wire.h"

namespace k3dpp::nodeapi {
namespace {

// /api/v1/namespaces/NS/pods/NAME/SUB → (NS, NAME)
bool pod_from_path(const std::string& path, std::string& ns, std::string& name) {
  const std::string prefix = "/api/v1/namespaces/";
  if (path.rfind(prefix, 0) != 0) return false;
  size_t a = prefix.size();
  size_t b = path.find('/', a);
  if (b == std::string::npos) return false;
  ns = path.substr(a, b - a);
  if (path.compare(b, 6, "/pods/") != 0) return false;
  size_t c = b + 6;
  size_t d = path.find('/', c);
  if (d == std::string::npos) return false;
  name = path.substr(c, d - c);
  return !ns.empty() && !name.empty();
}

// A websocket upgrade offering only the SPDY-in-websocket tunnel protocol.
bool tunnels_spdy_in_websocket(const http::Request& req) {
  auto up = req.header("upgrade");
  if (!up) return false;
  std::string u = *up;
  for (auto& ch : u) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (u != "websocket") return false;
  bool tunnel = false, other = false;
  for (auto it = req.headers.lower_bound("sec-websocket-protocol"); it != req.headers.end() && it->first == "sec-websocket-protocol"; ++it) {
    size_t pos = 0;
    const std::string& v = it->second;
    while (pos <= v.size()) {
      size_t comma = v.find(',', pos);
      if (comma == std::string::npos) comma = v.size();
      std::string p = v.substr(pos, comma - pos);
      while (!p.empty() && p.front() == ' ') p.erase(0, 1);
      while (!p.empty() && p.back() == ' ') p.pop_back();
      if (p == "SPDY/3.1+portforward.k8s.io") tunnel = true;
      else if (!p.empty()) other = true;
      pos = comma + 1;
    }
  }
  return tunnel && !other;
}

void serve(StreamKind kind, client::ApiClient& api, const NodeDialer& dialer, const http::Request& req,
           http::Responder& out) {
  auto log = log::get("nodeapi");
  std::string ns, name;
  if (!pod_from_path(req.path, ns, name)) {
    out.send(http::status_response(404, "NotFound", "the server could not find the requested resource"));
    return;
  }
  auto pod = api.get(client::res::kPods, ns, name);
  if (!pod) {
    if (pod.error().is("NotFound")) {
      out.send(http::status_response(404, "NotFound", "pods \"" + name + "\" not found"));
    } else {
      out.send(error_response(pod.error()));
    }
    return;
  }
  auto plan = plan_node_request(kind, *pod, req.param("container").value_or(""), raw_query(req.target));
  if (!plan) {
    out.send(error_response(plan.error()));
    return;
  }
  if (kind == StreamKind::kPortForward && tunnels_spdy_in_websocket(req)) {
    // kubectl 1.32's first port-forward try. containerd 1.6 cannot serve it; answering here spares
    // the node a one-time URL and kubectl retries at once with plain SPDY/3.1.
    out.send(http::status_response(400, "BadRequest",
                                   "port-forward over websocket (SPDY/3.1+portforward.k8s.io) is not supported by "
                                   "the node; use SPDY/3.1"));
    return;
  }
  auto node = api.get(client::res::kNodes, "", plan->node_name);
  if (!node) {
    out.send(http::status_response(500, "InternalError",
                                   "error dialing backend: node \"" + plan->node_name + "\": " + node.error().message));
    return;
  }
  auto ip = node_internal_ip(*node);
  if (!ip) {
    out.send(http::status_response(500, "InternalError", "error dialing backend: " + ip.error().message));
    return;
  }
  log->debug("{} {}/{} → node {} ({}) {}", subresource_name(kind), ns, name, plan->node_name, *ip, plan->target);
  auto conn = dialer.dial(plan->node_name, *ip);
  if (!conn) {
    log->warn("{} {}/{}: node {}: {}", subresource_name(kind), ns, name, plan->node_name, conn.error().message);
    out.send(http::status_response(500, "InternalError", "error dialing backend: " + conn.error().message));
    return;
  }
  http::Conn& up = **conn;
  std::string host = *ip + ":" + std::to_string(dialer.options().port);
  if (!up.write(render_request_head(req.method, plan->target, host, forwarded_request_headers(req.headers)))) {
    out.send(http::status_response(500, "InternalError", "error dialing backend: node " + host + " closed the connection"));
    return;
  }
  std::string leftover;
  auto head = read_response_head(up, leftover);
  if (!head) {
    out.send(http::status_response(500, "InternalError",
                                   "error reading the answer of node " + plan->node_name + ": " + head.error().message));
    return;
  }
  log->debug("{} {}/{}: node answered {}", subresource_name(kind), ns, name, head->status);
  relay_response(up, *head, std::move(leftover), out);
  up.close();
}

}  // namespace

http::Handler make_pod_stream_handler(StreamKind kind, std::shared_ptr<client::ApiClient> api,
                                      std::shared_ptr<const NodeDialer> dialer) {
  return [kind, api, dialer](const http::Request& req, http::Responder& out) { serve(kind, *api, *dialer, req, out); };
}

void install_pod_stream_handlers(apiserver::ApiServer& server, NodeDialer dialer) {
  auto api = std::make_shared<client::InProcessClient>(
      [&server](const http::Request& q, http::Responder& r) { server.handle(q, r); });
  auto d = std::make_shared<const NodeDialer>(std::move(dialer));
  for (auto kind : {StreamKind::kLog, StreamKind::kExec, StreamKind::kAttach, StreamKind::kPortForward})
    server.set_subresource_handler(std::string("pods/") + subresource_name(kind), make_pod_stream_handler(kind, api, d));
}

}  // namespace k3dpp::nodeapi
