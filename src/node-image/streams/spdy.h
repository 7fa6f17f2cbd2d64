// SPDY/3.1 framing and sessions, as kubectl (moby/spdystream) speaks it for exec/attach fallback and
// port-forward: control frames, data frames, zlib header blocks with the SPDY/3 dictionary, and a
// Session with a stream registry and callbacks. Runs over any byte transport (http::Conn): the
// upgraded HTTP connection itself, or websocket binary messages (ws::MessageByteConn).
// Flow control: our sends ignore windows and we send no WINDOW_UPDATE; peer WINDOW_UPDATEs are
// accepted and ignored. Measured with kubectl 1.32 (streams_kubectl_e2e_test): 1 MiB each way on
// one port-forward stream, well past the 64 KiB initial window, with no WINDOW_UPDATE either way.
#pragma once

#include <zlib.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "common/result.h"
#include "httpserver/http.h"

namespace k3dpp::streams::spdy {

constexpr uint16_t kVersion = 3;

enum class FrameType : uint16_t {
  kSynStream = 1,
  kSynReply = 2,
  kRstStream = 3,
  kSettings = 4,
  kPing = 6,
  kGoaway = 7,
  kHeaders = 8,
  kWindowUpdate = 9,
};

constexpr uint8_t kFlagFin = 0x01;
constexpr uint8_t kFlagUnidirectional = 0x02;

// RST_STREAM status codes (SPDY/3 section 2.6.3).
enum RstStatus : uint32_t {
  kProtocolError = 1,
  kInvalidStream = 2,
  kRefusedStream = 3,
  kUnsupportedVersion = 4,
  kCancel = 5,
  kInternalError = 6,
  kFlowControlError = 7,
  kStreamInUse = 8,
  kStreamAlreadyClosed = 9,
  kFrameTooLarge = 11,
};

// Name/value pairs in order. Names are lower-case on the wire; several values of one name are
// joined with NUL bytes (kept as is here).
using HeaderList = std::vector<std::pair<std::string, std::string>>;
// First value of a header, case-insensitive name.
std::optional<std::string> find_header(const HeaderList& headers, std::string_view name);

// The SPDY/3 header compression dictionary (1423 bytes).
std::string_view dictionary();

// Uncompressed header block: u32 count, then u32-length-prefixed names and values.
std::string encode_header_block(const HeaderList& headers);
Result<HeaderList> decode_header_block(std::string_view block);

// One zlib deflate context for one direction of a session, preset with the dictionary; each block
// ends with a sync flush.
class HeaderCompressor {
 public:
  HeaderCompressor();
  ~HeaderCompressor();
  HeaderCompressor(const HeaderCompressor&) = delete;
  HeaderCompressor& operator=(const HeaderCompressor&) = delete;
  std::string compress(const HeaderList& headers);

 private:
  z_stream z_{};
};

// The inflate side; the dictionary is supplied when zlib asks for it (its Adler-32 id must match).
class HeaderDecompressor {
 public:
  HeaderDecompressor();
  ~HeaderDecompressor();
  HeaderDecompressor(const HeaderDecompressor&) = delete;
  HeaderDecompressor& operator=(const HeaderDecompressor&) = delete;
  Result<HeaderList> decompress(std::string_view block);
  // Raw inflated bytes (for tests and diagnostics).
  Result<std::string> inflate_bytes(std::string_view block);

 private:
  z_stream z_{};
  size_t limit_ = 1u << 20;
};

// A frame as read from the wire. For control frames `type` is set and `stream_id` is 0; for data
// frames `stream_id` is set.
struct RawFrame {
  bool control = false;
  uint16_t version = kVersion;
  uint16_t type = 0;
  uint8_t flags = 0;
  uint32_t stream_id = 0;
  std::string payload;
};

std::string encode_control(FrameType type, uint8_t flags, std::string_view payload);
std::string encode_data(uint32_t stream_id, uint8_t flags, std::string_view data);
// Decodes the frame at the front of `data`: bytes used, 0 if incomplete; error (kind
// "ProtocolError") for a version other than 3 or a frame larger than max_frame.
Result<size_t> decode_frame(std::string_view data, size_t max_frame, RawFrame& out);

// Payload builders and parsers of the control frames (header blocks already compressed).
std::string syn_stream_payload(uint32_t stream_id, uint32_t assoc_id, uint8_t priority, std::string_view block);
std::string syn_reply_payload(uint32_t stream_id, std::string_view block);
std::string rst_stream_payload(uint32_t stream_id, uint32_t status);
std::string ping_payload(uint32_t id);
std::string goaway_payload(uint32_t last_good, uint32_t status);
std::string window_update_payload(uint32_t stream_id, uint32_t delta);
// SETTINGS entries: (flags, id, value).
std::string settings_payload(const std::vector<std::tuple<uint8_t, uint32_t, uint32_t>>& entries);
uint32_t read_u32(std::string_view p, size_t off);

enum class Role { kServer, kClient };

struct Callbacks {
  // The peer opened a stream (SYN_STREAM). fin: it sent no data (half-closed at once).
  std::function<void(uint32_t id, const HeaderList& headers, bool fin)> on_stream;
  // The peer answered a stream we opened (SYN_REPLY).
  std::function<void(uint32_t id, const HeaderList& headers)> on_reply;
  std::function<void(uint32_t id, std::string_view data)> on_data;
  // The peer half-closed the stream (FIN on a data or control frame).
  std::function<void(uint32_t id)> on_fin;
  std::function<void(uint32_t id, uint32_t status)> on_reset;
  std::function<void(uint32_t last_good, uint32_t status)> on_goaway;
};

// A SPDY/3.1 session. One thread calls run() (the frame reader, which invokes the callbacks); any
// thread may call the senders. Streams are forgotten once both sides closed them or one reset.
class Session {
 public:
  Session(http::Conn& transport, Role role, Callbacks callbacks, std::string pending = {});
  ~Session();

  // Reads frames until EOF, GOAWAY from the peer, close() or a protocol error (returned; a GOAWAY
  // with PROTOCOL_ERROR is sent first). EOF and GOAWAY return success.
  Status run();

  // Opens a stream (client ids odd, server ids even).
  Result<uint32_t> open_stream(const HeaderList& headers, bool fin = false);
  bool reply(uint32_t id, const HeaderList& headers = {}, bool fin = false);
  // Sends data (split into frames of at most 32 KiB); fin half-closes our side.
  bool send_data(uint32_t id, std::string_view data, bool fin = false);
  bool reset(uint32_t id, uint32_t status = kCancel);
  bool ping(uint32_t id);
  bool goaway(uint32_t status = 0);
  // Closes the transport (run() then returns).
  void close();

  bool goaway_received() const { return goaway_received_; }
  size_t open_streams() const;
  bool known_stream(uint32_t id) const;

 private:
  struct StreamState {
    bool local_fin = false;
    bool remote_fin = false;
  };
  bool write(const std::string& bytes);
  bool write_locked(const std::string& bytes);
  void mark_local_fin(uint32_t id);
  void mark_remote_fin(uint32_t id);
  Status handle(const RawFrame& f);

  http::Conn& transport_;
  Role role_;
  Callbacks cb_;
  std::string rbuf_;
  std::mutex write_mu_;  // also guards compressor_ (block order must match frame order)
  HeaderCompressor compressor_;
  HeaderDecompressor decompressor_;
  mutable std::mutex streams_mu_;
  std::map<uint32_t, StreamState> streams_;
  uint32_t next_id_;
  uint32_t last_peer_id_ = 0;
  std::atomic<bool> goaway_received_{false};
  std::atomic<bool> goaway_sent_{false};
  std::atomic<bool> closed_{false};
};

}  // namespace k3dpp::streams::spdy
