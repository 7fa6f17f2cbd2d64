#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>

#include "kubelet/probes.h"

using namespace k3dpp::kubelet;
using namespace std::chrono_literals;

namespace {

// A one-shot HTTP server on 127.0.0.1 answering every connection with `status`.
struct Http {
  int fd = -1;
  int port = 0;
  std::atomic<bool> stop{false};
  std::thread t;
  std::string last_request;
  explicit Http(int status) {
    fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    listen(fd, 8);
    t = std::thread([this, status] {
      while (!stop) {
        int c = accept(fd, nullptr, nullptr);
        if (c < 0) break;
        char buf[2048];
        ssize_t n = recv(c, buf, sizeof buf, 0);
        if (n > 0) last_request.assign(buf, static_cast<size_t>(n));
        std::string resp = "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Length: 0\r\n\r\n";
        send(c, resp.data(), resp.size(), MSG_NOSIGNAL);
        close(c);
      }
    });
  }
  ~Http() {
    stop = true;
    shutdown(fd, SHUT_RDWR);
    close(fd);
    t.join();
  }
};

}  // namespace

TEST_CASE("http probe: 2xx/3xx succeed, others fail with the status code") {
  Http ok(200);
  auto r = http_probe("127.0.0.1", ok.port, "/healthz", json::array({{{"name", "X-Test"}, {"value", "1"}}}), 1s);
  CHECK(r.success);
  CHECK(ok.last_request.rfind("GET /healthz HTTP/1.1\r\n", 0) == 0);
  CHECK(ok.last_request.find("X-Test: 1\r\n") != std::string::npos);
  CHECK(ok.last_request.find("User-Agent: kube-probe/1.32\r\n") != std::string::npos);
  Http redirect(302);
  CHECK(http_probe("127.0.0.1", redirect.port, "/", json::array(), 1s).success);
  Http bad(500);
  auto f = http_probe("127.0.0.1", bad.port, "/", json::array(), 1s);
  CHECK_FALSE(f.success);
  CHECK(f.output == "HTTP probe failed with statuscode: 500");
}

TEST_CASE("tcp probe and refused connections") {
  Http ok(200);
  CHECK(tcp_probe("127.0.0.1", ok.port, 1s).success);
  int closed_port = ok.port;
  {
    Http other(200);
    closed_port = other.port;
  }
  auto r = tcp_probe("127.0.0.1", closed_port, 1s);
  CHECK_FALSE(r.success);
  CHECK(r.output == "dial tcp 127.0.0.1:" + std::to_string(closed_port) + ": connect: Connection refused");
  auto h = http_probe("127.0.0.1", closed_port, "/", json::array(), 1s);
  CHECK_FALSE(h.success);
  CHECK(h.output.rfind("Get \"http://127.0.0.1:" + std::to_string(closed_port) + "/\": dial tcp", 0) == 0);
}

TEST_CASE("probe timing defaults and named ports") {
  ProbeTiming t = probe_timing(json::object());
  CHECK(t.period_seconds == 10);
  CHECK(t.timeout_seconds == 1);
  CHECK(t.failure_threshold == 3);
  CHECK(t.success_threshold == 1);
  CHECK(t.initial_delay_seconds == 0);
  json c = {{"ports", {{{"name", "http"}, {"containerPort", 8080}}}}};
  CHECK(resolve_probe_port("http", c) == 8080);
  CHECK(resolve_probe_port(81, c) == 81);
  CHECK(resolve_probe_port("82", c) == 82);
  CHECK(resolve_probe_port("nope", c) == 0);
}
