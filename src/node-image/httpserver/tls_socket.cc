#include "httpserver/tls_socket.h"

#include <fcntl.h>
#include <openssl/err.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/error.hpp>
#include <cerrno>

namespace k3dpp::httpserver {

namespace {
int remaining_ms(std::optional<Clock::time_point> deadline) {
  if (!deadline) return -1;
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - Clock::now());
  if (left.count() <= 0) return 0;
  return static_cast<int>(std::min<long long>(left.count(), 1 << 30));
}

std::string ssl_error_string() {
  unsigned long e = ERR_get_error();
  if (e == 0) return "connection closed";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}
}  // namespace

TlsSocket::TlsSocket(int fd, SSL* ssl) : fd_(fd), ssl_(ssl) {
  int flags = ::fcntl(fd_, F_GETFL, 0);
  ::fcntl(fd_, F_SETFL, flags | O_NONBLOCK);
  SSL_set_fd(ssl_, fd_);
  SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // One read() per request instead of two (a record's 5-byte header, then its body): syscalls are
  // dear on a paravirtualized kernel. Bytes read ahead stay inside OpenSSL, where has_buffered()
  // (SSL_has_pending) sees them before a connection goes back to the poller.
  SSL_set_read_ahead(ssl_, 1);
}

TlsSocket::~TlsSocket() {
  SSL_free(ssl_);
  ::close(fd_);
}

bool TlsSocket::wait(short events, std::optional<Clock::time_point> deadline) {
  for (;;) {
    if (shut_) return true;  // let the SSL call fail fast
    struct pollfd p {};
    p.fd = fd_;
    p.events = events;
    int ms = remaining_ms(deadline);
    int r = ::poll(&p, 1, ms);
    if (r > 0) return true;
    if (r == 0) return false;
    if (errno != EINTR) return true;
  }
}

int TlsSocket::handshake_step(Clock::time_point deadline, std::string& err) {
  for (;;) {
    int r, e;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ERR_clear_error();
      r = SSL_accept(ssl_);
      e = SSL_get_error(ssl_, r);
    }
    if (r == 1) return 1;
    if (e == SSL_ERROR_WANT_READ) return shut_ ? -1 : 0;
    if (e == SSL_ERROR_WANT_WRITE) {
      if (!wait(POLLOUT, deadline)) {
        err = "TLS handshake timed out";
        return -1;
      }
      continue;
    }
    err = ssl_error_string();
    return -1;
  }
}

bool TlsSocket::handshake(Clock::time_point deadline, std::string& err) {
  for (;;) {
    int r, e;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ERR_clear_error();
      r = SSL_accept(ssl_);
      e = SSL_get_error(ssl_, r);
    }
    if (r == 1) return true;
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
      if (!wait(e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline)) {
        err = "TLS handshake timed out";
        return false;
      }
      continue;
    }
    err = ssl_error_string();
    return false;
  }
}

size_t TlsSocket::read(char* buf, size_t n, boost::system::error_code& ec) {
  ec = {};
  for (;;) {
    size_t got = 0;
    int r, e;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ERR_clear_error();
      r = SSL_read_ex(ssl_, buf, n, &got);
      e = SSL_get_error(ssl_, r);
    }
    if (r == 1) return got;
    switch (e) {
      case SSL_ERROR_WANT_READ:
        if (!wait(POLLIN, read_deadline_)) {
          ec = boost::asio::error::timed_out;
          return 0;
        }
        break;
      case SSL_ERROR_WANT_WRITE:
        if (!wait(POLLOUT, read_deadline_)) {
          ec = boost::asio::error::timed_out;
          return 0;
        }
        break;
      case SSL_ERROR_ZERO_RETURN:
        ec = boost::asio::error::eof;
        return 0;
      case SSL_ERROR_SYSCALL:
        ERR_clear_error();
        ec = errno == 0 ? boost::system::error_code(boost::asio::error::eof)
                        : boost::system::error_code(errno, boost::system::system_category());
        return 0;
      default:
        ERR_clear_error();
        // SSL_OP_IGNORE_UNEXPECTED_EOF makes a TCP close without close_notify a plain EOF, so
        // anything here is a protocol error or a socket we shut down ourselves.
        ec = boost::asio::error::connection_reset;
        return 0;
    }
  }
}

bool TlsSocket::write_all(const char* buf, size_t n) {
  size_t off = 0;
  while (off < n) {
    size_t wrote = 0;
    int r, e;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ERR_clear_error();
      r = SSL_write_ex(ssl_, buf + off, n - off, &wrote);
      e = SSL_get_error(ssl_, r);
    }
    if (r == 1) {
      off += wrote;
      continue;
    }
    if (e == SSL_ERROR_WANT_WRITE) {
      // A stalled peer must not hold a writer forever: give up after 60 s without progress.
      if (!wait(POLLOUT, Clock::now() + std::chrono::seconds(60))) return false;
      continue;
    }
    if (e == SSL_ERROR_WANT_READ) {
      wait(POLLIN, Clock::now() + std::chrono::milliseconds(10));
      if (shut_) return false;
      continue;
    }
    ERR_clear_error();
    return false;
  }
  return true;
}

bool TlsSocket::has_buffered() {
  std::lock_guard<std::mutex> lock(mu_);
  return SSL_has_pending(ssl_) == 1;
}

bool TlsSocket::wait_readable(std::optional<Clock::time_point> deadline) {
  if (has_buffered()) return true;
  return wait(POLLIN, deadline);
}

bool TlsSocket::peer_closed() {
  if (shut_) return true;
  struct pollfd p {};
  p.fd = fd_;
  p.events = POLLRDHUP;
  int r = ::poll(&p, 1, 0);
  return r > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
}

void TlsSocket::close() {
  if (!shut_) {
    std::lock_guard<std::mutex> lock(mu_);
    ERR_clear_error();
    SSL_shutdown(ssl_);  // non-blocking: queues close_notify, never waits for the peer's
    ERR_clear_error();
  }
  abort();
}

void TlsSocket::abort() {
  shut_ = true;
  ::shutdown(fd_, SHUT_RDWR);
}

}  // namespace k3dpp::httpserver
