// End to end: the real kubectl (/usr/bin/kubectl, 1.32) against a tiny plain-HTTP API server on
// 127.0.0.1 whose exec and port-forward endpoints run our ExecSession and PortForwardSession.
// Covers exec over websocket v5 and over SPDY (KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false), and
// port-forward over SPDY-in-websocket and plain SPDY (KUBECTL_PORT_FORWARD_WEBSOCKETS=false) with
// two concurrent connections to a local echo "pod". Needs only kubectl and 127.0.0.1.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <pty.h>
#include <termios.h>
#include <signal.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <optional>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "common/strings.h"
#include "streams/client.h"
#include "streams/handlers.h"
#include "streams/portforward.h"
#include "streams/remotecommand.h"
#include "streams/tcp.h"
#include "streams/upgrade.h"

using namespace k3dpp::streams;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr const char* kKubectl = "/usr/bin/kubectl";

std::string url_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else if (s[i] == '+') {
      out.push_back(' ');
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::string http_reply(int code, const std::string& body) {
  return "HTTP/1.1 " + std::to_string(code) + " X\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

const json kPod = json::parse(R"({"kind":"Pod","apiVersion":"v1",
  "metadata":{"name":"p","namespace":"default","uid":"3f2a","resourceVersion":"1"},
  "spec":{"containers":[{"name":"c","image":"busybox"}]},
  "status":{"phase":"Running","podIP":"10.42.0.5"}})");

const std::map<std::string, json> kDiscovery = {
    {"/api", json::parse(R"({"kind":"APIVersions","versions":["v1"],
        "serverAddressByClientCIDRs":[{"clientCIDR":"0.0.0.0/0","serverAddress":"127.0.0.1"}]})")},
    {"/apis", json::parse(R"({"kind":"APIGroupList","apiVersion":"v1","groups":[]})")},
    {"/api/v1", json::parse(R"({"kind":"APIResourceList","groupVersion":"v1","resources":[
        {"name":"pods","singularName":"pod","namespaced":true,"kind":"Pod","verbs":["get","list"],"shortNames":["po"]},
        {"name":"pods/exec","singularName":"","namespaced":true,"kind":"PodExecOptions","verbs":["create","get"]},
        {"name":"pods/portforward","singularName":"","namespaced":true,"kind":"PodPortForwardOptions","verbs":["create","get"]}]})")},
};

// What the fake "container" runs: prints its arguments, echoes stdin, writes to stderr, and exits
// with the code given as exit=N.
// With a tty: reports the first terminal size, echoes input until Ctrl-D (0x04), exits 2.
void fake_tty_exec(ExecSession& s) {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<TerminalSize> size;
  s.on_resize([&](TerminalSize t) {
    std::lock_guard lk(mu);
    if (!size) size = t;
    cv.notify_all();
  });
  {
    std::unique_lock lk(mu);
    cv.wait_for(lk, std::chrono::seconds(10), [&] { return size.has_value(); });
    s.write_stdout(size ? "size " + std::to_string(size->width) + "x" + std::to_string(size->height) + "\r\n"
                        : std::string("no size\r\n"));
  }
  for (;;) {
    auto chunk = s.read_stdin_some();
    if (chunk.empty()) break;
    auto eot = chunk.find('\x04');
    s.write_stdout("[" + chunk.substr(0, eot) + "]");
    if (eot != std::string::npos) break;
  }
  (void)s.finish(2);
}

void fake_exec(ExecSession& s, const ExecOptions& o) {
  if (o.tty) return fake_tty_exec(s);
  int code = 0;
  std::vector<std::string> words;
  for (size_t i = 1; i < o.command.size(); ++i) {
    long long n;
    if (o.command[i].starts_with("exit=") && k3dpp::strings::parse_int(o.command[i].substr(5), n)) {
      code = static_cast<int>(n);
    } else {
      words.push_back(o.command[i]);
    }
  }
  s.write_stdout(k3dpp::strings::join(words, " ") + "\n");
  for (;;) {
    auto chunk = s.read_stdin_some();
    if (chunk.empty()) break;
    s.write_stdout(chunk);
  }
  s.write_stderr("to stderr\n");
  (void)s.finish(code);
}

// http::Responder over the test server's TCP connection.
class TestResponder : public k3dpp::http::Responder {
 public:
  TestResponder(TcpStream& conn, const std::string& early) : conn_(conn), early_(early) {}
  void send(k3dpp::http::Response r) override { conn_.write(http_reply(r.status, r.body)); }
  k3dpp::http::Stream& stream(int, const std::vector<std::pair<std::string, std::string>>&) override {
    FAIL("stream() is not used by the streams handlers");
    std::abort();
  }
  k3dpp::http::Conn& upgrade(const std::vector<std::pair<std::string, std::string>>& headers) override {
    std::string resp = "HTTP/1.1 101 Switching Protocols\r\n";
    for (const auto& [k, v] : headers) {
      resp += k + ": " + v + "\r\n";
      if (k == "Upgrade" && v == "websocket") websocket = true;
    }
    conn_.write(resp + "\r\n");
    upgraded = true;
    if (on_upgrade) on_upgrade(websocket);
    upgraded_conn_ = std::make_unique<StreamConn>(conn_, early_);
    return *upgraded_conn_;
  }
  bool upgraded = false;
  bool websocket = false;
  std::function<void(bool websocket)> on_upgrade;

 private:
  TcpStream& conn_;
  std::string early_;
  std::unique_ptr<StreamConn> upgraded_conn_;
};

struct Stats {
  std::atomic<int> ws_exec{0}, spdy_exec{0}, ws_pf{0}, spdy_pf{0};
};

class FakeApi {
 public:
  FakeApi(PortConnector connector) : connector_(std::move(connector)) {
    auto l = TcpListener::listen("127.0.0.1", 0);
    REQUIRE(l);
    listener_ = std::move(*l);
    acceptor_ = std::thread([this] {
      for (;;) {
        auto c = listener_->accept();
        if (!c) return;
        std::lock_guard lk(mu_);
        std::shared_ptr<TcpStream> conn(std::move(*c));
        conns_.push_back(conn);
        threads_.emplace_back([this, conn] { serve(*conn); });
      }
    });
  }
  ~FakeApi() {
    listener_->close();
    acceptor_.join();
    std::vector<std::thread> ts;
    {
      std::lock_guard lk(mu_);
      for (auto& c : conns_) c->close();
      ts.swap(threads_);
    }
    for (auto& t : ts) t.join();
  }
  uint16_t port() const { return listener_->port(); }
  Stats stats;

 private:
  void serve(TcpStream& conn) {
    std::string buf;
    for (;;) {
      size_t end;
      while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
        char tmp[8192];
        long n = conn.read(tmp, sizeof tmp);
        if (n <= 0) return;
        buf.append(tmp, static_cast<size_t>(n));
      }
      std::string head = buf.substr(0, end);
      buf.erase(0, end + 4);
      k3dpp::http::Request req;
      auto lines = k3dpp::strings::split(head, '\n');
      auto first = k3dpp::strings::split(std::string(k3dpp::strings::trim(lines[0])), ' ');
      req.method = first[0];
      req.target = first[1];
      auto q = req.target.find('?');
      req.path = req.target.substr(0, q);
      if (q != std::string::npos) {
        for (const auto& kv : k3dpp::strings::split(req.target.substr(q + 1), '&')) {
          auto eq = kv.find('=');
          req.query.emplace(url_decode(kv.substr(0, eq)), eq == std::string::npos ? "" : url_decode(kv.substr(eq + 1)));
        }
      }
      size_t content_length = 0;
      for (size_t i = 1; i < lines.size(); ++i) {
        auto colon = lines[i].find(':');
        if (colon == std::string::npos) continue;
        std::string name = k3dpp::strings::to_lower(k3dpp::strings::trim(lines[i].substr(0, colon)));
        std::string value(k3dpp::strings::trim(lines[i].substr(colon + 1)));
        if (name == "content-length") content_length = std::stoul(value);
        req.headers.emplace(name, value);
      }
      while (buf.size() < content_length) {
        char tmp[8192];
        long n = conn.read(tmp, sizeof tmp);
        if (n <= 0) return;
        buf.append(tmp, static_cast<size_t>(n));
      }
      buf.erase(0, content_length);

      const std::string pod_path = "/api/v1/namespaces/default/pods/p";
      if (req.path == "/version") {
        conn.write(http_reply(200, R"({"major":"1","minor":"32","gitVersion":"v1.32.4-k3dpp"})"));
      } else if (kDiscovery.count(req.path)) {
        conn.write(http_reply(200, kDiscovery.at(req.path).dump()));
      } else if (req.path == pod_path && req.method == "GET") {
        conn.write(http_reply(200, kPod.dump()));
      } else if (req.path == pod_path + "/exec" || req.path == pod_path + "/portforward") {
        // The same glue the API server uses: streams::serve_exec / serve_port_forward.
        bool exec = req.path.ends_with("/exec");
        TestResponder responder(conn, buf);
        // Counted at the upgrade: the session may still run when the test looks.
        responder.on_upgrade = [this, exec](bool ws) {
          (exec ? (ws ? stats.ws_exec : stats.spdy_exec) : (ws ? stats.ws_pf : stats.spdy_pf))++;
        };
        if (exec) {
          serve_exec(req, responder, Kind::kExec, fake_exec);
        } else {
          serve_port_forward(req, responder, connector_);
        }
        if (!responder.upgraded) continue;
        return;
      } else {
        conn.write(http_reply(404, R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"not found","reason":"NotFound","code":404})"));
      }
    }
  }

  PortConnector connector_;
  std::unique_ptr<TcpListener> listener_;
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<std::shared_ptr<TcpStream>> conns_;
  std::vector<std::thread> threads_;
};

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "k3dpp-streams-XXXXXX").string();
    path = mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(path); }
};

void write_file(const fs::path& p, const std::string& s) { std::ofstream(p) << s; }
std::string read_file(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

struct Kubectl {
  TempDir dir;
  std::vector<std::string> env;
  explicit Kubectl(uint16_t port) {
    write_file(dir.path / "kubeconfig", "apiVersion: v1\nkind: Config\nclusters:\n- name: t\n  cluster:\n    server: http://127.0.0.1:" +
                                            std::to_string(port) +
                                            "\nusers:\n- name: u\n  user: {}\ncontexts:\n- name: t\n  context: {cluster: t, user: u, namespace: default}\ncurrent-context: t\n");
    env = {"KUBECONFIG=" + (dir.path / "kubeconfig").string(), "HOME=" + dir.path.string(), "PATH=/usr/bin:/bin"};
  }

  // Starts kubectl with stdin from a file and stdout/stderr to files; returns the pid.
  pid_t spawn(const std::vector<std::string>& args, const std::vector<std::string>& extra_env, const std::string& in,
              const std::string& tag) {
    write_file(dir.path / (tag + ".in"), in);
    std::vector<std::string> e = env;
    e.insert(e.end(), extra_env.begin(), extra_env.end());
    std::vector<char*> argv{const_cast<char*>(kKubectl)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (auto& s : e) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::string fin = (dir.path / (tag + ".in")).string(), fout = (dir.path / (tag + ".out")).string(),
                ferr = (dir.path / (tag + ".err")).string();
    pid_t pid = fork();
    if (pid == 0) {
      int i = open(fin.c_str(), O_RDONLY);
      int o = open(fout.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int r = open(ferr.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(i, 0);
      dup2(o, 1);
      dup2(r, 2);
      execve(kKubectl, argv.data(), envp.data());
      _exit(127);
    }
    return pid;
  }

  // Waits up to timeout; kills on timeout (rc -1).
  static int wait(pid_t pid, std::chrono::seconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      int st = 0;
      pid_t r = waitpid(pid, &st, WNOHANG);
      if (r == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      if (std::chrono::steady_clock::now() > deadline) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
        return -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  struct Run {
    int rc;
    std::string out, err;
  };
  Run run(const std::vector<std::string>& args, const std::vector<std::string>& extra_env, const std::string& in) {
    static int n = 0;
    std::string tag = "run" + std::to_string(n++);
    pid_t pid = spawn(args, extra_env, in, tag);
    int rc = wait(pid, std::chrono::seconds(30));
    return {rc, read_file(dir.path / (tag + ".out")), read_file(dir.path / (tag + ".err"))};
  }
};

bool have_kubectl() { return access(kKubectl, X_OK) == 0; }

// An echo server standing in for the pod's port 80.
struct EchoServer {
  std::unique_ptr<TcpListener> listener;
  std::thread acceptor;
  std::mutex mu;
  std::vector<std::thread> threads;
  EchoServer() {
    auto l = TcpListener::listen("127.0.0.1", 0);
    REQUIRE(l);
    listener = std::move(*l);
    acceptor = std::thread([this] {
      for (;;) {
        auto c = listener->accept();
        if (!c) return;
        std::shared_ptr<TcpStream> s(std::move(*c));
        std::lock_guard lk(mu);
        threads.emplace_back([s] {
          char buf[65536];
          long n;
          while ((n = s->read(buf, sizeof buf)) > 0) {
            if (!s->write(std::string_view(buf, static_cast<size_t>(n)))) break;
          }
          s->close_write();
        });
      }
    });
  }
  ~EchoServer() {
    listener->close();
    acceptor.join();
    for (auto& t : threads) t.join();
  }
};

// Connects to the forwarded local port, sends data, half-closes, reads everything back.
std::string round_trip(uint16_t port, const std::string& data) {
  auto c = tcp_connect("127.0.0.1", port);
  if (!c) return "connect failed: " + c.error().message;
  std::thread writer([&] {
    (*c)->write(data);
    (*c)->close_write();
  });
  std::string got;
  char buf[65536];
  long n;
  while ((n = (*c)->read(buf, sizeof buf)) > 0) got.append(buf, static_cast<size_t>(n));
  writer.join();
  return got;
}

uint16_t free_port() {
  auto l = TcpListener::listen("127.0.0.1", 0);
  return l ? (*l)->port() : 0;
}

void check_exec(const std::vector<std::string>& env, bool expect_ws) {
  FakeApi api([](uint16_t) -> k3dpp::Result<std::unique_ptr<ByteStream>> { return k3dpp::fail("no pods here"); });
  Kubectl k(api.port());
  SUBCASE("exit code 3 with stdin") {
    auto r = k.run({"exec", "-i", "p", "--", "fake", "hello", "world", "exit=3"}, env, "line one\nline two\n");
    CHECK(r.rc == 3);
    CHECK(r.out == "hello world\nline one\nline two\n");
    CHECK(r.err.find("to stderr\n") != std::string::npos);
    CHECK(r.err.find("command terminated with exit code 3") != std::string::npos);
  }
  SUBCASE("exit code 0 without stdin") {
    auto r = k.run({"exec", "p", "--", "fake", "just", "args"}, env, "");
    CHECK(r.rc == 0);
    CHECK(r.out == "just args\n");
    CHECK(r.err == "to stderr\n");
  }
  CHECK((expect_ws ? api.stats.ws_exec.load() : api.stats.spdy_exec.load()) == 1);
  CHECK((expect_ws ? api.stats.spdy_exec.load() : api.stats.ws_exec.load()) == 0);
}

void check_port_forward(const std::vector<std::string>& env, bool expect_ws) {
  EchoServer echo;
  uint16_t echo_port = echo.listener->port();
  std::atomic<int> dials{0};
  FakeApi api([&](uint16_t port) -> k3dpp::Result<std::unique_ptr<ByteStream>> {
    if (port != 80) return k3dpp::fail("dial tcp 10.42.0.5:" + std::to_string(port) + ": connect: connection refused");
    ++dials;
    auto c = tcp_connect("127.0.0.1", echo_port);
    if (!c) return c.error();
    return std::unique_ptr<ByteStream>(std::move(*c));
  });
  Kubectl k(api.port());
  uint16_t local = free_port();
  pid_t pid = k.spawn({"port-forward", "pod/p", std::to_string(local) + ":80"}, env, "", "pf");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (read_file(k.dir.path / "pf.out").find("Forwarding from 127.0.0.1:" + std::to_string(local) + " -> 80") ==
             std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  INFO("kubectl stdout: " << read_file(k.dir.path / "pf.out"));
  INFO("kubectl stderr: " << read_file(k.dir.path / "pf.err"));
  REQUIRE(read_file(k.dir.path / "pf.out").find("Forwarding from 127.0.0.1:" + std::to_string(local) + " -> 80") !=
          std::string::npos);
  // Two concurrent connections, one of them large (more than SPDY's 64 KiB initial window).
  std::string big(1 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
  auto f1 = std::async(std::launch::async, [&] { return round_trip(local, big); });
  auto f2 = std::async(std::launch::async, [&] { return round_trip(local, "second connection\n"); });
  std::string r1 = f1.get(), r2 = f2.get();
  CHECK(r1.size() == big.size());
  CHECK((r1 == big));
  CHECK(r2 == "second connection\n");
  CHECK(round_trip(local, "third, after the others\n") == "third, after the others\n");
  CHECK(dials.load() == 3);
  kill(pid, SIGTERM);
  Kubectl::wait(pid, std::chrono::seconds(10));
  CHECK((expect_ws ? api.stats.ws_pf.load() : api.stats.spdy_pf.load()) == 1);
  CHECK((expect_ws ? api.stats.spdy_pf.load() : api.stats.ws_pf.load()) == 0);
}

}  // namespace

TEST_CASE("kubectl exec over websocket v5.channel.k8s.io") {
  if (!have_kubectl()) return;
  check_exec({}, true);
}

TEST_CASE("kubectl exec over SPDY/3.1 (KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false)") {
  if (!have_kubectl()) return;
  check_exec({"KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false"}, false);
}

TEST_CASE("kubectl port-forward over SPDY inside websocket") {
  if (!have_kubectl()) return;
  check_port_forward({}, true);
}

TEST_CASE("kubectl port-forward over SPDY/3.1 (KUBECTL_PORT_FORWARD_WEBSOCKETS=false)") {
  if (!have_kubectl()) return;
  check_port_forward({"KUBECTL_PORT_FORWARD_WEBSOCKETS=false"}, false);
}

TEST_CASE("kubectl port-forward prints the error the connector returns") {
  if (!have_kubectl()) return;
  for (bool ws : {true, false}) {
    CAPTURE(ws);
    FakeApi api([](uint16_t port) -> k3dpp::Result<std::unique_ptr<ByteStream>> {
      return k3dpp::fail("dial tcp 10.42.0.5:" + std::to_string(port) + ": connect: connection refused");
    });
    Kubectl k(api.port());
    uint16_t local = free_port();
    std::vector<std::string> env;
    if (!ws) env.push_back("KUBECTL_PORT_FORWARD_WEBSOCKETS=false");
    pid_t pid = k.spawn({"port-forward", "pod/p", std::to_string(local) + ":81"}, env, "", "pferr");
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (read_file(k.dir.path / "pferr.out").find("Forwarding from") == std::string::npos &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    // The local connection is accepted, then closed without data once the error arrives.
    CHECK(round_trip(local, "nobody listens").empty());
    std::string want = "error forwarding port 81 to pod: dial tcp 10.42.0.5:81: connect: connection refused";
    deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (read_file(k.dir.path / "pferr.err").find(want) == std::string::npos &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    kill(pid, SIGTERM);
    Kubectl::wait(pid, std::chrono::seconds(10));
    INFO("kubectl stderr: " << read_file(k.dir.path / "pferr.err"));
    CHECK(read_file(k.dir.path / "pferr.err").find(want) != std::string::npos);
  }
}

TEST_CASE("our SPDY clients through a real HTTP upgrade (the kubelet's side)") {
  EchoServer echo;
  uint16_t echo_port = echo.listener->port();
  FakeApi api([&](uint16_t) -> k3dpp::Result<std::unique_ptr<ByteStream>> {
    auto c = tcp_connect("127.0.0.1", echo_port);
    if (!c) return c.error();
    return std::unique_ptr<ByteStream>(std::move(*c));
  });
  // Refused upgrade: the 400 Status comes back as the error.
  auto bad = spdy_upgrade("127.0.0.1", api.port(), "POST", "/api/v1/namespaces/default/pods/p/exec?command=x&stdout=true",
                          {"v1.channel.k8s.io"});
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message.find("unable to negotiate protocol") != std::string::npos);

  auto up = spdy_upgrade("127.0.0.1", api.port(), "POST",
                         "/api/v1/namespaces/default/pods/p/exec?command=fake&command=hi&command=exit%3D5&stdin=true&stdout=true&stderr=true",
                         {kProtocolV4});
  REQUIRE(up);
  CHECK(up->protocol == kProtocolV4);
  ExecOptions opt;
  opt.stdin = true;
  std::string out, err;
  std::mutex mu;
  ExecClientIO io{[&](std::string_view d) { std::lock_guard lk(mu); out += d; },
                  [&](std::string_view d) { std::lock_guard lk(mu); err += d; }};
  auto c = ExecClient::start(*up->tcp, opt, io, up->pending);
  REQUIRE(c);
  (*c)->write_stdin("typed\n");
  (*c)->close_stdin();
  auto code = (*c)->wait();
  REQUIRE(code);
  CHECK(*code == 5);
  CHECK(out == "hi\ntyped\n");
  CHECK(err == "to stderr\n");

  auto pf = spdy_upgrade("127.0.0.1", api.port(), "POST", "/api/v1/namespaces/default/pods/p/portforward",
                         {kProtocolPortForward});
  REQUIRE(pf);
  auto fwd = PortForwardClient::start(*pf->tcp, pf->pending);
  REQUIRE(fwd);
  std::unique_ptr<ByteStream> app, local;
  make_pipe_pair(app, local);
  std::string got;
  std::thread user([&] {
    app->write("ping through the kubelet path");
    app->close_write();
    char buf[256];
    long n;
    while ((n = app->read(buf, sizeof buf)) > 0) got.append(buf, static_cast<size_t>(n));
  });
  CHECK((*fwd)->forward(80, *local));
  user.join();
  CHECK(got == "ping through the kubelet path");
  (*fwd)->close();
}

TEST_CASE("kubectl exec -it: terminal size, raw input, exit code (websocket and SPDY)") {
  if (!have_kubectl()) return;
  for (bool ws : {true, false}) {
    CAPTURE(ws);
    FakeApi api([](uint16_t) -> k3dpp::Result<std::unique_ptr<ByteStream>> { return k3dpp::fail("unused"); });
    Kubectl k(api.port());
    std::vector<std::string> env = k.env;
    if (!ws) env.push_back("KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false");
    env.push_back("TERM=dumb");
    std::vector<char*> envp;
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    std::vector<std::string> args = {kKubectl, "exec", "-it", "p", "--", "sh"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    winsize wsz{};
    wsz.ws_col = 100;
    wsz.ws_row = 30;
    int master = -1;
    pid_t pid = forkpty(&master, nullptr, nullptr, &wsz);
    REQUIRE(pid >= 0);
    if (pid == 0) {
      execve(kKubectl, argv.data(), envp.data());
      _exit(127);
    }
    std::string screen;
    auto read_until = [&](const std::string& want, std::chrono::seconds t) {
      auto deadline = std::chrono::steady_clock::now() + t;
      while (screen.find(want) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
        pollfd p{master, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0) continue;
        char buf[4096];
        ssize_t n = ::read(master, buf, sizeof buf);
        if (n <= 0) break;
        screen.append(buf, static_cast<size_t>(n));
      }
      return screen.find(want) != std::string::npos;
    };
    CHECK(read_until("size 100x30", std::chrono::seconds(20)));
    CHECK(::write(master, "hi", 2) == 2);
    CHECK(read_until("[hi]", std::chrono::seconds(10)));
    CHECK(::write(master, "\x04", 1) == 1);
    read_until("command terminated with exit code 2", std::chrono::seconds(10));
    int rc = Kubectl::wait(pid, std::chrono::seconds(10));
    ::close(master);
    INFO("screen: " << screen);
    CHECK(rc == 2);
    CHECK(screen.find("command terminated with exit code 2") != std::string::npos);
    CHECK((ws ? api.stats.ws_exec.load() : api.stats.spdy_exec.load()) == 1);
  }
}
