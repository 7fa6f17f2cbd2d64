// Plain TCP sockets: the pod side of a port-forward (the kubelet dials the pod IP), websocket
// clients, and the test servers. Blocking I/O, one reader and one writer thread may share a stream.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "common/result.h"
#include "httpserver/http.h"
#include "streams/byte_stream.h"

namespace k3dpp::streams {

class TcpStream : public ByteStream, public http::Conn {
 public:
  explicit TcpStream(int fd) : fd_(fd) {}
  ~TcpStream() override;
  TcpStream(const TcpStream&) = delete;
  TcpStream& operator=(const TcpStream&) = delete;

  long read(char* buf, size_t n) override;
  bool write(std::string_view bytes) override;
  void close_write() override;  // shutdown(SHUT_WR)
  void close() override;        // shutdown(SHUT_RDWR); the fd is released by the destructor
  int fd() const { return fd_; }

 private:
  int fd_;
  std::atomic<bool> closed_{false};
};

// Connects to host:port (numeric address or name). Errors name the address.
Result<std::unique_ptr<TcpStream>> tcp_connect(const std::string& host, uint16_t port);

class TcpListener {
 public:
  // Listens on host:port (port 0 picks a free one).
  static Result<std::unique_ptr<TcpListener>> listen(const std::string& host, uint16_t port);
  ~TcpListener();
  uint16_t port() const { return port_; }
  // Blocks for the next connection; an error once close() was called.
  Result<std::unique_ptr<TcpStream>> accept();
  void close();

 private:
  TcpListener(int fd, uint16_t port) : fd_(fd), port_(port) {}
  int fd_;
  uint16_t port_;
  std::atomic<bool> closed_{false};
};

}  // namespace k3dpp::streams
