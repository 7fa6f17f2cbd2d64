#include "streams/spdy.h"

#include <cstring>

#include "common/log.h"
#include "common/strings.h"

namespace k3dpp::streams::spdy {

namespace {

constexpr size_t kMaxFrame = 16u << 20;  // 24-bit length field
constexpr size_t kDataChunk = 32u << 10;

void put_u32(std::string& s, uint32_t v) {
  s.push_back(static_cast<char>(v >> 24));
  s.push_back(static_cast<char>((v >> 16) & 0xFF));
  s.push_back(static_cast<char>((v >> 8) & 0xFF));
  s.push_back(static_cast<char>(v & 0xFF));
}

void put_u24(std::string& s, uint32_t v) {
  s.push_back(static_cast<char>((v >> 16) & 0xFF));
  s.push_back(static_cast<char>((v >> 8) & 0xFF));
  s.push_back(static_cast<char>(v & 0xFF));
}

auto logger() {
  static auto l = log::get("streams.spdy");
  return l;
}

}  // namespace

uint32_t read_u32(std::string_view p, size_t off) {
  return (static_cast<uint32_t>(static_cast<uint8_t>(p[off])) << 24) |
         (static_cast<uint32_t>(static_cast<uint8_t>(p[off + 1])) << 16) |
         (static_cast<uint32_t>(static_cast<uint8_t>(p[off + 2])) << 8) |
         static_cast<uint32_t>(static_cast<uint8_t>(p[off + 3]));
}

std::optional<std::string> find_header(const HeaderList& headers, std::string_view name) {
  std::string want = strings::to_lower(name);
  for (const auto& [k, v] : headers) {
    if (strings::to_lower(k) == want) return v;
  }
  return std::nullopt;
}

std::string encode_header_block(const HeaderList& headers) {
  std::string out;
  put_u32(out, static_cast<uint32_t>(headers.size()));
  for (const auto& [k, v] : headers) {
    std::string name = strings::to_lower(k);
    put_u32(out, static_cast<uint32_t>(name.size()));
    out += name;
    put_u32(out, static_cast<uint32_t>(v.size()));
    out += v;
  }
  return out;
}

Result<HeaderList> decode_header_block(std::string_view b) {
  auto bad = [](const std::string& m) { return fail("spdy header block: " + m, "ProtocolError"); };
  if (b.size() < 4) return bad("shorter than its count");
  uint32_t count = read_u32(b, 0);
  size_t pos = 4;
  HeaderList out;
  for (uint32_t i = 0; i < count; ++i) {
    std::string parts[2];
    for (auto& part : parts) {
      if (b.size() < pos + 4) return bad("truncated length");
      uint32_t n = read_u32(b, pos);
      pos += 4;
      if (b.size() - pos < n) return bad("truncated name or value");
      part.assign(b.data() + pos, n);
      pos += n;
    }
    if (parts[0].empty()) return bad("empty header name");
    out.emplace_back(std::move(parts[0]), std::move(parts[1]));
  }
  if (pos != b.size()) return bad("trailing bytes after " + std::to_string(count) + " headers");
  return out;
}

HeaderCompressor::HeaderCompressor() {
  deflateInit(&z_, Z_DEFAULT_COMPRESSION);
  auto d = dictionary();
  deflateSetDictionary(&z_, reinterpret_cast<const Bytef*>(d.data()), static_cast<uInt>(d.size()));
}

HeaderCompressor::~HeaderCompressor() { deflateEnd(&z_); }

std::string HeaderCompressor::compress(const HeaderList& headers) {
  std::string in = encode_header_block(headers);
  std::string out;
  z_.next_in = reinterpret_cast<Bytef*>(in.data());
  z_.avail_in = static_cast<uInt>(in.size());
  char buf[4096];
  do {
    z_.next_out = reinterpret_cast<Bytef*>(buf);
    z_.avail_out = sizeof buf;
    deflate(&z_, Z_SYNC_FLUSH);
    out.append(buf, sizeof buf - z_.avail_out);
  } while (z_.avail_out == 0);
  return out;
}

HeaderDecompressor::HeaderDecompressor() { inflateInit(&z_); }
HeaderDecompressor::~HeaderDecompressor() { inflateEnd(&z_); }

Result<std::string> HeaderDecompressor::inflate_bytes(std::string_view block) {
  std::string out;
  z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(block.data()));
  z_.avail_in = static_cast<uInt>(block.size());
  char buf[4096];
  for (;;) {
    z_.next_out = reinterpret_cast<Bytef*>(buf);
    z_.avail_out = sizeof buf;
    int rc = inflate(&z_, Z_SYNC_FLUSH);
    if (rc == Z_NEED_DICT) {
      auto d = dictionary();
      if (z_.adler != adler32(adler32(0, nullptr, 0), reinterpret_cast<const Bytef*>(d.data()),
                               static_cast<uInt>(d.size()))) {
        return fail("spdy header block: unknown zlib dictionary", "ProtocolError");
      }
      if (inflateSetDictionary(&z_, reinterpret_cast<const Bytef*>(d.data()), static_cast<uInt>(d.size())) != Z_OK) {
        return fail("spdy header block: cannot set the dictionary", "ProtocolError");
      }
      continue;
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR && rc != Z_STREAM_END) {
      return fail(std::string("spdy header block: zlib: ") + (z_.msg ? z_.msg : "error"), "ProtocolError");
    }
    out.append(buf, sizeof buf - z_.avail_out);
    if (out.size() > limit_) return fail("spdy header block: too large", "ProtocolError");
    if (z_.avail_in == 0 && z_.avail_out != 0) break;
    if (rc == Z_BUF_ERROR && z_.avail_out != 0) break;
  }
  return out;
}

Result<HeaderList> HeaderDecompressor::decompress(std::string_view block) {
  auto raw = inflate_bytes(block);
  if (!raw) return raw.error();
  return decode_header_block(*raw);
}

std::string encode_control(FrameType type, uint8_t flags, std::string_view payload) {
  std::string out;
  out.push_back(static_cast<char>(0x80));
  out.push_back(static_cast<char>(kVersion));
  auto t = static_cast<uint16_t>(type);
  out.push_back(static_cast<char>(t >> 8));
  out.push_back(static_cast<char>(t & 0xFF));
  out.push_back(static_cast<char>(flags));
  put_u24(out, static_cast<uint32_t>(payload.size()));
  out.append(payload);
  return out;
}

std::string encode_data(uint32_t stream_id, uint8_t flags, std::string_view data) {
  std::string out;
  put_u32(out, stream_id & 0x7FFFFFFF);
  out.push_back(static_cast<char>(flags));
  put_u24(out, static_cast<uint32_t>(data.size()));
  out.append(data);
  return out;
}

Result<size_t> decode_frame(std::string_view data, size_t max_frame, RawFrame& out) {
  if (data.size() < 8) return size_t{0};
  uint32_t w0 = read_u32(data, 0);
  auto flags = static_cast<uint8_t>(data[4]);
  uint32_t len = read_u32(data, 4) & 0xFFFFFF;
  if (len > max_frame) {
    return fail("spdy: frame of " + std::to_string(len) + " bytes exceeds " + std::to_string(max_frame),
                "ProtocolError");
  }
  out = RawFrame{};
  if (w0 & 0x80000000u) {
    out.control = true;
    out.version = static_cast<uint16_t>((w0 >> 16) & 0x7FFF);
    out.type = static_cast<uint16_t>(w0 & 0xFFFF);
    if (out.version != kVersion) {
      return fail("spdy: unsupported version " + std::to_string(out.version), "ProtocolError");
    }
  } else {
    out.stream_id = w0 & 0x7FFFFFFF;
  }
  if (data.size() < 8 + static_cast<size_t>(len)) return size_t{0};
  out.flags = flags;
  out.payload.assign(data.data() + 8, len);
  return size_t{8} + len;
}

std::string syn_stream_payload(uint32_t stream_id, uint32_t assoc_id, uint8_t priority, std::string_view block) {
  std::string p;
  put_u32(p, stream_id & 0x7FFFFFFF);
  put_u32(p, assoc_id & 0x7FFFFFFF);
  p.push_back(static_cast<char>((priority & 0x7) << 5));
  p.push_back(0);  // slot
  p.append(block);
  return p;
}

std::string syn_reply_payload(uint32_t stream_id, std::string_view block) {
  std::string p;
  put_u32(p, stream_id & 0x7FFFFFFF);
  p.append(block);
  return p;
}

std::string rst_stream_payload(uint32_t stream_id, uint32_t status) {
  std::string p;
  put_u32(p, stream_id & 0x7FFFFFFF);
  put_u32(p, status);
  return p;
}

std::string ping_payload(uint32_t id) {
  std::string p;
  put_u32(p, id);
  return p;
}

std::string goaway_payload(uint32_t last_good, uint32_t status) {
  std::string p;
  put_u32(p, last_good & 0x7FFFFFFF);
  put_u32(p, status);
  return p;
}

std::string window_update_payload(uint32_t stream_id, uint32_t delta) {
  std::string p;
  put_u32(p, stream_id & 0x7FFFFFFF);
  put_u32(p, delta & 0x7FFFFFFF);
  return p;
}

std::string settings_payload(const std::vector<std::tuple<uint8_t, uint32_t, uint32_t>>& entries) {
  std::string p;
  put_u32(p, static_cast<uint32_t>(entries.size()));
  for (const auto& [flags, id, value] : entries) {
    p.push_back(static_cast<char>(flags));
    put_u24(p, id);
    put_u32(p, value);
  }
  return p;
}

// --- Session ---

Session::Session(http::Conn& transport, Role role, Callbacks callbacks, std::string pending)
    : transport_(transport),
      role_(role),
      cb_(std::move(callbacks)),
      rbuf_(std::move(pending)),
      next_id_(role == Role::kClient ? 1 : 2) {}

Session::~Session() = default;

bool Session::write_locked(const std::string& bytes) {
  if (closed_) return false;
  return transport_.write(bytes);
}

bool Session::write(const std::string& bytes) {
  std::lock_guard lk(write_mu_);
  return write_locked(bytes);
}

void Session::mark_local_fin(uint32_t id) {
  std::lock_guard lk(streams_mu_);
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  it->second.local_fin = true;
  if (it->second.remote_fin) streams_.erase(it);
}

void Session::mark_remote_fin(uint32_t id) {
  std::lock_guard lk(streams_mu_);
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  it->second.remote_fin = true;
  if (it->second.local_fin) streams_.erase(it);
}

size_t Session::open_streams() const {
  std::lock_guard lk(streams_mu_);
  return streams_.size();
}

bool Session::known_stream(uint32_t id) const {
  std::lock_guard lk(streams_mu_);
  return streams_.count(id) != 0;
}

Result<uint32_t> Session::open_stream(const HeaderList& headers, bool fin) {
  std::lock_guard lk(write_mu_);
  if (goaway_received_ || goaway_sent_) return fail("spdy: session is going away", "Unavailable");
  uint32_t id = next_id_;
  next_id_ += 2;
  {
    std::lock_guard slk(streams_mu_);
    streams_[id].local_fin = fin;
  }
  std::string block = compressor_.compress(headers);
  if (!write_locked(encode_control(FrameType::kSynStream, fin ? kFlagFin : 0, syn_stream_payload(id, 0, 0, block)))) {
    return fail("spdy: write failed", "Unavailable");
  }
  return id;
}

bool Session::reply(uint32_t id, const HeaderList& headers, bool fin) {
  bool ok;
  {
    std::lock_guard lk(write_mu_);
    std::string block = compressor_.compress(headers);
    ok = write_locked(encode_control(FrameType::kSynReply, fin ? kFlagFin : 0, syn_reply_payload(id, block)));
  }
  if (fin) mark_local_fin(id);
  return ok;
}

bool Session::send_data(uint32_t id, std::string_view data, bool fin) {
  do {
    size_t n = std::min(data.size(), kDataChunk);
    bool last = n == data.size();
    if (!write(encode_data(id, (last && fin) ? kFlagFin : 0, data.substr(0, n)))) return false;
    data.remove_prefix(n);
  } while (!data.empty());
  if (fin) mark_local_fin(id);
  return true;
}

bool Session::reset(uint32_t id, uint32_t status) {
  {
    std::lock_guard lk(streams_mu_);
    streams_.erase(id);
  }
  return write(encode_control(FrameType::kRstStream, 0, rst_stream_payload(id, status)));
}

bool Session::ping(uint32_t id) { return write(encode_control(FrameType::kPing, 0, ping_payload(id))); }

bool Session::goaway(uint32_t status) {
  if (goaway_sent_.exchange(true)) return true;
  uint32_t last;
  {
    std::lock_guard lk(streams_mu_);
    last = last_peer_id_;
  }
  return write(encode_control(FrameType::kGoaway, 0, goaway_payload(last, status)));
}

void Session::close() {
  closed_ = true;
  transport_.close();
}

Status Session::run() {
  for (;;) {
    RawFrame f;
    auto used = decode_frame(rbuf_, kMaxFrame, f);
    if (!used) {
      goaway(kProtocolError);
      return used.error();
    }
    if (*used == 0) {
      char buf[32768];
      long n = transport_.read(buf, sizeof buf);
      if (n <= 0) return {};
      rbuf_.append(buf, static_cast<size_t>(n));
      continue;
    }
    rbuf_.erase(0, *used);
    auto st = handle(f);
    if (!st) {
      logger()->debug("spdy session error: {}", st.error().message);
      goaway(kProtocolError);
      return st;
    }
    if (goaway_received_ || closed_) return {};
  }
}

Status Session::handle(const RawFrame& f) {
  if (!f.control) {
    bool known;
    bool remote_closed = false;
    {
      std::lock_guard lk(streams_mu_);
      auto it = streams_.find(f.stream_id);
      known = it != streams_.end();
      if (known) remote_closed = it->second.remote_fin;
    }
    if (!known) {
      // Data for a stream that was reset or never opened: tell the peer (not fatal).
      if (!(f.flags & kFlagFin) || !f.payload.empty()) reset(f.stream_id, kInvalidStream);
      return {};
    }
    if (remote_closed) {
      reset(f.stream_id, kStreamAlreadyClosed);
      return {};
    }
    if (!f.payload.empty() && cb_.on_data) cb_.on_data(f.stream_id, f.payload);
    if (f.flags & kFlagFin) {
      mark_remote_fin(f.stream_id);
      if (cb_.on_fin) cb_.on_fin(f.stream_id);
    }
    return {};
  }
  const std::string& p = f.payload;
  auto need = [&](size_t n, const char* what) -> Status {
    if (p.size() < n) return fail(std::string("spdy: short ") + what + " frame", "ProtocolError");
    return {};
  };
  switch (static_cast<FrameType>(f.type)) {
    case FrameType::kSynStream: {
      K3DPP_TRY(need(10, "SYN_STREAM"));
      uint32_t id = read_u32(p, 0) & 0x7FFFFFFF;
      auto headers = decompressor_.decompress(std::string_view(p).substr(10));
      if (!headers) return headers.error();
      bool peer_parity = role_ == Role::kServer ? (id % 2 == 1) : (id % 2 == 0);
      bool dup;
      {
        std::lock_guard lk(streams_mu_);
        dup = streams_.count(id) != 0 || id == 0 || !peer_parity || id <= last_peer_id_;
        if (!dup) {
          last_peer_id_ = id;
          auto& s = streams_[id];
          s.remote_fin = f.flags & kFlagFin;
          s.local_fin = f.flags & kFlagUnidirectional;
        }
      }
      if (dup) {
        reset(id, kProtocolError);
        return {};
      }
      if (cb_.on_stream) cb_.on_stream(id, *headers, f.flags & kFlagFin);
      if ((f.flags & kFlagFin) && cb_.on_fin) cb_.on_fin(id);
      return {};
    }
    case FrameType::kSynReply: {
      K3DPP_TRY(need(4, "SYN_REPLY"));
      uint32_t id = read_u32(p, 0) & 0x7FFFFFFF;
      auto headers = decompressor_.decompress(std::string_view(p).substr(4));
      if (!headers) return headers.error();
      if (cb_.on_reply) cb_.on_reply(id, *headers);
      if (f.flags & kFlagFin) {
        mark_remote_fin(id);
        if (cb_.on_fin) cb_.on_fin(id);
      }
      return {};
    }
    case FrameType::kHeaders: {
      K3DPP_TRY(need(4, "HEADERS"));
      uint32_t id = read_u32(p, 0) & 0x7FFFFFFF;
      auto headers = decompressor_.decompress(std::string_view(p).substr(4));
      if (!headers) return headers.error();
      if (f.flags & kFlagFin) {
        mark_remote_fin(id);
        if (cb_.on_fin) cb_.on_fin(id);
      }
      return {};
    }
    case FrameType::kRstStream: {
      K3DPP_TRY(need(8, "RST_STREAM"));
      uint32_t id = read_u32(p, 0) & 0x7FFFFFFF;
      uint32_t status = read_u32(p, 4);
      bool known;
      {
        std::lock_guard lk(streams_mu_);
        known = streams_.erase(id) != 0;
      }
      if (known && cb_.on_reset) cb_.on_reset(id, status);
      return {};
    }
    case FrameType::kSettings:
    case FrameType::kWindowUpdate:
      return {};
    case FrameType::kPing: {
      K3DPP_TRY(need(4, "PING"));
      uint32_t id = read_u32(p, 0);
      bool from_peer = role_ == Role::kServer ? (id % 2 == 1) : (id % 2 == 0);
      if (from_peer) ping(id);
      return {};
    }
    case FrameType::kGoaway: {
      K3DPP_TRY(need(8, "GOAWAY"));
      goaway_received_ = true;
      if (cb_.on_goaway) cb_.on_goaway(read_u32(p, 0) & 0x7FFFFFFF, read_u32(p, 4));
      return {};
    }
  }
  return {};  // unknown control frames are ignored (SPDY/3 section 2.2.1)
}

}  // namespace k3dpp::streams::spdy
