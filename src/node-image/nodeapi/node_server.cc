#include "nodeapi/node_server.h"

#include <atomic>
#include <charconv>
#include <chrono>
#include <thread>

#include "common/log.h"
#include "httpserver/server.h"
#include "kubelet/kubelet.h"
#include "nodeapi/paths.h"
#include "nodeapi/wire.h"

namespace k3dpp::nodeapi {
namespace {

bool flag(const http::Request& req, const char* name) {
  auto v = req.param(name);
  return v && (*v == "true" || *v == "1");
}

class KubeletBackend : public NodeBackend {
 public:
  explicit KubeletBackend(kubelet::Kubelet& k) : k_(k) {}
  Status logs(const std::string& ns, const std::string& pod, const std::string& container,
              const std::map<std::string, std::string>& query, const std::function<bool(std::string_view)>& out,
              std::stop_token stop) override {
    std::string ignored;
    long long now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
    auto opts = kubelet::log_options_from_query(query, ignored, now_ns);
    if (!opts) return opts.error();
    return k_.logs(ns, pod, container, std::move(*opts), out, stop);
  }
  Result<std::string> exec_url(const std::string& ns, const std::string& pod, const std::string& container,
                               const std::vector<std::string>& cmd, bool tty, bool in, bool out, bool err) override {
    return k_.exec_url(ns, pod, container, cmd, tty, in, out, err);
  }
  Result<std::string> attach_url(const std::string& ns, const std::string& pod, const std::string& container, bool tty,
                                 bool in, bool out, bool err) override {
    return k_.attach_url(ns, pod, container, tty, in, out, err);
  }
  Result<std::string> port_forward_url(const std::string& ns, const std::string& pod,
                                       const std::vector<int>& ports) override {
    return k_.port_forward_url(ns, pod, ports);
  }

 private:
  kubelet::Kubelet& k_;
};

}  // namespace

std::unique_ptr<NodeBackend> kubelet_backend(kubelet::Kubelet& kubelet) {
  return std::make_unique<KubeletBackend>(kubelet);
}

Result<StreamUrl> parse_stream_url(std::string_view url) {
  const std::string_view scheme = "http://";
  if (url.rfind(scheme, 0) != 0) return Error("unsupported stream URL: " + std::string(url), "BadRequest");
  std::string_view rest = url.substr(scheme.size());
  size_t slash = rest.find('/');
  std::string_view hostport = rest.substr(0, slash);
  StreamUrl out;
  out.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  std::string_view host = hostport;
  std::string_view port;
  if (!hostport.empty() && hostport.front() == '[') {
    size_t close = hostport.find(']');
    if (close == std::string_view::npos) return Error("malformed stream URL: " + std::string(url), "BadRequest");
    host = hostport.substr(1, close - 1);
    if (close + 1 < hostport.size() && hostport[close + 1] == ':') port = hostport.substr(close + 2);
  } else if (size_t colon = hostport.rfind(':'); colon != std::string_view::npos) {
    host = hostport.substr(0, colon);
    port = hostport.substr(colon + 1);
  }
  if (host.empty()) return Error("malformed stream URL: " + std::string(url), "BadRequest");
  out.host = std::string(host);
  if (!port.empty()) {
    unsigned p = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (ec != std::errc() || ptr != port.data() + port.size() || p == 0 || p > 65535)
      return Error("malformed stream URL: " + std::string(url), "BadRequest");
    out.port = static_cast<uint16_t>(p);
  }
  return out;
}

bool node_api_allowed(const http::User& user) {
  if (!user.authenticated) return false;
  if (user.name == kApiServerClientName) return true;
  for (auto& g : user.groups)
    if (g == "system:masters") return true;
  return false;
}

Result<std::unique_ptr<NodeServer>> NodeServer::start(NodeServerOptions options, NodeBackend& backend) {
  std::unique_ptr<NodeServer> self(new NodeServer(backend));
  httpserver::Options o;
  o.listen = options.listen;
  o.cert_pem = options.cert_pem;
  o.key_pem = options.key_pem;
  o.client_ca_pem = options.ca_pem;
  o.anonymous_paths = {};
  NodeServer* raw = self.get();
  auto server = httpserver::Server::start(o, [raw](const http::Request& q, http::Responder& r) { raw->handle(q, r); });
  if (!server) return server.error().wrap("node API server on " + options.listen);
  self->server_ = std::move(*server);
  log::get("nodeapi")->info("node API listening on {} (port {})", options.listen, self->server_->port());
  return self;
}

NodeServer::~NodeServer() { stop(); }

uint16_t NodeServer::port() const { return server_ ? server_->port() : 0; }

void NodeServer::stop() {
  if (server_) server_->stop(std::chrono::milliseconds(1000));
}

void NodeServer::handle(const http::Request& req, http::Responder& out) {
  auto log = log::get("nodeapi");
  if (!node_api_allowed(req.user)) {
    out.send(http::status_response(403, "Forbidden",
                                   "Forbidden (user=" + req.user.name + ", verb=" + req.method +
                                       ", resource=nodes, subresource=proxy)"));
    return;
  }
  if (req.path == "/healthz") {
    out.send(http::Response{200, {{"Content-Type", "text/plain"}}, "ok"});
    return;
  }
  auto path = parse_node_path(req.path);
  if (!path) {
    out.send(error_response(path.error()));
    return;
  }
  if (path->kind == StreamKind::kLog) {
    if (req.method != "GET") {
      out.send(http::status_response(405, "MethodNotAllowed", "method " + req.method + " not allowed"));
      return;
    }
    std::map<std::string, std::string> query;
    for (auto& [k, v] : req.query) query.emplace(k, v);  // first value wins
    std::atomic<http::Stream*> stream{nullptr};
    std::stop_source stop;
    std::jthread watcher([&](std::stop_token st) {
      while (!st.stop_requested()) {
        http::Stream* s = stream.load();
        if (s && s->closed()) {
          stop.request_stop();
          return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
    });
    auto sink = [&](std::string_view chunk) {
      if (chunk.empty()) return true;
      http::Stream* s = stream.load();
      if (!s) {
        s = &out.stream(200, {{"Content-Type", "text/plain"}});
        stream.store(s);
      }
      return s->write(chunk);
    };
    Status st = backend_.logs(path->ns, path->pod, path->container, query, sink, stop.get_token());
    watcher.request_stop();
    watcher.join();
    if (stream.load()) return;  // the body ends when the handler returns
    if (!st) {
      out.send(error_response(st.error()));
    } else {
      out.send(http::Response{200, {{"Content-Type", "text/plain"}}, ""});
    }
    return;
  }
  Result<std::string> url = Error("unreachable");
  bool tty = flag(req, "tty");
  if (path->kind == StreamKind::kExec) {
    url = backend_.exec_url(path->ns, path->pod, path->container, req.params("command"), tty, flag(req, "stdin"),
                            flag(req, "stdout"), flag(req, "stderr") && !tty);
  } else if (path->kind == StreamKind::kAttach) {
    url = backend_.attach_url(path->ns, path->pod, path->container, tty, flag(req, "stdin"), flag(req, "stdout"),
                              flag(req, "stderr") && !tty);
  } else {
    std::vector<int> ports;
    for (auto& p : req.params("port")) {
      int v = 0;
      auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), v);
      if (ec != std::errc() || ptr != p.data() + p.size() || v <= 0 || v > 65535) {
        out.send(http::status_response(400, "BadRequest", "invalid port \"" + p + "\""));
        return;
      }
      ports.push_back(v);
    }
    url = backend_.port_forward_url(path->ns, path->pod, ports);
  }
  if (!url) {
    out.send(error_response(url.error()));
    return;
  }
  auto target = parse_stream_url(*url);
  if (!target) {
    out.send(error_response(target.error()));
    return;
  }
  std::string up_target = target->target;
  if (path->kind == StreamKind::kPortForward) {
    std::string q(raw_query(req.target));
    if (!q.empty()) up_target += (up_target.find('?') == std::string::npos ? "?" : "&") + q;
  }
  auto conn = tcp_connect(target->host, target->port);
  if (!conn) {
    out.send(http::status_response(500, "InternalError", "connecting to the runtime's stream server: " +
                                                             conn.error().message));
    return;
  }
  http::Conn& up = **conn;
  std::string host = target->host + ":" + std::to_string(target->port);
  if (!up.write(render_request_head(req.method, up_target, host, forwarded_request_headers(req.headers)))) {
    out.send(http::status_response(500, "InternalError", "the runtime's stream server closed the connection"));
    return;
  }
  std::string leftover;
  auto head = read_response_head(up, leftover);
  if (!head) {
    out.send(http::status_response(500, "InternalError", "the runtime's stream server: " + head.error().message));
    return;
  }
  log->debug("{} {}/{}/{}: stream server answered {}", subresource_name(path->kind), path->ns, path->pod,
             path->container, head->status);
  relay_response(up, *head, std::move(leftover), out);
  up.close();
}

}  // namespace k3dpp::nodeapi
