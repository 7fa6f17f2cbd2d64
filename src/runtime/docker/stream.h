// The engine's multiplexed attach/exec/logs stream (non-TTY): frames of an 8-byte header
// [stream, 0, 0, 0, size as 4 bytes big-endian] followed by size bytes; stream 1 = stdout, 2 = stderr.
#pragma once

#include <cstddef>
#include <string>

namespace k3dpp::runtime::docker {

// Incremental demultiplexer: feed() chunks as they arrive (frames may span chunks).
class Demuxer {
 public:
  // Called with (stream 1|2, bytes). Defaults append to out()/err().
  void feed(const char* data, size_t n);
  void feed(const std::string& s) { feed(s.data(), s.size()); }
  // True if the input ended on a frame boundary.
  [[nodiscard]] bool complete() const { return pending_.empty(); }

  [[nodiscard]] const std::string& out() const { return out_; }
  [[nodiscard]] const std::string& err() const { return err_; }
  // stdout and stderr interleaved in arrival order (for logs).
  [[nodiscard]] const std::string& combined() const { return combined_; }

 private:
  std::string pending_;
  std::string out_, err_, combined_;
  bool raw_ = false;  // input is not multiplexed (TTY): everything is stdout
  bool decided_ = false;
};

// Builds one frame (used by tests and fakes).
std::string mux_frame(int stream, const std::string& payload);

}  // namespace k3dpp::runtime::docker
