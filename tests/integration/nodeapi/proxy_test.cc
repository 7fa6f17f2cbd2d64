#include <doctest/doctest.h>

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <filesystem>
#include <mutex>
#include <random>
#include <thread>

#include "apiserver/api_server.h"
#include "client/in_process_client.h"
#include "httpserver/server.h"
#include "nodeapi/node_server.h"
#include "nodeapi/pod_streams.h"
#include "nodeapi/wire.h"
#include "pki/pki.h"
#include "pki/server_pki.h"
#include "streams/handlers.h"
#include "streams/upgrade.h"
#include "streams/tcp.h"

using namespace k3dpp;
using json = nlohmann::json;

namespace {

// A stand-in for containerd's stream server: exec/attach websocket offering only v5 → 403 (what
// containerd 1.6 does); SPDY or websocket with v4 → 101, then echoes every byte.
class FakeStreamServer {
 public:
  FakeStreamServer() {
    auto l = streams::TcpListener::listen("127.0.0.1", 0);
    REQUIRE(l);
    listener_ = std::move(*l);
    thread_ = std::thread([this] { loop(); });
  }
  ~FakeStreamServer() {
    listener_->close();
    thread_.join();
    for (auto& t : conns_) t.join();
  }
  uint16_t port() const { return listener_->port(); }
  std::vector<std::string> heads() {
    std::lock_guard<std::mutex> l(mu_);
    return heads_;
  }

 private:
  void loop() {
    for (;;) {
      auto c = listener_->accept();
      if (!c) return;
      conns_.emplace_back([this, conn = std::shared_ptr<streams::TcpStream>(std::move(*c))] { serve(*conn); });
    }
  }
  void serve(streams::TcpStream& c) {
    std::string buf;
    char tmp[4096];
    while (buf.find("\r\n\r\n") == std::string::npos) {
      long n = c.read(tmp, sizeof tmp);
      if (n <= 0) return;
      buf.append(tmp, static_cast<size_t>(n));
    }
    std::string head = buf.substr(0, buf.find("\r\n\r\n"));
    std::string rest = buf.substr(buf.find("\r\n\r\n") + 4);
    {
      std::lock_guard<std::mutex> l(mu_);
      heads_.push_back(head);
    }
    if (real_protocols_) {
      serve_real(c, head, rest);
      return;
    }
    std::string lower = head;
    for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    bool ws = lower.find("upgrade: websocket") != std::string::npos;
    bool spdy = lower.find("upgrade: spdy/3.1") != std::string::npos;
    if (ws && lower.find("v4.channel.k8s.io") == std::string::npos) {
      c.write("HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 10\r\n\r\nForbidden\n");
      c.close();
      return;
    }
    if (!ws && !spdy) {
      c.write("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
      c.close();
      return;
    }
    std::string reply = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n";
    reply += spdy ? "Upgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n"
                  : "Upgrade: websocket\r\nSec-WebSocket-Protocol: v4.channel.k8s.io\r\n\r\n";
    reply += "hello:";  // bytes right behind the 101 must reach the client too
    c.write(reply);
    if (!rest.empty()) c.write(rest);
    for (;;) {
      long n = c.read(tmp, sizeof tmp);
      if (n <= 0) break;
      if (!c.write(std::string_view(tmp, static_cast<size_t>(n)))) break;
    }
    c.close();
  }

  // Like containerd 1.6: websocket offering only v5 → 403; otherwise the real exec protocols
  // (streams::serve_exec) running a fake command: prints its argv, exits with 3.
  void serve_real(streams::TcpStream& c, const std::string& head, const std::string& rest) {
    http::Request req;
    size_t eol = head.find("\r\n");
    std::string line = head.substr(0, eol);
    req.method = line.substr(0, line.find(' '));
    req.target = line.substr(line.find(' ') + 1, line.rfind(' ') - line.find(' ') - 1);
    req.path = req.target.substr(0, req.target.find('?'));
    req.query = http::parse_query(nodeapi::raw_query(req.target));
    auto parsed = nodeapi::parse_response_head("HTTP/1.1 200 X\r\n" + head.substr(eol + 2));
    REQUIRE(parsed);
    bool v4 = false;
    for (auto& [k, v] : parsed->headers) {
      std::string lk = k;
      for (auto& ch : lk) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      req.headers.emplace(lk, v);
      if (v.find("v4.channel.k8s.io") != std::string::npos) v4 = true;
    }
    auto up = req.header("upgrade");
    if (up && *up == "websocket" && !v4) {
      c.write("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
      c.close();
      return;
    }
    struct PlainResponder : http::Responder {
      PlainResponder(streams::TcpStream& c, std::string prefix) : conn(c), sconn(c, std::move(prefix)) {}
      void send(http::Response r) override {
        std::string h = "HTTP/1.1 " + std::to_string(r.status) + " X\r\n";
        for (auto& [k, v] : r.headers) h += k + ": " + v + "\r\n";
        h += "Content-Length: " + std::to_string(r.body.size()) + "\r\n\r\n" + r.body;
        conn.write(h);
      }
      http::Stream& stream(int, const std::vector<std::pair<std::string, std::string>>&) override { std::abort(); }
      http::Conn& upgrade(const std::vector<std::pair<std::string, std::string>>& headers) override {
        std::string h = "HTTP/1.1 101 Switching Protocols\r\n";
        for (auto& [k, v] : headers) h += k + ": " + v + "\r\n";
        conn.write(h + "\r\n");
        return sconn;
      }
      streams::TcpStream& conn;
      streams::StreamConn sconn;
    } responder(c, rest);
    if (req.path.rfind("/portforward/", 0) == 0) {
      uint16_t echo = echo_port_;
      streams::serve_port_forward(req, responder, [echo](uint16_t) -> k3dpp::Result<std::unique_ptr<streams::ByteStream>> {
        auto t = streams::tcp_connect("127.0.0.1", echo);
        if (!t) return t.error();
        return std::unique_ptr<streams::ByteStream>(std::move(*t));
      });
      c.close();
      return;
    }
    streams::serve_exec(req, responder, streams::Kind::kExec, [](streams::ExecSession& s, const streams::ExecOptions&) {
      s.write_stdout("ran in the fake runtime\n");
      (void)s.finish(3);
    });
    c.close();
  }

 public:
  bool real_protocols_ = false;
  uint16_t echo_port_ = 0;  // the "pod" port-forwards reach

 private:
  std::unique_ptr<streams::TcpListener> listener_;
  std::thread thread_;
  std::vector<std::thread> conns_;
  std::mutex mu_;
  std::vector<std::string> heads_;
};

class FakeKubelet : public nodeapi::NodeBackend {
 public:
  explicit FakeKubelet(uint16_t port) : port_(port) {}
  Status logs(const std::string& ns, const std::string& pod, const std::string& container,
              const std::map<std::string, std::string>& query, const std::function<bool(std::string_view)>& out,
              std::stop_token stop) override {
    if (pod != "web") return Error("no logs for pod " + ns + "/" + pod, "NotFound");
    std::string follow = query.count("follow") ? query.at("follow") : "";
    if (follow == "forever") {  // a quiet follow: only a vanished client ends it
      if (!out("start\n")) return {};
      for (int i = 0; i < 200 && !stop.stop_requested(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
      if (stop.stop_requested()) quiet_follow_cancelled = true;
      return {};
    }
    if (!out(container + " line1\n")) return {};
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    if (!out("line2 follow=" + follow + "\n")) return {};
    return {};
  }
  Result<std::string> exec_url(const std::string&, const std::string&, const std::string& container,
                               const std::vector<std::string>& cmd, bool tty, bool in, bool out, bool err) override {
    std::lock_guard<std::mutex> l(mu);
    last = container + ":" + (cmd.empty() ? "" : cmd[0]) + (cmd.size() > 1 ? "," + cmd[1] : "") + (tty ? ":tty" : "");
    // containerd keeps the options behind its token; this fake runtime reads them from the query.
    std::string q;
    for (auto [name, on] : {std::pair{"stdin", in}, {"stdout", out}, {"stderr", err}, {"tty", tty}})
      if (on) q += std::string(q.empty() ? "?" : "&") + name + "=true";
    return "http://127.0.0.1:" + std::to_string(port_) + "/exec/token" + std::to_string(++n) + q;
  }
  Result<std::string> attach_url(const std::string&, const std::string&, const std::string&, bool, bool, bool,
                                 bool) override {
    return "http://127.0.0.1:" + std::to_string(port_) + "/attach/tok";
  }
  Result<std::string> port_forward_url(const std::string&, const std::string&, const std::vector<int>&) override {
    return "http://127.0.0.1:" + std::to_string(port_) + "/portforward/pf";
  }
  std::mutex mu;
  std::string last;
  int n = 0;
  std::atomic<bool> quiet_follow_cancelled{false};

 private:
  uint16_t port_;
};

struct Cluster {
  Cluster() : kubelet(streams.port()) {
    std::random_device rd;
    dir = std::filesystem::temp_directory_path() / ("k3dpp-nodeapi-it-" + std::to_string(rd()));
    std::filesystem::create_directories(dir);
    auto c = pki::generate_ca("k3dpp-test-ca");
    REQUIRE(c);
    ca = *c;
    // The node serves with its own client credentials (CN system:node:n1), as in a real node.
    node_cert = *pki::issue_client(ca, "system:node:n1", {"system:nodes"});
    auto ns = nodeapi::NodeServer::start({"127.0.0.1:0", node_cert.cert_pem, node_cert.key_pem, ca.cert_pem}, kubelet);
    REQUIRE_MESSAGE(ns, (ns ? "" : ns.error().message));
    node = std::move(*ns);

    apiserver::Options o;
    o.data_dir = dir.string();
    o.background = false;
    api = std::make_unique<apiserver::ApiServer>(o);
    auto dial_cert = *pki::issue_client(ca, nodeapi::kApiServerClientName, {"system:masters"});
    nodeapi::NodeDialerOptions d;
    d.ca_pem = ca.cert_pem;
    d.cert_pem = dial_cert.cert_pem;
    d.key_pem = dial_cert.key_pem;
    d.port = node->port();
    nodeapi::install_pod_stream_handlers(*api, nodeapi::NodeDialer(d));
    REQUIRE(api->start());
    auto serving = *pki::issue_serving(ca, "kube-apiserver", {"127.0.0.1"});
    httpserver::Options ho;
    ho.cert_pem = serving.cert_pem;
    ho.key_pem = serving.key_pem;
    ho.client_ca_pem = ca.cert_pem;
    auto hs = httpserver::Server::start(ho, [this](const http::Request& q, http::Responder& r) { api->handle(q, r); });
    REQUIRE(hs);
    front = std::move(*hs);
    admin = *pki::issue_client(ca, "admin", {"system:masters"});

    client::InProcessClient c2([this](const http::Request& q, http::Responder& r) { api->handle(q, r); });
    add_node(c2, "n1", "127.0.0.1");
    add_node(c2, "n2", "127.0.0.2");  // nothing listens there
    add_pod(c2, "web", "n1", "Running");
    add_pod(c2, "done", "n1", "Succeeded");
    add_pod(c2, "pending", "", "Pending");
    add_pod(c2, "far", "n2", "Running");
  }
  ~Cluster() {
    front->stop(std::chrono::milliseconds(200));
    node->stop();
    api->stop();
    std::filesystem::remove_all(dir);
  }
  static void add_node(client::ApiClient& c, const std::string& name, const std::string& ip) {
    json n = {{"apiVersion", "v1"}, {"kind", "Node"}, {"metadata", {{"name", name}}}};
    auto created = c.create(client::res::kNodes, "", n);
    REQUIRE(created);
    json s = *created;
    s["status"]["addresses"] = json::array({{{"type", "InternalIP"}, {"address", ip}}});
    REQUIRE(c.update_status(client::res::kNodes, "", s));
  }
  static void add_pod(client::ApiClient& c, const std::string& name, const std::string& node, const std::string& phase) {
    json p = {{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", {{"name", name}, {"namespace", "default"}}},
              {"spec", {{"containers", json::array({{{"name", "c"}, {"image", "busybox"}}})}}}};
    if (!node.empty()) p["spec"]["nodeName"] = node;
    auto created = c.create(client::res::kPods, "default", p);
    REQUIRE_MESSAGE(created, (created ? "" : created.error().message));
    json s = *created;
    s["status"]["phase"] = phase;
    REQUIRE(c.update_status(client::res::kPods, "default", s));
  }

  // Sends one raw request to the API server as admin; returns the connection and the answer head.
  struct Exchange {
    std::unique_ptr<http::Conn> conn;
    nodeapi::ResponseHead head;
    std::string leftover;
    std::string body() {
      std::string b;
      auto st = nodeapi::read_body(*conn, head, leftover, [&](std::string_view p) {
        b += p;
        return true;
      });
      REQUIRE_MESSAGE(st, (st ? "" : st.error().message));
      return b;
    }
  };
  Exchange request(const std::string& method, const std::string& target, const nodeapi::HeaderList& headers,
                   uint16_t port = 0, const pki::CertKey* as = nullptr) {
    const pki::CertKey& who = as ? *as : admin;
    auto conn = nodeapi::tls_connect("127.0.0.1", port ? port : front->port(), ca.cert_pem, who.cert_pem, who.key_pem, "");
    REQUIRE_MESSAGE(conn, (conn ? "" : conn.error().message));
    Exchange ex;
    ex.conn = std::move(*conn);
    nodeapi::HeaderList h = headers;
    if (method == "GET" && headers.empty()) h.emplace_back("Connection", "close");
    REQUIRE(ex.conn->write(nodeapi::render_request_head(method, target, "127.0.0.1", h)));
    auto head = nodeapi::read_response_head(*ex.conn, ex.leftover);
    REQUIRE_MESSAGE(head, (head ? "" : head.error().message));
    ex.head = *head;
    return ex;
  }

  std::filesystem::path dir;
  FakeStreamServer streams;
  FakeKubelet kubelet;
  pki::CertKey ca, node_cert, admin;
  std::unique_ptr<nodeapi::NodeServer> node;
  std::unique_ptr<apiserver::ApiServer> api;
  std::unique_ptr<httpserver::Server> front;
};

std::string read_exactly(http::Conn& c, std::string& pending, size_t n) {
  std::string out = pending.substr(0, std::min(n, pending.size()));
  pending.erase(0, out.size());
  char buf[1024];
  while (out.size() < n) {
    long got = c.read(buf, std::min(sizeof buf, n - out.size()));
    if (got <= 0) break;
    out.append(buf, static_cast<size_t>(got));
  }
  return out;
}

const nodeapi::HeaderList kWebsocketV5 = {{"Upgrade", "websocket"},
                                          {"Connection", "Upgrade"},
                                          {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
                                          {"Sec-WebSocket-Version", "13"},
                                          {"Sec-WebSocket-Protocol", "v5.channel.k8s.io"}};
const nodeapi::HeaderList kSpdyExec = {{"Upgrade", "SPDY/3.1"},
                                       {"Connection", "Upgrade"},
                                       {"X-Stream-Protocol-Version", "v5.channel.k8s.io"},
                                       {"X-Stream-Protocol-Version", "v4.channel.k8s.io"}};

}  // namespace

TEST_CASE("logs stream through both hops, chunked") {
  Cluster c;
  auto ex = c.request("GET", "/api/v1/namespaces/default/pods/web/log?container=c&follow=true", {});
  CHECK(ex.head.status == 200);
  CHECK(ex.head.header("Transfer-Encoding") == "chunked");
  CHECK(ex.head.header("Content-Type") == "text/plain");
  CHECK(ex.body() == "c line1\nline2 follow=true\n");

  auto missing = c.request("GET", "/api/v1/namespaces/default/pods/nope/log", {});
  CHECK(missing.head.status == 404);
  CHECK(json::parse(missing.body())["message"] == "pods \"nope\" not found");
}

TEST_CASE("a quiet follow ends on the node once the client goes away") {
  Cluster c;
  auto ex = c.request("GET", "/api/v1/namespaces/default/pods/web/log?container=c&follow=forever", {});
  REQUIRE(ex.head.status == 200);
  std::string first;
  (void)nodeapi::read_body(*ex.conn, ex.head, ex.leftover, [&](std::string_view p) {
    first += p;
    return false;  // stop after the first chunk
  });
  CHECK(first == "start\n");
  ex.conn->close();
  bool cancelled = false;
  for (int i = 0; i < 60 && !cancelled; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    cancelled = c.kubelet.quiet_follow_cancelled;
  }
  CHECK(cancelled);
}

TEST_CASE("exec: websocket v5 gets the runtime's 403, the SPDY retry upgrades through both hops") {
  Cluster c;
  const std::string target = "/api/v1/namespaces/default/pods/web/exec?command=sh&command=-c&container=c&stdout=true";
  auto ws = c.request("GET", target, kWebsocketV5);
  CHECK(ws.head.status == 403);
  CHECK(ws.body() == "Forbidden\n");

  auto sp = c.request("POST", target, kSpdyExec);
  REQUIRE(sp.head.status == 101);
  CHECK(sp.head.header("X-Stream-Protocol-Version") == "v4.channel.k8s.io");
  CHECK(sp.head.header("Upgrade") == "SPDY/3.1");
  CHECK(read_exactly(*sp.conn, sp.leftover, 6) == "hello:");
  REQUIRE(sp.conn->write("ping-1"));
  CHECK(read_exactly(*sp.conn, sp.leftover, 6) == "ping-1");
  std::string big(200000, 'x');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
  std::thread writer([&] { sp.conn->write(big); });
  CHECK(read_exactly(*sp.conn, sp.leftover, big.size()) == big);
  writer.join();
  sp.conn->close();
  {
    std::lock_guard<std::mutex> l(c.kubelet.mu);
    CHECK(c.kubelet.last == "c:sh,-c");
  }
  // The runtime saw the token path and the client's upgrade headers (no container/query leak).
  auto heads = c.streams.heads();
  REQUIRE(heads.size() == 2);
  CHECK(heads[1].rfind("POST /exec/token2?stdout=true HTTP/1.1\r\n", 0) == 0);
  CHECK(heads[1].find("x-stream-protocol-version: v4.channel.k8s.io") != std::string::npos);
}

TEST_CASE("port-forward: SPDY upgrade relayed; websocket v4 with ?port= passes the query to the runtime") {
  Cluster c;
  auto sp = c.request("POST", "/api/v1/namespaces/default/pods/web/portforward",
                      {{"Upgrade", "SPDY/3.1"}, {"Connection", "Upgrade"}, {"X-Stream-Protocol-Version", "portforward.k8s.io"}});
  REQUIRE(sp.head.status == 101);
  CHECK(read_exactly(*sp.conn, sp.leftover, 6) == "hello:");
  REQUIRE(sp.conn->write("data"));
  CHECK(read_exactly(*sp.conn, sp.leftover, 4) == "data");
  sp.conn->close();

  auto ws = c.request("GET", "/api/v1/namespaces/default/pods/web/portforward?port=80",
                      {{"Upgrade", "websocket"}, {"Connection", "Upgrade"}, {"Sec-WebSocket-Key", "x"},
                       {"Sec-WebSocket-Version", "13"}, {"Sec-WebSocket-Protocol", "v4.channel.k8s.io"}});
  REQUIRE(ws.head.status == 101);
  CHECK(ws.head.header("Sec-WebSocket-Protocol") == "v4.channel.k8s.io");
  ws.conn->close();
  // kubectl 1.32's first try (SPDY tunnelled in websocket) is refused without bothering the node.
  auto tunnel = c.request("GET", "/api/v1/namespaces/default/pods/web/portforward",
                          {{"Upgrade", "websocket"}, {"Connection", "Upgrade"}, {"Sec-WebSocket-Key", "x"},
                           {"Sec-WebSocket-Version", "13"}, {"Sec-WebSocket-Protocol", "SPDY/3.1+portforward.k8s.io"}});
  CHECK(tunnel.head.status == 400);
  CHECK(json::parse(tunnel.body())["reason"] == "BadRequest");
  auto heads = c.streams.heads();
  REQUIRE(heads.size() == 2);
  CHECK(heads[1].rfind("GET /portforward/pf?port=80 HTTP/1.1\r\n", 0) == 0);
}

TEST_CASE("errors come back as Kubernetes Status") {
  Cluster c;
  auto check = [&](const std::string& target, int code, const std::string& message) {
    auto ex = c.request("POST", target, kSpdyExec);
    CHECK(ex.head.status == code);
    auto body = json::parse(ex.body());
    CHECK(body["kind"] == "Status");
    CHECK(body["code"] == code);
    CHECK(body["message"] == message);
  };
  check("/api/v1/namespaces/default/pods/nope/exec?command=ls&container=c&stdout=true", 404, "pods \"nope\" not found");
  check("/api/v1/namespaces/default/pods/pending/exec?command=ls&container=c&stdout=true", 400,
        "pod pending does not have a host assigned");
  check("/api/v1/namespaces/default/pods/web/exec?command=ls&container=zz&stdout=true", 400,
        "container zz is not valid for pod web");
  check("/api/v1/namespaces/default/pods/done/exec?command=ls&container=c&stdout=true", 400,
        "cannot exec into a container in a completed pod; current phase is Succeeded");
  auto far = c.request("POST", "/api/v1/namespaces/default/pods/far/exec?command=ls&container=c&stdout=true", kSpdyExec);
  CHECK(far.head.status == 500);
  std::string msg = json::parse(far.body())["message"];
  CHECK(msg.rfind("error dialing backend: dial tcp 127.0.0.2:" + std::to_string(c.node->port()), 0) == 0);
}

TEST_CASE("the node endpoint only serves the API server's identities") {
  Cluster c;
  auto as_node = c.request("GET", "/containerLogs/default/web/c", {}, c.node->port(), &c.node_cert);
  CHECK(as_node.head.status == 403);
  CHECK(json::parse(as_node.body())["message"] ==
        "Forbidden (user=system:node:n1, verb=GET, resource=nodes, subresource=proxy)");
  auto dialer_cert = *pki::issue_client(c.ca, nodeapi::kApiServerClientName, {});
  auto ok = c.request("GET", "/containerLogs/default/web/c?tailLines=1", {}, c.node->port(), &dialer_cert);
  CHECK(ok.head.status == 200);
  CHECK(ok.body() == "c line1\nline2 follow=\n");
  auto missing = c.request("GET", "/containerLogs/default/gone/c", {}, c.node->port(), &dialer_cert);
  CHECK(missing.head.status == 404);
  // A node certificate for another name is refused by the dialer's CN check.
  auto wrong = nodeapi::tls_connect("127.0.0.1", c.node->port(), c.ca.cert_pem, dialer_cert.cert_pem,
                                    dialer_cert.key_pem, "system:node:other");
  REQUIRE(!wrong);
  CHECK(wrong.error().message.find("presented certificate CN \"system:node:n1\"") != std::string::npos);
}

// The real kubectl 1.32 through both hops: logs, and exec (websocket v5 → the runtime's 403 → SPDY).
TEST_CASE("kubectl logs and exec through the API server and the node endpoint") {
  if (!std::filesystem::exists("/usr/bin/kubectl")) {
    MESSAGE("skipped: no /usr/bin/kubectl");
    return;
  }
  Cluster c;
  c.streams.real_protocols_ = true;
  const std::string kubeconfig = (c.dir / "kubeconfig").string();
  {
    std::ofstream f(kubeconfig);
    f << pki::render_kubeconfig("t", "https://127.0.0.1:" + std::to_string(c.front->port()), c.ca.cert_pem,
                                c.admin.cert_pem, c.admin.key_pem);
  }
  auto run = [&](const std::string& args, int& rc) {
    std::string cmd = "HOME=" + c.dir.string() + " KUBECONFIG=" + kubeconfig + " /usr/bin/kubectl " + args + " 2>&1";
    FILE* p = ::popen(cmd.c_str(), "r");
    std::string out;
    char buf[512];
    while (p && std::fgets(buf, sizeof buf, p)) out += buf;
    int st = p ? ::pclose(p) : -1;
    rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return out;
  };
  int rc = -1;
  CHECK(run("logs web", rc) == "c line1\nline2 follow=\n");
  CHECK(rc == 0);
  CHECK(run("logs -f web", rc) == "c line1\nline2 follow=true\n");
  CHECK(rc == 0);
  CHECK(run("exec web -- sh -c 'exit 3'", rc) == "ran in the fake runtime\ncommand terminated with exit code 3\n");
  CHECK(rc == 3);
  auto heads = c.streams.heads();
  REQUIRE(heads.size() == 2);
  CHECK(heads[0].find("sec-websocket-protocol: v5.channel.k8s.io") != std::string::npos);  // refused (403)
  CHECK(heads[1].rfind("POST /exec/", 0) == 0);                                            // the SPDY retry
  CHECK(run("exec pending -- ls", rc) == "Error from server (BadRequest): pod pending does not have a host assigned\n");
  CHECK(rc == 1);
}

TEST_CASE("kubectl port-forward through both hops (websocket try refused, SPDY relayed)") {
  if (!std::filesystem::exists("/usr/bin/kubectl")) {
    MESSAGE("skipped: no /usr/bin/kubectl");
    return;
  }
  Cluster c;
  // The "pod": an echo server.
  auto echo = streams::TcpListener::listen("127.0.0.1", 0);
  REQUIRE(echo);
  std::thread echo_thread([l = echo->get()] {
    for (;;) {
      auto conn = l->accept();
      if (!conn) return;
      char buf[4096];
      long n;
      while ((n = (*conn)->read(buf, sizeof buf)) > 0) (*conn)->write(std::string_view(buf, static_cast<size_t>(n)));
    }
  });
  c.streams.real_protocols_ = true;
  c.streams.echo_port_ = (*echo)->port();
  const std::string kubeconfig = (c.dir / "kubeconfig").string();
  {
    std::ofstream f(kubeconfig);
    f << pki::render_kubeconfig("t", "https://127.0.0.1:" + std::to_string(c.front->port()), c.ca.cert_pem,
                                c.admin.cert_pem, c.admin.key_pem);
  }
  uint16_t local = 0;
  {
    auto probe = streams::TcpListener::listen("127.0.0.1", 0);
    REQUIRE(probe);
    local = (*probe)->port();
    (*probe)->close();
  }
  int out[2];
  REQUIRE(::pipe(out) == 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], 1);
    ::dup2(out[1], 2);
    ::setenv("HOME", c.dir.c_str(), 1);
    std::string ports = std::to_string(local) + ":80";
    ::execl("/usr/bin/kubectl", "kubectl", "--kubeconfig", kubeconfig.c_str(), "port-forward", "--address",
            "127.0.0.1", "pod/web", ports.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(out[1]);
  std::string text;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (text.find("Forwarding from") == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    struct pollfd p {out[0], POLLIN, 0};
    if (::poll(&p, 1, 500) <= 0) continue;
    char buf[512];
    long n = ::read(out[0], buf, sizeof buf);
    if (n <= 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  CHECK(text.find("Forwarding from 127.0.0.1:" + std::to_string(local) + " -> 80") != std::string::npos);
  for (int round = 0; round < 2; ++round) {  // two connections, one after the other
    auto conn = streams::tcp_connect("127.0.0.1", local);
    REQUIRE(conn);
    std::string msg = "ping-" + std::to_string(round);
    REQUIRE((*conn)->write(msg));
    std::string got;
    char buf[64];
    while (got.size() < msg.size()) {
      long n = (*conn)->read(buf, sizeof buf);
      if (n <= 0) break;
      got.append(buf, static_cast<size_t>(n));
    }
    CHECK(got == msg);
    (*conn)->close();
  }
  ::kill(pid, SIGTERM);
  int st = 0;
  ::waitpid(pid, &st, 0);
  ::close(out[0]);
  (*echo)->close();
  echo_thread.join();
  auto heads = c.streams.heads();
  REQUIRE(!heads.empty());
  CHECK(heads[0].rfind("POST /portforward/pf HTTP/1.1\r\n", 0) == 0);  // only the SPDY try reached it
}
