// A server-side TLS connection over a non-blocking socket, with blocking semantics built on poll().
// Why not asio::ssl::stream: an upgraded connection (websocket, SPDY) reads on one thread and writes
// on another, and an OpenSSL SSL object must never be used by two threads at once. Here every
// SSL_* call runs under one mutex and never blocks (the fd is non-blocking); the waiting happens in
// poll() outside the lock, so a reader parked on an idle connection never holds up a writer.
// Read deadlines (handshake, header and body timeouts) are poll timeouts.
//
// The class models Asio's SyncReadStream/SyncWriteStream so Beast's synchronous HTTP read and
// write work on it directly.
#pragma once

#include <openssl/ssl.h>

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/system_error.hpp>

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>

namespace k3dpp::httpserver {

using Clock = std::chrono::steady_clock;

class TlsSocket {
 public:
  // Takes ownership of fd (made non-blocking here) and ssl (already bound to ctx, not to fd).
  TlsSocket(int fd, SSL* ssl);
  ~TlsSocket();
  TlsSocket(const TlsSocket&) = delete;
  TlsSocket& operator=(const TlsSocket&) = delete;

  // Server-side handshake; false (with a reason) on failure or when the deadline passes.
  bool handshake(Clock::time_point deadline, std::string& err);
  // One non-blocking handshake step for an event loop: 1 done, 0 waiting for the client's next
  // bytes (poll the fd for input, then call again), -1 failed (err says why). A want-write is
  // waited for here, up to the deadline.
  int handshake_step(Clock::time_point deadline, std::string& err);

  // Deadline for subsequent reads (nullopt = wait forever). Reads past it fail with timed_out.
  void set_read_deadline(std::optional<Clock::time_point> deadline) { read_deadline_ = deadline; }

  // Reads up to n bytes. Returns >0, or 0 with ec set (eof, timed_out, or another error).
  size_t read(char* buf, size_t n, boost::system::error_code& ec);
  // Writes all n bytes; false on error. Thread-safe against a concurrent read().
  bool write_all(const char* buf, size_t n);
  bool write_all(std::string_view s) { return write_all(s.data(), s.size()); }

  // True if decrypted bytes are already waiting (no need to poll the socket).
  bool has_buffered();
  // Waits until the connection is readable (or closed); false on deadline.
  bool wait_readable(std::optional<Clock::time_point> deadline);
  // Non-blocking: true once the peer closed its side or the socket failed.
  bool peer_closed();

  // Sends close_notify (best effort, non-blocking) and shuts the socket down. Any thread.
  void close();
  // Shuts the socket down at once, waking any thread blocked on it. Any thread.
  void abort();

  SSL* ssl() { return ssl_; }
  int fd() const { return fd_; }

  // --- Asio SyncReadStream / SyncWriteStream ---
  template <typename MutableBufferSequence>
  size_t read_some(const MutableBufferSequence& buffers, boost::system::error_code& ec) {
    ec = {};
    for (auto it = boost::asio::buffer_sequence_begin(buffers);
         it != boost::asio::buffer_sequence_end(buffers); ++it) {
      boost::asio::mutable_buffer b = *it;
      if (b.size() > 0) return read(static_cast<char*>(b.data()), b.size(), ec);
    }
    return 0;
  }
  template <typename MutableBufferSequence>
  size_t read_some(const MutableBufferSequence& buffers) {
    boost::system::error_code ec;
    size_t n = read_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }
  template <typename ConstBufferSequence>
  size_t write_some(const ConstBufferSequence& buffers, boost::system::error_code& ec) {
    ec = {};
    // Gather small sequences (header + body) into one TLS write; write big buffers one by one.
    std::string gathered;
    size_t total = boost::asio::buffer_size(buffers);
    if (total == 0) return 0;
    if (total <= kGatherLimit) {
      gathered.reserve(total);
      for (auto it = boost::asio::buffer_sequence_begin(buffers);
           it != boost::asio::buffer_sequence_end(buffers); ++it) {
        boost::asio::const_buffer b = *it;
        gathered.append(static_cast<const char*>(b.data()), b.size());
      }
      if (!write_all(gathered)) ec = boost::asio::error::broken_pipe;
      return ec ? 0 : total;
    }
    for (auto it = boost::asio::buffer_sequence_begin(buffers);
         it != boost::asio::buffer_sequence_end(buffers); ++it) {
      boost::asio::const_buffer b = *it;
      if (b.size() == 0) continue;
      if (!write_all(static_cast<const char*>(b.data()), b.size())) {
        ec = boost::asio::error::broken_pipe;
        return 0;
      }
      return b.size();
    }
    return 0;
  }
  template <typename ConstBufferSequence>
  size_t write_some(const ConstBufferSequence& buffers) {
    boost::system::error_code ec;
    size_t n = write_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }

 private:
  static constexpr size_t kGatherLimit = 64 * 1024;
  // poll() the fd for events until the deadline; false on timeout.
  bool wait(short events, std::optional<Clock::time_point> deadline);

  int fd_;
  SSL* ssl_;
  std::mutex mu_;  // guards every SSL_* call on ssl_
  std::optional<Clock::time_point> read_deadline_;
  std::atomic<bool> shut_{false};
};

}  // namespace k3dpp::httpserver
