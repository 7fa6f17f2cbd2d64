#include "runtime/docker/stream.h"

namespace k3dpp::runtime::docker {

void Demuxer::feed(const char* data, size_t n) {
  pending_.append(data, n);
  if (!decided_ && !pending_.empty()) {
    // A multiplexed stream starts with 0, 1 or 2 followed by three zero bytes.
    unsigned char first = static_cast<unsigned char>(pending_[0]);
    if (first > 2) {
      raw_ = true;
      decided_ = true;
    } else if (pending_.size() >= 4) {
      raw_ = pending_[1] != 0 || pending_[2] != 0 || pending_[3] != 0;
      decided_ = true;
    } else {
      return;  // wait for more bytes to decide
    }
  }
  if (raw_) {
    out_ += pending_;
    combined_ += pending_;
    pending_.clear();
    return;
  }
  size_t pos = 0;
  while (pending_.size() - pos >= 8) {
    const auto* h = reinterpret_cast<const unsigned char*>(pending_.data() + pos);
    size_t len = (size_t{h[4]} << 24) | (size_t{h[5]} << 16) | (size_t{h[6]} << 8) | size_t{h[7]};
    if (pending_.size() - pos - 8 < len) break;
    const char* payload = pending_.data() + pos + 8;
    if (h[0] == 2) {
      err_.append(payload, len);
    } else {
      out_.append(payload, len);
    }
    combined_.append(payload, len);
    pos += 8 + len;
  }
  pending_.erase(0, pos);
}

std::string mux_frame(int stream, const std::string& payload) {
  std::string f(8, '\0');
  f[0] = static_cast<char>(stream);
  size_t n = payload.size();
  f[4] = static_cast<char>((n >> 24) & 0xff);
  f[5] = static_cast<char>((n >> 16) & 0xff);
  f[6] = static_cast<char>((n >> 8) & 0xff);
  f[7] = static_cast<char>(n & 0xff);
  return f + payload;
}

}  // namespace k3dpp::runtime::docker
