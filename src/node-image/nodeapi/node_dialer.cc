#include "nodeapi/node_dialer.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/files.h"
#include "httpserver/tls_socket.h"
#include "pki/pki.h"
#include "streams/tcp.h"

namespace k3dpp::nodeapi {
namespace {

std::string openssl_error() {
  unsigned long e = ERR_get_error();
  if (e == 0) return "unknown TLS error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

Result<int> connect_fd(const std::string& host, uint16_t port, std::chrono::milliseconds timeout) {
  struct addrinfo hints {};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  struct addrinfo* res = nullptr;
  std::string port_s = std::to_string(port);
  std::string where = host + ":" + port_s;
  int rc = ::getaddrinfo(host.c_str(), port_s.c_str(), &hints, &res);
  if (rc != 0) return Error("dial tcp " + where + ": " + gai_strerror(rc), "Unavailable");
  std::string last = "no address";
  for (auto* ai = res; ai; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    int flags = ::fcntl(fd, F_GETFL, 0);
    ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    int r = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (r != 0 && errno == EINPROGRESS) {
      struct pollfd p {};
      p.fd = fd;
      p.events = POLLOUT;
      int pr = ::poll(&p, 1, static_cast<int>(timeout.count()));
      if (pr == 0) {
        ::close(fd);
        last = "i/o timeout";
        continue;
      }
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      r = err == 0 ? 0 : -1;
      errno = err;
    }
    if (r != 0) {
      last = std::strerror(errno);
      ::close(fd);
      continue;
    }
    ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ::freeaddrinfo(res);
    return fd;
  }
  ::freeaddrinfo(res);
  return Error("dial tcp " + where + ": " + last, "Unavailable");
}

class TlsConn : public http::Conn {
 public:
  explicit TlsConn(std::unique_ptr<httpserver::TlsSocket> sock) : sock_(std::move(sock)) {}
  long read(char* buf, size_t n) override {
    boost::system::error_code ec;
    size_t got = sock_->read(buf, n, ec);
    if (got > 0) return static_cast<long>(got);
    return ec == boost::asio::error::eof ? 0 : -1;
  }
  bool write(std::string_view bytes) override { return sock_->write_all(bytes); }
  void close() override { sock_->close(); }

 private:
  std::unique_ptr<httpserver::TlsSocket> sock_;
};

}  // namespace

Result<std::unique_ptr<http::Conn>> tcp_connect(const std::string& host, uint16_t port,
                                                std::chrono::milliseconds timeout) {
  auto fd = connect_fd(host, port, timeout);
  if (!fd) return fd.error();
  return std::unique_ptr<http::Conn>(std::make_unique<streams::TcpStream>(*fd));
}

Result<std::unique_ptr<http::Conn>> tls_connect(const std::string& host, uint16_t port, const std::string& ca_pem,
                                                const std::string& cert_pem, const std::string& key_pem,
                                                const std::string& expected_cn, std::chrono::milliseconds timeout) {
  std::string where = host + ":" + std::to_string(port);
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) return Error("TLS context: " + openssl_error());
  struct CtxFree {
    SSL_CTX* c;
    ~CtxFree() { SSL_CTX_free(c); }
  } ctx_guard{ctx};
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
  // CA
  {
    BIO* bio = BIO_new_mem_buf(ca_pem.data(), static_cast<int>(ca_pem.size()));
    X509_STORE* store = SSL_CTX_get_cert_store(ctx);
    int added = 0;
    while (X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
      added += X509_STORE_add_cert(store, x) == 1;
      X509_free(x);
    }
    BIO_free(bio);
    ERR_clear_error();
    if (added == 0) return Error("no CA certificate to verify the node with");
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  SSL_CTX_set_purpose(ctx, X509_PURPOSE_ANY);
  if (!cert_pem.empty()) {
    BIO* cb = BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size()));
    X509* cert = PEM_read_bio_X509(cb, nullptr, nullptr, nullptr);
    BIO_free(cb);
    BIO* kb = BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size()));
    EVP_PKEY* key = PEM_read_bio_PrivateKey(kb, nullptr, nullptr, nullptr);
    BIO_free(kb);
    bool ok = cert && key && SSL_CTX_use_certificate(ctx, cert) == 1 && SSL_CTX_use_PrivateKey(ctx, key) == 1;
    X509_free(cert);
    EVP_PKEY_free(key);
    if (!ok) return Error("client certificate: " + openssl_error());
  }
  auto fd = connect_fd(host, port, timeout);
  if (!fd) return fd.error();
  SSL* ssl = SSL_new(ctx);
  if (!ssl) {
    ::close(*fd);
    return Error("TLS: " + openssl_error());
  }
  // The handshake loop of TlsSocket runs SSL_accept, which performs whatever handshake the SSL
  // object is set up for: in connect state that is the client side.
  SSL_set_connect_state(ssl);
  auto sock = std::make_unique<httpserver::TlsSocket>(*fd, ssl);
  std::string err;
  if (!sock->handshake(httpserver::Clock::now() + timeout, err))
    return Error("TLS handshake with " + where + ": " + err, "Unavailable");
  if (!expected_cn.empty()) {
    X509* peer = SSL_get1_peer_certificate(ssl);
    std::string cn;
    if (peer) {
      char buf[256] = {0};
      int n = X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, buf, sizeof buf);
      if (n > 0) cn.assign(buf, static_cast<size_t>(n));
      X509_free(peer);
    }
    if (cn != expected_cn)
      return Error("node at " + where + " presented certificate CN \"" + cn + "\", want \"" + expected_cn + "\"",
                   "Unavailable");
  }
  return std::unique_ptr<http::Conn>(std::make_unique<TlsConn>(std::move(sock)));
}

Result<NodeDialer> NodeDialer::from_tls_dir(const std::string& tls_dir) {
  namespace fs = std::filesystem;
  auto ca = files::read(tls_dir + "/ca.crt");
  if (!ca) return ca.error().wrap("node dialer");
  std::string cert_path = tls_dir + "/kubelet-client.crt";
  std::string key_path = tls_dir + "/kubelet-client.key";
  NodeDialerOptions o;
  o.ca_pem = *ca;
  std::error_code ec;
  if (fs::exists(cert_path, ec) && fs::exists(key_path, ec)) {
    auto c = files::read(cert_path);
    auto k = files::read(key_path);
    if (c && k && pki::verify(*ca, *c) && pki::key_matches(*c, *k)) {
      o.cert_pem = *c;
      o.key_pem = *k;
      return NodeDialer(std::move(o));
    }
  }
  auto ca_key = files::read(tls_dir + "/ca.key");
  if (!ca_key) return ca_key.error().wrap("node dialer");
  auto issued = pki::issue_client(pki::CertKey{*ca, *ca_key}, kApiServerClientName, {"system:masters"}, 3650);
  if (!issued) return issued.error().wrap("node dialer: issuing the kubelet client certificate");
  if (auto w = files::write_atomic(cert_path, issued->cert_pem, 0644); !w) return w.error().wrap("node dialer");
  if (auto w = files::write_atomic(key_path, issued->key_pem, 0600); !w) return w.error().wrap("node dialer");
  o.cert_pem = issued->cert_pem;
  o.key_pem = issued->key_pem;
  return NodeDialer(std::move(o));
}

Result<std::unique_ptr<http::Conn>> NodeDialer::dial(const std::string& node_name, const std::string& host) const {
  return tls_connect(host, opts_.port, opts_.ca_pem, opts_.cert_pem, opts_.key_pem,
                     opts_.verify_node_name ? "system:node:" + node_name : std::string(), opts_.connect_timeout);
}

}  // namespace k3dpp::nodeapi
