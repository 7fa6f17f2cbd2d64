#include "streams/byte_stream.h"

#include <cstring>
#include <memory>

namespace k3dpp::streams {

bool Pipe::write(std::string_view bytes) {
  std::lock_guard lk(mu_);
  if (closed_) return false;
  buf_.insert(buf_.end(), bytes.begin(), bytes.end());
  cv_.notify_all();
  return true;
}

long Pipe::read(char* buf, size_t n) {
  std::unique_lock lk(mu_);
  cv_.wait(lk, [&] { return !buf_.empty() || closed_; });
  size_t k = std::min(n, buf_.size());
  for (size_t i = 0; i < k; ++i) buf[i] = buf_[i];
  buf_.erase(buf_.begin(), buf_.begin() + static_cast<long>(k));
  return static_cast<long>(k);
}

std::string Pipe::read_some() {
  std::unique_lock lk(mu_);
  cv_.wait(lk, [&] { return !buf_.empty() || closed_; });
  std::string out(buf_.begin(), buf_.end());
  buf_.clear();
  return out;
}

void Pipe::close_write() {
  std::lock_guard lk(mu_);
  closed_ = true;
  cv_.notify_all();
}

bool Pipe::closed() const {
  std::lock_guard lk(mu_);
  return closed_;
}

namespace {

class PipeEnd : public ByteStream {
 public:
  PipeEnd(std::shared_ptr<Pipe> in, std::shared_ptr<Pipe> out) : in_(std::move(in)), out_(std::move(out)) {}
  ~PipeEnd() override { close(); }
  long read(char* buf, size_t n) override { return in_->read(buf, n); }
  bool write(std::string_view bytes) override { return out_->write(bytes); }
  void close_write() override { out_->close_write(); }
  void close() override {
    out_->close_write();
    in_->close_write();
  }

 private:
  std::shared_ptr<Pipe> in_, out_;
};

}  // namespace

void make_pipe_pair(std::unique_ptr<ByteStream>& a, std::unique_ptr<ByteStream>& b) {
  auto ab = std::make_shared<Pipe>();
  auto ba = std::make_shared<Pipe>();
  a = std::make_unique<PipeEnd>(ba, ab);
  b = std::make_unique<PipeEnd>(ab, ba);
}

long StreamConn::read(char* buf, size_t n) {
  if (off_ < prefix_.size()) {
    size_t k = std::min(n, prefix_.size() - off_);
    std::memcpy(buf, prefix_.data() + off_, k);
    off_ += k;
    return static_cast<long>(k);
  }
  return stream_.read(buf, n);
}

}  // namespace k3dpp::streams
