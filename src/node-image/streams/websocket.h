// RFC 6455 websocket over an upgraded byte connection (http::Conn): the handshake helper, frame
// codec, a message reader/writer with ping/pong and the close handshake, a minimal client, and an
// adapter that turns binary messages back into one byte stream (port-forward's SPDY-in-websocket).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "httpserver/http.h"
#include "streams/tcp.h"

namespace k3dpp::streams::ws {

enum class Opcode : uint8_t {
  kContinuation = 0x0,
  kText = 0x1,
  kBinary = 0x2,
  kClose = 0x8,
  kPing = 0x9,
  kPong = 0xA,
};

constexpr uint16_t kCloseNormal = 1000;
constexpr uint16_t kCloseProtocolError = 1002;
constexpr uint16_t kCloseTooBig = 1009;

// base64(SHA1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")), RFC 6455 section 4.2.2.
std::string accept_key(std::string_view client_key);

struct ServerHandshake {
  std::string protocol;  // chosen subprotocol, empty when the client offered none we support
  // Headers for Responder::upgrade: Upgrade, Connection, Sec-WebSocket-Accept[, -Protocol].
  std::vector<std::pair<std::string, std::string>> headers;
};

// Validates a websocket upgrade request (GET, Upgrade: websocket, Connection: upgrade, version 13,
// a 16-byte base64 key) and picks the first of `supported` that the client offered in
// Sec-WebSocket-Protocol. An empty `supported` accepts without a subprotocol. Errors have kind
// "BadRequest" and say what is wrong.
Result<ServerHandshake> server_handshake(std::string_view method, const http::Headers& headers,
                                         const std::vector<std::string>& supported);

struct Frame {
  bool fin = true;
  Opcode opcode = Opcode::kBinary;
  std::string payload;  // unmasked
};

// Encodes one frame; a mask (client role) masks the payload.
std::string encode_frame(Opcode opcode, std::string_view payload, bool fin,
                         const std::optional<std::array<uint8_t, 4>>& mask);
// Decodes one frame from the front of `data`. Returns the number of bytes used, 0 if more bytes are
// needed. Errors (kind "ProtocolError" / "TooBig") for reserved bits, bad opcodes, oversize
// frames, control frames that are fragmented or longer than 125, and a masking that does not match
// the role (server expects masked frames, client unmasked).
Result<size_t> decode_frame(std::string_view data, bool expect_masked, size_t max_payload, Frame& out);

enum class Role { kServer, kClient };

struct Message {
  Opcode opcode = Opcode::kBinary;  // kText, kBinary or kClose
  std::string payload;              // for kClose: the reason
  uint16_t close_code = 0;          // for kClose (1005 when the peer sent none)
};

// A websocket endpoint on a connection. One thread reads (read()); any thread may send.
class WebSocket {
 public:
  // `pending`: bytes already read from the connection after the handshake.
  WebSocket(http::Conn& conn, Role role, size_t max_message = 32u << 20, std::string pending = {});

  // The next complete text/binary message (fragments joined). Pings are answered, pongs skipped.
  // A close frame is answered with a close (unless we sent one) and returned as a kClose message.
  // EOF before a close: error kind "EOF". Protocol errors close with 1002/1009 and are returned.
  Result<Message> read();
  bool send(Opcode opcode, std::string_view payload);
  bool send_binary(std::string_view payload) { return send(Opcode::kBinary, payload); }
  // Sends a close frame once (later calls do nothing and return true).
  bool close(uint16_t code = kCloseNormal, std::string_view reason = {});
  bool close_sent() const { return close_sent_; }
  bool close_received() const { return close_received_; }
  http::Conn& conn() { return conn_; }

 private:
  bool write_frame(Opcode opcode, std::string_view payload, bool fin);
  Result<Frame> read_frame();

  http::Conn& conn_;
  Role role_;
  size_t max_message_;
  std::string rbuf_;
  std::mutex write_mu_;
  bool close_written_ = false;  // guarded by write_mu_
  std::atomic<bool> close_sent_{false};
  std::atomic<bool> close_received_{false};
};

// Presents the payloads of binary (and text) messages as one byte stream, and writes as binary
// messages. Message boundaries mean nothing (kubectl's port-forward sends SPDY this way). A close
// message or EOF reads as 0. close() sends close 1000 and closes the connection.
class MessageByteConn : public http::Conn {
 public:
  explicit MessageByteConn(WebSocket& ws) : ws_(ws) {}
  long read(char* buf, size_t n) override;
  bool write(std::string_view bytes) override { return ws_.send_binary(bytes); }
  void close() override;

 private:
  WebSocket& ws_;
  std::string buf_;
  size_t off_ = 0;
  bool eof_ = false;
};

// A client connection: TCP, the HTTP/1.1 upgrade, then a WebSocket in client role.
struct Client {
  std::unique_ptr<TcpStream> tcp;
  std::unique_ptr<WebSocket> ws;
  std::string protocol;  // what the server chose
};
// GETs `path` on host:port with the given subprotocols (and extra headers). A non-101 answer is an
// error carrying the status line and body.
Result<Client> connect(const std::string& host, uint16_t port, const std::string& path,
                       const std::vector<std::string>& protocols,
                       const std::vector<std::pair<std::string, std::string>>& extra_headers = {});

// Header helpers on http::Headers (lower-cased names): all values of a header, split on commas
// and trimmed.
std::vector<std::string> header_tokens(const http::Headers& headers, const std::string& lower_name);
std::optional<std::string> header_value(const http::Headers& headers, const std::string& lower_name);

}  // namespace k3dpp::streams::ws
