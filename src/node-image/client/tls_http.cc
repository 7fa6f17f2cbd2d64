#include "client/tls_http.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/strings.h"

namespace k3dpp::client {

namespace {

std::string ssl_error_text() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "TLS error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof(buf));
  return buf;
}

bool is_ip_literal(const std::string& host) {
  in6_addr a6{};
  in_addr a4{};
  return inet_pton(AF_INET, host.c_str(), &a4) == 1 || inet_pton(AF_INET6, host.c_str(), &a6) == 1;
}

int ms_until(Clock::time_point deadline) {
  if (deadline == Clock::time_point::max()) return -1;
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left, 1 << 30));
}

// Adds every certificate of a PEM bundle to the context's trust store.
Status add_ca_pem(SSL_CTX* ctx, const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) return fail("out of memory", "Unavailable");
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  int added = 0;
  while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    if (X509_STORE_add_cert(store, cert) == 1) ++added;
    X509_free(cert);
  }
  ERR_clear_error();  // the loop ends on "no start line"
  BIO_free(bio);
  if (added == 0) return fail("no CA certificate in the given PEM", "Invalid");
  return {};
}

Status use_cert_pem(SSL_CTX* ctx, const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) return fail("out of memory", "Unavailable");
  X509* leaf = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  if (leaf == nullptr || SSL_CTX_use_certificate(ctx, leaf) != 1) {
    if (leaf != nullptr) X509_free(leaf);
    BIO_free(bio);
    return fail("client certificate: " + ssl_error_text(), "Invalid");
  }
  X509_free(leaf);
  while (X509* extra = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    if (SSL_CTX_add_extra_chain_cert(ctx, extra) != 1) X509_free(extra);  // owned by ctx on success
  }
  ERR_clear_error();
  BIO_free(bio);
  return {};
}

Status use_key_pem(SSL_CTX* ctx, const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) return fail("out of memory", "Unavailable");
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (key == nullptr || SSL_CTX_use_PrivateKey(ctx, key) != 1) {
    if (key != nullptr) EVP_PKEY_free(key);
    return fail("client key: " + ssl_error_text(), "Invalid");
  }
  EVP_PKEY_free(key);
  return {};
}

}  // namespace

Result<HttpsEndpoint> parse_https_url(const std::string& url) {
  constexpr std::string_view kScheme = "https://";
  if (url.compare(0, kScheme.size(), kScheme) != 0) return fail("not an https URL: \"" + url + "\"", "Invalid");
  std::string rest = url.substr(kScheme.size());
  rest = rest.substr(0, rest.find('/'));
  HttpsEndpoint ep;
  if (!rest.empty() && rest[0] == '[') {
    auto close = rest.find(']');
    if (close == std::string::npos) return fail("bad IPv6 host in \"" + url + "\"", "Invalid");
    ep.host = rest.substr(1, close - 1);
    rest = rest.substr(close + 1);
    ep.port = (!rest.empty() && rest[0] == ':') ? rest.substr(1) : "443";
  } else {
    auto colon = rest.rfind(':');
    ep.host = rest.substr(0, colon);
    ep.port = colon == std::string::npos ? "443" : rest.substr(colon + 1);
  }
  if (ep.host.empty() || ep.port.empty()) return fail("no host or port in \"" + url + "\"", "Invalid");
  return ep;
}

Result<std::shared_ptr<TlsContext>> TlsContext::make(const TlsConfig& c) {
  std::shared_ptr<TlsContext> t(new TlsContext());
  t->ctx_ = SSL_CTX_new(TLS_client_method());
  if (t->ctx_ == nullptr) return fail("SSL_CTX_new: " + ssl_error_text(), "Unavailable");
  SSL_CTX_set_min_proto_version(t->ctx_, TLS1_2_VERSION);
  SSL_CTX_set_mode(t->ctx_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (!c.ca_pem.empty()) {
    K3DPP_TRY(add_ca_pem(t->ctx_, c.ca_pem));
    t->verify_ = true;
  } else if (!c.ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(t->ctx_, c.ca_file.c_str(), nullptr) != 1) {
      return fail("CA file " + c.ca_file + ": " + ssl_error_text(), "Invalid");
    }
    t->verify_ = true;
  }
  SSL_CTX_set_verify(t->ctx_, t->verify_ ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
  if (!c.cert_pem.empty()) {
    K3DPP_TRY(use_cert_pem(t->ctx_, c.cert_pem));
  } else if (!c.cert_file.empty() && SSL_CTX_use_certificate_chain_file(t->ctx_, c.cert_file.c_str()) != 1) {
    return fail("client certificate " + c.cert_file + ": " + ssl_error_text(), "Invalid");
  }
  if (!c.key_pem.empty()) {
    K3DPP_TRY(use_key_pem(t->ctx_, c.key_pem));
  } else if (!c.key_file.empty() &&
             SSL_CTX_use_PrivateKey_file(t->ctx_, c.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return fail("client key " + c.key_file + ": " + ssl_error_text(), "Invalid");
  }
  return t;
}

TlsContext::~TlsContext() {
  if (ctx_ != nullptr) SSL_CTX_free(ctx_);
}

TlsHttpConnection::~TlsHttpConnection() {
  if (ssl_ != nullptr) SSL_free(ssl_);
  if (fd_ >= 0) ::close(fd_);
}

Status TlsHttpConnection::wait(bool for_write, Clock::time_point deadline, const std::stop_token& stop) {
  for (;;) {
    if (stop.stop_requested()) return fail("stopped", "Aborted");
    int left = ms_until(deadline);
    if (left == 0) return fail("timed out", "Timeout");
    // Slices of at most 500 ms, so a stop request is noticed.
    int slice = stop.stop_possible() ? (left < 0 ? 500 : std::min(left, 500)) : left;
    pollfd p{fd_, static_cast<short>(for_write ? POLLOUT : POLLIN), 0};
    int rc = ::poll(&p, 1, slice);
    if (rc > 0) return {};
    if (rc < 0 && errno != EINTR) return fail(std::string("poll: ") + std::strerror(errno), "Unavailable");
  }
}

Result<std::unique_ptr<TlsHttpConnection>> TlsHttpConnection::open(std::shared_ptr<TlsContext> ctx,
                                                                   const HttpsEndpoint& ep,
                                                                   Clock::time_point deadline) {
  std::unique_ptr<TlsHttpConnection> c(new TlsHttpConnection());
  c->ctx_ = std::move(ctx);
  c->host_ = ep.host;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = getaddrinfo(ep.host.c_str(), ep.port.c_str(), &hints, &res); rc != 0) {
    return fail("resolving " + ep.host + ": " + gai_strerror(rc), "Unavailable");
  }
  std::string last_error = "no address";
  for (addrinfo* a = res; a != nullptr && c->fd_ < 0; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
      last_error = std::strerror(errno);
      ::close(fd);
      continue;
    }
    c->fd_ = fd;
    if (!c->wait(true, deadline, {})) {
      last_error = "connect timed out";
    } else {
      int err = 0;
      socklen_t len = sizeof(err);
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err == 0) break;
      last_error = std::strerror(err);
    }
    ::close(fd);
    c->fd_ = -1;
  }
  freeaddrinfo(res);
  if (c->fd_ < 0) return fail("connect to " + ep.host + ":" + ep.port + ": " + last_error, "Unavailable");
  int one = 1;
  setsockopt(c->fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

  c->ssl_ = SSL_new(c->ctx_->get());
  if (c->ssl_ == nullptr) return fail("SSL_new: " + ssl_error_text(), "Unavailable");
  SSL_set_fd(c->ssl_, c->fd_);
  if (c->ctx_->verify()) {
    X509_VERIFY_PARAM* param = SSL_get0_param(c->ssl_);
    if (is_ip_literal(ep.host)) {
      X509_VERIFY_PARAM_set1_ip_asc(param, ep.host.c_str());
    } else {
      X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      X509_VERIFY_PARAM_set1_host(param, ep.host.c_str(), 0);
    }
  }
  if (!is_ip_literal(ep.host)) SSL_set_tlsext_host_name(c->ssl_, ep.host.c_str());
  for (;;) {
    ERR_clear_error();
    int rc = SSL_connect(c->ssl_);
    if (rc == 1) break;
    int err = SSL_get_error(c->ssl_, rc);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      auto w = c->wait(err == SSL_ERROR_WANT_WRITE, deadline, {});
      if (!w) return fail("TLS handshake with " + ep.host + ":" + ep.port + ": " + w.error().message, "Unavailable");
      continue;
    }
    std::string why = ssl_error_text();
    long v = SSL_get_verify_result(c->ssl_);
    if (v != X509_V_OK) why = std::string("certificate verify failed: ") + X509_verify_cert_error_string(v);
    return fail("TLS handshake with " + ep.host + ":" + ep.port + ": " + why, "Unavailable");
  }
  return c;
}

Status TlsHttpConnection::write_all(std::string_view data, Clock::time_point deadline) {
  while (!data.empty()) {
    ERR_clear_error();
    int n = SSL_write(ssl_, data.data(), static_cast<int>(std::min<size_t>(data.size(), 1 << 30)));
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    int err = SSL_get_error(ssl_, n);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      K3DPP_TRY(wait(err == SSL_ERROR_WANT_WRITE, deadline, {}));
      continue;
    }
    return fail("write: " + (err == SSL_ERROR_SYSCALL ? std::string(std::strerror(errno)) : ssl_error_text()),
                "Unavailable");
  }
  return {};
}

Result<size_t> TlsHttpConnection::read_some(Clock::time_point deadline, const std::stop_token& stop) {
  char tmp[16384];
  for (;;) {
    if (stop.stop_requested()) return fail("stopped", "Aborted");
    ERR_clear_error();
    int n = SSL_read(ssl_, tmp, sizeof(tmp));
    if (n > 0) {
      buf_.append(tmp, static_cast<size_t>(n));
      return static_cast<size_t>(n);
    }
    int err = SSL_get_error(ssl_, n);
    if (err == SSL_ERROR_ZERO_RETURN) return size_t{0};
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      K3DPP_TRY(wait(err == SSL_ERROR_WANT_WRITE, deadline, stop));
      continue;
    }
    if (err == SSL_ERROR_SYSCALL && n == 0) return size_t{0};  // EOF without close_notify
    return fail("read: " + (err == SSL_ERROR_SYSCALL ? std::string(std::strerror(errno)) : ssl_error_text()),
                "Unavailable");
  }
}

Result<HttpReply> TlsHttpConnection::exchange(const std::string& method, const std::string& target,
                                              const std::string& headers, std::string_view body,
                                              Clock::time_point deadline,
                                              const std::function<bool(std::string_view)>* sink,
                                              std::stop_token stop, bool* got_response) {
  if (got_response != nullptr) *got_response = false;
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: " + host_ + "\r\n" + headers;
  if (!body.empty() || (method != "GET" && method != "HEAD" && method != "DELETE")) {
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  req += "\r\n";
  req.append(body);
  buf_.clear();
  K3DPP_TRY(write_all(req, deadline));

  // Status line and headers.
  size_t end = std::string::npos;
  while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
    auto n = read_some(deadline, stop);
    if (!n) return n.error();
    if (got_response != nullptr && !buf_.empty()) *got_response = true;
    if (*n == 0) return fail("connection closed before the response", "Unavailable");
    if (buf_.size() > (1 << 20)) return fail("response headers too large", "Unavailable");
  }
  if (got_response != nullptr) *got_response = true;
  HttpReply reply;
  std::string_view head(buf_.data(), end);
  auto line_end = head.find("\r\n");
  std::string_view status_line = head.substr(0, line_end);
  auto sp = status_line.find(' ');
  long long code = 0;
  if (sp == std::string_view::npos || !strings::parse_int(std::string(status_line.substr(sp + 1, 3)), code)) {
    return fail("bad status line \"" + std::string(status_line) + "\"", "Unavailable");
  }
  reply.status = static_cast<int>(code);
  bool http10 = status_line.substr(0, sp) == "HTTP/1.0";
  std::string_view rest = line_end == std::string_view::npos ? std::string_view{} : head.substr(line_end + 2);
  while (!rest.empty()) {
    auto e = rest.find("\r\n");
    std::string_view line = rest.substr(0, e);
    rest = e == std::string_view::npos ? std::string_view{} : rest.substr(e + 2);
    auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    reply.headers[strings::to_lower(strings::trim(line.substr(0, colon)))] =
        std::string(strings::trim(line.substr(colon + 1)));
  }
  buf_.erase(0, end + 4);
  auto conn = reply.headers.find("connection");
  std::string conn_value = conn == reply.headers.end() ? "" : strings::to_lower(conn->second);
  reply.keep_alive = http10 ? conn_value == "keep-alive" : conn_value != "close";

  const bool streaming = sink != nullptr && reply.status >= 200 && reply.status < 300;
  bool aborted = false;
  // Hands body bytes to the sink (2xx stream) or keeps them.
  auto deliver = [&](std::string_view data) {
    if (data.empty() || aborted) return;
    if (streaming) {
      if (!(*sink)(data)) aborted = true;
    } else {
      reply.body.append(data);
    }
  };
  auto stopped = [&](const Error& e) { return e.is("Aborted"); };

  if (method == "HEAD" || reply.status == 204 || reply.status == 304 || (reply.status >= 100 && reply.status < 200)) {
    return reply;
  }
  auto te = reply.headers.find("transfer-encoding");
  auto cl = reply.headers.find("content-length");
  if (te != reply.headers.end() && strings::to_lower(te->second).find("chunked") != std::string::npos) {
    for (;;) {
      size_t eol;
      while ((eol = buf_.find("\r\n")) == std::string::npos) {
        auto n = read_some(deadline, stop);
        if (!n) {
          if (stopped(n.error())) break;
          return n.error();
        }
        if (*n == 0) return fail("connection closed inside a chunked body", "Unavailable");
      }
      if (stop.stop_requested()) {
        reply.keep_alive = false;
        return reply;
      }
      size_t size = std::strtoull(buf_.substr(0, eol).c_str(), nullptr, 16);
      if (size == 0) {
        // Last chunk: skip any trailer lines up to the blank line.
        buf_.erase(0, eol + 2);
        for (;;) {
          auto crlf = buf_.find("\r\n");
          if (crlf == 0) break;
          if (crlf != std::string::npos) {
            buf_.erase(0, crlf + 2);
            continue;
          }
          auto n = read_some(deadline, stop);
          if (!n || *n == 0) {
            reply.keep_alive = false;
            break;
          }
        }
        buf_.clear();
        return reply;
      }
      buf_.erase(0, eol + 2);
      // Deliver the chunk's data as it arrives (a watch event may be all of it or part of it).
      size_t left = size;
      while (left > 0) {
        if (buf_.empty()) {
          auto n = read_some(deadline, stop);
          if (!n) {
            if (stopped(n.error())) {
              reply.keep_alive = false;
              return reply;
            }
            return n.error();
          }
          if (*n == 0) return fail("connection closed inside a chunk", "Unavailable");
        }
        size_t take = std::min(left, buf_.size());
        deliver(std::string_view(buf_.data(), take));
        buf_.erase(0, take);
        left -= take;
        if (aborted) {
          reply.keep_alive = false;
          return reply;
        }
      }
      while (buf_.size() < 2) {
        auto n = read_some(deadline, stop);
        if (!n) return n.error();
        if (*n == 0) return fail("connection closed after a chunk", "Unavailable");
      }
      buf_.erase(0, 2);  // the chunk's CRLF
    }
  }
  if (cl != reply.headers.end()) {
    long long total = 0;
    if (!strings::parse_int(cl->second, total) || total < 0) return fail("bad Content-Length", "Unavailable");
    size_t left = static_cast<size_t>(total);
    for (;;) {
      size_t take = std::min(left, buf_.size());
      deliver(std::string_view(buf_.data(), take));
      buf_.erase(0, take);
      left -= take;
      if (left == 0 || aborted) break;
      auto n = read_some(deadline, stop);
      if (!n) {
        if (stopped(n.error())) break;
        return n.error();
      }
      if (*n == 0) return fail("connection closed inside the body", "Unavailable");
    }
    if (left != 0) reply.keep_alive = false;
    return reply;
  }
  // No length: the body ends with the connection.
  reply.keep_alive = false;
  for (;;) {
    deliver(buf_);
    buf_.clear();
    if (aborted) return reply;
    auto n = read_some(deadline, stop);
    if (!n) {
      if (stopped(n.error())) return reply;
      return n.error();
    }
    if (*n == 0) return reply;
  }
}

bool TlsHttpConnection::idle_closed() const {
  if (SSL_pending(ssl_) > 0) return true;
  pollfd p{fd_, POLLIN, 0};
  return ::poll(&p, 1, 0) != 0;  // readable on an idle connection = EOF, an alert or junk
}

std::string TlsHttpConnection::local_ip() const {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return {};
  char buf[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&ss)->sin_addr, buf, sizeof(buf));
  } else if (ss.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&ss)->sin6_addr, buf, sizeof(buf));
  }
  return buf;
}

}  // namespace k3dpp::client
