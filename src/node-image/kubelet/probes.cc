#include "kubelet/probes.h"
#include "common/json_read.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace k3dpp::kubelet {
namespace {

// Connects with a deadline; returns the fd or -1 with err set.
int connect_with_timeout(const std::string& host, int port, std::chrono::milliseconds timeout, std::string& err) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &sa.sin_addr) != 1) {
    err = "invalid address " + host;
    return -1;
  }
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    err = std::strerror(errno);
    return -1;
  }
  std::string target = host + ":" + std::to_string(port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 && errno != EINPROGRESS) {
    err = "dial tcp " + target + ": connect: " + std::strerror(errno);
    close(fd);
    return -1;
  }
  pollfd p{fd, POLLOUT, 0};
  int r = poll(&p, 1, static_cast<int>(timeout.count()));
  if (r <= 0) {
    err = "dial tcp " + target + ": i/o timeout";
    close(fd);
    return -1;
  }
  int so_err = 0;
  socklen_t len = sizeof so_err;
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_err, &len);
  if (so_err != 0) {
    err = "dial tcp " + target + ": connect: " + std::strerror(so_err);
    close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

ProbeTiming probe_timing(const json& probe) {
  ProbeTiming t;
  t.initial_delay_seconds = jvalue(probe, "initialDelaySeconds", 0);
  t.period_seconds = std::max(1, jvalue(probe, "periodSeconds", 10));
  t.timeout_seconds = std::max(1, jvalue(probe, "timeoutSeconds", 1));
  t.success_threshold = std::max(1, jvalue(probe, "successThreshold", 1));
  t.failure_threshold = std::max(1, jvalue(probe, "failureThreshold", 3));
  return t;
}

int resolve_probe_port(const json& port, const json& container) {
  if (port.is_number_integer()) return port.get<int>();
  if (!port.is_string()) return 0;
  std::string name = port.get<std::string>();
  if (!name.empty() && std::all_of(name.begin(), name.end(), ::isdigit)) return std::stoi(name);
  if (container.contains("ports") && container["ports"].is_array()) {
    for (const auto& p : container["ports"]) {
      if (jvalue(p, "name", "") == name) return jvalue(p, "containerPort", 0);
    }
  }
  return 0;
}

ProbeResult tcp_probe(const std::string& host, int port, std::chrono::milliseconds timeout) {
  std::string err;
  int fd = connect_with_timeout(host, port, timeout, err);
  if (fd < 0) return {false, err};
  close(fd);
  return {true, ""};
}

ProbeResult http_probe(const std::string& host, int port, const std::string& path, const json& headers,
                       std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string err;
  int fd = connect_with_timeout(host, port, timeout, err);
  std::string url = "http://" + host + ":" + std::to_string(port) + (path.empty() ? "/" : path);
  if (fd < 0) return {false, "Get \"" + url + "\": " + err};
  std::string req = "GET " + (path.empty() ? std::string("/") : path) + " HTTP/1.1\r\nHost: " + host + ":" +
                    std::to_string(port) + "\r\nUser-Agent: kube-probe/1.32\r\nAccept: */*\r\nConnection: close\r\n";
  if (headers.is_array()) {
    for (const auto& h : headers) req += jvalue(h, "name", "") + ": " + jvalue(h, "value", "") + "\r\n";
  }
  req += "\r\n";
  size_t sent = 0;
  std::string resp;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      close(fd);
      return {false, "Get \"" + url + "\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)"};
    }
    pollfd p{fd, static_cast<short>(sent < req.size() ? POLLOUT : POLLIN), 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    if (sent < req.size()) {
      ssize_t n = send(fd, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<size_t>(n);
      continue;
    }
    char buf[4096];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    resp.append(buf, static_cast<size_t>(n));
    if (resp.find("\r\n") != std::string::npos) break;  // the status line is all we need
  }
  close(fd);
  // "HTTP/1.1 200 OK"
  auto sp = resp.find(' ');
  if (sp == std::string::npos || resp.size() < sp + 4) return {false, "Get \"" + url + "\": EOF"};
  int code = std::atoi(resp.substr(sp + 1, 3).c_str());
  if (code >= 200 && code < 400) return {true, ""};
  return {false, "HTTP probe failed with statuscode: " + std::to_string(code)};
}

ProbeResult exec_probe(cri::CriClient& cri, const std::string& container_id, const std::vector<std::string>& cmd,
                       int timeout_seconds) {
  auto r = cri.exec_sync(container_id, cmd, timeout_seconds);
  if (!r) return {false, r.error().message};
  if (r->exit_code() == 0) return {true, ""};
  std::string out = r->stdout() + r->stderr();
  if (!out.empty() && out.back() == '\n') out.pop_back();
  if (out.empty()) out = "command " + json(cmd).dump() + " exited with " + std::to_string(r->exit_code());
  return {false, out};
}

ProbeResult run_probe(const json& probe, const json& container, const std::string& pod_ip, cri::CriClient& cri,
                      const std::string& container_id) {
  ProbeTiming t = probe_timing(probe);
  auto timeout = std::chrono::seconds(t.timeout_seconds);
  if (probe.contains("exec")) {
    std::vector<std::string> cmd;
    for (const auto& c : jvalue(probe["exec"], "command", json::array())) cmd.push_back(c.get<std::string>());
    return exec_probe(cri, container_id, cmd, t.timeout_seconds);
  }
  if (probe.contains("tcpSocket")) {
    const json& ts = probe["tcpSocket"];
    int port = resolve_probe_port(jvalue(ts, "port", json()), container);
    std::string host = jvalue(ts, "host", pod_ip);
    return tcp_probe(host, port, timeout);
  }
  if (probe.contains("httpGet")) {
    const json& hg = probe["httpGet"];
    int port = resolve_probe_port(jvalue(hg, "port", json()), container);
    std::string host = jvalue(hg, "host", pod_ip);
    return http_probe(host, port, jvalue(hg, "path", "/"), jvalue(hg, "httpHeaders", json::array()), timeout);
  }
  return {true, ""};  // no handler: Kubernetes validation forbids it; treat as success
}

}  // namespace k3dpp::kubelet
