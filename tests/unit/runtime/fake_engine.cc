#include "fake_engine.h"

#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

namespace k3dpp::runtime::testing {
namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool read_more(int fd, std::string& buf) {
  char chunk[65536];
  ssize_t r = ::recv(fd, chunk, sizeof chunk, 0);
  if (r <= 0) return false;
  buf.append(chunk, static_cast<size_t>(r));
  return true;
}

void write_all(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t w = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (w <= 0) return;
    off += static_cast<size_t>(w);
  }
}

const char* reason(int status) {
  switch (status) {
    case 101: return "UPGRADED";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 409: return "Conflict";
    default: return "Error";
  }
}

}  // namespace

std::string url_decode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else if (s[i] == '+') {
      out += ' ';
    } else {
      out += s[i];
    }
  }
  return out;
}

FakeEngine::FakeEngine(Handler handler) : handler_(std::move(handler)) {
  char tmpl[] = "/tmp/k3dpp-fake-engine-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  socket_path_ = dir_ + "/engine.sock";
  listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socket_path_.c_str(), sizeof(addr.sun_path) - 1);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listen_fd_, 16) != 0) {
    throw std::runtime_error("cannot listen on " + socket_path_);
  }
  thread_ = std::thread([this] { serve(); });
}

FakeEngine::~FakeEngine() {
  stop_ = true;
  thread_.join();
  ::close(listen_fd_);
  ::unlink(socket_path_.c_str());
  ::rmdir(dir_.c_str());
}

std::vector<FakeRequest> FakeEngine::requests() {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

FakeRequest FakeEngine::find(const std::string& suffix, const std::string& method) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& r : requests_) {
    bool path_ok = r.path.size() >= suffix.size() && r.path.compare(r.path.size() - suffix.size(), suffix.size(), suffix) == 0;
    if (path_ok && (method.empty() || r.method == method)) return r;
  }
  return {};
}

void FakeEngine::serve() {
  while (!stop_) {
    pollfd pfd{listen_fd_, POLLIN, 0};
    if (::poll(&pfd, 1, 50) <= 0) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    handle(fd);  // one connection at a time: the client under test is sequential
    ::close(fd);
  }
}

void FakeEngine::handle(int fd) {
  std::string buf;
  size_t head_end;
  while ((head_end = buf.find("\r\n\r\n")) == std::string::npos) {
    if (!read_more(fd, buf)) return;
  }
  FakeRequest req;
  std::string head = buf.substr(0, head_end);
  std::string rest = buf.substr(head_end + 4);
  size_t line_end = head.find("\r\n");
  std::string request_line = head.substr(0, line_end);
  size_t sp1 = request_line.find(' '), sp2 = request_line.rfind(' ');
  req.method = request_line.substr(0, sp1);
  req.target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
  size_t q = req.target.find('?');
  req.path = req.target.substr(0, q);
  if (q != std::string::npos) {
    std::string qs = req.target.substr(q + 1);
    size_t pos = 0;
    while (pos <= qs.size()) {
      size_t amp = qs.find('&', pos);
      if (amp == std::string::npos) amp = qs.size();
      std::string kv = qs.substr(pos, amp - pos);
      size_t eq = kv.find('=');
      std::string k = url_decode(kv.substr(0, eq));
      std::string v = eq == std::string::npos ? "" : url_decode(kv.substr(eq + 1));
      if (!k.empty()) req.query[k] = req.query.count(k) ? req.query[k] + "," + v : v;
      pos = amp + 1;
    }
  }
  size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    size_t e = head.find("\r\n", pos);
    if (e == std::string::npos) e = head.size();
    std::string line = head.substr(pos, e - pos);
    size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string v = line.substr(colon + 1);
      while (!v.empty() && v.front() == ' ') v.erase(0, 1);
      req.headers[lower(line.substr(0, colon))] = v;
    }
    pos = e + 2;
  }
  if (req.headers.count("content-length")) {
    size_t len = std::stoul(req.headers["content-length"]);
    while (rest.size() < len && read_more(fd, rest)) {
    }
    req.body = rest.substr(0, len);
  } else if (lower(req.headers["transfer-encoding"]) == "chunked") {
    size_t p = 0;
    for (;;) {
      size_t e;
      while ((e = rest.find("\r\n", p)) == std::string::npos) {
        if (!read_more(fd, rest)) return;
      }
      size_t n = std::stoul(rest.substr(p, e - p), nullptr, 16);
      while (rest.size() < e + 2 + n + 2) {
        if (!read_more(fd, rest)) return;
      }
      req.body += rest.substr(e + 2, n);
      p = e + 2 + n + 2;
      if (n == 0) break;
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    requests_.push_back(req);
  }
  FakeResponse resp = handler_(req);
  if (resp.upgraded && lower(req.headers["upgrade"]) == "tcp") {
    write_all(fd, "HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
                  "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n");
    std::string in;
    while (read_more(fd, in)) {
    }
    write_all(fd, resp.upgraded(in));
    return;
  }
  std::string out = "HTTP/1.1 " + std::to_string(resp.status) + " " + reason(resp.status) + "\r\n";
  if (!resp.content_type.empty()) out += "Content-Type: " + resp.content_type + "\r\n";
  out += "Content-Length: " + std::to_string(resp.body.size()) + "\r\nConnection: close\r\n\r\n" + resp.body;
  write_all(fd, out);
}

FakeResponse version_response(const std::string& api) {
  return {200,
          R"({"Version":"20.10.24+dfsg1","ApiVersion":")" + api +
              R"(","MinAPIVersion":"1.12","Os":"linux","KernelVersion":"6.18.44",)"
              R"("Components":[{"Name":"Engine","Version":"20.10.24+dfsg1"}]})",
          "application/json",
          {}};
}

}  // namespace k3dpp::runtime::testing
