#include "runtime/docker/engine_client.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>

#include "common/log.h"
#include "common/strings.h"

namespace k3dpp::runtime::docker {
namespace {

std::shared_ptr<spdlog::logger> logger() {
  static auto l = log::get("runtime.docker");
  return l;
}

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Transfer {
  const HttpRequest* req = nullptr;
  CURL* curl = nullptr;
  HttpResponse* resp = nullptr;
  bool aborted = false;
};

size_t on_write(char* ptr, size_t size, size_t nmemb, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t n = size * nmemb;
  long status = 0;
  curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
  if (t->req->sink && status >= 200 && status < 300) {
    if (!t->req->sink(ptr, n)) {
      t->aborted = true;
      return 0;  // makes curl stop with CURLE_WRITE_ERROR
    }
    return n;
  }
  t->resp->body.append(ptr, n);
  return n;
}

size_t on_read(char* buf, size_t size, size_t nitems, void* user) {
  auto* t = static_cast<Transfer*>(user);
  long n = t->req->body_source(buf, size * nitems);
  if (n < 0) return CURL_READFUNC_ABORT;
  return static_cast<size_t>(n);
}

std::string method_path(const std::string& method, const std::string& target) {
  return method + " " + target;
}

bool socket_file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// Full write on a blocking or non-blocking fd; false on error.
bool write_some(int fd, const char*& p, size_t& left) {
  ssize_t w = ::send(fd, p, left, MSG_NOSIGNAL);
  if (w < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
  p += w;
  left -= static_cast<size_t>(w);
  return true;
}

}  // namespace

std::string url_encode(const std::string& s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

EngineClient::EngineClient(std::string socket_path, std::string engine_name)
    : socket_path_(std::move(socket_path)), engine_name_(std::move(engine_name)) {
  global_init();
}

Error EngineClient::unreachable(const std::string& detail) const {
  std::string msg = "cannot reach the " + engine_name_ + " engine at " + socket_path_ + ": " + detail;
  if (!socket_file_exists(socket_path_)) msg += " (socket file does not exist)";
  if (engine_name_ == "Docker") {
    msg += " (is dockerd running? scripts/start-dockerd.sh starts it)";
  }
  return Error(msg, "Unavailable");
}

Result<HttpResponse> EngineClient::send(const HttpRequest& req) const {
  auto start = std::chrono::steady_clock::now();
  CURL* curl = curl_easy_init();
  if (!curl) return fail("libcurl: cannot create a handle", "Unavailable");
  HttpResponse resp;
  Transfer t{&req, curl, &resp, false};
  char errbuf[CURL_ERROR_SIZE] = {0};
  struct curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Expect:");
  if (!req.content_type.empty()) {
    headers = curl_slist_append(headers, ("Content-Type: " + req.content_type).c_str());
  }
  std::string url = "http://localhost" + req.target;
  curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, socket_path_.c_str());
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  if (req.timeout_ms > 0) curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, req.timeout_ms);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
  if (req.body_source) {
    if (req.method == "PUT") {
      curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    } else {
      curl_easy_setopt(curl, CURLOPT_POST, 1L);
      curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    }
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(curl, CURLOPT_READDATA, &t);
    if (req.body_size >= 0) {
      if (req.method == "PUT") {
        curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(req.body_size));
      } else {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body_size));
      }
    } else {
      headers = curl_slist_append(headers, "Transfer-Encoding: chunked");
    }
  } else if (req.method == "GET") {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  } else if (req.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req.body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  if (req.log_bodies && !req.body.empty()) {
    logger()->trace("{} request body: {}", method_path(req.method, req.target), req.body);
  }

  CURLcode rc = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &resp.status);
  char* ct = nullptr;
  if (curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct) resp.content_type = ct;
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();

  if (rc != CURLE_OK) {
    logger()->debug("{} -> failed: {} ({} ms)", method_path(req.method, req.target), curl_easy_strerror(rc), ms);
    if (t.aborted) return fail("transfer of " + req.target + " aborted by the receiver", "Aborted");
    if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST) {
      return unreachable(curl_easy_strerror(rc));
    }
    std::string detail = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    return fail(engine_name_ + " engine request " + method_path(req.method, req.target) + " failed: " + detail,
                "Unavailable");
  }
  logger()->debug("{} -> {} ({} ms)", method_path(req.method, req.target), resp.status, ms);
  if (req.log_bodies && !resp.body.empty()) logger()->trace("response body: {}", resp.body);
  return resp;
}

Result<HttpResponse> EngineClient::hijack(const std::string& target, const std::string& json_body,
                                          const std::string& stdin_data) const {
  auto start = std::chrono::steady_clock::now();
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(std::string("socket: ") + std::strerror(errno), "Unavailable");
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path_.size() >= sizeof(addr.sun_path)) return fail("socket path too long: " + socket_path_, "Invalid");
  std::memcpy(addr.sun_path, socket_path_.c_str(), socket_path_.size() + 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return unreachable(std::strerror(errno));
  }
  std::string head = "POST " + target + " HTTP/1.1\r\nHost: localhost\r\nUser-Agent: k3dpp\r\n" +
                     "Content-Type: application/json\r\nContent-Length: " + std::to_string(json_body.size()) +
                     "\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n" + json_body;
  const char* p = head.data();
  size_t left = head.size();
  while (left > 0) {
    ssize_t w = ::send(fd, p, left, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      return fail(std::string("hijack: write request: ") + std::strerror(errno), "Unavailable");
    }
    p += w;
    left -= static_cast<size_t>(w);
  }
  logger()->trace("POST {} (upgrade) request body: {}", target, json_body);

  // Response head.
  std::string buf;
  char chunk[65536];
  size_t head_end = std::string::npos;
  while ((head_end = buf.find("\r\n\r\n")) == std::string::npos) {
    ssize_t r = ::recv(fd, chunk, sizeof chunk, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return fail("hijack: engine closed the connection before answering " + target, "Unavailable");
    buf.append(chunk, static_cast<size_t>(r));
    if (buf.size() > 1 << 20) return fail("hijack: response head too large", "Unavailable");
  }
  std::string status_line = buf.substr(0, buf.find("\r\n"));
  HttpResponse resp;
  auto parts = strings::split(status_line, ' ');
  long long code = 0;
  if (parts.size() < 2 || !strings::parse_int(parts[1], code)) {
    return fail("hijack: bad status line from engine: " + status_line, "Unavailable");
  }
  resp.status = static_cast<long>(code);
  long long content_length = -1;
  for (const auto& line : strings::split(buf.substr(0, head_end), '\n')) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = strings::to_lower(strings::trim(line.substr(0, colon)));
    std::string value{strings::trim(line.substr(colon + 1))};
    if (key == "content-length") strings::parse_int(value, content_length);
    if (key == "content-type") resp.content_type = value;
  }
  resp.body = buf.substr(head_end + 4);

  if (resp.status != 101 && resp.status != 200) {
    // An error answer: read its body and return it.
    while (content_length < 0 || static_cast<long long>(resp.body.size()) < content_length) {
      ssize_t r = ::recv(fd, chunk, sizeof chunk, 0);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      resp.body.append(chunk, static_cast<size_t>(r));
    }
    logger()->debug("POST {} (upgrade) -> {}", target, resp.status);
    return resp;
  }

  // Upgraded: write stdin while reading output, then half-close and read until EOF.
  int flags = ::fcntl(fd, F_GETFL);
  ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  const char* in = stdin_data.data();
  size_t in_left = stdin_data.size();
  bool write_closed = false;
  if (in_left == 0) {
    ::shutdown(fd, SHUT_WR);
    write_closed = true;
  }
  for (;;) {
    pollfd pfd{fd, static_cast<short>(POLLIN | (write_closed ? 0 : POLLOUT)), 0};
    int pr = ::poll(&pfd, 1, -1);
    if (pr < 0) {
      if (errno == EINTR) continue;
      return fail(std::string("hijack: poll: ") + std::strerror(errno), "Unavailable");
    }
    if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t r = ::recv(fd, chunk, sizeof chunk, 0);
      if (r > 0) {
        resp.body.append(chunk, static_cast<size_t>(r));
      } else if (r == 0) {
        break;  // engine closed: the process ended
      } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        return fail(std::string("hijack: read: ") + std::strerror(errno), "Unavailable");
      }
    }
    if (!write_closed && (pfd.revents & POLLOUT)) {
      if (!write_some(fd, in, in_left)) {
        // The process may have exited without reading all its input; keep reading its output.
        in_left = 0;
      }
      if (in_left == 0) {
        ::shutdown(fd, SHUT_WR);
        write_closed = true;
      }
    }
  }
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  logger()->debug("POST {} (upgrade, {} stdin bytes) -> {} ({} ms)", target, stdin_data.size(), resp.status, ms);
  return resp;
}

}  // namespace k3dpp::runtime::docker
