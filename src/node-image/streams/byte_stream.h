// Byte duplexes the stream protocols run over and hand out: the pod side of a port-forward, the
// stdin of an exec, a TCP socket. http::Conn (httpserver/http.h) is the upgraded client connection.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "httpserver/http.h"

namespace k3dpp::streams {

// A full-duplex byte stream with half-close.
class ByteStream {
 public:
  virtual ~ByteStream() = default;
  // Reads up to n bytes; 0 on EOF, -1 on error. Blocks.
  virtual long read(char* buf, size_t n) = 0;
  // Writes all bytes; false on error. May be called from another thread than read().
  virtual bool write(std::string_view bytes) = 0;
  // Half-close: no more writes; the peer reads EOF. Reads go on.
  virtual void close_write() = 0;
  // Closes both directions and wakes a blocked read() (which then returns 0 or -1).
  virtual void close() = 0;
};

// An in-memory one-way byte queue: write() appends, read() blocks until data or close_write().
// Used for the exec stdin and in tests. Thread-safe.
class Pipe {
 public:
  bool write(std::string_view bytes);   // false once closed
  long read(char* buf, size_t n);       // 0 once closed and drained
  // Blocks until at least one byte is there or the pipe is closed; returns everything buffered.
  std::string read_some();
  void close_write();
  bool closed() const;

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<char> buf_;
  bool closed_ = false;
};

// A connected pair of in-memory ByteStreams (like socketpair), for tests and in-process plumbing.
void make_pipe_pair(std::unique_ptr<ByteStream>& a, std::unique_ptr<ByteStream>& b);

// Presents an http::Conn as a ByteStream (close_write closes the whole connection: an upgraded
// HTTP connection has no half-close of its own).
class ConnByteStream : public ByteStream {
 public:
  explicit ConnByteStream(http::Conn& conn) : conn_(conn) {}
  long read(char* buf, size_t n) override { return conn_.read(buf, n); }
  bool write(std::string_view bytes) override { return conn_.write(bytes); }
  void close_write() override { conn_.close(); }
  void close() override { conn_.close(); }

 private:
  http::Conn& conn_;
};

// Presents a ByteStream as an http::Conn (for in-process transports and tests). With `prefix`,
// those bytes are read first (bytes that arrived together with the upgrade request).
class StreamConn : public http::Conn {
 public:
  explicit StreamConn(ByteStream& stream, std::string prefix = {}) : stream_(stream), prefix_(std::move(prefix)) {}
  long read(char* buf, size_t n) override;
  bool write(std::string_view bytes) override { return stream_.write(bytes); }
  void close() override { stream_.close(); }

 private:
  ByteStream& stream_;
  std::string prefix_;
  size_t off_ = 0;
};

}  // namespace k3dpp::streams
